/*
 * edge/gen.h: configuration generations — what a reload swaps.
 *
 * A generation is one validated configuration and everything built from it that may change when the file
 * does: the origins (file roots, client TLS contexts, the router with its balancers and health), the TLS
 * contexts of the listeners (so a reload re-reads certificates) and the listening sockets it names. The
 * server publishes one generation at a time (edge/thread.h, edge_server_t.gen); a reload builds the next
 * one beside it and publishes it only once everything in it is ready, so a file that does not validate, or
 * a certificate that does not load, leaves the old one serving.
 *
 * Each loop has its own part of a generation, an edge_tgen_t: its HTTP pools to the origins, its reports
 * accounting and, on the first loop, the active health checks. A loop adopts the published generation at
 * the start of each request and once a second, so a request that starts after a reload returned is
 * served under the new configuration; a request (and each origin fetch) holds the part it started under
 * until it ends, so it finishes under the configuration it started with. A loop frees a part it left
 * once nothing holds it, and the generation goes when the last loop's part does.
 *
 * What a generation does not hold, because it cannot change without a restart (or an upgrade, which is
 * one without downtime): the number of loops, the cache directory and its size, the admin listener, the
 * access log's format and the connection limits. A reload that changes them says so in the log.
 */
#ifndef EDGE_GEN_H
#define EDGE_GEN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include "edge/config.h"
#include "edge/listeners.h"
#include "origin/file.h"
#include "origin/http.h"
#include "origin/router.h"

#include "edge/thread.h"
struct st_reports_acct_t;

typedef struct st_edge_gen_listener_t {
    edge_listen_sock_t *sock; /* a reference; shared with the previous generation when the address stays */
    SSL_CTX *ssl_ctx;         /* NULL for cleartext */
} edge_gen_listener_t;

typedef struct st_edge_gen_t {
    atomic_size_t refs;              /* the server's while published, and each loop part's */
    uint64_t id;                     /* 1 at start, then one more per reload */
    edge_conf_t conf;                /* owned */
    origin_file_root_t **file_roots; /* parallel to conf.upstream.origins; NULL for http(s) origins */
    SSL_CTX ***origin_ssl_ctxs;      /* per origin, per server: client TLS of https:// servers, else NULL */
    origin_router_t *router;
    edge_gen_listener_t *listeners; /* parallel to conf.listens */
} edge_gen_t;

/* One loop's part of a generation. Only that loop touches it, except `users`. */
typedef struct st_edge_tgen_t {
    edge_gen_t *gen;                /* a reference */
    atomic_size_t users;            /* requests and origin fetches started under it (a fetch ends on any loop) */
    origin_http_t *http;            /* per origin; unused for file:// ones */
    struct st_reports_acct_t *acct; /* the reports of this loop under this generation's behaviors */
    origin_checker_t *checker;      /* the first loop's active health checks */
    struct st_edge_tgen_t *next;    /* the loop's list of parts it left */
} edge_tgen_t;

/**
 * Builds a generation from `conf`, which it takes over on success (the caller must not dispose it) and
 * leaves to the caller on failure. `prev` (NULL at start) lends the listening sockets of the addresses
 * both name; others are opened for `num_threads` loops. Returns it with one reference, or NULL with a
 * message in `err` (a file:// root that does not open, a certificate or key that does not load, a port
 * in use). Main thread (or the admin loop, under the server's reload lock).
 */
edge_gen_t *edge_gen_new(edge_conf_t *conf, const edge_gen_t *prev, size_t num_threads, uint64_t id, char *err, size_t errlen);
/** A reference less; the last frees everything the generation built. Any thread. */
void edge_gen_release(edge_gen_t *g);

/**
 * Makes the loop of `t` use the published generation, if it is not already: builds the loop's part,
 * opens and closes listeners to match, and leaves the old part to end when nothing holds it. Cheap when
 * nothing changed (one atomic load). On `t`'s loop.
 */
void edge_gen_adopt(struct st_edge_thread_t *t);
/** Frees the parts `t`'s loop has left that nothing holds any more. On `t`'s loop, about once a second. */
void edge_gen_collect(struct st_edge_thread_t *t);
/** At the loop's end: leaves every part (flushing its reports) and closes the listeners. On `t`'s loop. */
void edge_gen_thread_exit(struct st_edge_thread_t *t);
/** Stops accepting on `t`'s loop (a drain); the listeners stay closed on that loop from then on. */
void edge_gen_stop_accepting(struct st_edge_thread_t *t);

/** The current part of `t`'s loop, held for a request or a fetch: edge_tgen_release when it ends. */
edge_tgen_t *edge_tgen_hold(struct st_edge_thread_t *t);
/** Any thread. */
void edge_tgen_release(edge_tgen_t *tg);

#endif
