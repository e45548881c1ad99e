/*
 * origin/fetch.h: the origin fetch, a state machine that owns one in-flight object.
 *
 *                 ┌───────────── retry / failover ─────────────┐
 *                 ▼                                            │
 *   start ──▶  ROUTE ──server──▶ CONNECT ──connected──▶ HEAD ──┤──head──▶ BODY ──end──▶ DONE
 *               │  │  ▲              │                    │    │           │
 *               │  │  └──retry───────┘                    │    │           │
 *               │  └──file:// head────────────────────────┼────┴─────────▶ BODY
 *               │                    │                    │                │
 *               └────────────────────┴──error/cancel──────┴────────────────┴──error──▶ FAILED
 *
 * Transitions (the table in fetch.c; tests/unit/check_origin_fetch.c checks that this list and it agree):
 *   ROUTE   -> ROUTE (failover when no server of the primary is up), CONNECT, BODY (file://), FAILED
 *   CONNECT -> ROUTE (retry, failover), HEAD, FAILED
 *   HEAD    -> ROUTE (retry after a reset, failover), BODY, FAILED
 *   BODY    -> DONE, FAILED
 *   DONE    -> (final)
 *   FAILED  -> (final)
 *
 * The table is exported (origin_fetch_transition_allowed) and every change of state is checked
 * against it. Why a fetch failed is an identity (origin_fetch_error_t), set where the error happens; the
 * text (errstr) is only for logs and the Cache-Status detail.
 *
 * A fetch sends one request to an origin (http:// through the loop's origin_http_t and origin/client.h, or
 * file://), and
 * hands what comes back to its subscribers — the client requests that wait for it — and, when the
 * response may be stored, to the store, chunk by chunk as it arrives. Subscribers read the body from
 * the fetch's blocks at their own pace; blocks are freed once every subscriber has sent them and the
 * store has them, and the origin is paused while the slowest subscriber is more than a window behind,
 * so memory per fetch stays bounded. When the last subscriber leaves, a fetch that stores continues
 * into the cache; one that does not is cancelled.
 *
 * A body that ends early (reset, fewer bytes than Content-Length, read timeout) or whose framing is bad
 * (more bytes than Content-Length, a bad chunk) is never stored: its chunks are discarded and no record
 * is written. A head whose framing is bad (an unknown Transfer-Encoding, a bad Content-Length) or that is
 * not HTTP at all fails the fetch before the head, as a reset (502).
 *
 * Routing. Each attempt goes to a server the origin's balancer picks among those UP (origin/router.h);
 * connection errors and timeouts count against the server's health, and a failed connection is tried
 * again (on another server when there is one) up to connect_attempts. For an origin group, a GET, HEAD
 * or OPTIONS whose primary fails (connection, timeout, or a status in failover_on) fails over to the
 * secondary, and the group's circuit breaker skips a primary that keeps failing. All of this happens
 * before the head is published, so subscribers only ever see the final answer.
 *
 * Request collapsing. A fetch that may fill the cache is entered in a process-wide in-flight table under
 * its key hash, and a miss on any loop joins it (origin_fetch_join) instead of asking the origin again.
 * The fetch runs on the loop that started it (its owner); subscribers on other loops read its blocks
 * under the fetch's lock and are woken through their own loop's receiver (origin_fetch_receive), so
 * every subscriber's callbacks run on its own loop. Control that needs the owner's loop (cancel, resume)
 * is sent to the owner the same way. A response that turns out not to be storable is never shared: a
 * joined subscriber learns so from its on_head (origin_fetch_shared() is false) and fetches on its own.
 */
#ifndef ORIGIN_FETCH_H
#define ORIGIN_FETCH_H

#include <stdbool.h>
#include <stdint.h>
#include <h2o.h>
#include "cache/compress.h"
#include "cache/key.h"
#include "cache/record.h"
#include "cache/store.h"
#include "cache/ttl.h"
#include "errorpages/errorpages.h"
#include "origin/conf.h"
#include "origin/file.h"
#include "origin/http.h"
#include "origin/router.h"

