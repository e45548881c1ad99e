/*
 * cache/store.h: the object store, an LMDB environment under the cache directory.
 *
 * Two databases: "objects" maps a key hash (32 bytes) to a cache_record_t encoding; "chunks" maps
 * (oid: u64 big-endian, index: u32 big-endian) to one body chunk of a large object. A third, "info",
 * holds store-wide values (the oid high-water mark).
 *
 * Threads. Reads are synchronous and short: each loop owns a cache_store_reader_t whose read
 * transaction is renewed for one lookup, the value copied out, and reset at once, so no transaction is
 * ever held across an event-loop wait and no old page is pinned. Writes never block a loop: every
 * cache_store_put_* / _delete call copies its arguments into a message for the single writer thread,
 * which applies all queued messages in one transaction per batch. Messages are applied in the order
 * they were queued, so a record that names chunks is always committed after them; a crash between the
 * two leaves orphan chunks, never a record without its body.
 *
 * Only the store's own files (cache/store*.c, through the private cache/store_int.h) include <lmdb.h>.
 */
#ifndef CACHE_STORE_H
#define CACHE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <h2o.h>
#include "cache/key.h"

#define CACHE_STORE_CHUNK_SIZE (256 * 1024) /* bodies up to this size are stored inline in the record */

#define CACHE_STORE_ENOTFOUND (-1) /* no such object or chunk */
#define CACHE_STORE_EIO (-2)       /* an LMDB error; logged with its detail */
#define CACHE_STORE_ETOOBIG (-3)   /* the chunk is larger than the caller's buffer */
#define CACHE_STORE_EBUSY (-4)     /* no pin now (the loop holds its maximum, or the value is not committed): copy */
#define CACHE_STORE_ECORRUPT (-5)  /* a chunk that fails its checksum */
/* Why cache_store_open_with failed (`*why`), for the caller to choose what to do: */
#define CACHE_STORE_ELOCKED (-6)     /* another edgecache holds the directory's lock */
#define CACHE_STORE_EBROKEN (-7)     /* the files are not a whole LMDB environment (truncated, overwritten) */
#define CACHE_STORE_EUNWRITABLE (-8) /* the directory or its files cannot be written (read-only, permissions, no space) */

/* A write the writer could not commit, by cause (cache_store_write_fault); each is counted in the stats. */
typedef enum en_cache_store_fault_t {
    CACHE_STORE_FAULT_DISK_FULL, /* ENOSPC, EDQUOT, or an I/O error while the file system has no room for the batch */
    CACHE_STORE_FAULT_MAP_FULL,  /* the map (cache.max_size) is full even after eviction */
    CACHE_STORE_FAULT_IO,        /* any other error */
    CACHE_STORE_NUM_FAULTS
} cache_store_fault_t;

/* How many read transactions one reader may keep pinned at once; more requests fall back to copies. */
#define CACHE_STORE_MAX_PINS 32

typedef struct st_cache_store_t cache_store_t;
typedef struct st_cache_store_reader_t cache_store_reader_t;
typedef struct st_cache_store_pin_t cache_store_pin_t;

/**
 * Opens (creating when needed) the store in directory `dir` with a map of `map_size` bytes (objects are
 * evicted to keep it below 85 % full, because LMDB needs free pages even to delete), takes the
 * directory's lock file (one edgecache per cache directory), and starts the writer thread. `max_readers`
 * bounds concurrent read transactions (one per loop, plus margin). Returns NULL with a message in
 * `err` (`errlen` bytes).
 */
cache_store_t *cache_store_open(const char *dir, uint64_t map_size, unsigned max_readers, char *err, size_t errlen);

typedef struct st_cache_store_config_t {
    uint64_t map_size;     /* as for cache_store_open */
    unsigned max_readers;  /* as for cache_store_open */
    unsigned max_variants; /* stored Vary variants per URL; a new one beyond is served but not stored; 0: no cap */
    bool reset;            /* delete the store's files (under the lock) before opening: start empty */
    bool move_aside;       /* files that are not a whole store are renamed to <name>.broken-<time> and the store
                            * starts empty, instead of failing with CACHE_STORE_EBROKEN */
    bool inherit_lock;     /* an upgrade: `lock_fd` is the previous process's descriptor of the directory's lock
                            * file (the same open file, so its lock is already ours); the writer starts only
                            * once the previous process has released its own (cache_store_writer_release) */
    int lock_fd;
} cache_store_config_t;

