/*
 * origin/request.h: the header fields edgecache sends to an origin with a client's request.
 *
 * The origin sees the client's fields less the hop-by-hop ones (RFC 9110 §7.6.1) and those the edge sets
 * itself (Host, Content-Length, Expect), restricted to a behavior's forward_headers list when the fetch
 * may fill the cache, plus Via and X-Forwarded-For/-Proto naming this hop, plus the stored object's
 * validators when it is revalidated. The edge gathers what it knows of the client into an
 * origin_request_t, so this module needs nothing from edge/.
 */
#ifndef ORIGIN_REQUEST_H
#define ORIGIN_REQUEST_H

#include <stdbool.h>
#include <h2o.h>
#include "origin/conf.h"

/* What the origin request is built from; every pointer is borrowed for the call only. */
typedef struct st_origin_request_t {
    const origin_conf_route_t *route;    /* the behavior's route: its forward_headers list */
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
 * Appends to `out` the header fields to send to the origin for `in`. Names and values are either the
 * client's (which live as long as the client request) or allocated from `pool`, so `out` is valid for
 * the lifetime of both. Never fails.
 */
void origin_request_headers(h2o_mem_pool_t *pool, const origin_request_t *in, h2o_headers_t *out);

#endif