#define ORIGIN_FETCH_MAGIC 0x46455443 /* "FETC" */

typedef enum en_origin_fetch_state_t {
    ORIGIN_FETCH_ROUTE,   /* choosing the origin (group, breaker) and the server; again before a retry */
    ORIGIN_FETCH_CONNECT, /* connecting to the chosen server (connect_timeout) */
    ORIGIN_FETCH_HEAD,    /* the request is sent; waiting for the response head (read_timeout) */
    ORIGIN_FETCH_BODY,    /* the head is in (published); the body is arriving */
    ORIGIN_FETCH_DONE,    /* the body is complete */
    ORIGIN_FETCH_FAILED,  /* failed before the head (see failure) or in the body */
    ORIGIN_FETCH_NUM_STATES
} origin_fetch_state_t;

/* Why a fetch failed (or was abandoned); ORIGIN_FETCH_OK while it has not. */
typedef enum en_origin_fetch_error_t {
    ORIGIN_FETCH_OK,
    ORIGIN_FETCH_ERR_CONNECT,         /* the last connection attempt failed (refused, unreachable, TLS) */
    ORIGIN_FETCH_ERR_TIMEOUT_CONNECT, /* the last connection attempt took longer than connect_timeout */
    ORIGIN_FETCH_ERR_NO_SERVER,       /* no server of the origin is up */
    ORIGIN_FETCH_ERR_TIMEOUT_READ,    /* read_timeout: no head in time, or too long a gap in the body */
    ORIGIN_FETCH_ERR_RESET,           /* the connection failed or closed before the head, or in the body */
    ORIGIN_FETCH_ERR_TRUNCATED,       /* the head or body ended early (EOF or reset before Content-Length or the last chunk) */
    ORIGIN_FETCH_ERR_POOL_FULL,       /* the server's connection cap on this loop was reached (origin/http.h): a connect failure */
    ORIGIN_FETCH_ERR_MALFORMED,       /* not an HTTP/1.x response head, or one over the size limit */
    ORIGIN_FETCH_ERR_BAD_FRAMING,     /* the body's framing cannot be trusted: unknown Transfer-Encoding, a bad or doubled
                                         Content-Length, a bad chunk, or bytes after the end of the response */
    ORIGIN_FETCH_ERR_FILE_READ,       /* a file:// origin's file could not be read */
    ORIGIN_FETCH_ERR_CANCELLED,       /* nobody wanted the response any more */
    ORIGIN_FETCH_NUM_ERRORS
} origin_fetch_error_t;

/** Whether the state machine may go from `from` to `to` (the table drawn above). */
bool origin_fetch_transition_allowed(origin_fetch_state_t from, origin_fetch_state_t to);
/** The state's name ("ROUTE", ...), or "?" for a value out of range. Static storage. */
const char *origin_fetch_state_name(origin_fetch_state_t state);
/** The error's name ("ok", "connect", "timeout-read", ...), or "?". Static storage. */
const char *origin_fetch_error_name(origin_fetch_error_t error);
/** The ERRORPAGES_FAIL_* class of an error that ends a fetch before its head (0 for OK). */
unsigned origin_fetch_error_failure(origin_fetch_error_t error);

typedef struct st_origin_fetch_sub_t origin_fetch_sub_t;
struct st_origin_fetch_sub_t {
    /** Called once on the subscriber's loop, when the head is in or the fetch failed before it. */
    void (*on_head)(origin_fetch_sub_t *sub);
    /** Called on the subscriber's loop when more body is available, and when the fetch ends. */
    void (*on_body)(origin_fetch_sub_t *sub);
    /** The subscriber's loop's receiver (see origin_fetch_receive). */
    h2o_multithread_receiver_t *receiver;
    uint64_t offset; /* body bytes this subscriber has consumed; advanced by origin_fetch_consume */
    bool joined;     /* it joined another request's fetch (Cache-Status "collapsed") */
    /* private */
    h2o_linklist_t _link;
    struct st_origin_fetch_wakeup_t *_wakeup; /* how the owner wakes a subscriber on another loop */
    bool _head_seen;
};