/**
 * cache_store_open with more choices. On failure returns NULL, with the message in `err` and the reason in
 * `*why`: CACHE_STORE_ELOCKED, CACHE_STORE_EBROKEN, CACHE_STORE_EUNWRITABLE, or CACHE_STORE_EIO for anything
 * else. What `reset` deleted and `move_aside` renamed is logged (common/log.h). Not on an event loop.
 */
cache_store_t *cache_store_open_with(const char *dir, const cache_store_config_t *conf, int *why, char *err, size_t errlen);
/**
 * A store that stores nothing, for an edge whose cache directory cannot be used: every read is
 * CACHE_STORE_ENOTFOUND, every write is dropped, invalidations complete at once, and the stats say
 * `usable` 0. Close it with cache_store_close. Never NULL.
 */
cache_store_t *cache_store_open_unusable(const char *dir);

/**
 * Hands the writer over (an upgrade): commits what is queued, stops the writer and the sync thread, syncs,
 * and from then on drops every write (objects, touches, reports, invalidations) without counting it, so
 * that another process can open the same directory and write. Readers go on. Not on an event loop: it
 * waits for the last commit. Idempotent.
 */
void cache_store_writer_release(cache_store_t *store);
/**
 * Takes the writer back after a handover that failed (the new process never started): object ids resume
 * above anything committed meanwhile. Returns 0, or -1 with a message. Not on an event loop.
 */
int cache_store_writer_resume(cache_store_t *store, char *err, size_t errlen);
/** The descriptor of the directory's lock file (held with flock), for a new process to inherit; -1 if none. */
int cache_store_lock_fd(cache_store_t *store);
/** False for a store from cache_store_open_unusable. Any thread. */
bool cache_store_usable(cache_store_t *store);
/**
 * The cause of the write error `rc` (an LMDB error, or the errno LMDB passes on) when the file system has
 * `free_bytes` available and the write needed `needed`: LMDB reports a short write (a full disk) as EIO, so
 * an EIO with less room than the write needed is a full disk too. Pure; any thread.
 */
cache_store_fault_t cache_store_write_fault(int rc, uint64_t free_bytes, uint64_t needed);
/** Applies every queued write, stops the writer thread, syncs and closes. No reader may be live. */
void cache_store_close(cache_store_t *store);

/** A reader for one thread; not thread-safe, and freed by that thread with cache_store_reader_free. */
cache_store_reader_t *cache_store_reader_new(cache_store_t *store);
void cache_store_reader_free(cache_store_reader_t *reader);
/**
 * Copies the record stored under `hash` into memory from `pool` and points `*out` at it. Returns 0,
 * CACHE_STORE_ENOTFOUND or CACHE_STORE_EIO.
 */
int cache_store_get(cache_store_reader_t *reader, const cache_hash_t *hash, h2o_mem_pool_t *pool, h2o_iovec_t *out);
/**
 * Like cache_store_get, but without the copy: `*out` points into the LMDB map and stays valid until
 * cache_store_unpin(*pin). The read transaction stays open meanwhile and pins the pages it sees, so a
 * pin must be short-lived: the caller holds it only while a response it can bound is being written.
 * Returns 0, CACHE_STORE_ENOTFOUND, CACHE_STORE_EIO, or CACHE_STORE_EBUSY when the reader already holds
 * CACHE_STORE_MAX_PINS or the value is still only queued (then use cache_store_get).
 */
int cache_store_get_pinned(cache_store_reader_t *reader, const cache_hash_t *hash, h2o_iovec_t *out, cache_store_pin_t **pin);
/** Ends a pin (of either kind), on the reader's thread; what it pointed at may no longer be read. */
void cache_store_unpin(cache_store_reader_t *reader, cache_store_pin_t *pin);
/**
 * Copies chunk `index` of object `oid` into `dst` (`cap` bytes) and sets `*len`; with `verify`, checks
 * the chunk against its checksum first. Returns 0, CACHE_STORE_ENOTFOUND (the object was replaced or
 * evicted meanwhile), CACHE_STORE_ETOOBIG, CACHE_STORE_ECORRUPT or CACHE_STORE_EIO.
 */
int cache_store_read_chunk(cache_store_reader_t *reader, uint64_t oid, uint32_t index, void *dst, size_t cap, size_t *len,
                           bool verify);
