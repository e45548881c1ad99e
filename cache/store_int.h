/*
 * cache/store_int.h: what the files of the store share. Not a public interface: only cache/store.c,
 * store_read.c, store_writer.c, store_index.c, store_purge.c and store_evict.c include it, and with it <lmdb.h>,
 * which no other file may include (the rest of edgecache knows the store through cache/store.h only).
 *
 * The store is one struct with a part per job, each owned by one file:
 *   core (this struct's top level)  cache/store.c        the environment, its databases, open/close
 *   readers, pins, uses             cache/store_read.c   the loops' lookups and chunk reads, copied or pinned
 *   queue                           cache/store_writer.c the writer's queue, its thread, batches, commits
 *   pending                         cache/store_writer.c writes queued and not committed, found by readers
 *   sync                            cache/store_writer.c the syncer thread, which flushes commits to disk
 *   index                           cache/store_index.c  the secondary indexes, derived from each record
 *   purge                           cache/store_purge.c  invalidations: history, barriers, slices
 *   evict                           cache/store_evict.c  the size budget, LRU eviction, recent evictions
 *   sweep                           cache/store_evict.c  the orphan-chunk sweep of chunks no record owns
 *   faults                          cache/store_writer.c writes that failed: counted, and logged once per interval
 *
 * Threads and locks. There is one lock, `mutex`, and it is a leaf: it is never held across an LMDB call
 * or a wait for anything but its own condition variables, and no other lock is taken under it. LMDB's own
 * write lock is only ever taken by the writer thread (every write transaction, eviction and sweep included,
 * runs there, after open), so the two never nest. On the read path (cache_store_get, _read_chunk) a loop
 * takes `mutex` only to look in the pending index or the purge history, and only when an atomic counter
 * (pending.count, purge.pending) says there is something to see, so a hit with an idle writer takes no
 * lock at all; the calls that queue a write, cache_store_flush and the purge calls take it briefly.
 *
 * Each field says below who may touch it:
 *   "open"    written while opening, before any other thread exists; read-only afterwards, any thread;
 *   "mutex"   any thread, with `mutex` held;
 *   "writer"  the writer thread only (after open);
 *   "atomic"  any thread, through <stdatomic.h>; the memory order is chosen at each use.
 */
#ifndef CACHE_STORE_INT_H
#define CACHE_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <lmdb.h>
#include "cache/record.h"
#include "cache/store.h"

#define SYNC_INTERVAL_SEC 5
#define PENDING_BUCKETS 1024
#define QUEUE_MAX_BYTES ((size_t)128 << 20) /* writes beyond this backlog are dropped, never waited for */
#define BATCH_MAX_BYTES ((size_t)32 << 20)  /* one write transaction takes at most this much */
#define TRIM_AFTER_BYTES ((size_t)8 << 20)  /* the writer gives freed heap back after a backlog this large... */
#define TRIM_QUIET_MS 1000                  /* ...once its queue is empty and no such backlog was seen for this long */
#define HIGH_WATER 0.85                     /* evict when more than this share of the map is in use... */
#define LOW_WATER 0.70                      /* ...down to this share */

/* TOUCH_SLOTS: a reader hands its collected uses to the writer when 3/4 of this many are distinct, else at its
 * once-a-second tick. Sized for a second of a busy loop's distinct hits, so that the writer wakes for them about
 * once a second per loop, not a dozen times (bench/NOTES.md, issue 15 part 3). */
#define URL_INDEX_MAX 400         /* bytes of a URL kept in the urls index (LMDB keys are at most 511 bytes) */
#define TAG_MAX 256               /* bytes of one tag; longer ones are not indexed */
#define TAGS_MAX 64               /* tags indexed per object */
#define TOUCH_SLOTS 8192          /* hashes a reader collects before it hands them to the writer (see above) */
#define VERIFIED_SLOTS 8192       /* objects of an older epoch a reader remembers as verified */
#define EVICTED_SLOTS 65536       /* evictions remembered, for cache_store_recently_evicted */
#define PURGE_SLICE 20000         /* objects one purge step touches in one transaction */
#define PURGE_HISTORY 1024        /* invalidations whose status is kept */
#define CHUNK_TRAILER 4           /* the CRC-32 after each chunk's bytes */
#define FAULT_LOG_INTERVAL_SEC 10 /* a kind of failed write is logged at most once per interval, with a count */