typedef struct st_origin_fetch_args_t {
    h2o_loop_t *loop;
    h2o_timeout_t *zero_timeout;           /* the loop's zero timeout: work deferred to the next loop turn */
    h2o_multithread_receiver_t *receiver;  /* the loop's receiver (see origin_fetch_receive) */
    origin_router_t *router;               /* where requests go: balancers, health, breakers */
    origin_http_t *http;                   /* the loop's HTTP state, parallel to conf->upstream.origins */
    origin_file_root_t *const *file_roots; /* parallel to conf->upstream.origins; NULL entries for http(s) origins */
    size_t origin_index;                   /* the behavior's origin (of a group: the primary) */
    size_t group_index;                    /* the behavior's origin group, or SIZE_MAX */
    h2o_iovec_t method;                    /* as sent to the origin */
    h2o_iovec_t path;                      /* path and query as sent */
    h2o_iovec_t host;                      /* the Host header; {NULL, 0} for the server's own authority */
    const h2o_header_t *headers;           /* request headers to forward; copied */
    size_t num_headers;
    h2o_iovec_t body;                    /* request body; copied */
    const h2o_headers_t *client_headers; /* the client's request headers, for Vary; copied */
    /* storage: store == NULL means the response is never stored */
    cache_store_t *store;
    cache_hash_t hash;
    h2o_iovec_t key;
    const cache_ttl_rules_t *ttl_rules;   /* the behavior's TTL rules: how long a response is stored */
    const errorpages_rule_t *error_pages; /* the configured error pages, or NULL */
    size_t num_error_pages;
    uint64_t background_fetch_max;          /* when the last subscriber leaves, a body up to this size is still fetched */
    const cache_record_t *stale;            /* the stored object this request revalidates, or NULL; copied */
    const cache_compress_rules_t *compress; /* the behavior's compression rules, or NULL: never compressed */
    cache_compress_t *compressor;           /* makes the encoded variants of what is stored compressible, or NULL */
    /* what the pointers above point into (the configuration, the router, the pools) must live as long as the
     * fetch: `hold` is called when a fetch is made from these arguments (not when one is joined), and
     * `release` once when it is freed, on whichever loop lets go of it last; both may be NULL */
    void (*hold)(void *data);
    void (*release)(void *data);
    void *hold_data;
} origin_fetch_args_t;

typedef struct st_origin_fetch_t {
    unsigned magic;
    origin_fetch_state_t state;
    /* the response, valid from on_head when failure == 0 */
    int status;
    h2o_iovec_t reason;
    h2o_headers_t headers;               /* to forward: hop-by-hop, Content-Length and Age removed */
    int64_t content_length;              /* -1 when the origin did not say */
    int64_t initial_age;                 /* corrected initial age of the response (RFC 9111 §4.2.3) */
    unsigned failure;                    /* ERRORPAGES_FAIL_* when the fetch failed before the head (from `error`) */
    origin_fetch_error_t error;          /* why it failed: before the head, valid from on_head; in the body, once
                                            origin_fetch_peek has said FAILED */
    const char *errstr;                  /* what failed, in words: for logs and the Cache-Status detail only */
    bool stored;                         /* the response is being stored */
    cache_ttl_out_t ttl;                 /* the storage decision, when the head is in */
    bool not_modified;                   /* a revalidation answered 304: `record` is the refreshed stored object */
    cache_record_t record;               /* when not_modified */
    const errorpages_rule_t *error_page; /* the response matched error_pages: send this page */
    bool compressible;                   /* stored, and its encoded variants will be made (cache/compress.h): the
                                            response varies on Accept-Encoding */
    uint64_t received;                   /* body bytes received so far */
    h2o_iovec_t variant_key;             /* when the response has Vary: the key of the stored variant */
    h2o_mem_pool_t pool;                 /* everything above lives here */
} origin_fetch_t;

