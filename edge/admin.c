/*
 * edge/admin.c: the admin API (see admin.h for the endpoints).
 *
 * It runs on the first loop only, beside client traffic, so every handler is short: metrics sum the
 * per-thread counters without a lock (each is a 64-bit word a reader can see torn only across fields,
 * never within one), and an invalidation is queued to the store's writer and answered at once with its
 * id; its progress is polled with GET /purge/<id>. What a request asks for (its endpoint, whether it
 * carries the token, an invalidation's target, a report's range) is decided in edge/admin_parse.c; this
 * file does the work and sends the answers.
 *
 * Invariant: the token check comes before any other work (only the route, which reads nothing but the
 * method and path, is taken first, so that /healthz needs no token), and compares every byte whatever
 * the first difference, so neither an error message nor the response time tells an attacker how much of
 * a guess was right.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <h2o/version.h>
#include <openssl/crypto.h>
#include "cache/key.h"
#include "edge/admin.h"
#include "edge/admin_parse.h"
#include "edge/gen.h"
#include "edge/lifecycle.h"
#include "common/log.h"
#include "edge/thread.h"
#include "reports/metrics.h"
#include "reports/process.h"
#include "reports/report.h"

typedef struct st_admin_handler_t {
    h2o_handler_t super;
    edge_server_t *server;
} admin_handler_t;

/* --- helpers ----------------------------------------------------------------------------------- */

/* The generation the admin loop serves: the published one (adopted first, so a reload's token and origins
 * apply to the very next admin request). */
static const edge_gen_t *gen_of(h2o_req_t *req)
{
    edge_thread_t *t = edge_thread_of(req);
    edge_gen_adopt(t);
    return t->cur->gen;
}

static int respond(h2o_req_t *req, int status, const char *reason, const char *type, h2o_iovec_t body)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    req->res.content_length = body.len;
    h2o_send_inline(req, body.base, body.len);
    return 0;
}

static int respond_text(h2o_req_t *req, int status, const char *reason, const char *text)
{
    return respond(req, status, reason, "text/plain; charset=utf-8", h2o_iovec_init(text, strlen(text)));
}

/* Sends what `fp`, an open_memstream on `*buf` and `*len`, collected. */
static int respond_stream(h2o_req_t *req, const char *type, FILE *fp, char **buf, size_t *len)
{
    fclose(fp); /* (which sets *buf and *len) */
    h2o_iovec_t body = h2o_strdup(&req->pool, *buf, *len);
    free(*buf);
    return respond(req, 200, "OK", type, body);
}

static h2o_iovec_t query_of(h2o_req_t *req)
{
    return req->query_at != SIZE_MAX ? h2o_iovec_init(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1)
                                     : h2o_iovec_init(NULL, 0);
}

static void json_string(FILE *fp, const char *s, size_t len)
{
    fputc('"', fp);
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

/* --- invalidation ------------------------------------------------------------------------------ */

h2o_iovec_t edge_admin_purge_json(h2o_mem_pool_t *pool, const cache_store_purge_status_t *st)
{
    static const char *const kinds[] = {[CACHE_PURGE_URL] = "url", [CACHE_PURGE_PREFIX] = "prefix", [CACHE_PURGE_TAG] = "tag"};
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    fprintf(fp, "{\"id\":\"%" PRIu64 "\",\"type\":\"%s\",\"target\":", st->id, kinds[st->kind]);
    json_string(fp, st->target, strlen(st->target));
    fprintf(fp, ",\"soft\":%s,\"status\":\"%s\",\"objects\":%" PRIu64 ",\"created\":%" PRId64 ",\"completed\":",
            st->soft ? "true" : "false", st->done ? "done" : "pending", st->objects, st->created);
    if (st->done)
        fprintf(fp, "%" PRId64 "}\n", st->completed);
    else
        fputs("null}\n", fp);
    fclose(fp);
    h2o_iovec_t out = h2o_strdup(pool, buf, len);
    free(buf);
    return out;
}

static int on_purge(edge_server_t *s, h2o_req_t *req)
{
    h2o_iovec_t form = req->entity.base != NULL && req->entity.len != 0 ? req->entity : query_of(req);
    edge_admin_purge_t p;
    int err = edge_admin_parse_purge(&gen_of(req)->conf, &req->pool, form, &p);

    if (err != 0)
        return respond_text(req, 400, "Bad Request", edge_admin_parse_strerror(err));
    uint64_t id = cache_store_purge(s->store, p.kind, p.target.base, p.target.len, p.soft);
    ++s->threads[0].counters.purges;
    cache_store_purge_status_t st;
    cache_store_purge_status(s->store, id, &st);
    common_log_info("admin: invalidation %" PRIu64 ": %s %.*s%s", id,
                    p.kind == CACHE_PURGE_URL      ? "url"
                    : p.kind == CACHE_PURGE_PREFIX ? "prefix"
                                                   : "tag",
                    (int)p.target.len, p.target.base, p.soft ? " (soft)" : "");
    char loc[64];
    snprintf(loc, sizeof(loc), "/purge/%" PRIu64, id);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, loc, strlen(loc));
    return respond(req, 202, "Accepted", "application/json", edge_admin_purge_json(&req->pool, &st));
}

