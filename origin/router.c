/*
 * origin/router.c: the shared state of origins and groups, and the active health checker.
 *
 * The checker keeps one probe per server of every origin that has a health_check. A probe is a plain
 * HTTP/1.1 request on a fresh connection (never a pooled one: a check must see whether the server accepts
 * connections, not whether an old one still works), sent with origin/client.h on a pool of its own that
 * keeps no idle connection, bounded by the check's timeout (for the connection, and for the answer).
 * Only the status line matters: the client is cancelled in on_head, so the body is never read. The invariant that is easy to break:
 * a probe is re-armed only when its previous exchange has ended, so a slow server never has two checks in flight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "origin/http.h"
#include "origin/router.h"

origin_router_t *origin_router_new(const origin_conf_set_t *conf, SSL_CTX ***ssl_ctxs)
{
    origin_router_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->conf = conf;
    r->origins = calloc(conf->num_origins != 0 ? conf->num_origins : 1, sizeof(*r->origins));
    r->breakers = calloc(conf->num_groups != 0 ? conf->num_groups : 1, sizeof(*r->breakers));
    for (size_t i = 0; i != conf->num_origins; ++i) {
        const origin_conf_t *o = conf->origins + i;
        r->origins[i].conf = o;
        r->origins[i].ssl_ctxs = ssl_ctxs != NULL ? ssl_ctxs[i] : NULL;
        if (strncmp(o->servers[0], "file:", 5) == 0)
            continue;
        r->origins[i].balancer = origin_balancer_new(o->balance, (const char *const *)o->servers, o->num_servers);
        r->origins[i].health = origin_health_new(o->num_servers, o->health.unhealthy_threshold, o->health.healthy_threshold);
    }
    for (size_t i = 0; i != conf->num_groups; ++i)
        r->breakers[i] = origin_breaker_new(conf->groups[i].breaker_failures, conf->groups[i].breaker_cooldown_ms);
    return r;
}

void origin_router_free(origin_router_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i != r->conf->num_origins; ++i) {
        origin_balancer_free(r->origins[i].balancer);
        origin_health_free(r->origins[i].health);
    }
    for (size_t i = 0; i != r->conf->num_groups; ++i)
        origin_breaker_free(r->breakers[i]);
    free(r->origins);
    free(r->breakers);
    free(r);
}

void origin_router_inherit(origin_router_t *r, origin_router_t *prev)
{
    for (size_t i = 0; prev != NULL && i != r->conf->num_origins; ++i) {
        const origin_conf_t *o = r->conf->origins + i;
        for (size_t k = 0; r->origins[i].health != NULL && k != prev->conf->num_origins; ++k) {
            const origin_conf_t *p = prev->conf->origins + k;
            if (strcmp(o->name, p->name) != 0 || prev->origins[k].health == NULL)
                continue;
            for (size_t j = 0; j != o->num_servers; ++j)
                for (size_t m = 0; m != p->num_servers; ++m)
                    if (strcmp(o->servers[j], p->servers[m]) == 0)
                        origin_health_set(r->origins[i].health, j, origin_health_is_up(prev->origins[k].health, m));
        }
    }
}

void origin_router_report(origin_router_t *r, size_t origin, size_t server, bool ok, bool passive, const char *what)
{
    origin_router_origin_t *o = r->origins + origin;
    if (o->health == NULL || (passive && o->conf->health.path == NULL))
        return;
    if (origin_health_report(o->health, server, ok))
        common_log_warn("origin %s: server %s is %s (%s)", o->conf->name, o->conf->servers[server], ok ? "UP" : "DOWN", what);
}

/* --- the active checker ------------------------------------------------------------------------------ */

typedef struct st_probe_t {
    struct st_origin_checker_t *checker;
    size_t origin, server;
    h2o_timeout_entry_t timer;  /* the next check, on the origin's interval timeout */
    origin_client_pool_t *pool; /* no idle connections kept: every check connects afresh; NULL: did not resolve */
    origin_client_t *client;    /* the check in flight, or NULL */
    h2o_iovec_t request;
} probe_t;

typedef struct st_check_origin_t {
    h2o_timeout_t interval;
    h2o_timeout_t timeout; /* the check's timeout, for the connection and for the answer */
    origin_client_ctx_t client_ctx;
} check_origin_t;

struct st_origin_checker_t {
    origin_router_t *router;
    h2o_context_t *ctx;
    check_origin_t *origins; /* parallel to conf->origins; used only for those with checks */
    probe_t *probes;
    size_t num_probes;
};

static void probe_done(probe_t *p, bool ok, const char *what)
{
    origin_router_report(p->checker->router, p->origin, p->server, ok, false, what);
    p->client = NULL;
    h2o_timeout_link(p->checker->ctx->loop, &p->checker->origins[p->origin].interval, &p->timer);
}

static void on_probe_head(origin_client_t *client, void *data, origin_client_error_t err, int status, h2o_iovec_t reason,
                          const origin_client_header_t *headers, size_t num_headers, int64_t content_length)
{
    probe_t *p = data;
    char what[64];
    if (err != ORIGIN_CLIENT_OK) {
        probe_done(p, false, origin_client_strerror(err)); /* the client is freed when this returns */
        return;
    }
    origin_client_cancel(client); /* the body is not needed; the connection is closed */
    snprintf(what, sizeof(what), "health check answered %d", status);
    probe_done(p, status >= 200 && status < 400, what);
}