/**
 * Starts a fetch on the calling loop; nothing happens before the next loop turn, so subscribers can be
 * added first. A fetch with a store is entered in the in-flight table, for origin_fetch_join.
 */
origin_fetch_t *origin_fetch_start(const origin_fetch_args_t *args);
/**
 * Subscribes `sub` to the fetch in flight for args->hash, if there is one whose body is still all in
 * memory from its first byte (sub->joined is then true), or else to a new fetch started as
 * origin_fetch_start does. The lookup and the listing of a new fetch are one atomic step, so concurrent
 * misses on different loops start one fetch between them. Returns the fetch subscribed to.
 */
origin_fetch_t *origin_fetch_join_or_start(const origin_fetch_args_t *args, origin_fetch_sub_t *sub);
/**
 * Starts a fetch with no subscriber (a background revalidation, RFC 5861's stale-while-revalidate),
 * unless one is already in flight for args->hash. It goes on into the cache like any fetch whose
 * clients have left. Returns true when it started one.
 */
bool origin_fetch_background(const origin_fetch_args_t *args);
/**
 * Caps the fetches that go on without a client (a miss whose clients all left, filling the cache; a
 * background revalidation) at `limit` at once, over all loops. A fetch that would go on beyond the cap
 * is cancelled at once, and `on_drop` (may be NULL) is called on its owner's loop with the owner's
 * receiver, so the caller can count it. Call once, before any fetch starts; without a call there is no cap.
 */
void origin_fetch_set_background_limit(unsigned limit, void (*on_drop)(h2o_multithread_receiver_t *owner));
/** The fetches going on without a client now (a gauge; any thread). */
unsigned origin_fetch_background_count(void);
/** Adds a subscriber (which holds a reference to the fetch until it unsubscribes). Any loop. */
void origin_fetch_subscribe(origin_fetch_t *fetch, origin_fetch_sub_t *sub);
/** Removes a subscriber; may cancel and free the fetch. `fetch` must not be used afterwards. Any loop. */
void origin_fetch_unsubscribe(origin_fetch_t *fetch, origin_fetch_sub_t *sub);
/**
 * True once the head is in (or the fetch failed before it), i.e. the state is BODY, DONE or FAILED: from
 * then on the response fields above are immutable (but `error` and `errstr` of a body that fails) and
 * may be read from any loop. Before, only `state` may change.
 */
bool origin_fetch_head_ready(origin_fetch_t *fetch);
/**
 * True when the response may be shared with joined subscribers: it is being stored, it refreshed the
 * stored object (304), it is an error page, or the origin failed.
 */
bool origin_fetch_shared(origin_fetch_t *fetch);
/**
 * The callback to register, once per loop, for the receiver given in args.receiver and sub->receiver:
 * it runs the wake-ups and control messages that other loops send to this one.
 */
void origin_fetch_receive(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);
/**
 * Points `*vec` at the body bytes available from `sub->offset` (one contiguous piece, possibly empty;
 * the memory stays valid until the subscriber consumes it or unsubscribes) and says what follows it:
 * ORIGIN_FETCH_BODY, more may come; ORIGIN_FETCH_DONE, the body ends after `*vec`; ORIGIN_FETCH_FAILED,
 * the body will never be complete.
 */
origin_fetch_state_t origin_fetch_peek(origin_fetch_t *fetch, origin_fetch_sub_t *sub, h2o_iovec_t *vec);
/** Marks `n` bytes as sent to the subscriber, releasing blocks and resuming the origin as it can. */
void origin_fetch_consume(origin_fetch_t *fetch, origin_fetch_sub_t *sub, size_t n);

/**
 * Copies `src` to `dst`, leaving out hop-by-hop fields (RFC 9110 §7.6.1), the fields named in
 * Connection, and the names in `also_drop` (NULL-terminated, lower-case; may be NULL). Values are
 * not copied: they must outlive `dst`.
 */
void origin_fetch_filter_headers(h2o_mem_pool_t *pool, h2o_headers_t *dst, const h2o_header_t *src, size_t num,
                                 const char *const *also_drop);

#endif