static int on_purge_status(edge_server_t *s, h2o_req_t *req, h2o_iovec_t id_text)
{
    cache_store_purge_status_t st;
    uint64_t id;
    if (!edge_admin_parse_purge_id(id_text, &id) || !cache_store_purge_status(s->store, id, &st))
        return respond_text(req, 404, "Not Found", "no such invalidation\n");
    return respond(req, 200, "OK", "application/json", edge_admin_purge_json(&req->pool, &st));
}

/* --- metrics -------------------------------------------------------------------------- */

/* What this binary was built from, as edgecache_build_info's labels. LMDB's is the version of the header
 * it was compiled against (configure reads it from pkg-config: only cache/store.c may include lmdb.h);
 * OpenSSL's is the library's at run time. */
static size_t build_info_labels(reports_label_t *labels)
{
    size_t n = 0;
    labels[n++] = (reports_label_t){"version", PACKAGE_VERSION};
    labels[n++] = (reports_label_t){"libh2o", H2O_VERSION};
    labels[n++] = (reports_label_t){"openssl", OpenSSL_version(OPENSSL_VERSION_STRING)};
    labels[n++] = (reports_label_t){"lmdb", EDGECACHE_LMDB_VERSION};
    return n;
}

/* The family of the top objects, as text: the popular report over the last hour of stored buckets. Rendered
 * at most once a minute, because the scan of the store would otherwise block this loop (which serves clients
 * too) at every scrape, and the loops store their reports once a minute anyway. Only the admin loop touches
 * it. */
static struct {
    time_t at;
    char *text;
    size_t len;
} top_cache;

static void write_top_objects(edge_server_t *s, FILE *out)
{
    time_t now = time(NULL);
    if (top_cache.text == NULL || now < top_cache.at || now - top_cache.at >= 60) {
        reports_query_t q = {.from_s = (uint64_t)now > 3600 ? (uint64_t)now - 3600 : 0,
                             .to_s = (uint64_t)now + 1,
                             .top = REPORTS_METRICS_TOP_OBJECTS};
        reports_data_t *d = reports_data_new(&q);
        char *text = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&text, &len);
        /* (a store that cannot be read gives the family without samples) */
        reports_metrics_write_top(fp, reports_data_load(d, s->store) == 0 ? d : NULL);
        fclose(fp);
        reports_data_free(d);
        free(top_cache.text);
        top_cache.text = text;
        top_cache.len = len;
        top_cache.at = now;
    }
    fwrite(top_cache.text, 1, top_cache.len, out);
}