/* Keys of the info database (arrays, not literals, because an MDB_val points at non-const data). */
extern char cache_store_oid_hwm_key[sizeof("oid_hwm")];     /* the highest oid ever used, plus one */
extern char cache_store_epoch_key[sizeof("epoch")];         /* how many times the store was opened for writing */
extern char cache_store_purge_seq_key[sizeof("purge_seq")]; /* the last invalidation id handed out */

/* --- messages to the writer ---------------------------------------------------------------------- */

typedef enum en_msg_type_t {
    MSG_CHUNK,
    MSG_RECORD,
    MSG_DISCARD,
    MSG_DELETE,
    MSG_TOUCH,     /* data: hashes that were used; oid: the time of use */
    MSG_AUX_PUT,   /* data: u16 key length, key, value */
    MSG_AUX_RANGE, /* data: u16 length of from, from, to: delete [from, to) */
    MSG_PURGE      /* oid: the invalidation id; index: kind | PURGE_SOFT; data: the target */
} msg_type_t;

#define PURGE_SOFT 0x100

/* A queued write. Built by the thread that queues it; from cache_store_post on, the writer owns it and
 * frees it once its batch is committed (or dropped). While in the pending index, readers may read it
 * with `mutex` held. */
typedef struct st_msg_t {
    struct st_msg_t *next;
    h2o_linklist_t pending; /* in the pending index until committed (records, deletions, chunks) */
    msg_type_t type;
    cache_hash_t hash;
    uint64_t oid;
    uint32_t index; /* MSG_CHUNK: the chunk; MSG_DISCARD: the number of chunks; MSG_RECORD: when queued (unix s) */
    size_t len;
    uint8_t data[];
} msg_t;

/* --- the parts of the store -------------------------------------------------------------------- */

/* The writer's queue (cache/store_writer.c). Any thread appends; the writer takes batches off the head. */
typedef struct st_cache_store_queue_t {
    pthread_t writer;                    /* open */
    pthread_cond_t cond;                 /* signalled when a message is queued or stopping is set */
    pthread_cond_t committed;            /* broadcast after each batch */
    msg_t *head, **tail;                 /* mutex */
    uint64_t queued_seq, committed_seq;  /* mutex: messages queued / applied so far, for cache_store_flush */
    size_t queued_bytes;                 /* mutex: payload bytes in the queue */
    int stopping;                        /* mutex: set once by cache_store_writer_stop */
    atomic_bool released;                /* atomic: the writer was handed over; every write is dropped */
    atomic_size_t backlog;               /* atomic: payload bytes queued and not yet committed */
    atomic_uint_fast64_t dropped_writes; /* atomic: writes dropped because the backlog was full */
    atomic_uint_fast64_t busy_ns;        /* atomic: time the writer spent on batches and sweeps (and trims) */
    size_t peak_since_trim;              /* writer: the largest queue it took a batch from since its last malloc_trim */
    int64_t last_backlog_ms;             /* writer: when it last took a batch from a queue of TRIM_AFTER_BYTES or more */
} cache_store_queue_t;

/* Queued, uncommitted writes by key, newest first (cache/store_writer.c): what readers look at before LMDB.
 * A message is linked in when it is queued and unlinked by the writer after its batch is committed. */
typedef struct st_cache_store_pending_t {
    h2o_linklist_t buckets[PENDING_BUCKETS]; /* mutex */
    atomic_size_t count;                     /* atomic: readers skip the index (and its lock) when it is 0 */
} cache_store_pending_t;

/* The syncer (cache/store_writer.c): flushes the writer's commits every SYNC_INTERVAL_SEC. */
typedef struct st_cache_store_sync_t {
    pthread_t thread;    /* open */
    pthread_cond_t cond; /* waited on with mutex; wakes the syncer to stop */
    atomic_bool dirty;   /* atomic: committed since the last sync */
} cache_store_sync_t;

/* The secondary indexes (cache/store_index.c): written by the writer only, in its transactions. */
typedef struct st_cache_store_index_t {
    MDB_dbi urls, tags, atime, lru, owners; /* open */
} cache_store_index_t;

