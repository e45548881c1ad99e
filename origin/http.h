/*
 * origin/http.h: the HTTP/1.1 origin connection, one per origin per event loop.
 *
 * Each loop keeps, for each configured origin, a keep-alive socket pool per server (libh2o's
 * h2o_socketpool_t, whose idle sweeper is bound to one loop, hence one per loop), an
 * h2o_http1client_ctx_t whose I/O timeout is the origin's read_timeout, and the loop's share of the
 * balancing state (requests in flight per server, the round-robin cursor). Which server to use is the
 * router's choice (origin/router.h). Nothing here is shared between threads.
 */
#ifndef ORIGIN_HTTP_H
#define ORIGIN_HTTP_H

#include <h2o.h>
#include "origin/conf.h"

typedef struct st_origin_http_server_t {
    h2o_socketpool_t pool;
    h2o_http1client_ctx_t client_ctx; /* the origin's, with this server's TLS context */
    h2o_iovec_t authority;            /* "host[:port]", the default Host header */
} origin_http_server_t;

typedef struct st_origin_http_t {
    const origin_conf_t *conf;
    h2o_loop_t *loop;
    h2o_http1client_ctx_t client_ctx;
    h2o_timeout_t io_timeout;      /* libh2o's own I/O timeout: a backstop far above read_timeout (see fetch.c) */
    h2o_timeout_t read_timeout;    /* read_timeout: time to the first byte, and the longest gap; armed by the fetch */
    h2o_timeout_t connect_timeout; /* connect_timeout, armed by the fetch around each attempt */
    origin_http_server_t *servers;
    size_t num_servers;
    uint32_t *outstanding; /* requests in flight per server, on this loop (least_outstanding) */
    size_t cursor;         /* round-robin cursor, on this loop */
} origin_http_t;

/**
 * Sets up `o` for the http:// or https:// servers of `conf` on `loop`. `getaddr_receiver` is the loop's
 * hostname resolver queue (h2o_context_t.receivers.hostinfo_getaddr); `ssl_ctxs` (one per server,
 * NULL for http://) are the client TLS contexts. With tls.sni set, the server's address is resolved here, once, and the
 * connection names the SNI host instead (for the handshake and the certificate check). Returns 0, or -1
 * with a message in `err` (a host that does not resolve for SNI).
 */
int origin_http_init(origin_http_t *o, h2o_loop_t *loop, h2o_multithread_receiver_t *getaddr_receiver,
                     const origin_conf_t *conf, SSL_CTX **ssl_ctxs, char *err, size_t errlen);
void origin_http_dispose(origin_http_t *o);

/**
 * Serialises a request head into `pool`: the request line, "host: `host`", the `num` headers given
 * (names as they are), "content-length" when `body_len` is not SIZE_MAX, and the blank line.
 */
h2o_iovec_t origin_http_serialize(h2o_mem_pool_t *pool, h2o_iovec_t method, h2o_iovec_t path, h2o_iovec_t host,
                                  const h2o_header_t *headers, size_t num, size_t body_len);

/**
 * Stops reading the origin's response (backpressure: the clients are behind). libh2o 2.2.5 has no
 * public pause for its HTTP/1 client, so this stops the socket's reads and remembers the client's read
 * callback; origin_http_resume restarts it. libh2o's own I/O timeout keeps running while paused, which
 * is why it is set far above read_timeout and the fetch keeps the real read timeout itself, stopped
 * while the origin is paused.
 */
void origin_http_pause(h2o_http1client_t *client, h2o_socket_cb *saved);
void origin_http_resume(h2o_http1client_t *client, h2o_socket_cb saved);

#endif
