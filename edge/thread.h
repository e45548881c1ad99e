/*
 * edge/thread.h: the server's shared state and each event loop's own part, as the request handler and
 * the admin API see them.
 *
 * edge_server_t is built once by edge_server_run (edge/server.c) from a validated configuration and is
 * read-only afterwards, except for the per-thread parts, which only their own thread touches. Each thread
 * owns an h2o_context_t, its own SO_REUSEPORT listening sockets, a store reader and an origin_http_t per
 * HTTP origin. This header exists apart from edge/server.h so that the request state machine, which
 * server.c registers, does not include server.h back.
 */
#ifndef EDGE_THREAD_H
#define EDGE_THREAD_H

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
    reports_hist_t origin_latency;
    struct st_reports_acct_t *acct; /* per-object and per-behavior accounting (reports/accounting.h) */
    h2o_socket_t *admin_listener;   /* the first loop serves the admin API */
    h2o_accept_ctx_t admin_accept;
    /* the per-behavior metrics: counters and the client request duration histogram (reports/counters.h) */
    reports_by_behavior_t by_behavior;
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

#endif
