/*
 * cache/store_read.c: the store's reads, on the event loops: lookups and chunk reads (copied, or pinned in the
 * map), the verification of records from before the latest open, and the uses each reader collects for the
 * writer's eviction order.
 *
 * Invariants that are easy to break (cache/store.c has the store's others):
 * - A read transaction lives for one lookup only (renew → get → copy → reset). Holding one across an
 *   event-loop wait would pin every page the writer frees meanwhile, and the map would grow without
 *   bound (the hit-path prototype measured +595 MiB in 40 s with one transaction per response). A pin
 *   (cache_store_get_pinned, cache_store_read_chunk_pinned) is the one exception, bounded by
 *   CACHE_STORE_MAX_PINS per reader (records and chunks share them) and held only while a send is in flight.
 * - Readers see every write as soon as it is queued: a read looks in the pending index first (when it is
 *   not empty), and a record pin is refused while anything is pending, because the map may be older than the
 *   queue. Likewise a record copied while an invalidation is queued goes through cache_store_purge_apply_pending.
 */
#include <stdlib.h>
#include <string.h>
#include "cache/checksum.h"
#include "cache/store_int.h"
#include "common/log.h"

/* --- reads ------------------------------------------------------------------------------------- */

cache_store_reader_t *cache_store_reader_new(cache_store_t *store)
{
    cache_store_reader_t *r = h2o_mem_alloc(sizeof(*r)); /* (a few hundred KB: zeroed in place, not through a compound literal) */
    memset(r, 0, sizeof(*r));
    r->store = store;
    return r;
}

void cache_store_reader_free(cache_store_reader_t *reader)
{
    if (reader->txn != NULL)
        mdb_txn_abort(reader->txn);
    while (reader->free_pins != NULL) {
        cache_store_pin_t *p = reader->free_pins;
        reader->free_pins = p->next;
        mdb_txn_abort(p->txn);
        free(p);
    }
    free(reader);
}

/* Takes a free pin (or makes one) and opens its read transaction; NULL when none may be had: the reader
 * holds CACHE_STORE_MAX_PINS, or LMDB refuses one more reader (then the caller copies). */
static cache_store_pin_t *take_pin(cache_store_reader_t *r)
{
    cache_store_pin_t *p;
    int rc;

    if (r->pins_out >= CACHE_STORE_MAX_PINS)
        return NULL;
    if ((p = r->free_pins) != NULL) {
        r->free_pins = p->next;
        rc = mdb_txn_renew(p->txn);
    } else {
        p = h2o_mem_alloc(sizeof(*p));
        p->txn = NULL;
        rc = mdb_txn_begin(r->store->env, NULL, MDB_RDONLY, &p->txn);
    }
    if (rc != 0) {
        common_log_error("store: cannot begin a pinned read transaction: %s", mdb_strerror(rc));
        if (p->txn != NULL)
            mdb_txn_abort(p->txn);
        free(p);
        return NULL; /* e.g. MDB_READERS_FULL */
    }
    ++r->pins_out;
    return p;
}

int cache_store_get_pinned(cache_store_reader_t *r, const cache_hash_t *hash, h2o_iovec_t *out, cache_store_pin_t **pin)
{
    MDB_val k = {CACHE_KEY_HASH_LEN, (void *)hash->bytes}, v;
    cache_store_pin_t *p;
    int rc;

    if (!r->store->usable)
        return CACHE_STORE_ENOTFOUND;
    if (atomic_load_explicit(&r->store->pending.count, memory_order_acquire) != 0 ||
        atomic_load_explicit(&r->store->purge.pending, memory_order_acquire) != 0)
        return CACHE_STORE_EBUSY; /* (a queued write may be newer than the map: the copying path looks there) */
    if ((p = take_pin(r)) == NULL)
        return CACHE_STORE_EBUSY;
    if ((rc = mdb_get(p->txn, r->store->objects, &k, &v)) != 0) {
        cache_store_unpin(r, p);
        return rc == MDB_NOTFOUND ? CACHE_STORE_ENOTFOUND : CACHE_STORE_EIO;
    }
    *out = h2o_iovec_init(v.mv_data, v.mv_size);
    *pin = p;
    return 0;
}

void cache_store_unpin(cache_store_reader_t *r, cache_store_pin_t *pin)
{
    mdb_txn_reset(pin->txn);
    pin->next = r->free_pins;
    r->free_pins = pin;
    --r->pins_out;
}

static int begin_read(cache_store_reader_t *r)
{
    int rc = r->txn == NULL ? mdb_txn_begin(r->store->env, NULL, MDB_RDONLY, &r->txn) : mdb_txn_renew(r->txn);
    if (rc != 0) {
        common_log_error("store: cannot begin a read transaction: %s", mdb_strerror(rc));
        if (r->txn != NULL) {
            mdb_txn_abort(r->txn);
            r->txn = NULL;
        }
        return CACHE_STORE_EIO;
    }
    return 0;
}