static int on_metrics(edge_server_t *s, h2o_req_t *req)
{
    reports_counters_t sum = {0};
    reports_hist_t latency;
    memset(&latency, 0, sizeof(latency));
    reports_by_behavior_t *by_behavior = calloc(1, sizeof(*by_behavior)); /* (tens of KB: not on the loop's stack) */
    cache_store_stats_t st;
    reports_process_t proc;
    reports_label_t labels[4];
    char *buf = NULL;
    size_t len = 0;

    if (by_behavior == NULL)
        return respond_text(req, 503, "Service Unavailable", "out of memory\n");
    FILE *fp = open_memstream(&buf, &len);
    for (size_t i = 0; i != s->num_threads; ++i) {
        reports_stats_add(&sum, &s->threads[i].counters);
        reports_hist_add(&latency, &s->threads[i].origin_latency);
        reports_by_behavior_add(by_behavior, &s->threads[i].by_behavior);
    }
    cache_store_stats(s->store, &st);
    reports_metrics_write(fp, &sum, &latency, &st);
    cache_compress_stats_t cst;
    cache_compress_stats(s->compressor, &cst);
    reports_metrics_write_compress(fp, &cst);
    reports_metrics_write_behaviors(fp, by_behavior, &gen_of(req)->conf.reports);
    free(by_behavior);
    reports_metrics_family(fp, "edgecache_origin_server_up", "gauge",
                           "1 when the origin server is healthy (active and passive checks), else 0");
    const edge_gen_t *g = gen_of(req);
    for (size_t i = 0; i != g->conf.upstream.num_origins; ++i) {
        const origin_router_origin_t *o = g->router->origins + i;
        for (size_t j = 0; j != o->conf->num_servers; ++j) {
            bool up = o->health == NULL || origin_health_is_up(o->health, j);
            reports_label_t l[] = {{"origin", o->conf->name}, {"server", o->conf->servers[j]}};
            fputs("edgecache_origin_server_up", fp);
            reports_metrics_labels(fp, l, 2);
            fprintf(fp, " %d\n", up ? 1 : 0);
        }
    }
    reports_metrics_family(fp, "edgecache_origin_group_breaker_open", "gauge",
                           "1 while the origin group's circuit breaker skips its primary (open, or half-open with its probe "
                           "out), else 0");
    for (size_t i = 0; i != g->conf.upstream.num_groups; ++i) {
        origin_breaker_state_t state = origin_breaker_state(g->router->breakers[i]);
        reports_label_t l[] = {{"group", g->conf.upstream.groups[i].name}};
        fputs("edgecache_origin_group_breaker_open", fp);
        reports_metrics_labels(fp, l, 1);
        fprintf(fp, " %d\n", state != ORIGIN_BREAKER_CLOSED ? 1 : 0);
    }
    write_top_objects(s, fp);
    reports_hist_t *lags = calloc(s->num_threads, sizeof(*lags));
    if (lags != NULL) {
        for (size_t i = 0; i != s->num_threads; ++i)
            reports_hist_add(lags + i, &s->threads[i].loop_lag); /* (a copy: the loop goes on writing) */
        reports_metrics_write_loop_lag(fp, lags, s->num_threads);
        free(lags);
    }
    reports_metrics_write_build_info(fp, labels, build_info_labels(labels));
    reports_process_read(&proc); /* (a value it cannot read stays 0) */
    reports_metrics_write_process(fp, &proc);
    return respond_stream(req, "text/plain; version=0.0.4; charset=utf-8", fp, &buf, &len);
}

/* GET /reports/<name>: the stored reports over ?since=24h (the default) or ?from=T&to=T, in JSON (or
 * ?format=csv|html|table); ?top=N rows of popular objects (default reports.top). The scan blocks this
 * loop for its duration, which is one reason the admin API has a listener of its own. */
static int on_report(edge_server_t *s, h2o_req_t *req, const char *name)
{
    reports_query_t q;
    reports_format_t fmt;
    const edge_conf_t *conf = &gen_of(req)->conf;
    int err = edge_admin_parse_report_query(&req->pool, query_of(req), (uint64_t)time(NULL), conf->reports.top, &q, &fmt);
    if (err == 0)
        err = edge_admin_parse_report_site(conf, &req->pool, query_of(req), &q);
    if (err != 0)
        return respond_text(req, 400, "Bad Request", edge_admin_parse_strerror(err));
    q.node_id = conf->node_id;
    char *out = NULL;
    size_t len = 0;
    if (reports_render_to_buffer(s->store, name, &q, fmt, &out, &len) != 0) {
        free(out);
        return respond_text(req, 500, "Internal Server Error", "the reports could not be read from the store\n");
    }
    static const char *const types[] = {[REPORTS_FORMAT_TABLE] = "text/plain; charset=utf-8",
                                        [REPORTS_FORMAT_CSV] = "text/csv",
                                        [REPORTS_FORMAT_JSON] = "application/json",
                                        [REPORTS_FORMAT_HTML] = "text/html; charset=utf-8"};
    h2o_iovec_t body = h2o_strdup(&req->pool, out, len);
    free(out);
    return respond(req, 200, "OK", types[fmt], body);
}

/* POST /reload: the configuration read again (edge/lifecycle.h); 200 with the new generation, or 400 with
 * the reason (file:line:col for a file that does not validate) while the running one goes on. This loop
 * blocks while the generation is built. */
