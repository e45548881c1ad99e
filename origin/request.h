/*
 * origin/request.h: the header fields edgecache sends to an origin with a client's request.
 *
 * A fetch that may fill the cache sends only fields that cannot make the origin answer one URL two ways
 * behind the key's back: the default list (origin_request_default_header), the behavior's cache key
 * headers, and the behavior's forward_headers when it has them (the edge puts those in the key). Every
 * other field the client sent (Host, Cookie, X-Forwarded-Host, X-Original-URL, X-HTTP-Method-Override...)
 * stays at the edge, which is how CloudFront's origin request policies work. A passed request (not
 * stored) gets the client's fields less the hop-by-hop ones (RFC 9110 §7.6.1). Either way the edge sets
 * Host, Content-Length and Expect itself, and adds Via and X-Forwarded-For/-Proto naming this hop, plus
 * the stored object's validators when it is revalidated. The edge gathers what it knows of the client
 * into an origin_request_t, so this module needs nothing from edge/.
 */
#ifndef ORIGIN_REQUEST_H
#define ORIGIN_REQUEST_H

#include <stdbool.h>
#include <h2o.h>
#include "origin/conf.h"

/* What the origin request is built from; every pointer is borrowed for the call only. */
typedef struct st_origin_request_t {
    const origin_conf_route_t *route; /* the behavior's route: its forward_headers list */
    char *const *key_headers;         /* the behavior's cache key headers (lower-case): forwarded too */
    size_t num_key_headers;
    const h2o_headers_t *client_headers; /* the client's request fields */
    const char *client_addr;             /* the client's address as text ("unknown" when not known) */
    bool https;                          /* the client came over TLS: X-Forwarded-Proto says so */
    /* The fetch may fill the cache: it asks for the whole, unconditional object (the client's conditions
     * and Range are answered from the stored copy) and forwards only the route's forward_headers. */
    bool cacheable;
    h2o_iovec_t etag;          /* the stored object's ETag to revalidate (If-None-Match), or base NULL */
    h2o_iovec_t last_modified; /* ...its Last-Modified (If-Modified-Since), or base NULL */
} origin_request_t;

/**
 * Whether a cacheable fetch forwards the field `name` (any case) by default, without the key varying on it:
 * Accept, Accept-Encoding and Accept-Language (an origin that answers differently on them says so with Vary, which the cache
 * honours; Accept-Encoding is reduced to the codings the cache tells apart, as its variants are), and
 * Authorization (a response to it is stored only when it says it may be shared, RFC 9111 §3.5). The
 * conditional fields and Range the edge makes itself; the client's are answered from the stored copy.
 */
bool origin_request_default_header(const char *name, size_t len);

/**
 * Appends to `out` the header fields to send to the origin for `in`. Names and values are either the
 * client's (which live as long as the client request) or allocated from `pool`, so `out` is valid for
 * the lifetime of both. Never fails.
 */
void origin_request_headers(h2o_mem_pool_t *pool, const origin_request_t *in, h2o_headers_t *out);

#endif
