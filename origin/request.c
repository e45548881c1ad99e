/*
 * origin/request.c: the header fields of the request sent to the origin (see request.h).
 *
 * Invariant that is easy to break: Via and X-Forwarded-For append this hop to what the client sent,
 * never replace it, and Via appears once (the client's field is rewritten in place, not duplicated), so
 * an origin behind several proxies sees the whole chain. And a fetch that may fill the cache forwards no
 * field the key does not vary on beyond the default list: any other one is a way to make the origin put
 * one client's answer under every client's key (cache poisoning).
 */
#include <string.h>
#include "cache/key.h"
#include "origin/fetch.h"
#include "origin/request.h"

/* `prefix`, ", " and `suffix`, in `pool` (only `suffix` when there is no prefix); as long as they are, since a
 * chain of proxies is legitimate and is forwarded whole (the client's fields are bounded by the edge's header
 * limit). */
static h2o_iovec_t append_hop(h2o_mem_pool_t *pool, const h2o_iovec_t *prefix, const char *suffix)
{
    if (prefix == NULL)
        return h2o_strdup(pool, suffix, SIZE_MAX);
    return h2o_concat(pool, *prefix, h2o_iovec_init(H2O_STRLIT(", ")), h2o_iovec_init(suffix, strlen(suffix)));
}

bool origin_request_default_header(const char *name, size_t len)
{
    static const char *const names[] = {"accept", "accept-encoding", "accept-language", "authorization", NULL};
    for (const char *const *n = names; *n != NULL; ++n)
        if (h2o_lcstris(name, len, *n, strlen(*n)))
            return true;
    return false;
}

static bool in_list(const h2o_iovec_t *name, char *const *list, size_t num)
{
    for (size_t j = 0; j != num; ++j)
        if (h2o_lcstris(name->base, name->len, list[j], strlen(list[j])))
            return true;
    return false;
}

static const h2o_iovec_t *find_value(const h2o_headers_t *headers, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(headers, token, -1);
    return i != -1 ? &headers->entries[i].value : NULL;
}

void origin_request_headers(h2o_mem_pool_t *pool, const origin_request_t *in, h2o_headers_t *out)
{
    static const char *const drop_always[] = {"host", "content-length", "expect", "x-forwarded-for", "x-forwarded-proto", NULL};
    /* a fetch that fills the cache asks for the whole, unconditional object; the client's conditions are
     * answered from the stored copy */
    static const char *const drop_cacheable[] = {"host",
                                                 "content-length",
                                                 "expect",
                                                 "x-forwarded-for",
                                                 "x-forwarded-proto",
                                                 "if-none-match",
                                                 "if-modified-since",
                                                 "if-match",
                                                 "if-unmodified-since",
                                                 "if-range",
                                                 "range",
                                                 NULL};
    const origin_conf_route_t *route = in->route;

    origin_fetch_filter_headers(pool, out, in->client_headers->entries, in->client_headers->size,
                                in->cacheable ? drop_cacheable : drop_always);
    if (in->cacheable) {
        /* only what the key varies on or cannot be answered two ways behind its back: the behavior's list (its
         * names are in the key: the config module adds the key headers to it, the edge adds it to the key), or
         * by default the few safe ones and the key headers */
        size_t kept = 0;
        h2o_iovec_t accept_encoding = {NULL, 0};
        for (size_t i = 0; i != out->size; ++i) {
            const h2o_iovec_t *n = out->entries[i].name;
            bool keep = route->forward_headers != NULL
                            ? in_list(n, route->forward_headers, route->num_forward_headers)
                            : origin_request_default_header(n->base, n->len) || in_list(n, in->key_headers, in->num_key_headers);
            if (!keep)
                continue;
            if (n == &H2O_TOKEN_ACCEPT_ENCODING->buf && !in_list(n, in->key_headers, in->num_key_headers)) {
                /* several lines are one list; the normal form is sent once, below */
                accept_encoding = accept_encoding.base == NULL
                                      ? out->entries[i].value
                                      : h2o_concat(pool, accept_encoding, h2o_iovec_init(H2O_STRLIT(", ")), out->entries[i].value);
                continue;
            }
            out->entries[kept++] = out->entries[i];
        }
        out->size = kept;
        const char *ae = accept_encoding.base != NULL ? cache_key_accept_encoding(accept_encoding) : "";
        if (*ae != '\0')
            h2o_add_header(pool, out, H2O_TOKEN_ACCEPT_ENCODING, NULL, ae, strlen(ae));
    }

    /* X-Forwarded-For: the previous hops, then this client */
    h2o_iovec_t v = append_hop(pool, find_value(in->client_headers, H2O_TOKEN_X_FORWARDED_FOR),
                               in->client_addr != NULL ? in->client_addr : "unknown");
    h2o_add_header(pool, out, H2O_TOKEN_X_FORWARDED_FOR, NULL, v.base, v.len);
    const char *proto = in->https ? "https" : "http";
    h2o_add_header_by_str(pool, out, H2O_STRLIT("x-forwarded-proto"), 0, NULL, proto, strlen(proto));
    const h2o_iovec_t *client_via = find_value(in->client_headers, H2O_TOKEN_VIA);
    v = client_via != NULL ? append_hop(pool, client_via, "1.1 edgecache") : h2o_iovec_init(H2O_STRLIT("1.1 edgecache"));
    bool replaced = false;
    for (size_t i = 0; i != out->size; ++i)
        if (out->entries[i].name == &H2O_TOKEN_VIA->buf)
            out->entries[i].value = v, replaced = true;
    if (!replaced)
        h2o_add_header(pool, out, H2O_TOKEN_VIA, NULL, v.base, v.len);

    /* revalidation: ask whether the stored object is still good (RFC 9111 §4.3.1) */
    if (in->cacheable) {
        if (in->etag.base != NULL)
            h2o_add_header(pool, out, H2O_TOKEN_IF_NONE_MATCH, NULL, in->etag.base, in->etag.len);
        if (in->last_modified.base != NULL)
            h2o_add_header(pool, out, H2O_TOKEN_IF_MODIFIED_SINCE, NULL, in->last_modified.base, in->last_modified.len);
    }
}
