/*
 * edge/req_fsm_int.h: the request state machine's per-request record, shared by the files it is split
 * into — edge/req_fsm.c (states, steps, the transition table, the run loop), edge/deliver.c (sending an
 * answer) and edge/req_purge.c (PURGE) — and by nothing else.
 *
 * An edge_req_t lives in its request's pool (h2o_mem_alloc_shared, disposed with the request); only
 * its own loop touches it. Its `state` is written by run() in req_fsm.c and nowhere else.
 */
#ifndef EDGE_REQ_FSM_INT_H
#define EDGE_REQ_FSM_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <h2o.h>
#include "cache/compress.h"
#include "cache/key.h"
#include "cache/record.h"
#include "cache/store.h"
#include "cache/ttl.h"
#include "edge/account.h"
#include "edge/range.h"
#include "edge/req_fsm.h"
#include "edge/gen.h"
#include "edge/thread.h"
#include "origin/fetch.h"

#define EDGE_REQ_MAGIC 0x45524551 /* "EREQ" */

typedef enum en_edge_req_body_t { EDGE_REQ_BODY_NONE, EDGE_REQ_BODY_RECORD, EDGE_REQ_BODY_FETCH } edge_req_body_t;

typedef struct st_edge_req_t {
    h2o_generator_t super; /* first: libh2o calls proceed/stop with it */
    unsigned magic;
    edge_req_state_t state; /* written only by run() */
    h2o_req_t *req;
    edge_thread_t *thread;
    edge_tgen_t *tgen;            /* the generation the request started under (held until it is disposed): its
                                   * configuration, origins and reports serve it to the end, whatever reloads happen */
    const edge_conf_site_t *site; /* the site the request's host chose (edge/site.h); NULL until then */
    const edge_conf_behavior_t *behavior;
    bool is_head;
    h2o_iovec_t host; /* normalised (cache_key_normalize_host): the key's first part */
    h2o_iovec_t key;
    cache_hash_t hash;
    const char *fwd; /* Cache-Status "fwd" reason once the request goes to the origin */
    /* what LOOKUP found */
    bool have_rec;
    cache_record_t rec;     /* points into req->pool, or into the LMDB map while `pin` is held */
    cache_store_pin_t *pin; /* a read transaction kept open so that an inline body is sent without a copy */
    cache_hash_t rec_hash;  /* the key hash of `rec`: er->hash, or the variant's */
    bool verify;            /* rec's body predates the store's latest start: check it against its checksums */
    int64_t age;
    /* compression (cache/compress.h): a HIT may send an encoded variant's body in place of rec's */
    cache_coding_t coding; /* the coding of the body sent (rec's body, oid and lengths are then the variant's) */
    /* the origin fetch */
    origin_fetch_t *fetch;
    origin_fetch_sub_t sub;
    /* delivery */
    edge_req_body_t body_source;
    /* a stored body is sent as segments: byte ranges of the body, and literal text between them (the
     * part headers of multipart/byteranges) */
    edge_range_seg_t *segs;
    size_t num_segs, seg;         /* the segments, and the one being sent */
    uint64_t seg_off;             /* bytes of the current segment already sent */
    uint32_t chunk_in_buf;        /* the index of the chunk in `chunk`, or UINT32_MAX */
    h2o_iovec_t chunk;            /* that chunk's bytes: in the map under chunk_pin, or copied into chunk_buf */
    cache_store_pin_t *chunk_pin; /* held while a send of `chunk` is in flight (edge/deliver.c, send_next_piece) */
    uint8_t *chunk_buf;           /* a chunk copied from the store (allocated on the first copy) */
    uint64_t piece_sent_at;       /* ms (loop clock) of the latest send of a stored body's piece */
    bool copy_chunks;             /* the client was slow to take a piece: no more pins for this response */
    size_t inflight;              /* bytes of the outstanding send from the fetch */
    bool sending;
    bool stopped;
    bool no_join;     /* fetch on our own: the fetch we joined had a response that may not be shared */
    bool authorized;  /* the request carries Authorization */
    bool swr;         /* a HIT served stale while a background fetch revalidates it (RFC 5861 §3) */
    bool max_stale;   /* a stale HIT that the client's max-stale accepted (no background refresh) */
    bool honor_cc;    /* the behavior obeys the client's Cache-Control (request_cache_control: honor) */
    cache_cc_t rcc;   /* ...which says this */
    bool client_gone; /* the watch saw the HTTP/1 client hang up while the request waited */
    /* for the access log, the metrics and the reports */
    bool answered;                  /* X-Cache was sent (not so for PURGE, 414, 431) */
    edge_cache_outcome_t outcome;   /* ...saying this */
    bool passed;                    /* forwarded without the cache (PASS) */
    bool hit;                       /* answered from a stored object */
    uint64_t fetch_started;         /* ms (loop clock) when the current origin fetch was started or joined */
    uint64_t fetch_started_us;      /* the same in microseconds (reports_clock_us), for the latency metric */
    int64_t origin_ms;              /* time to the origin's response head, -1 when none was awaited */
    uint64_t bytes_sent;            /* body bytes handed to libh2o */
    uint64_t origin_bytes;          /* body bytes the fetch this request started received */
    h2o_timeout_entry_t watch;      /* HTTP/1 only: polls for a client that hung up while we wait */
    h2o_timeout_entry_t send_watch; /* HTTP/1 only: linked while a send is in flight (edge/deliver.c) */
    uint64_t send_since;            /* ms (loop clock): the send in flight, or the client's latest progress */
    int send_queued;                /* the socket's SIOCOUTQ at the watch's last tick; -1 before the first */
} edge_req_t;

/** Leaves the request's origin fetch, if any (req_fsm.c); counts the bytes it fetched. */
void edge_req_unsubscribe(edge_req_t *er);
/* (req_fetch.c) The arguments of the origin fetch for `er`: `cacheable` (GET, filling the cache) or
 * passed as is. Everything they point to lives in the request's pool or the server. */
void edge_req_fetch_args(edge_req_t *er, bool cacheable, origin_fetch_args_t *out);

/* (req_fetch.c) `key` with the values of the forwarded headers that neither the behavior's key nor the
 * default forwarded set (origin_request_default_header) covers: an origin's answer that depends on one of
 * them is never served to a request that sent another value. In the request's pool. */
h2o_iovec_t edge_req_forwarded_key(edge_req_t *er, h2o_iovec_t key);

/** Records the request's line in the reports (edge/account.c); at dispose. */
void edge_account_request(edge_req_t *er);

#endif
