/*
 * origin/fetch_route.c: where a fetch goes (the ROUTE and CONNECT states of fetch.h).
 *
 * The origin is the behavior's, or a group's primary unless the group's circuit breaker is open; each
 * attempt goes to a server the origin's balancer picks among those up, skipping those that already
 * failed to connect for this request. A failed attempt is reported to the router (passive health) and
 * tried again up to connect_attempts; when the origin cannot answer, an idempotent request of a group
 * fails over to the secondary, once. All of this happens before the head is published.
 *
 * An attempt is one origin_client_start on the server's pool; the client runs the connect timeout, and its
 * connection-class errors come back here through fetch_route_attempt_failed (fetch.c's on_head).
 *
 * Invariant that is easy to break: every path out of an attempt (connected, failed, timed out) leaves
 * the server's `outstanding` count as it found it — fetch_route_leave_server, exactly once per attempt.
 */
#include "common/log.h"
#include "origin/fetch_int.h"

const origin_conf_group_t *fetch_route_group(fetch_t *f)
{
    return f->args.group_index != SIZE_MAX ? f->args.router->conf->groups + f->args.group_index : NULL;
}

/* The exchange with the current server is over: it no longer counts as outstanding. */
void fetch_route_leave_server(fetch_t *f)
{
    if (f->server != SIZE_MAX) {
        --f->args.http[f->origin].outstanding[f->server];
        f->server = SIZE_MAX;
    }
}

void fetch_route_breaker_report(fetch_t *f, bool ok)
{
    const origin_conf_group_t *g = fetch_route_group(f);
    if (g == NULL)
        return;
    if (origin_breaker_report(f->args.router->breakers[f->args.group_index], ok, h2o_now(f->args.loop)))
        common_log_warn("origin group %s: circuit breaker %s for primary %s", g->name, ok ? "closed" : "opened",
                        f->args.router->conf->origins[g->primary].name);
}

/* Back to ROUTE, to be routed again on the next loop turn (a retry, or the secondary after a failover). */
static void reroute(fetch_t *f)
{
    fetch_goto(f, ORIGIN_FETCH_ROUTE);
    h2o_timeout_link(f->args.loop, f->args.zero_timeout, &f->defer);
}

void fetch_route_retry(fetch_t *f)
{
    fetch_route_leave_server(f);
    reroute(f);
}

/* Moves to the group's secondary after the primary failed for this request. */
void fetch_route_failover(fetch_t *f, const char *why)
{
    const origin_conf_group_t *g = fetch_route_group(f);
    fetch_route_leave_server(f);
    fetch_route_breaker_report(f, false);
    common_log_warn("origin group %s: %.*s failed over to %s: %s", g->name, (int)f->args.path.len, f->args.path.base,
                    f->args.router->conf->origins[g->secondary].name, why);
    f->on_secondary = true;
    f->origin = g->secondary;
    f->attempts = 0;
    f->exclude = 0;
    f->retried_reset = false;
    reroute(f);
}

/* The current origin could not answer (before the head): fail over when a group allows it, else fail. */
void fetch_route_origin_failed(fetch_t *f, origin_fetch_error_t error, const char *errstr)
{
    fetch_route_leave_server(f);
    if (fetch_route_group(f) != NULL && !f->on_secondary && fetch_idempotent(f)) {
        fetch_route_failover(f, errstr);
        return;
    }
    if (fetch_route_group(f) != NULL && !f->on_secondary)
        fetch_route_breaker_report(f, false); /* a primary that fails a POST counts too, though it cannot fail over */
    fetch_fail(f, error, errstr);
}

/* One connection attempt failed: try again (another server when there is one) or give up. A full pool
 * is our own limit, not the server's failure: it does not count against the server's health. */
void fetch_route_attempt_failed(fetch_t *f, origin_fetch_error_t error, const char *errstr)
{
    if (f->server != SIZE_MAX) {
        if (error == ORIGIN_FETCH_ERR_POOL_FULL)
            ++f->args.http[f->origin].pool_full;
        else
            origin_router_report(f->args.router, f->origin, f->server, false, true, errstr);
        f->exclude |= (uint64_t)1 << f->server;
    }
    fetch_route_leave_server(f);
    if (f->attempts < f->args.router->conf->origins[f->origin].connect_attempts)
        reroute(f);
    else
        fetch_route_origin_failed(f, error, errstr);
}

/* In ROUTE, for an http(s) origin: picks a server and starts connecting (CONNECT). */
void fetch_route_connect(fetch_t *f)
{
    origin_router_origin_t *ro = f->args.router->origins + f->origin;
    origin_http_t *http = f->args.http + f->origin;
    size_t server = origin_balancer_pick(ro->balancer, ro->health, http->outstanding, &http->cursor, &f->args.hash, f->exclude);

    if (server == ORIGIN_BALANCER_NONE && f->exclude != 0) {
        f->exclude = 0; /* every server failed once for this request: the remaining attempts may retry them */
        server = origin_balancer_pick(ro->balancer, ro->health, http->outstanding, &http->cursor, &f->args.hash, 0);
    }
    if (server == ORIGIN_BALANCER_NONE) {
        fetch_route_origin_failed(f, ORIGIN_FETCH_ERR_NO_SERVER, "no healthy server");
        return;
    }
    h2o_iovec_t host = f->args.host.base != NULL ? f->args.host : http->servers[server].authority;
    f->request = origin_http_serialize(&f->super.pool, f->args.method, f->args.path, host, f->args.headers, f->args.num_headers,
                                       f->args.body.len != 0 ? f->args.body.len : SIZE_MAX);
    ++f->attempts;
    f->server = server;
    ++http->outstanding[server];
    fetch_goto(f, ORIGIN_FETCH_CONNECT);
    if (http->servers[server].pool == NULL) {
        fetch_route_attempt_failed(f, ORIGIN_FETCH_ERR_CONNECT, "origin host did not resolve at start-up");
        return;
    }
    fetch_http_start(f, http->servers[server].pool); /* calls back on a later loop turn, never inside */
}

/* Decides which origin this request tries first: the behavior's, or a group's primary unless its
 * breaker is open (then the secondary, at once; after the cool-down one request probes the primary). */
void fetch_route_choose(fetch_t *f)
{
    const origin_conf_group_t *g = fetch_route_group(f);
    f->target_chosen = true;
    f->origin = f->args.origin_index;
    if (g != NULL && !origin_breaker_allow(f->args.router->breakers[f->args.group_index], h2o_now(f->args.loop))) {
        f->on_secondary = true;
        f->origin = g->secondary;
    }
}