static void on_probe_body(origin_client_t *client, void *data, h2o_iovec_t chunk)
{
    /* never called: on_head cancels the client */
}

static void on_probe_done(origin_client_t *client, void *data, origin_client_error_t err)
{
    /* never called: on_head cancels the client */
}

static const origin_client_callbacks_t probe_callbacks = {on_probe_head, on_probe_body, on_probe_done};

static void on_probe_timer(h2o_timeout_entry_t *entry)
{
    probe_t *p = H2O_STRUCT_FROM_MEMBER(probe_t, timer, entry);
    if (p->client != NULL)
        return; /* cannot happen: re-armed only when the previous check ended */
    if (p->pool == NULL) {
        probe_done(p, false, "host did not resolve at start-up");
        return;
    }
    p->client = origin_client_start(p->pool, p->request, h2o_iovec_init(NULL, 0), false, &probe_callbacks, p);
}

origin_checker_t *origin_checker_start(origin_router_t *r, h2o_context_t *ctx)
{
    const origin_conf_set_t *conf = r->conf;
    size_t n = 0;

    for (size_t i = 0; i != conf->num_origins; ++i)
        if (conf->origins[i].health.path != NULL && r->origins[i].health != NULL)
            n += conf->origins[i].num_servers;
    if (n == 0)
        return NULL;

    origin_checker_t *c = calloc(1, sizeof(*c));
    c->router = r;
    c->ctx = ctx;
    c->origins = calloc(conf->num_origins, sizeof(*c->origins));
    c->probes = calloc(n, sizeof(*c->probes));
    for (size_t i = 0; i != conf->num_origins; ++i) {
        const origin_conf_t *o = conf->origins + i;
        if (o->health.path == NULL || r->origins[i].health == NULL)
            continue;
        check_origin_t *co = c->origins + i;
        h2o_timeout_init(ctx->loop, &co->interval, o->health.interval_ms);
        h2o_timeout_init(ctx->loop, &co->timeout, o->health.timeout_ms);
        co->client_ctx = (origin_client_ctx_t){.loop = ctx->loop,
                                               .zero_timeout = &ctx->zero_timeout,
                                               .connect_timeout = &co->timeout,
                                               .read_timeout = &co->timeout,
                                               .keepalive_timeout = NULL};

        for (size_t s = 0; s != o->num_servers; ++s) {
            probe_t *p = c->probes + c->num_probes++;
            p->checker = c;
            p->origin = i;
            p->server = s;
            p->timer.cb = on_probe_timer;
            struct sockaddr_storage addr;
            socklen_t addrlen;
            bool is_tls;
            char name[256], err[512];
            if (origin_http_resolve(o, s, &addr, &addrlen, &is_tls, name, sizeof(name), err, sizeof(err)) == 0) {
                SSL_CTX *ssl_ctx = is_tls && r->origins[i].ssl_ctxs != NULL ? r->origins[i].ssl_ctxs[s] : NULL;
                p->pool =
                    origin_client_pool_new(&co->client_ctx, (struct sockaddr *)&addr, addrlen, ssl_ctx, is_tls ? name : NULL, 0, 1);
            } else {
                common_log_warn("%s: its health check fails until the edge restarts", err);
            }
            h2o_url_t url;
            h2o_iovec_t authority = h2o_iovec_init(H2O_STRLIT(""));
            if (h2o_url_parse(o->servers[s], strlen(o->servers[s]), &url) == 0)
                authority = url.authority;
            char buf[2048];
            int len = snprintf(buf, sizeof(buf),
                               "GET %s HTTP/1.1\r\nhost: %.*s\r\nuser-agent: edgecache-health-check\r\nconnection: close\r\n\r\n",
                               o->health.path, (int)authority.len, authority.base);
            p->request = h2o_strdup(NULL, buf, len > 0 && (size_t)len < sizeof(buf) ? (size_t)len : 0);
            /* the first round right away, so a dead server is known before the first interval ends */
            h2o_timeout_link(ctx->loop, &ctx->zero_timeout, &p->timer);
        }
    }
    return c;
}

void origin_checker_stop(origin_checker_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i != c->num_probes; ++i) {
        probe_t *p = c->probes + i;
        if (h2o_timeout_is_linked(&p->timer))
            h2o_timeout_unlink(&p->timer);
        if (p->client != NULL)
            origin_client_cancel(p->client);
        if (p->pool != NULL)
            origin_client_pool_free(p->pool);
        free(p->request.base);
    }
    for (size_t i = 0; i != c->router->conf->num_origins; ++i) {
        if (c->router->conf->origins[i].health.path != NULL && c->router->origins[i].health != NULL) {
            h2o_timeout_dispose(c->ctx->loop, &c->origins[i].interval);
            h2o_timeout_dispose(c->ctx->loop, &c->origins[i].timeout);
        }
    }
    free(c->probes);
    free(c->origins);
    free(c);
}
