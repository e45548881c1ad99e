/*
 * origin/request.c: the header fields of the request sent to the origin (see request.h).
 *
 * Invariant that is easy to break: Via and X-Forwarded-For append this hop to what the client sent,
 * never replace it, and Via appears once (the client's field is rewritten in place, not duplicated), so
 * an origin behind several proxies sees the whole chain.
 */
#include <stdio.h>
#include <string.h>
#include "origin/fetch.h"
#include "origin/request.h"

/* XXX: a client's chain is cut to this many bytes, as the request state machine always did (it formatted
 * into a 256-byte buffer); kept so that moving the code here changes nothing, though a long chain is
 * legitimate and should be forwarded whole. */
#define MAX_HOP_CHAIN 255

/* `prefix`, ", " and `suffix`, in `pool` (only `suffix` when there is no prefix). */
static h2o_iovec_t append_hop(h2o_mem_pool_t *pool, const h2o_iovec_t *prefix, const char *suffix)
{
    if (prefix == NULL)
        return h2o_strdup(pool, suffix, SIZE_MAX);
    char buf[MAX_HOP_CHAIN + 1];
    int n = snprintf(buf, sizeof(buf), "%.*s, %s", (int)prefix->len, prefix->base, suffix);
    if (n < 0)
        n = 0;
    return h2o_strdup(pool, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
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
    if (in->cacheable && route->forward_headers != NULL) {
        /* the behavior forwards only the headers it lists (and those of its cache key, which the config
         * module adds to the list) */
        size_t kept = 0;
        for (size_t i = 0; i != out->size; ++i) {
            const h2o_iovec_t *n = out->entries[i].name;
            for (size_t j = 0; j != route->num_forward_headers; ++j) {
                if (h2o_lcstris(n->base, n->len, route->forward_headers[j], strlen(route->forward_headers[j]))) {
                    out->entries[kept++] = out->entries[i];
                    break;
                }
            }
        }
        out->size = kept;
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