int cache_store_get(cache_store_reader_t *r, const cache_hash_t *hash, h2o_mem_pool_t *pool, h2o_iovec_t *out)
{
    MDB_val k = {CACHE_KEY_HASH_LEN, (void *)hash->bytes}, v;
    int rc, ret;

    if (!r->store->usable)
        return CACHE_STORE_ENOTFOUND; /* (a store that stores nothing: every lookup is a miss) */
    if (atomic_load_explicit(&r->store->pending.count, memory_order_acquire) != 0) {
        pthread_mutex_lock(&r->store->mutex);
        msg_t *m = cache_store_pending_record(r->store, hash);
        ret = m == NULL ? 1 : m->type == MSG_RECORD ? 0 : CACHE_STORE_ENOTFOUND;
        if (ret == 0) {
            out->base = h2o_mem_alloc_pool(pool, m->len);
            out->len = m->len;
            memcpy(out->base, m->data, m->len);
        }
        pthread_mutex_unlock(&r->store->mutex); /* m may be freed by the writer from here on */
        if (ret == 0 && atomic_load_explicit(&r->store->purge.pending, memory_order_acquire) != 0)
            ret = cache_store_purge_apply_pending(r->store, (uint8_t *)out->base, out->len);
        if (ret != 1)
            return ret;
    }
    if ((ret = begin_read(r)) != 0)
        return ret;
    if ((rc = mdb_get(r->txn, r->store->objects, &k, &v)) == 0) {
        out->base = h2o_mem_alloc_pool(pool, v.mv_size);
        out->len = v.mv_size;
        memcpy(out->base, v.mv_data, v.mv_size);
        ret = 0;
        if (atomic_load_explicit(&r->store->purge.pending, memory_order_acquire) != 0)
            ret = cache_store_purge_apply_pending(r->store, (uint8_t *)out->base, out->len);
    } else if (rc == MDB_NOTFOUND) {
        ret = CACHE_STORE_ENOTFOUND;
    } else {
        common_log_error("store: get: %s", mdb_strerror(rc));
        ret = CACHE_STORE_EIO;
    }
    mdb_txn_reset(r->txn);
    return ret;
}

/* The bytes of a chunk value (data, then its CRC-32 trailer) in *n; with `verify`, checked against the trailer. */
static int check_chunk(const uint8_t *v, size_t vlen, bool verify, size_t *n)
{
    if (vlen < CHUNK_TRAILER)
        return CACHE_STORE_ECORRUPT;
    *n = vlen - CHUNK_TRAILER;
    if (verify) {
        const uint8_t *t = v + *n;
        uint32_t crc = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
        if (cache_checksum(v, *n) != crc)
            return CACHE_STORE_ECORRUPT;
    }
    return 0;
}

/* Copies the bytes of a chunk value into `dst`. */
static int copy_chunk(const uint8_t *v, size_t vlen, void *dst, size_t cap, size_t *len, bool verify)
{
    size_t n;
    int ret;
    if (vlen >= CHUNK_TRAILER && vlen - CHUNK_TRAILER > cap)
        return CACHE_STORE_ETOOBIG;
    if ((ret = check_chunk(v, vlen, verify, &n)) != 0)
        return ret;
    memcpy(dst, v, n);
    *len = n;
    return 0;
}

int cache_store_read_chunk(cache_store_reader_t *r, uint64_t oid, uint32_t index, void *dst, size_t cap, size_t *len, bool verify)
{
    uint8_t kb[12];
    MDB_val k = {sizeof(kb), kb}, v;
    int rc, ret;

    if (!r->store->usable)
        return CACHE_STORE_ENOTFOUND;
    chunk_key(kb, oid, index);
    if (atomic_load_explicit(&r->store->pending.count, memory_order_acquire) != 0) {
        pthread_mutex_lock(&r->store->mutex);
        msg_t *m = cache_store_pending_chunk(r->store, oid, index);
        ret = m == NULL ? 1 : copy_chunk(m->data, m->len, dst, cap, len, false); /* queued from memory: not yet at risk */
        pthread_mutex_unlock(&r->store->mutex);
        if (ret != 1)
            return ret;
    }
    if ((ret = begin_read(r)) != 0)
        return ret;
    if ((rc = mdb_get(r->txn, r->store->chunks, &k, &v)) == 0) {
        ret = copy_chunk(v.mv_data, v.mv_size, dst, cap, len, verify);
    } else if (rc == MDB_NOTFOUND) {
        ret = CACHE_STORE_ENOTFOUND;
    } else {
        common_log_error("store: chunk get: %s", mdb_strerror(rc));
        ret = CACHE_STORE_EIO;
    }
    mdb_txn_reset(r->txn);
    return ret;
}