static int on_reload(edge_server_t *s, h2o_req_t *req)
{
    char err[EDGE_CONF_ERRLEN + 64], *body;
    int64_t id = edge_lifecycle_reload(s, err, sizeof(err));
    edge_gen_adopt(edge_thread_of(req)); /* (this loop's own listeners and certificates) */
    if (id < 0) {
        common_log_error("admin: reload refused, the running configuration stays: %s", err);
        body = h2o_mem_alloc_pool(&req->pool, strlen(err) + 2);
        sprintf(body, "%s\n", err);
        return respond_text(req, 400, "Bad Request", body);
    }
    body = h2o_mem_alloc_pool(&req->pool, 64);
    sprintf(body, "reloaded: generation %lld\n", (long long)id);
    return respond_text(req, 200, "OK", body);
}

/* --- the handler ------------------------------------------------------------------------------- */

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    edge_server_t *s = ((admin_handler_t *)self)->server;
    h2o_iovec_t purge_id = {NULL, 0};
    edge_admin_route_t route = edge_admin_parse_route(req->method, req->path_normalized, &purge_id);

    const edge_conf_t *conf = &gen_of(req)->conf;
    if (route == EDGE_ADMIN_ROUTE_HEALTHZ) {
        edge_health_t h = edge_lifecycle_health(s, gen_of(req));
        return h == EDGE_HEALTH_OK ? respond_text(req, 200, "OK", edge_lifecycle_health_text(h))
                                   : respond_text(req, 503, "Service Unavailable", edge_lifecycle_health_text(h));
    }
    if (route == EDGE_ADMIN_ROUTE_HEALTHZ_METHOD)
        return respond_text(req, 405, "Method Not Allowed", "GET /healthz\n");
    ssize_t auth = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (!edge_admin_parse_authorized(conf->admin.token, auth != -1 ? req->headers.entries[auth].value : h2o_iovec_init(NULL, 0))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"edgecache-admin\""));
        return respond_text(req, 401, "Unauthorized",
                            conf->admin.token == NULL ? "no admin token is configured (admin.token_file)\n"
                                                      : "missing or wrong token (Authorization: Bearer <token>)\n");
    }
    switch (route) {
    case EDGE_ADMIN_ROUTE_METRICS:
        return on_metrics(s, req);
    case EDGE_ADMIN_ROUTE_REPORT_POPULAR:
        return on_report(s, req, "popular");
    case EDGE_ADMIN_ROUTE_REPORT_STATS:
        return on_report(s, req, "stats");
    case EDGE_ADMIN_ROUTE_REPORT_TTL:
        return on_report(s, req, "ttl");
    case EDGE_ADMIN_ROUTE_PURGE:
        return on_purge(s, req);
    case EDGE_ADMIN_ROUTE_PURGE_METHOD:
        return respond_text(req, 405, "Method Not Allowed", "POST /purge\n");
    case EDGE_ADMIN_ROUTE_PURGE_STATUS:
        return on_purge_status(s, req, purge_id);
    case EDGE_ADMIN_ROUTE_RELOAD:
        return on_reload(s, req);
    case EDGE_ADMIN_ROUTE_DRAIN:
    case EDGE_ADMIN_ROUTE_UNDRAIN:
        atomic_store(&s->draining, route == EDGE_ADMIN_ROUTE_DRAIN);
        common_log_info("admin: %s", route == EDGE_ADMIN_ROUTE_DRAIN ? "draining: /healthz answers 503, traffic is still served"
                                                                     : "drain ended: /healthz answers again");
        return respond_text(req, 200, "OK", route == EDGE_ADMIN_ROUTE_DRAIN ? "draining\n" : "serving\n");
    case EDGE_ADMIN_ROUTE_UPGRADE:
        /* the handover blocks until the new process serves: the main thread runs it, as for SIGUSR2 */
        kill(getpid(), SIGUSR2);
        return respond_text(req, 202, "Accepted", "upgrade started: the log says when the new process serves\n");
    default:
        return respond_text(
            req, 404, "Not Found",
            "admin endpoints: GET /healthz, /metrics, /reports/popular, /reports/stats, /reports/ttl, /purge/<id>; POST /purge, "
            "/reload, /drain, /upgrade; DELETE /drain\n");
    }
}

void edge_admin_register(h2o_globalconf_t *globalconf, edge_server_t *server)
{
    h2o_hostconf_t *host = h2o_config_register_host(globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    admin_handler_t *h = (admin_handler_t *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_req;
    h->server = server;
}
