/*
 * edge/server.h: the running server — listeners, TLS, one event loop per thread, and shutdown.
 *
 * edge_server_t is built once by edge_server_start from a validated configuration and is read-only
 * afterwards, except for the per-thread parts, which only their own thread touches. Each thread owns an
 * h2o_context_t, its own SO_REUSEPORT listening sockets, a store reader and an origin_http_t per HTTP
 * origin.
 */
#ifndef EDGE_SERVER_H
#define EDGE_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <h2o.h>
#include "cache/store.h"
#include "edge/config.h"
#include "origin/file.h"
#include "origin/http.h"
#include "origin/router.h"
#include "reports/counters.h"
#include "reports/stats.h"

typedef struct st_edge_server_t edge_server_t;

typedef struct st_edge_thread_t {
    h2o_context_t ctx; /* the request handler finds its thread from req->conn->ctx */
    edge_server_t *server;
    unsigned index;
    pthread_t tid;
    h2o_accept_ctx_t *accept_ctxs; /* one per listener */
    h2o_socket_t **listeners;
    cache_store_reader_t *reader;
    origin_http_t *http;                       /* one per configured origin; unused for file:// origins */
    h2o_multithread_receiver_t fetch_receiver; /* origin fetches on other loops wake this one's requests */
    origin_checker_t *checker;                 /* the active health checks run on the first loop */
    reports_counters_t counters;
    reports_latency_t origin_latency;
    struct st_reports_acct_t *acct; /* per-object and per-behavior accounting (reports/accounting.h) */
    h2o_socket_t *admin_listener;   /* the first loop serves the admin API */
    h2o_accept_ctx_t admin_accept;
} edge_thread_t;

struct st_edge_server_t {
    const edge_conf_t *conf;
    cache_store_t *store;
    origin_file_root_t **file_roots; /* one per configured origin; NULL for http:// origins */
    SSL_CTX ***origin_ssl_ctxs;      /* per configured origin, per server: client TLS of https:// servers, else NULL */
    origin_router_t *router;
    h2o_globalconf_t h2o;
    SSL_CTX **ssl_ctxs; /* one per listener; NULL for cleartext */
    int *listen_fds;    /* the first thread's sockets, bound before any thread starts */
    edge_thread_t *threads;
    size_t num_threads;
    atomic_int stopping;
    h2o_globalconf_t admin_h2o; /* the admin API's own configuration: no client Host header can reach it */
    int admin_fd;               /* -1 without an admin listener */
    int access_log_fd;          /* the access log's descriptor inside libh2o, reopened on SIGHUP; -1 if none */
};

/** The thread that serves `req`. */
static inline edge_thread_t *edge_thread_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(edge_thread_t, ctx, req->conn->ctx);
}

/**
 * The socket address of listener `l` (its numeric IPv4 or IPv6 address and its port). Returns 0, or -1
 * when the address is not numeric. Pure; any thread.
 */
int edge_server_sockaddr(const edge_conf_listen_t *l, struct sockaddr_storage *ss, socklen_t *len);

/**
 * Opens, binds and listens on a non-blocking socket for `l`. With `reuseport` false this is the probe
 * that detects a port already served, even by a process that set SO_REUSEPORT (a forgotten edgecache):
 * the bind fails. Returns the descriptor (the caller closes it), or -1 with a message in `err` that
 * names the address (and, for EADDRINUSE, suggests another edgecache).
 */
int edge_server_listen(const edge_conf_listen_t *l, bool reuseport, char *err, size_t errlen);

/**
 * The client TLS context for `server`, an https:// server of origin `o`: TLS 1.2 at least; with
 * tls.verify, peer verification against tls.ca_file (else the system store) and a check of the name
 * (tls.sni, else the server's host; an IP address is checked as one) during the handshake; without, no
 * verification. The caller frees it (SSL_CTX_free). NULL with a message in `err` when it cannot be made
 * (an unreadable ca_file, a server that is not a URL).
 */
SSL_CTX *edge_server_origin_tls_new(const origin_conf_t *o, const char *server, char *err, size_t errlen);

/**
 * Opens the store, the origins and the listeners described by `conf` and runs the loops until SIGTERM
 * or SIGINT, then lets in-flight responses finish (up to a grace period) and tears everything down.
 * Returns 0 after a clean shutdown, or 1 with a message on stderr when something could not be set up
 * (a port in use, a certificate that does not load, a cache directory locked by another process).
 */
int edge_server_run(const edge_conf_t *conf);

#endif