typedef struct st_purge_entry_t {
    cache_store_purge_status_t st; /* records requested before it (a lower purge sequence) and matching are refused */
    char *target;                  /* the whole target (st.target is cut for display) */
    size_t target_len;
} purge_entry_t;

/* What a purge slice did, made known only once its transaction is committed (a batch may be retried). */
typedef struct st_purge_effect_t {
    const msg_t *msg;
    uint64_t objects;
    bool more;
} purge_effect_t;

/* Invalidations (cache/store_purge.c). */
typedef struct st_cache_store_purge_t {
    uint64_t seq;                         /* mutex (set at open from the info database) */
    atomic_uint_fast64_t seq_pub;         /* atomic: its value, for readers without the mutex */
    atomic_uint pending;                  /* atomic: invalidations queued and not finished: readers apply them */
    atomic_uint_fast64_t purged_objects;  /* atomic */
    purge_effect_t *effects;              /* writer: of the batch being committed */
    size_t num_effects, cap_effects;      /* writer */
    purge_entry_t history[PURGE_HISTORY]; /* mutex; slot id % PURGE_HISTORY */
} cache_store_purge_t;

/* The size budget and eviction (cache/store_evict.c). */
typedef struct st_cache_store_evict_t {
    size_t bytes_since_usage_check;       /* writer */
    atomic_uint_fast64_t evicted_objects; /* atomic */
    struct {                              /* written by the writer, read by any thread, racy by design: a torn */
        atomic_uint_fast64_t tag;         /* entry only makes one miss counted as something else */
        atomic_uint_fast32_t when;
    } recent[EVICTED_SLOTS];
} cache_store_evict_t;

/* Failed writes (cache/store_writer.c). A full disk fails every batch, a hundred a second under load: each
 * is counted, and the log gets one line per cause and interval, with how many writes it dropped. */
typedef struct st_cache_store_faults_t {
    atomic_uint_fast64_t dropped[CACHE_STORE_NUM_FAULTS]; /* atomic: since start, for the stats */
    uint64_t unreported[CACHE_STORE_NUM_FAULTS];          /* mutex: dropped since the last line about the cause */
    int last_rc[CACHE_STORE_NUM_FAULTS];                  /* mutex: the error of the latest, for that line */
    int64_t last_report;                                  /* mutex: CLOCK_MONOTONIC seconds of the last line, 0 never */
} cache_store_faults_t;

/* The orphan sweep (cache/store_evict.c): oids below `limit` (older runs'), from `next` on. */
typedef struct st_cache_store_sweep_t {
    uint64_t next, limit;  /* writer (set at open) */
    uint64_t swept_chunks; /* writer */
} cache_store_sweep_t;

struct st_cache_store_t {
    MDB_env *env;                      /* open */
    MDB_dbi objects, chunks, info;     /* open */
    MDB_dbi aux;                       /* open */
    int lock_fd;                       /* open */
    bool readonly;                     /* open: cache_store_open_readonly; no writer, no syncer */
    bool usable;                       /* open: false for cache_store_open_unusable: no environment at all */
    char *dir;                         /* open: the cache directory, for log lines */
    unsigned max_variants;             /* open: see cache_store_config_t; 0 no cap */
    atomic_uint_fast64_t vary_refused; /* atomic: variants not stored because of max_variants */
    uint32_t epoch;                    /* open */
    size_t map_pages;                  /* open */
    atomic_uint_fast64_t next_oid;     /* atomic */
    pthread_mutex_t mutex;             /* the store's one lock; see the top of this file */
    cache_store_queue_t queue;
    cache_store_pending_t pending;
    cache_store_sync_t sync;
    cache_store_index_t index;
    cache_store_purge_t purge;
    cache_store_evict_t evict;
    cache_store_sweep_t sweep;
    cache_store_faults_t faults;
};

/* Readers and pins belong to one loop thread each (cache/store_read.c). */
struct st_cache_store_pin_t {
    cache_store_pin_t *next; /* in the reader's free list */
    MDB_txn *txn;            /* open while pinned, reset while free */
};