/* A chunk is written once under its (oid, index) and never changed (a new body gets a new oid), so unlike a
 * record, a chunk that is not queued may be read from the map even while other writes are pending. */
int cache_store_read_chunk_pinned(cache_store_reader_t *r, uint64_t oid, uint32_t index, bool verify, h2o_iovec_t *out,
                                  cache_store_pin_t **pin)
{
    uint8_t kb[12];
    MDB_val k = {sizeof(kb), kb}, v;
    cache_store_pin_t *p;
    int rc, ret = 0;

    if (!r->store->usable)
        return CACHE_STORE_ENOTFOUND;
    if (r->pins_out >= CACHE_STORE_MAX_PINS)
        return CACHE_STORE_EBUSY;
    if (atomic_load_explicit(&r->store->pending.count, memory_order_acquire) != 0) {
        pthread_mutex_lock(&r->store->mutex);
        bool queued = cache_store_pending_chunk(r->store, oid, index) != NULL;
        pthread_mutex_unlock(&r->store->mutex);
        if (queued)
            return CACHE_STORE_EBUSY; /* only in memory yet: the copy reads it from the queue */
    }
    if ((p = take_pin(r)) == NULL)
        return CACHE_STORE_EBUSY;
    chunk_key(kb, oid, index);
    if ((rc = mdb_get(p->txn, r->store->chunks, &k, &v)) == 0) {
        size_t n;
        if ((ret = check_chunk(v.mv_data, v.mv_size, verify, &n)) == 0)
            *out = h2o_iovec_init(v.mv_data, n); /* checked on the very bytes that will be sent */
    } else if (rc == MDB_NOTFOUND) {
        ret = CACHE_STORE_ENOTFOUND;
    } else {
        common_log_error("store: chunk get: %s", mdb_strerror(rc));
        ret = CACHE_STORE_EIO;
    }
    if (ret != 0) {
        cache_store_unpin(r, p);
        return ret;
    }
    *pin = p;
    return 0;
}

bool cache_store_needs_verify(cache_store_reader_t *r, const cache_hash_t *hash, uint32_t epoch)
{
    if (epoch == r->store->epoch)
        return false;
    uint64_t tag = hash_tag(hash);
    for (size_t i = tag % VERIFIED_SLOTS, n = 0; n != VERIFIED_SLOTS && r->verified[i] != 0; i = (i + 1) % VERIFIED_SLOTS, ++n)
        if (r->verified[i] == tag)
            return false;
    return true;
}

void cache_store_mark_verified(cache_store_reader_t *r, const cache_hash_t *hash)
{
    uint64_t tag = hash_tag(hash);
    if (r->num_verified >= VERIFIED_SLOTS * 3 / 4) { /* forget them all: they will be verified once more */
        memset(r->verified, 0, sizeof(r->verified));
        r->num_verified = 0;
    }
    size_t i = tag % VERIFIED_SLOTS;
    while (r->verified[i] != 0 && r->verified[i] != tag)
        i = (i + 1) % VERIFIED_SLOTS;
    if (r->verified[i] == 0) {
        r->verified[i] = tag;
        ++r->num_verified;
    }
}

/* --- uses, collected per reader and handed to the writer for eviction order (cache/store_evict.c) ---- */

_Static_assert(TOUCH_SLOTS <= UINT16_MAX, "touch_slot holds an index + 1 of touched[] in a uint16_t");

void cache_store_touch(cache_store_reader_t *r, const cache_hash_t *hash)
{
    uint64_t tag = hash_tag(hash);
    size_t i = tag % TOUCH_SLOTS;
    while (r->touch_slot[i] != 0) {
        if (memcmp(r->touched[r->touch_slot[i] - 1].bytes, hash->bytes, sizeof(hash->bytes)) == 0)
            return; /* already noted since the last hand-over */
        i = (i + 1) % TOUCH_SLOTS;
    }
    r->touched[r->num_touched] = *hash;
    r->touch_slot[i] = (uint16_t)++r->num_touched;
    if (r->num_touched >= TOUCH_SLOTS * 3 / 4)
        cache_store_reader_tick(r);
}

void cache_store_reader_tick(cache_store_reader_t *r)
{
    if (r->num_touched == 0)
        return;
    cache_store_post(r->store, MSG_TOUCH, NULL, (uint64_t)time(NULL), 0, r->touched, r->num_touched * sizeof(r->touched[0]));
    r->num_touched = 0;
    memset(r->touch_slot, 0, sizeof(r->touch_slot));
}