/**
 * Like cache_store_read_chunk, but without the copy: `*out` points at the chunk's bytes in the LMDB map and
 * stays valid until cache_store_unpin(*pin), whatever the writer commits meanwhile (a replaced or deleted
 * chunk keeps its pages while the pin's read transaction is open). With `verify`, the mapped bytes themselves
 * are checked before this returns. A pin is a read transaction: the caller holds it only while a send of
 * those bytes is in flight, and for a bounded time. Returns 0, CACHE_STORE_EBUSY (no pin is free: the reader
 * holds CACHE_STORE_MAX_PINS, shared with cache_store_get_pinned, or LMDB has no reader slot; or the chunk is
 * still only queued: use cache_store_read_chunk), CACHE_STORE_ENOTFOUND, CACHE_STORE_ECORRUPT or
 * CACHE_STORE_EIO. The reader's thread only.
 */
int cache_store_read_chunk_pinned(cache_store_reader_t *reader, uint64_t oid, uint32_t index, bool verify, h2o_iovec_t *out,
                                  cache_store_pin_t **pin);
/**
 * Whether the body of a record of `epoch` found under `hash` must be verified before it is sent: it was
 * written before the store's latest open, and this reader has not verified it since. After verifying an
 * inline body (cache_checksum(body) == body_crc), call cache_store_mark_verified.
 */
bool cache_store_needs_verify(cache_store_reader_t *reader, const cache_hash_t *hash, uint32_t epoch);
void cache_store_mark_verified(cache_store_reader_t *reader, const cache_hash_t *hash);
/**
 * Notes that the object under `hash` was used (a hit), for eviction order. Costs no write: the reader
 * collects the hashes and hands them to the writer when it has many, or at cache_store_reader_tick.
 */
void cache_store_touch(cache_store_reader_t *reader, const cache_hash_t *hash);
/** Hands the collected uses to the writer; call about once a second from the reader's loop. */
void cache_store_reader_tick(cache_store_reader_t *reader);

/**
 * A new object id for a chunked body. Never the id of chunks that are or were stored (the high-water mark
 * of stored chunks persists); an id handed out but never used for a stored chunk may come back after a
 * restart, which is harmless. Any thread.
 */
uint64_t cache_store_new_oid(cache_store_t *store);
/** Queues chunk `index` of `oid` (copied). Any thread. */
void cache_store_put_chunk(cache_store_t *store, uint64_t oid, uint32_t index, const void *data, size_t len);
/**
 * Queues the record (copied) under `hash`. The chunks of the record it replaces are deleted, unless the
 * new record names the same oid (a 304 refreshing headers). A record that does not decode, or whose
 * first or last chunk is not stored (it did not fit), is dropped, and what did fit of its chunks with it;
 * so is one that an invalidation made after `purge_seq` covers (the cache_store_purge_seq of when its
 * request went to the origin), lest a response already on its way bring a purged object back. Any thread.
 */
void cache_store_put_record(cache_store_t *store, const cache_hash_t *hash, const void *record, size_t len, uint64_t purge_seq);
/** Queues the deletion of `nchunks` chunks of `oid`, the remains of a fetch that did not complete. */
void cache_store_discard(cache_store_t *store, uint64_t oid, uint32_t nchunks);
/** Queues the deletion of the object under `hash` and of its chunks. Any thread. */
void cache_store_delete(cache_store_t *store, const cache_hash_t *hash);
/** Blocks until every write queued so far is committed (for tests and shutdown). */
void cache_store_flush(cache_store_t *store);

const char *cache_store_strerror(int err);

/* --- invalidation ---------------------------------------------------------------------------------- */

/*
 * The target of an invalidation names the hosts it applies to, then what it applies to there:
 *   url, prefix:  [HOSTS] PATH    PATH starts with '/' ("/img/a.png?v=1", "/img/")
 *   tag:          [HOSTS "\n"] TAG
 * HOSTS is a comma-separated list of normalised hosts (cache/key.h), each exact ("shop.example.com") or a
 * wildcard ("*.shop.example.com": any name that ends with ".shop.example.com"); without HOSTS the target
 * applies on every host. So "shop.example.com/a" is the object /a of one host, "/a" the object /a of every
 * host, and "a.com,*.a.com/img/" everything under /img/ on a.com and its subdomains.
 */
typedef enum en_cache_purge_kind_t {
    CACHE_PURGE_URL,    /* every object whose key's URL part ("host/path?query") is the target: all its Vary variants */
    CACHE_PURGE_PREFIX, /* every object whose URL part starts with the target (range scans of the urls index, one per host) */
    CACHE_PURGE_TAG     /* every object that named the target in Surrogate-Key or Cache-Tag */
} cache_purge_kind_t;