struct st_cache_store_reader_t {
    cache_store_t *store;
    MDB_txn *txn; /* reset between uses; NULL until first use */
    cache_store_pin_t *free_pins;
    unsigned pins_out;
    cache_hash_t touched[TOUCH_SLOTS]; /* used since the last hand-over, without duplicates */
    uint16_t touch_slot[TOUCH_SLOTS];  /* open addressing over `touched`: index + 1, 0 = free */
    size_t num_touched;
    uint64_t verified[VERIFIED_SLOTS]; /* hash prefixes of older-epoch objects whose body checked out */
    size_t num_verified;
};

/* --- small helpers ------------------------------------------------------------------------------ */

static inline void chunk_key(uint8_t buf[12], uint64_t oid, uint32_t index)
{
    /* big-endian, so the chunks of one object are adjacent and in order */
    for (int i = 0; i != 8; ++i)
        buf[i] = (uint8_t)(oid >> (56 - 8 * i));
    for (int i = 0; i != 4; ++i)
        buf[8 + i] = (uint8_t)(index >> (24 - 8 * i));
}

static inline void chunk_key_oid_only(uint8_t buf[8], uint64_t oid)
{
    for (int i = 0; i != 8; ++i)
        buf[i] = (uint8_t)(oid >> (56 - 8 * i));
}

static inline uint64_t chunk_key_oid(const uint8_t *buf)
{
    uint64_t oid = 0;
    for (int i = 0; i != 8; ++i)
        oid = oid << 8 | buf[i];
    return oid;
}

static inline uint64_t hash_tag(const cache_hash_t *h)
{
    uint64_t t;
    memcpy(&t, h->bytes, sizeof(t));
    return t | 1; /* never 0, the mark of a free slot */
}

static inline uint32_t num_chunks(const cache_record_t *rec)
{
    return rec->oid != 0 && rec->chunk_size != 0 ? (uint32_t)((rec->body_len + rec->chunk_size - 1) / rec->chunk_size) : 0;
}

typedef struct st_hash_vec_t {
    cache_hash_t *entries;
    size_t size, capacity;
} hash_vec_t;

void cache_store_hash_vec_push(hash_vec_t *v, const void *hash);

/* --- the writer's queue and the pending index (cache/store_writer.c) ------------------------------ */

/* Copies a write into a message and queues it for the writer (it may be dropped when the writer is too far
 * behind: see QUEUE_MAX_BYTES). Any thread, without `mutex`. */
void cache_store_post(cache_store_t *s, msg_type_t type, const cache_hash_t *hash, uint64_t oid, uint32_t index, const void *data,
                      size_t len);
/* The newest pending write to the object `hash` (a record or a deletion), or NULL. With `mutex` held; the
 * message may be freed once it is released. */
msg_t *cache_store_pending_record(cache_store_t *s, const cache_hash_t *hash);
/* The newest pending chunk `index` of `oid`, or NULL. With `mutex` held, as above. */
msg_t *cache_store_pending_chunk(cache_store_t *s, uint64_t oid, uint32_t index);
/* Initialises the queue, the pending index and the syncer's condition; at open, before any thread. */
void cache_store_writer_init(cache_store_t *s);
/* The first object id free in the environment: above the stored high-water mark and the last chunk (store.c). */
uint64_t cache_store_initial_oid(cache_store_t *s);
/* Starts the writer and the syncer. Returns 0, or -1 with a message in `err` (then neither runs). */
int cache_store_writer_start(cache_store_t *s, char *err, size_t errlen);
/* Counts `nwrites` writes lost to the error `rc` (a failed commit, or a sync when nwrites is 1) and logs the
 * cause at most once per FAULT_LOG_INTERVAL_SEC; `needed` is the bytes the write needed. The writer or the
 * syncer, without `mutex` (it takes it). */
void cache_store_note_fault(cache_store_t *s, int rc, size_t nwrites, uint64_t needed);
/* Logs the writes dropped since the last line about each cause, if its interval is over (or `force`).
 * Any thread, without `mutex`. */
void cache_store_report_faults(cache_store_t *s, bool force);
/* Applies every queued write, then stops and joins the writer and the syncer. */
void cache_store_writer_stop(cache_store_t *s);
/* Destroys what cache_store_writer_init made; no thread may use the store any more. */
void cache_store_writer_dispose(cache_store_t *s);

/* --- the secondary indexes and object deletion (cache/store_index.c), in the writer's transactions --- */

