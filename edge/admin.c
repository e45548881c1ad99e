/*
 * edge/admin.c: the admin API (see admin.h for the endpoints).
 *
 * It runs on the first loop only, beside client traffic, so every handler is short: metrics sum the
 * per-thread counters without a lock (each is a 64-bit word a reader can see torn only across fields,
 * never within one), and an invalidation is queued to the store's writer and answered at once with its
 * id; its progress is polled with GET /purge/<id>.
 *
 * Invariant: the token check comes before any other work, and compares every byte whatever the first
 * difference, so neither an error message nor the response time tells an attacker how much of a guess
 * was right.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cache/key.h"
#include "edge/admin.h"
#include "common/log.h"
#include "edge/server.h"
#include "reports/metrics.h"
#include "reports/report.h"

typedef struct st_admin_handler_t {
    h2o_handler_t super;
    edge_server_t *server;
} admin_handler_t;

/* --- helpers ----------------------------------------------------------------------------------- */

static bool token_ok(const edge_conf_t *conf, h2o_req_t *req)
{
    static const char prefix[] = "bearer ";
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (conf->admin.token == NULL || i == -1)
        return false;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < sizeof(prefix) - 1 || !h2o_lcstris(v.base, sizeof(prefix) - 1, prefix, sizeof(prefix) - 1))
        return false;
    const char *given = v.base + sizeof(prefix) - 1, *want = conf->admin.token;
    size_t glen = v.len - (sizeof(prefix) - 1), wlen = strlen(want);
    unsigned char diff = glen != wlen;
    for (size_t k = 0; k != wlen; ++k) /* every byte of the token, whatever the first difference */
        diff |= (unsigned char)(want[k] ^ (k < glen ? given[k] : 0));
    return diff == 0;
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

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The value of `name` in an application/x-www-form-urlencoded string (a query or a body), decoded, in
 * `pool`; {NULL, 0} when absent. A malformed escape makes the value absent too. */
static h2o_iovec_t form_value(h2o_mem_pool_t *pool, h2o_iovec_t form, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = form.base, *end = form.base + form.len;
    while (p < end) {
        const char *amp = memchr(p, '&', end - p), *stop = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', stop - p);
        if (eq != NULL && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
            char *out = h2o_mem_alloc_pool(pool, stop - eq);
            size_t n = 0;
            for (const char *q = eq + 1; q < stop; ++q) {
                if (*q == '+') {
                    out[n++] = ' ';
                } else if (*q == '%') {
                    int hi, lo;
                    if (stop - q < 3 || (hi = hexval(q[1])) < 0 || (lo = hexval(q[2])) < 0)
                        return h2o_iovec_init(NULL, 0);
                    out[n++] = (char)(hi << 4 | lo);
                    q += 2;
                } else {
                    out[n++] = *q;
                }
            }
            out[n] = '\0';
            return h2o_iovec_init(out, n);
        }
        p = stop + 1;
    }
    return h2o_iovec_init(NULL, 0);
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

bool edge_admin_purge_key(const edge_conf_t *conf, h2o_mem_pool_t *pool, h2o_iovec_t url, h2o_iovec_t *key)
{
    const char *p = url.base, *end = url.base + url.len;
    const char *scheme_end = url.len > 3 ? strstr(url.base, "://") : NULL;

    if (scheme_end != NULL && scheme_end < end && memchr(url.base, '/', scheme_end - url.base) == NULL) {
        p = memchr(scheme_end + 3, '/', end - (scheme_end + 3)); /* drop scheme://authority */
        if (p == NULL)
            p = end;
    }
    if (p == end)
        return false;
    if (*p != '/')
        return false;
    size_t query_at = SIZE_MAX, *norm_indexes = NULL;
    h2o_iovec_t path = h2o_url_normalize_path(pool, p, end - p, &query_at, &norm_indexes);
    h2o_iovec_t query =
        query_at != SIZE_MAX ? h2o_iovec_init(p + query_at + 1, (size_t)(end - p) - query_at - 1) : h2o_iovec_init(NULL, 0);
    const edge_conf_behavior_t *b = edge_behavior_match(conf->behaviors, conf->num_behaviors, path.base, path.len);
    *key = cache_key_build(pool, path, query, &b->key);
    return true;
}

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
    h2o_iovec_t url = form_value(&req->pool, form, "url"), prefix = form_value(&req->pool, form, "prefix"),
                tag = form_value(&req->pool, form, "tag"), soft = form_value(&req->pool, form, "soft");
    int given = (url.base != NULL) + (prefix.base != NULL) + (tag.base != NULL);
    cache_purge_kind_t kind;
    h2o_iovec_t target;

    if (given != 1)
        return respond_text(req, 400, "Bad Request", "give exactly one of url=, prefix= or tag= (form body or query)\n");
    if (url.base != NULL) {
        kind = CACHE_PURGE_URL;
        if (!edge_admin_purge_key(s->conf, &req->pool, url, &target))
            return respond_text(req, 400, "Bad Request", "url: expected a path (/a/b?q) or an absolute URL\n");
    } else if (prefix.base != NULL) {
        kind = CACHE_PURGE_PREFIX;
        target = prefix;
        h2o_iovec_t key;
        if (prefix.len != 0 && prefix.base[0] != '/' && edge_admin_purge_key(s->conf, &req->pool, prefix, &key))
            target = key; /* an absolute URL as a prefix: its path */
    } else {
        kind = CACHE_PURGE_TAG;
        target = tag;
        if (tag.len == 0)
            return respond_text(req, 400, "Bad Request", "tag: must not be empty\n");
    }
    bool is_soft = soft.base != NULL &&
                   (h2o_memis(soft.base, soft.len, H2O_STRLIT("1")) || h2o_memis(soft.base, soft.len, H2O_STRLIT("true")));
    uint64_t id = cache_store_purge(s->store, kind, target.base, target.len, is_soft);
    ++s->threads[0].counters.purges;
    cache_store_purge_status_t st;
    cache_store_purge_status(s->store, id, &st);
    common_log_info("admin: invalidation %" PRIu64 ": %s %.*s%s", id,
                  kind == CACHE_PURGE_URL      ? "url"
                  : kind == CACHE_PURGE_PREFIX ? "prefix"
                                               : "tag",
                  (int)target.len, target.base, is_soft ? " (soft)" : "");
    char loc[64];
    snprintf(loc, sizeof(loc), "/purge/%" PRIu64, id);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, loc, strlen(loc));
    return respond(req, 202, "Accepted", "application/json", edge_admin_purge_json(&req->pool, &st));
}