typedef struct st_cache_store_purge_status_t {
    uint64_t id;
    cache_purge_kind_t kind;
    bool soft; /* objects marked stale (still usable by stale-if-error) rather than deleted */
    bool done;
    char target[512];           /* truncated for display */
    uint64_t objects;           /* objects deleted (or marked stale) so far */
    int64_t created, completed; /* Unix times; completed 0 while running */
} cache_store_purge_status_t;

/**
 * Queues an invalidation and returns its id (never 0; ids grow across restarts). It applies after every
 * write queued before it; a record whose request went out before it is refused (see
 * cache_store_put_record), so an invalidated object cannot come back from a response already on its way.
 * Any thread.
 */
uint64_t cache_store_purge(cache_store_t *store, cache_purge_kind_t kind, const char *target, size_t len, bool soft);
/** The id of the latest invalidation (0 when none yet). Any thread. */
uint64_t cache_store_purge_seq(cache_store_t *store);
/** The status of invalidation `id` (one of the last 1024). Returns false when unknown. Any thread. */
bool cache_store_purge_status(cache_store_t *store, uint64_t id, cache_store_purge_status_t *out);

/* --- statistics, snapshots ----------------------------------------------------------------------- */

typedef struct st_cache_store_stats_t {
    uint64_t objects;                              /* records (a URL with Vary variants counts its index record too) */
    uint64_t bytes_used;                           /* pages in use × page size: what the budget (cache.max_size) bounds */
    uint64_t map_size;                             /* the budget */
    uint64_t evictions;                            /* objects evicted for room since start */
    uint64_t purged;                               /* objects invalidated since start */
    uint64_t dropped_writes;                       /* writes dropped because the writer was too far behind */
    uint64_t backlog_bytes;                        /* queued and not yet committed */
    uint64_t write_errors[CACHE_STORE_NUM_FAULTS]; /* writes dropped because their transaction failed, by cause */
    uint64_t vary_refused;                         /* new Vary variants not stored because their URL had max_variants already */
    uint64_t writer_busy_ns;                       /* time the single writer thread spent working (batches, sweeps) */
    bool usable;                                   /* false when the store stores nothing (cache_store_open_unusable) */
} cache_store_stats_t;

/** Fills `out`. Walks LMDB's free list: for metrics, not for the request path. Any thread. */
void cache_store_stats(cache_store_t *store, cache_store_stats_t *out);
/**
 * Writes a consistent, compacted copy of the store into directory `dest` (created if missing; it must not
 * hold a store already) while the store keeps serving. Returns 0, or -1 with a message in `err`.
 */
int cache_store_snapshot(cache_store_t *store, const char *dest, char *err, size_t errlen);

/* --- auxiliary values: small keyed data of other modules (the reports), in a database of their own ---- */

/** Queues `val` under `key` (both copied; key 1..500 bytes) in the "aux" database. Any thread. */
void cache_store_put_aux(cache_store_t *store, const void *key, size_t klen, const void *val, size_t vlen);
/** Queues the deletion of every aux key in [from, to) (byte order). Any thread. */
void cache_store_delete_aux_range(cache_store_t *store, const void *from, size_t flen, const void *to, size_t tlen);
/**
 * Calls `cb` for every committed aux key in [from, to), in byte order, inside one read transaction:
 * `key` and `value` are valid only during the call. A non-zero return from `cb` stops the scan and is
 * returned. Returns 0, or CACHE_STORE_EIO. Any thread; not for an event loop (the scan may be long).
 */
int cache_store_scan_aux(cache_store_t *store, h2o_iovec_t from, h2o_iovec_t to,
                         int (*cb)(void *ctx, h2o_iovec_t key, h2o_iovec_t value), void *ctx);
/**
 * Opens an existing store read-only, without its lock and without a writer thread, beside a running
 * edgecache or after it stopped (reports, snapshots). Only cache_store_scan_aux, cache_store_stats,
 * cache_store_snapshot and cache_store_close may be used on it. Returns NULL with a message in `err`.
 */
cache_store_t *cache_store_open_readonly(const char *dir, char *err, size_t errlen);

/** True when an object with `hash` was evicted (for room, not purged) in the last `within_s` seconds. */
bool cache_store_recently_evicted(cache_store_t *store, const cache_hash_t *hash, int64_t within_s);

#endif
