/*
 * cache/store_evict.c: the store's size budget, eviction in use order, and the sweep of orphan chunks.
 *
 * Invariants that are easy to break:
 * - The map keeps headroom. LMDB deletes copy-on-write, so a map full to the last page cannot even
 *   delete; the writer therefore evicts objects, least recently used first, before a batch that would take
 *   the map past HIGH_WATER, down to LOW_WATER. MDB_MAP_FULL never reaches a caller: a batch that still
 *   does not fit is retried after a larger eviction (cache_store_keep_headroom with `force`), then with
 *   deletions only (cache/store_writer.c).
 * - Eviction deletes through cache_store_delete_object, like every other removal, so the indexes stay
 *   consistent; each round is a transaction of its own, so the pages one round frees serve the next.
 * - Recency costs a hit no write: loops collect the hashes they served and hand them to the writer in
 *   batches (MSG_TOUCH), about once a second; the writer moves an object in the lru index only when its
 *   last-use second changed. Eviction order is therefore LRU at one-second granularity, over the uses
 *   reported so far (bench/README.md measures how close that is to exact LRU).
 * - The orphan sweep looks only at oids below sweep.limit, those of earlier runs: a chunk of this run may
 *   belong to a fetch still in flight whose record is not queued yet.
 * Everything here but cache_store_map_usage and cache_store_recently_evicted runs in the writer thread.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cache/store_int.h"
#include "common/log.h"

/* Pages in use: the high-water page of the file minus the pages on LMDB's free list. */
double cache_store_map_usage(cache_store_t *s)
{
    MDB_envinfo info;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t free_pages = 0;

    if (!s->usable)
        return 0;
    mdb_env_info(s->env, &info);
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    if (mdb_cursor_open(txn, 0 /* FREE_DBI */, &cur) == 0) {
        while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0)
            if (v.mv_size >= sizeof(size_t))
                free_pages += *(const size_t *)v.mv_data; /* an ID list: its first word is its length */
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    size_t used = info.me_last_pgno + 1 > free_pages ? info.me_last_pgno + 1 - free_pages : 0;
    return (double)used / (double)s->map_pages;
}

static void note_evicted(cache_store_t *s, const cache_hash_t *hash, uint32_t now)
{
    uint64_t tag = hash_tag(hash);
    size_t i = (size_t)(tag >> 16) % EVICTED_SLOTS;
    atomic_store_explicit(&s->evict.recent[i].tag, tag, memory_order_relaxed);
    atomic_store_explicit(&s->evict.recent[i].when, now, memory_order_relaxed);
}

bool cache_store_recently_evicted(cache_store_t *s, const cache_hash_t *hash, int64_t within_s)
{
    uint64_t tag = hash_tag(hash);
    size_t i = (size_t)(tag >> 16) % EVICTED_SLOTS;
    if (atomic_load_explicit(&s->evict.recent[i].tag, memory_order_relaxed) != tag)
        return false;
    int64_t when = (int64_t)atomic_load_explicit(&s->evict.recent[i].when, memory_order_relaxed);
    return (int64_t)time(NULL) - when <= within_s;
}

/* Up to `max` eviction victims: the least recently used objects, or, when the use order is empty (objects of
 * an older layout), objects from a random point of the key space. */
static void pick_victims(cache_store_t *s, MDB_txn *txn, size_t max, hash_vec_t *out)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if (mdb_cursor_open(txn, s->index.lru, &cur) == 0) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && out->size != max; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            if (k.mv_size == 4 + CACHE_KEY_HASH_LEN)
                cache_store_hash_vec_push(out, (const uint8_t *)k.mv_data + 4);
        mdb_cursor_close(cur);
    }
    if (out->size != 0 || mdb_cursor_open(txn, s->objects, &cur) != 0)
        return;
    uint8_t start[CACHE_KEY_HASH_LEN];
    for (size_t i = 0; i != sizeof(start); ++i)
        start[i] = (uint8_t)rand();
    k = (MDB_val){sizeof(start), start};
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && out->size != max; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        cache_store_hash_vec_push(out, k.mv_data);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && out->size == 0 && out->size != max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        cache_store_hash_vec_push(out, k.mv_data);
    mdb_cursor_close(cur);
}

/* Deletes objects, least recently used first, until about `pages` pages are freed. Each round is a
 * transaction of its own, so that the pages one round frees serve the next; a round that runs out of room
 * (a map full to the last page cannot even delete much) is retried with fewer objects. */