static int on_purge_status(edge_server_t *s, h2o_req_t *req, h2o_iovec_t id_text)
{
    cache_store_purge_status_t st;
    uint64_t id = 0;
    for (size_t i = 0; i != id_text.len; ++i) {
        if (id_text.base[i] < '0' || id_text.base[i] > '9' || id > UINT64_MAX / 10)
            return respond_text(req, 404, "Not Found", "no such invalidation\n");
        id = id * 10 + (uint64_t)(id_text.base[i] - '0');
    }
    if (id_text.len == 0 || !cache_store_purge_status(s->store, id, &st))
        return respond_text(req, 404, "Not Found", "no such invalidation\n");
    return respond(req, 200, "OK", "application/json", edge_admin_purge_json(&req->pool, &st));
}

/* --- metrics -------------------------------------------------------------------------- */

static int on_metrics(edge_server_t *s, h2o_req_t *req)
{
    reports_counters_t sum = {0};
    reports_latency_t latency;
    memset(&latency, 0, sizeof(latency));
    cache_store_stats_t st;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    for (size_t i = 0; i != s->num_threads; ++i) {
        reports_stats_add(&sum, &s->threads[i].counters);
        reports_latency_add(&latency, &s->threads[i].origin_latency);
    }
    cache_store_stats(s->store, &st);
    reports_metrics_write(fp, &sum, &latency, &st);
    reports_metrics_family(fp, "edgecache_origin_server_up", "gauge",
                           "1 when the origin server is healthy (active and passive checks), else 0");
    for (size_t i = 0; i != s->conf->upstream.num_origins; ++i) {
        const origin_router_origin_t *o = s->router->origins + i;
        for (size_t j = 0; j != o->conf->num_servers; ++j) {
            bool up = o->health == NULL || origin_health_is_up(o->health, j);
            fputs("edgecache_origin_server_up{origin=", fp);
            json_string(fp, o->conf->name, strlen(o->conf->name)); /* (a JSON string is a valid label value) */
            fputs(",server=", fp);
            json_string(fp, o->conf->servers[j], strlen(o->conf->servers[j]));
            fprintf(fp, "} %d\n", up ? 1 : 0);
        }
    }
    return respond_stream(req, "text/plain; version=0.0.4; charset=utf-8", fp, &buf, &len);
}