/* Calls `cb` for each tag of the record: Surrogate-Key (space-separated, Fastly) and Cache-Tag
 * (comma-separated, Cloudflare), at most TAGS_MAX, each at most TAG_MAX bytes. Any thread (no LMDB). */
void cache_store_for_each_tag(const cache_record_t *rec, void (*cb)(void *ctx, h2o_iovec_t tag), void *ctx);
/* Adds the index entries of `rec`, stored under `hash`, last used at `now`. Returns an LMDB error. */
int cache_store_index_add(cache_store_t *s, MDB_txn *txn, const cache_hash_t *hash, const cache_record_t *rec, uint32_t now);
/* How many objects the urls index holds under the URL of `rec` (its Vary variants and their index record,
 * of every host). 0 on any error: the Vary cap then lets a variant in rather than refuse it wrongly. */
size_t cache_store_url_objects(cache_store_t *s, MDB_txn *txn, const cache_record_t *rec);
/* Moves `hash` to `when` in the use order. With `must_exist`, only an object that has a use time already
 * (one that is stored) is moved. Returns an LMDB error. */
int cache_store_set_atime(cache_store_t *s, MDB_txn *txn, const cache_hash_t *hash, uint32_t when, bool must_exist);
/* Whether chunk `index` of `oid` is in the database. */
bool cache_store_chunk_exists(cache_store_t *s, MDB_txn *txn, uint64_t oid, uint32_t index);
/* Whether a record is stored under `hash`. */
bool cache_store_object_exists(cache_store_t *s, MDB_txn *txn, const cache_hash_t *hash);
/* Deletes chunks 0 .. n-1 of `oid`; chunks not there are no error. Returns an LMDB error. */
int cache_store_delete_chunks(cache_store_t *s, MDB_txn *txn, uint64_t oid, uint32_t n);
/* Deletes the object under `hash` with its indexes, and its chunks unless they are `keep_oid`'s; with
 * `keep_record`, the record itself stays (it is about to be replaced). Adds the bytes it held to `*freed`
 * (when not NULL), so that eviction knows what it freed. Every path that removes a record comes here, so no
 * index ever names a hash that the objects database lost. Returns an LMDB error. */
int cache_store_delete_object(cache_store_t *s, MDB_txn *txn, const cache_hash_t *hash, uint64_t keep_oid, bool keep_record,
                              size_t *freed);

/* --- invalidation (cache/store_purge.c) ----------------------------------------------------------- */

/* Whether an invalidation made after `seq` covers `rec`. With `mutex` held. */
bool cache_store_purge_barred(cache_store_t *s, const cache_record_t *rec, uint64_t seq);
/* Makes a record copied by a reader what it will be once the queued invalidations are applied: returns
 * CACHE_STORE_ENOTFOUND when one deletes it, or 0 (with the lifetime of `copy` patched by a soft one).
 * Any thread, without `mutex` (it takes it). */
int cache_store_purge_apply_pending(cache_store_t *s, uint8_t *copy, size_t len);
/* Applies one slice of a MSG_PURGE in `txn`. The writer. Returns an LMDB error. */
int cache_store_purge_apply(cache_store_t *s, MDB_txn *txn, msg_t *m);
/* Forgets what the slices of a batch did: at the start of each attempt to commit it. The writer. */
void cache_store_purge_reset_effects(cache_store_t *s);
/* Publishes what the slices of a committed batch did. The writer, without `mutex`. */
void cache_store_purge_publish_effects(cache_store_t *s);
/* Frees the history and the effects at close, once the writer stopped. */
void cache_store_purge_dispose(cache_store_t *s);

/* --- the budget, eviction and the orphan sweep (cache/store_evict.c) ------------------------------ */

/* The share of the map in use: walks LMDB's free list. Any thread (a read transaction of its own). */
double cache_store_map_usage(cache_store_t *s);
/* Makes room before a batch of `nmsgs` messages and `batch_bytes` bytes (see the function). The writer. */
void cache_store_keep_headroom(cache_store_t *s, size_t batch_bytes, size_t nmsgs, bool force);
/* One step of the orphan sweep, when the writer is idle. Returns false when the sweep is over. The writer. */
bool cache_store_sweep_step(cache_store_t *s);

#endif
