/*
 * origin/http.h: the HTTP/1.1 origin connections, one set per origin per event loop.
 *
 * Each loop keeps, for each configured origin, an origin_client pool per server (origin/client.h: our
 * own client, which turns every bad origin byte into an error value), the timeouts those pools run on
 * (one h2o_timeout_t per duration, on this loop), and the loop's share of the balancing state (requests
 * in flight per server, the round-robin cursor). Which server to use is the router's choice
 * (origin/router.h). Nothing here is shared between threads.
 *
 * Addresses: a server's host is resolved once, when the loop starts (origin_http_resolve). A name that
 * does not resolve then leaves the server without a pool: every request to it fails as a connection
 * error (502) until the edge restarts. With tls.sni, a name that does not resolve is a start-up error.
 */
#ifndef ORIGIN_HTTP_H
#define ORIGIN_HTTP_H

#include <sys/socket.h>
#include <h2o.h>
#include "origin/client.h"
#include "origin/conf.h"

/* The most connections one loop opens to one server at once (connecting, busy and idle). A request that
 * finds the cap reached fails at once as a connection error of that server (ORIGIN_FETCH_ERR_POOL_FULL). */
#define ORIGIN_HTTP_DEFAULT_MAX_CONNECTIONS 256

typedef struct st_origin_http_server_t {
    origin_client_pool_t *pool; /* NULL when the server's host did not resolve at start-up */
    h2o_iovec_t authority;      /* "host[:port]", the default Host header */
} origin_http_server_t;

typedef struct st_origin_http_t {
    const origin_conf_t *conf;
    h2o_loop_t *loop;
    origin_client_ctx_t client_ctx;  /* shared by the pools below; points at the timeouts that follow */
    h2o_timeout_t zero_timeout;      /* 0 ms: the client defers its callbacks out of start/resume on it */
    h2o_timeout_t read_timeout;      /* read_timeout: time to the first byte, and the longest gap between reads */
    h2o_timeout_t connect_timeout;   /* connect_timeout: TCP connect and TLS handshake */
    h2o_timeout_t keepalive_timeout; /* keepalive_timeout: idle pooled connections are closed after it */
    size_t max_connections;          /* per server on this loop: ORIGIN_HTTP_DEFAULT_MAX_CONNECTIONS */
    origin_http_server_t *servers;
    size_t num_servers;
    uint32_t *outstanding; /* requests in flight per server, on this loop (least_outstanding) */
    size_t cursor;         /* round-robin cursor, on this loop */
    uint64_t pool_full;    /* requests refused because a server's connection cap was reached, on this loop */
} origin_http_t;

/**
 * Sets up `o` for the http:// or https:// servers of `conf` on `loop`: resolves each server's host and
 * makes its pool. `getaddr_receiver` is unused (kept for the callers; names are resolved here, once).
 * `ssl_ctxs` (one per server, NULL for http://) are the client TLS contexts; they must outlive `o`. The
 * TLS server name (SNI and certificate check) is tls.sni when set, else the server's host. Returns 0, or
 * -1 with a message in `err` (a server URL that does not parse; with tls.sni, a host that does not resolve);
 * on -1 nothing is left to dispose.
 */
int origin_http_init(origin_http_t *o, h2o_loop_t *loop, h2o_multithread_receiver_t *getaddr_receiver, const origin_conf_t *conf,
                     SSL_CTX **ssl_ctxs, char *err, size_t errlen);
/** Frees the pools (every request of this loop must have ended) and the timeouts. On the loop's thread. */
void origin_http_dispose(origin_http_t *o);

/**
 * Resolves server `index` of `conf` (getaddrinfo, blocking: for start-up only) into `addr`/`*addrlen`,
 * and writes the TLS server name to `name` (tls.sni, else the URL's host; "" for http://). Returns 0;
 * -1 for a URL that does not parse ("origin NAME: cannot parse URL" in `err`); -2 for a host that does
 * not resolve ("origin NAME: cannot resolve HOST: why"). `*is_tls` says whether the server is https://.
 */
int origin_http_resolve(const origin_conf_t *conf, size_t index, struct sockaddr_storage *addr, socklen_t *addrlen, bool *is_tls,
                        char *name, size_t namelen, char *err, size_t errlen);

/**
 * Serialises a request head into `pool`: the request line, "host: `host`", the `num` headers given
 * (names as they are), "content-length" when `body_len` is not SIZE_MAX, and the blank line.
 */
h2o_iovec_t origin_http_serialize(h2o_mem_pool_t *pool, h2o_iovec_t method, h2o_iovec_t path, h2o_iovec_t host,
                                  const h2o_header_t *headers, size_t num, size_t body_len);

#endif
