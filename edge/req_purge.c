/*
 * edge/req_purge.c: the requests that remove stored objects — the PURGE method, and the invalidation
 * that follows a successful unsafe request (RFC 9111 §4.4) — see req_purge.h.
 *
 * Invariant that is easy to break: a response can only invalidate objects of its own site (same
 * authority), so one site's origin cannot purge another's objects through Location.
 */
#include <string.h>
#include <sys/socket.h>
#include "cache/key.h"
#include "cache/store.h"
#include "edge/admin.h"
#include "edge/req_purge.h"
#include "edge/site.h"

/* The PURGE method (Varnish, Fastly): invalidates the request's URL on its own host, all its variants, when the client's
 * address is in admin.purge_allow; anyone else gets 403. Answers at once with the invalidation's status. */
void edge_req_purge_answer(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    const edge_conf_t *conf = &er->tgen->gen->conf;
    struct sockaddr_storage ss;
    socklen_t sslen = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);

    if (sslen == 0 || !common_cidr_match(conf->admin.purge_allow, conf->admin.num_purge_allow, (struct sockaddr *)&ss)) {
        req->res.status = 403;
        req->res.reason = "Forbidden";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
        h2o_send_inline(req, H2O_STRLIT("PURGE is not allowed from this address (admin.purge_allow)\n"));
        return;
    }
    h2o_iovec_t url = cache_key_url(er->key);
    cache_store_purge_status_t st;
    uint64_t id = cache_store_purge(er->thread->server->store, CACHE_PURGE_URL, url.base, url.len, false);
    ++er->thread->counters.purges;
    cache_store_purge_status(er->thread->server->store, id, &st);
    h2o_iovec_t body = edge_admin_purge_json(&req->pool, &st);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, body.base, body.len);
}

/* The key of a URI named by Location or Content-Location, when it is on this site (RFC 9111 §4.4:
 * only same-origin URIs may be invalidated, so a response cannot purge another site's objects). */
static bool same_origin_key(edge_req_t *er, h2o_iovec_t uri, h2o_iovec_t *key)
{
    h2o_req_t *req = er->req;
    h2o_url_t base, target;
    if (h2o_url_init(&base, req->scheme, req->authority, h2o_iovec_init(H2O_STRLIT("/"))) != 0)
        return false;
    if (h2o_url_parse_relative(uri.base, uri.len, &target) != 0)
        return false;
    if (target.authority.base != NULL &&
        !h2o_lcstris(target.authority.base, target.authority.len, base.authority.base, base.authority.len))
        return false;
    if (target.path.len == 0 || target.path.base[0] != '/')
        return false;        /* a path relative to the request's: rare, and not worth guessing */
    h2o_iovec_t path, query; /* the normal form the request keys were made of */
    if (cache_key_normalize_target(&req->pool, target.path, &path, &query) != 0)
        return false;
    /* same authority, so the request's own host and site */
    const edge_conf_behavior_t *b = edge_site_behavior(&er->tgen->gen->conf, er->site, path.base, path.len);
    *key = cache_key_build_for_host(&req->pool, er->host, path, query, &b->key);
    return true;
}

/* RFC 9111 §4.4: a non-error response to an unsafe method invalidates the stored responses for the
 * target URI, and for the same-origin URIs in Location and Content-Location. */
void edge_req_purge_after_unsafe(edge_req_t *er, const origin_fetch_t *f)
{
    static const char *const safe[] = {"GET", "HEAD", "OPTIONS", "TRACE", NULL};
    h2o_req_t *req = er->req;
    if (f->status < 200 || f->status >= 400)
        return;
    for (const char *const *m = safe; *m != NULL; ++m)
        if (h2o_memis(req->method.base, req->method.len, *m, strlen(*m)))
            return;
    cache_store_delete(er->thread->server->store, &er->hash);
    for (size_t i = 0; i != f->headers.size; ++i) {
        const h2o_iovec_t *n = f->headers.entries[i].name;
        h2o_iovec_t key;
        cache_hash_t hash;
        if ((n == &H2O_TOKEN_LOCATION->buf || n == &H2O_TOKEN_CONTENT_LOCATION->buf) &&
            same_origin_key(er, f->headers.entries[i].value, &key)) {
            cache_key_hash(key, &hash);
            cache_store_delete(er->thread->server->store, &hash);
        }
    }
}