/* GET /reports/<name>: the stored reports over ?since=24h (the default) or ?from=T&to=T, in JSON (or
 * ?format=csv|html|table); ?top=N rows of popular objects (default reports.top). The scan blocks this
 * loop for its duration, which is one reason the admin API has a listener of its own. */
static int on_report(edge_server_t *s, h2o_req_t *req, const char *name)
{
    h2o_iovec_t query = query_of(req);
    h2o_iovec_t since = form_value(&req->pool, query, "since"), from = form_value(&req->pool, query, "from"),
                to = form_value(&req->pool, query, "to"), top = form_value(&req->pool, query, "top"),
                format = form_value(&req->pool, query, "format");
    reports_query_t q = {.top = s->conf->reports.top};
    uint64_t now = (uint64_t)time(NULL), span = 86400, n;
    int fmt = REPORTS_FORMAT_JSON;

    if (since.base != NULL && reports_parse_duration(since.base, &span) != 0)
        return respond_text(req, 400, "Bad Request", "since: expected a duration such as 30m, 24h or 7d\n");
    q.from_s = now > span ? now - span : 0;
    q.to_s = now + 1;
    if ((from.base != NULL && reports_parse_time(from.base, &q.from_s) != 0) ||
        (to.base != NULL && reports_parse_time(to.base, &q.to_s) != 0) || q.to_s <= q.from_s)
        return respond_text(req, 400, "Bad Request", "from/to: expected ISO-8601 UTC times or Unix seconds, from before to\n");
    if (top.base != NULL) {
        char *end;
        n = strtoull(top.base, &end, 10);
        if (*end != '\0' || n == 0 || n > 100000)
            return respond_text(req, 400, "Bad Request", "top: expected a number from 1 to 100000\n");
        q.top = (unsigned)n;
    }
    if (format.base != NULL && (fmt = reports_format_parse(format.base)) < 0)
        return respond_text(req, 400, "Bad Request", "format: expected json, csv, html or table\n");
    char *out = NULL;
    size_t len = 0;
    if (reports_render_to_buffer(s->store, name, &q, (reports_format_t)fmt, &out, &len) != 0) {
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

/* --- the handler ------------------------------------------------------------------------------- */

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    edge_server_t *s = ((admin_handler_t *)self)->server;
    h2o_iovec_t path = req->path_normalized;
    bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
               h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    bool post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));

    if (h2o_memis(path.base, path.len, H2O_STRLIT("/healthz")))
        return get ? respond_text(req, 200, "OK", "ok\n") : respond_text(req, 405, "Method Not Allowed", "GET /healthz\n");
    if (!token_ok(s->conf, req)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"edgecache-admin\""));
        return respond_text(req, 401, "Unauthorized",
                            s->conf->admin.token == NULL ? "no admin token is configured (admin.token_file)\n"
                                                         : "missing or wrong token (Authorization: Bearer <token>)\n");
    }
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics")) && get)
        return on_metrics(s, req);
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/reports/popular")) && get)
        return on_report(s, req, "popular");
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/reports/stats")) && get)
        return on_report(s, req, "stats");
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/reports/ttl")) && get)
        return on_report(s, req, "ttl");
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/purge")))
        return post ? on_purge(s, req) : respond_text(req, 405, "Method Not Allowed", "POST /purge\n");
    if (path.len > 7 && memcmp(path.base, "/purge/", 7) == 0 && get)
        return on_purge_status(s, req, h2o_iovec_init(path.base + 7, path.len - 7));
    return respond_text(
        req, 404, "Not Found",
        "admin endpoints: GET /healthz, /metrics, /reports/popular, /reports/stats, /reports/ttl, /purge/<id>; POST /purge\n");
}

void edge_admin_register(h2o_globalconf_t *globalconf, edge_server_t *server)
{
    h2o_hostconf_t *host = h2o_config_register_host(globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    admin_handler_t *h = (admin_handler_t *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_req;
    h->server = server;
}
