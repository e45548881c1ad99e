/*
 * cache/inflight.h: the in-flight table, which maps a cache key hash to the one fetch filling it, so
 * that concurrent misses for the same key (on any loop) share one fetch instead of asking the origin
 * again (request collapsing, Varnish's busy objects, nginx's proxy_cache_lock).
 *
 * The table is generic: it lists entries (cache_inflight_entry_t), which the caller embeds in its own
 * object and recovers with H2O_STRUCT_FROM_MEMBER. It never allocates, never frees an entry and knows
 * nothing of what a fetch is; the owner of an entry keeps it alive while it is listed.
 *
 * Threads: every call may be made from any thread; the table has its own lock. The callbacks given to
 * cache_inflight_find_or_add run with that lock held, so they must not call back into the table.
 */
#ifndef CACHE_INFLIGHT_H
#define CACHE_INFLIGHT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include "cache/key.h"

#define CACHE_INFLIGHT_BUCKETS 1024 /* chains stay short: only fetches in flight are listed */

typedef struct st_cache_inflight_entry_t {
    cache_hash_t hash; /* set by the owner before it is listed, and not changed while listed */
    /* private */
    struct st_cache_inflight_entry_t *_next;
    bool _listed;
} cache_inflight_entry_t;

typedef struct st_cache_inflight_t {
    pthread_mutex_t _mutex;
    cache_inflight_entry_t *_buckets[CACHE_INFLIGHT_BUCKETS];
} cache_inflight_t;

/** A static initializer: `static cache_inflight_t t = CACHE_INFLIGHT_INITIALIZER;`. */
#define CACHE_INFLIGHT_INITIALIZER                                                                                                 \
    {                                                                                                                              \
        PTHREAD_MUTEX_INITIALIZER,                                                                                                 \
        {                                                                                                                          \
            NULL                                                                                                                   \
        }                                                                                                                          \
    }

/** Initializes an empty table (for a table that is not static). */
void cache_inflight_init(cache_inflight_t *t);
/** Releases the table's lock; the table must be empty. */
void cache_inflight_dispose(cache_inflight_t *t);

/**
 * The one atomic step of request collapsing: looks up `hash` and, when an entry is listed, calls
 * `on_found(entry, ctx)` (with the table locked, so the entry cannot be removed before the caller takes
 * its reference there) and returns it with *added false. Otherwise calls `make(ctx)`, lists the entry it
 * returns under `hash` (its hash field is set here) and returns it with *added true; `make` may return
 * NULL (nothing is listed, NULL is returned). Two threads that call this at the same moment for one
 * hash get one listed entry between them.
 */
cache_inflight_entry_t *cache_inflight_find_or_add(cache_inflight_t *t, const cache_hash_t *hash,
                                                   void (*on_found)(cache_inflight_entry_t *entry, void *ctx),
                                                   cache_inflight_entry_t *(*make)(void *ctx), void *ctx, bool *added);
/** Lists `e` under e->hash (it must not be listed). A second entry for a hash already listed is
 * listed too, but lookups find the newest. */
void cache_inflight_add(cache_inflight_t *t, cache_inflight_entry_t *e);
/** Takes `e` out of the table; does nothing when it is not listed. Returns true when it was. */
bool cache_inflight_remove(cache_inflight_t *t, cache_inflight_entry_t *e);
/**
 * Whether `e` is listed. Only meaningful to a caller that orders itself with the removals of `e` (for a
 * fetch: its own lock, which it holds around every removal).
 */
bool cache_inflight_listed(const cache_inflight_entry_t *e);
/** The number of listed entries (for tests and diagnostics; takes the lock). */
size_t cache_inflight_count(cache_inflight_t *t);

#endif
