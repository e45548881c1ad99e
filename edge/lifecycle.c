/*
 * edge/lifecycle.c: reload and health (edge/lifecycle.h).
 *
 * The invariant of a reload: the published generation changes only under the reload lock, and only to one
 * that is complete; the server's reference to the old one is dropped after the swap, and the loops let go
 * of theirs when their last request under it ends.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "common/log.h"
#include "edge/lifecycle.h"
#include "edge/gen.h"

static bool same_str(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Logs what the new file changes that only a restart or an upgrade applies (edge/gen.h). */
static void warn_fixed(const edge_server_fixed_t *f, const edge_conf_t *c, size_t num_threads)
{
    const char *what[8];
    size_t n = 0;
    if ((c->threads != 0 ? c->threads : num_threads) != f->threads)
        what[n++] = "threads";
    if (!same_str(c->cache.path, f->cache_path) || c->cache.max_size != f->cache_max_size)
        what[n++] = "cache";
    if (!same_str(c->admin.address, f->admin_address) || c->admin.port != f->admin_port)
        what[n++] = "admin.listen";
    if (!same_str(c->access_log.path, f->access_log_path) || !same_str(c->access_log.format, f->access_log_format) ||
        c->access_log.json != f->access_log_json)
        what[n++] = "access_log";
    if (c->limits.header_timeout_ms != f->header_timeout_ms || c->limits.h2_max_streams != f->h2_max_streams ||
        c->limits.background_fetches != f->background_fetches)
        what[n++] = "limits (header_timeout, h2_max_concurrent_streams, background_fetches)";
    for (size_t i = 0; i != n; ++i)
        common_log_warn("reload: %s changed: it takes effect at the next upgrade (SIGUSR2) or restart", what[i]);
}

int64_t edge_lifecycle_reload(edge_server_t *s, char *err, size_t errlen)
{
    const edge_server_opts_t *o = s->opts;
    edge_conf_t conf;
    char cerr[EDGE_CONF_ERRLEN];
    int64_t id = -1;

    pthread_mutex_lock(&s->reload_lock);
    if (atomic_load(&s->stopping)) {
        snprintf(err, errlen, "the edge is stopping");
        goto Exit;
    }
    int rc = o->config_file != NULL ? edge_config_load(&conf, o->config_file, cerr)
                                    : edge_config_parse(&conf, "<embedded>", NULL, edge_config_default_yaml(),
                                                        strlen(edge_config_default_yaml()), cerr);
    if (rc != 0) {
        snprintf(err, errlen, "%s", cerr);
        goto Exit;
    }
    if (edge_config_override(&conf, o->listen, o->origin, o->cache_dir, cerr) != 0) {
        snprintf(err, errlen, "%s", cerr);
        edge_config_dispose(&conf);
        goto Exit;
    }
    warn_fixed(&s->fixed, &conf, s->num_threads);
    edge_gen_t *prev = atomic_load(&s->gen); /* (only a reload changes it, and this one holds the lock) */
    edge_gen_t *g = edge_gen_new(&conf, prev, s->num_threads, prev->id + 1, err, errlen);
    if (g == NULL) {
        edge_config_dispose(&conf);
        goto Exit;
    }
    pthread_mutex_lock(&s->gen_lock);
    atomic_store(&s->gen, g);
    pthread_mutex_unlock(&s->gen_lock);
    edge_gen_release(prev);
    id = (int64_t)g->id;
    /* wake every loop and wait until each serves the new generation, so that once this returns, a new
     * connection gets the new listeners and certificates too (a request adopts it anyway); the loop that
     * runs this call (the admin API's) adopts it when the call returns */
    for (size_t i = 0; i != s->num_threads; ++i)
        h2o_multithread_send_message(&s->threads[i].fetch_receiver, NULL);
    for (size_t i = 0; i != s->num_threads; ++i)
        for (int ms = 0;
             ms != 2000 && !pthread_equal(s->threads[i].tid, pthread_self()) && atomic_load(&s->threads[i].adopted) < g->id; ++ms)
            usleep(1000);
    common_log_info("reload: generation %lld serves new requests (%s)", (long long)id,
                    o->config_file != NULL ? o->config_file : "<embedded>");
Exit:
    pthread_mutex_unlock(&s->reload_lock);
    return id;
}

edge_health_t edge_lifecycle_health(edge_server_t *s, const edge_gen_t *g)
{
    if (atomic_load(&s->draining))
        return EDGE_HEALTH_DRAINING;
    if (!cache_store_usable(s->store))
        return EDGE_HEALTH_STORE;
    for (size_t i = 0; i != g->conf.upstream.num_origins; ++i) {
        const origin_router_origin_t *o = g->router->origins + i;
        if (o->health == NULL)
            return EDGE_HEALTH_OK; /* a file:// origin, or one without checks: taken as up */
        for (size_t j = 0; j != o->conf->num_servers; ++j)
            if (origin_health_is_up(o->health, j))
                return EDGE_HEALTH_OK;
    }
    return g->conf.upstream.num_origins == 0 ? EDGE_HEALTH_OK : EDGE_HEALTH_ORIGINS_DOWN;
}

const char *edge_lifecycle_health_text(edge_health_t h)
{
    switch (h) {
    case EDGE_HEALTH_OK:
        return "ok\n";
    case EDGE_HEALTH_DRAINING:
        return "draining\n";
    case EDGE_HEALTH_STORE:
        return "the cache cannot be used\n";
    case EDGE_HEALTH_ORIGINS_DOWN:
        return "every origin is down\n";
    }
    return "unknown\n";
}

/* The health of the edge at admin.healthz_path, for load balancers and DNS checks that have no admin token:
 * 200 "ok", or 503 and why (edge/lifecycle.h). True when `req` asked for it (and was answered). */
bool edge_lifecycle_answer_healthz(edge_thread_t *t, h2o_req_t *req)
{
    const edge_conf_t *conf = &t->cur->gen->conf;
    const char *path = conf->admin.healthz_path != NULL ? conf->admin.healthz_path : EDGE_CONF_HEALTHZ_PATH;
    if (conf->admin.healthz_off || !h2o_memis(req->path_normalized.base, req->path_normalized.len, path, strlen(path)) ||
        !(h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
          h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))))
        return false;
    edge_health_t h = edge_lifecycle_health(t->server, t->cur->gen);
    const char *body = edge_lifecycle_health_text(h);
    req->res.status = h == EDGE_HEALTH_OK ? 200 : 503;
    req->res.reason = h == EDGE_HEALTH_OK ? "OK" : "Service Unavailable";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, strlen(body));
    return true;
}