static void evict(cache_store_t *s, size_t pages)
{
    size_t freed = 0, n = 0, round = 128, page_size = (size_t)sysconf(_SC_PAGESIZE);
    uint32_t now = (uint32_t)time(NULL);
    int rc = 0;

    while (freed / page_size < pages && round != 0) {
        MDB_txn *txn;
        hash_vec_t victims = {NULL};
        size_t bytes = 0, i;
        if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
            break;
        pick_victims(s, txn, round, &victims);
        for (i = 0; i != victims.size && (freed + bytes) / page_size < pages; ++i)
            if ((rc = cache_store_delete_object(s, txn, &victims.entries[i], 0, false, &bytes)) != 0)
                break;
        if (victims.size == 0) {
            mdb_txn_abort(txn);
            round = 0; /* nothing left to evict */
        } else if (rc != 0) {
            mdb_txn_abort(txn);
            round /= 2;
        } else if ((rc = mdb_txn_commit(txn)) != 0) { /* (which frees the transaction, failed or not) */
            round /= 2;
        } else {
            freed += bytes;
            n += i;
            for (size_t j = 0; j != i; ++j)
                note_evicted(s, &victims.entries[j], now);
        }
        free(victims.entries);
    }
    atomic_fetch_add_explicit(&s->evict.evicted_objects, n, memory_order_relaxed);
    if (n != 0)
        common_log_info("store: evicted %zu objects (about %zu MiB), least recently used first, to keep room in the map", n,
                        freed >> 20);
    if (rc != 0 && n == 0)
        common_log_error("store: eviction failed: %s", mdb_strerror(rc));
}

/* Makes room before a batch of `nmsgs` messages and `batch_bytes` bytes: the map stays under HIGH_WATER
 * with the batch in it, or, with `force`, a tenth of it more is freed. A batch takes its bytes twice
 * (copy-on-write touches branch pages too) plus the pages it dirties in the B-trees each message touches
 * (the record, its indexes, the use order): about 8 per message, which a large batch shares, hence the cap.
 * The free pages are counted (a walk of LMDB's free list) only after about 1 % of the map was written. */
void cache_store_keep_headroom(cache_store_t *s, size_t batch_bytes, size_t nmsgs, bool force)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), dirty = (nmsgs < 64 ? nmsgs : 64) * 8 * page;
    s->evict.bytes_since_usage_check += batch_bytes + nmsgs * 8 * page;
    if (!force && s->evict.bytes_since_usage_check < s->map_pages * page / 100)
        return;
    s->evict.bytes_since_usage_check = 0;
    double usage = cache_store_map_usage(s),
           batch = (2.0 * (double)batch_bytes + (double)dirty) / (double)page / (double)s->map_pages;
    if (!force && usage + batch <= HIGH_WATER)
        return;
    double target = LOW_WATER - batch;
    if (force && target > usage - 0.1)
        target = usage - 0.1;
    if (target < 0)
        target = 0;
    if (usage > target)
        evict(s, (size_t)((usage - target) * (double)s->map_pages) + 1);
}

/* One step of the orphan sweep, run when the writer is idle: chunks that no record owns, left by a run that
 * was killed between storing a body's chunks and its record (or whose record was dropped), are deleted.
 * Only oids below sweep.limit are looked at — those of earlier runs, none of which can still be in flight.
 * Returns false when the sweep is over. */
bool cache_store_sweep_step(cache_store_t *s)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    uint8_t kb[12];
    MDB_val k = {sizeof(kb), kb}, v;
    size_t oids = 0, deleted = 0;
    int rc;

    if (s->sweep.next >= s->sweep.limit)
        return false;
    if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0 || mdb_cursor_open(txn, s->chunks, &cur) != 0) {
        if (txn != NULL)
            mdb_txn_abort(txn);
        s->sweep.next = s->sweep.limit; /* (not worth a retry loop: the next start sweeps again) */
        return false;
    }
    chunk_key(kb, s->sweep.next, 0);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && oids != 256 && k.mv_size == 12) {
        uint64_t oid = chunk_key_oid(k.mv_data);
        if (oid >= s->sweep.limit)
            break;
        uint8_t ok[8];
        chunk_key_oid_only(ok, oid);
        MDB_val okv = {sizeof(ok), ok}, owner;
        ++oids;
        if (mdb_get(txn, s->index.owners, &okv, &owner) == 0) { /* owned: on to the next object's chunks */
            chunk_key(kb, oid + 1, 0);
            k = (MDB_val){sizeof(kb), kb};
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            s->sweep.next = oid + 1;
            continue;
        }
        while (rc == 0 && k.mv_size == 12 && chunk_key_oid(k.mv_data) == oid) { /* every chunk of this oid */
            if (mdb_cursor_del(cur, 0) == 0) {
                ++deleted;
                rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
                if (rc == 0 && k.mv_size == 12 && chunk_key_oid(k.mv_data) == oid)
                    continue; /* (after a delete the cursor is on the next item already) */
                if (rc != 0)
                    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
                continue;
            }
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        s->sweep.next = oid + 1;
    }
    bool more = rc == 0 && k.mv_size == 12 && chunk_key_oid(k.mv_data) < s->sweep.limit;
    mdb_cursor_close(cur);
    if (mdb_txn_commit(txn) != 0) {
        s->sweep.next = s->sweep.limit;
        return false;
    }
    s->sweep.swept_chunks += deleted;
    if (!more) {
        s->sweep.next = s->sweep.limit;
        if (s->sweep.swept_chunks != 0)
            common_log_info("store: deleted %llu orphan chunks left by an earlier run", (unsigned long long)s->sweep.swept_chunks);
    }
    return more;
}
