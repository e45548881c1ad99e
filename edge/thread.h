/*
 * edge/thread.h: the server's shared state and each event loop's own part, as the request handler and
 * the admin API see them.
 *
 * edge_server_t is built once by edge_server_run (edge/server.c); what a reload changes is the published
 * generation (edge/gen.h), swapped under `gen_lock`. Each thread owns an h2o_context_t, its accepting
 * sockets, a store reader, and its part of the generations it serves (its origin pools, its reports).
 * This header exists apart from edge/server.h so that the request state machine, which server.c
 * registers, does not include server.h back.
 */
#ifndef EDGE_THREAD_H
#define EDGE_THREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <h2o.h>
#include "cache/compress.h"
#include "cache/store.h"
#include "edge/config.h"
#include "edge/listeners.h"
#include "origin/file.h"
#include "origin/http.h"
#include "origin/router.h"
#include "reports/counters.h"
#include "reports/stats.h"

typedef struct st_edge_server_t edge_server_t;
struct st_edge_gen_t; /* edge/gen.h, which includes this header */
struct st_edge_tgen_t;

/* One listening address as one loop accepts on it: its sockets (dup()s of the shared ones) and what a new
 * connection gets (the TLS context of the generation the loop serves). */
typedef struct st_edge_thread_listener_t {
    edge_listen_sock_t *sock; /* a reference: what the entry is, across generations */
    h2o_accept_ctx_t accept;  /* the sockets' data */
    size_t num_socks;
    h2o_socket_t *socks[1]; /* (allocated to num_socks) */
} edge_thread_listener_t;

typedef struct st_edge_thread_t {
    h2o_context_t ctx; /* the request handler finds its thread from req->conn->ctx */
    edge_server_t *server;
    unsigned index;
    pthread_t tid;
    struct st_edge_tgen_t *cur;         /* the part of the published generation this loop serves new requests with */
    struct st_edge_tgen_t *left;        /* parts of earlier generations that requests or fetches still hold */
    edge_thread_listener_t **listeners; /* what this loop accepts on */
    size_t num_listeners;
    bool accepting;           /* false once draining: listeners are not reopened */
    _Atomic uint64_t adopted; /* the id of the generation this loop serves: a reload waits for it */
    cache_store_reader_t *reader;
    h2o_multithread_receiver_t fetch_receiver; /* origin fetches on other loops wake this one's requests */
    reports_counters_t counters;
    reports_hist_t origin_latency;
    h2o_socket_t *admin_listener; /* the first loop serves the admin API */
    h2o_accept_ctx_t admin_accept;
    /* the per-behavior metrics: counters and the client request duration histogram (reports/counters.h) */
    reports_by_behavior_t by_behavior;
    /* the loop's lag (edgecache_loop_lag_seconds): how late a timer due every 100 ms fires (edge/server.c) */
    reports_hist_t loop_lag;
    h2o_timeout_t lag_timeout;
    h2o_timeout_entry_t lag_entry;
    uint64_t lag_due_ms; /* when it is due, on the loop's clock (h2o_now) */
} edge_thread_t;

/* Where the configuration comes from, so that a reload reads it the same way (edge/lifecycle.h). */
typedef struct st_edge_server_opts_t {
    const char *config_file; /* NULL: the embedded default */
    const char *listen;      /* the command line's overrides (edge_config_override), each may be NULL */
    const char *origin;
    const char *cache_dir;
    char **argv; /* the command line, which an upgrade runs again (argv[0] resolved at start) */
} edge_server_opts_t;

/* What the configuration said at start about what only a restart or an upgrade changes (edge/gen.h): a
 * reload that says otherwise is logged and not applied. */
typedef struct st_edge_server_fixed_t {
    unsigned threads;
    char *cache_path;
    uint64_t cache_max_size;
    char *admin_address; /* NULL: no admin listener */
    uint16_t admin_port;
    char *access_log_path; /* NULL: no access log */
    char *access_log_format;
    bool access_log_json;
    uint64_t header_timeout_ms;
    unsigned h2_max_streams, background_fetches;
} edge_server_fixed_t;

struct st_edge_server_t {
    const edge_server_opts_t *opts; /* where the configuration comes from, for a reload */
    edge_server_fixed_t fixed;
    _Atomic(struct st_edge_gen_t *) gen; /* the published generation; the server holds a reference */
    pthread_mutex_t gen_lock;            /* taken to swap `gen`, and by a loop to take a reference on it */
    pthread_mutex_t reload_lock;         /* one reload or upgrade at a time (SIGHUP and the admin API) */
    uint64_t reloads;                    /* generations published since start, under reload_lock */
    atomic_int draining;                 /* POST /drain, SIGTERM or an upgrade: /healthz answers 503 */
    cache_store_t *store;
    cache_compress_t *compressor; /* makes the encoded variants of stored objects; NULL without a usable store */
    h2o_globalconf_t h2o;
    edge_thread_t *threads;
    size_t num_threads;
    atomic_int stopping;        /* the loops stop accepting and end once their connections have */
    atomic_int handed_over;     /* ... because a new process took over: the admin listener stops too */
    atomic_uint threads_up;     /* loops that accept: an upgrade's new process says it serves once all do */
    atomic_uint loops_running;  /* loops not ended: the admin loop ends last, so /healthz says 503 to the end */
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
