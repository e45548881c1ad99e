/*
 * origin/fetch_int.h: what the files of the origin fetch share and nothing else may use: the fetch
 * object behind origin_fetch_t, and the functions one part of the state machine calls in another.
 *
 *   origin/fetch.c        the state machine: the transition table, the one function that changes state
 *                         (fetch_goto), the head and body of an HTTP exchange, lifetime and cancellation
 *   origin/fetch_route.c  routing: which origin and server, connection attempts, retries, failover
 *   origin/fetch_fanout.c subscribers: the body blocks, wake-ups across loops, backpressure
 *   origin/fetch_file.c   file:// origins: the head from origin/file.c, the body one block per loop turn
 *
 * Locking and ownership are described at the head of fetch.c.
 */
#ifndef ORIGIN_FETCH_INT_H
#define ORIGIN_FETCH_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include "cache/build.h"
#include "cache/inflight.h"
#include "origin/fetch.h"

#define FETCH_BLOCK_SIZE CACHE_STORE_CHUNK_SIZE
#define FETCH_WINDOW (4 * FETCH_BLOCK_SIZE) /* the most a subscriber may lag behind the origin before it is paused */

typedef struct st_fetch_block_t {
    uint8_t *data;
    size_t len;
    size_t cap; /* bytes allocated: FETCH_BLOCK_SIZE, or less for the last block of a known Content-Length */
} fetch_block_t;

typedef enum en_fetch_wakeup_kind_t { WAKE_SUB, WAKE_OWNER } fetch_wakeup_kind_t;

/* A message to a loop: wake a subscriber there, or ask the owner to re-check (cancel, resume). */
typedef struct st_origin_fetch_wakeup_t {
    h2o_multithread_message_t super;
    fetch_wakeup_kind_t kind;
    origin_fetch_sub_t *sub;  /* WAKE_SUB: NULL once the subscriber has left (the receiver frees it) */
    struct st_fetch_t *fetch; /* WAKE_OWNER */
    atomic_bool queued;
} fetch_wakeup_t;

typedef struct st_fetch_t {
    origin_fetch_t super;
    atomic_uint refcnt;
    pthread_mutex_t mutex;
    fetch_wakeup_t ctl;              /* the owner's control message; holds a reference while queued */
    cache_inflight_entry_t inflight; /* listed while later misses may join this fetch */
    origin_fetch_args_t args;        /* pointers inside refer to copies in super.pool */
    h2o_headers_t client_headers;
    cache_record_t stale;
    bool has_stale;
    h2o_linklist_t subs;
    h2o_timeout_entry_t defer; /* on the loop's zero timeout: route (start, retry, failover), or the next file read */
    unsigned attempts;         /* connection attempts made to the current origin */
    bool retried_reset;        /* one retry after a reset before any response byte */
    size_t origin;             /* the origin being tried: args.origin_index, or a group's secondary */
    bool target_chosen;        /* origin is decided (the breaker was asked) */
    bool on_secondary;         /* failed over (or the breaker skipped the primary) */
    size_t server;             /* the server of the current attempt, or SIZE_MAX */
    uint64_t exclude;          /* servers that failed to connect for this request */
    origin_client_t *client;   /* the exchange with the server (connect and read timeouts are the client's), or NULL */
    h2o_iovec_t request;       /* the serialised head: must live until the client's on_head */
    bool in_client_cb;
    bool cancel_requested;
    bool paused;
    bool no_body; /* a response to HEAD, or 204/304: its Content-Length describes no bytes here */
    int file_fd;
    bool file_reading;
    bool active;        /* the origin exchange still holds its reference */
    bool storing;       /* chunks go to the store (super.stored, until the body fails) */
    uint8_t background; /* FETCH_BG_*: whether it counts against the cap on fetches without a client */
    bool close_delimited;
    int64_t age_value; /* the origin's Age header (it is not forwarded: we send our own), -1 when absent */
    int64_t request_time;
    uint64_t purge_seq; /* the store's invalidations made when the request went out: later ones may bar the response */
    /* body */
    H2O_VECTOR(fetch_block_t) blocks;
    H2O_VECTOR(uint8_t *)
    retired;            /* short blocks outgrown (a body longer than its Content-Length): a subscriber may
                         * still point into them, so they are freed with the fetch */
    size_t first_block; /* blocks before this one are freed */
    uint64_t oid;       /* 0 until the first chunk goes to the store */
    uint32_t chunks_stored;
} fetch_t;

/* Every callback that gets a fetch through a void * or a member pointer checks it with this: a stale or
 * foreign pointer stops the process here rather than corrupting a fetch. */
static inline fetch_t *fetch_checked(void *p)
{
    fetch_t *f = p;
    if (f == NULL || f->super.magic != ORIGIN_FETCH_MAGIC)
        h2o_fatal("origin fetch: bad magic");
    return f;
}

static inline bool fetch_head_published(origin_fetch_state_t s)
{
    return s == ORIGIN_FETCH_BODY || s == ORIGIN_FETCH_DONE || s == ORIGIN_FETCH_FAILED;
}

/* fetch.c: the state machine */
void fetch_goto(fetch_t *f, origin_fetch_state_t to);
void fetch_retain(fetch_t *f);
void fetch_release(fetch_t *f);
int64_t fetch_now_sec(fetch_t *f);
bool fetch_idempotent(fetch_t *f);
void fetch_head_decided(fetch_t *f);
void fetch_fail(fetch_t *f, origin_fetch_error_t error, const char *errstr);
void fetch_owner_check(fetch_t *f);
bool fetch_unwanted(fetch_t *f);
void fetch_table_remove(fetch_t *f);   /* leaves the in-flight table, if listed */
void fetch_store_complete(fetch_t *f); /* the body is whole: commit the stored record */

/* fetch_http.c: the exchange with an origin server through origin/client.h */
void fetch_http_start(fetch_t *f, origin_client_pool_t *pool);
void fetch_end_exchange(fetch_t *f); /* the exchange is over: timers off, its reference dropped */
void fetch_finish_body(fetch_t *f, origin_fetch_error_t error, const char *errstr);

/* fetch_route.c: origins, servers, attempts */
const origin_conf_group_t *fetch_route_group(fetch_t *f);
void fetch_route_choose(fetch_t *f);
void fetch_route_connect(fetch_t *f);
void fetch_route_leave_server(fetch_t *f);
void fetch_route_retry(fetch_t *f);
void fetch_route_breaker_report(fetch_t *f, bool ok);
void fetch_route_failover(fetch_t *f, const char *why);
void fetch_route_origin_failed(fetch_t *f, origin_fetch_error_t error, const char *errstr);
void fetch_route_attempt_failed(fetch_t *f, origin_fetch_error_t error, const char *errstr);

/* fetch_fanout.c: subscribers and blocks */
void fetch_notify(fetch_t *f);
void fetch_wake_owner(fetch_t *f);
void fetch_release_blocks(fetch_t *f);
bool fetch_behind_window(fetch_t *f);
void fetch_resume_if_caught_up(fetch_t *f);
void fetch_append_body(fetch_t *f, const void *src, size_t len);
void fetch_subscribe_locked(fetch_t *f, origin_fetch_sub_t *sub);
enum { FETCH_BG_NONE, FETCH_BG_ADMITTED, FETCH_BG_REFUSED };
bool fetch_background_admit(fetch_t *f);
void fetch_background_leave(fetch_t *f);

/* fetch_file.c: file:// */
void fetch_file_start(fetch_t *f);
void fetch_file_read(fetch_t *f);

#endif
