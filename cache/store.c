/*
 * cache/store.c: the LMDB store and its writer thread.
 *
 * Invariants that are easy to break:
 * - A read transaction lives for one lookup only (renew → get → copy → reset). Holding one across an
 *   event-loop wait would pin every page the writer frees meanwhile, and the map would grow without
 *   bound (the hit-path prototype measured +595 MiB in 40 s with one transaction per response).
 * - Only the writer thread opens write transactions, and it applies messages in queue order, so the
 *   chunks of an object are committed no later than the record that names them.
 * - Readers see every write as soon as it is queued: records, deletions and chunks that the writer has
 *   not committed yet are found in the pending index first. Otherwise an object just fetched would be a
 *   miss again until the next commit, and a second origin request would follow.
 * - A record that names chunks is written only when its first and last chunks are in the database, so
 *   a chunk that did not fit can never leave a record without its body.
 * - The map keeps headroom. LMDB deletes copy-on-write, so a map full to the last page cannot even
 *   delete; the writer therefore evicts objects (chosen at random: XXX, least-recently-used order is the
 *   size-budget work) before a batch that would take the map past HIGH_WATER, down to LOW_WATER. MDB_MAP_FULL never reaches a
 * caller: a batch that still does not fit is retried after a larger eviction, then with deletions only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <lmdb.h>
#include "cache/record.h"
#include "cache/store.h"
#include "edge/log.h"

#define SYNC_INTERVAL_SEC 5
#define PENDING_BUCKETS 1024
#define QUEUE_MAX_BYTES ((size_t)64 << 20) /* writes beyond this backlog are dropped, never waited for */
#define BATCH_MAX_BYTES ((size_t)32 << 20) /* one write transaction takes at most this much */
#define HIGH_WATER 0.85                    /* evict when more than this share of the map is in use... */
#define LOW_WATER 0.70                     /* ...down to this share */

static char oid_hwm_key[] = "oid_hwm"; /* in the info database: the highest oid ever used, plus one */

typedef enum en_msg_type_t { MSG_CHUNK, MSG_RECORD, MSG_DISCARD, MSG_DELETE } msg_type_t;

typedef struct st_msg_t {
    struct st_msg_t *next;
    h2o_linklist_t pending; /* in the pending index until committed (records, deletions, chunks) */
    msg_type_t type;
    cache_hash_t hash;
    uint64_t oid;
    uint32_t index; /* MSG_CHUNK: the chunk; MSG_DISCARD: the number of chunks */
    size_t len;
    uint8_t data[];
} msg_t;

struct st_cache_store_t {
    MDB_env *env;
    MDB_dbi objects, chunks, info;
    int lock_fd;
    atomic_uint_fast64_t next_oid;
    pthread_t writer;
    pthread_mutex_t mutex;
    pthread_cond_t cond;      /* signalled when a message is queued or stopping is set */
    pthread_cond_t committed; /* broadcast after each batch */
    msg_t *head, **tail;
    uint64_t queued_seq, committed_seq;      /* messages queued / applied so far, for cache_store_flush */
    size_t queued_bytes;                     /* payload bytes in the queue */
    atomic_size_t backlog;                   /* payload bytes queued and not yet committed */
    atomic_uint_fast64_t dropped_writes;     /* writes dropped because the backlog was full */
    size_t bytes_since_usage_check;          /* writer only */
    h2o_linklist_t pending[PENDING_BUCKETS]; /* queued, uncommitted writes by key, newest first */
    atomic_size_t num_pending;               /* readers skip the index (and its lock) when it is empty */
    int stopping;
    /* writer thread only */
    size_t map_pages;
    uint64_t evicted_objects;
};

struct st_cache_store_pin_t {
    cache_store_pin_t *next; /* in the reader's free list */
    MDB_txn *txn;            /* open while pinned, reset while free */
};

struct st_cache_store_reader_t {
    cache_store_t *store;
    MDB_txn *txn; /* reset between uses; NULL until first use */
    cache_store_pin_t *free_pins;
    unsigned pins_out;
};

const char *cache_store_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case CACHE_STORE_ENOTFOUND:
        return "not found";
    case CACHE_STORE_EIO:
        return "store I/O error";
    case CACHE_STORE_ETOOBIG:
        return "chunk larger than buffer";
    case CACHE_STORE_EBUSY:
        return "no pin available";
    default:
        return "unknown store error";
    }
}

static void chunk_key(uint8_t buf[12], uint64_t oid, uint32_t index)
{
    /* big-endian, so the chunks of one object are adjacent and in order */
    for (int i = 0; i != 8; ++i)
        buf[i] = (uint8_t)(oid >> (56 - 8 * i));
    for (int i = 0; i != 4; ++i)
        buf[8 + i] = (uint8_t)(index >> (24 - 8 * i));
}

static uint64_t chunk_key_oid(const uint8_t *buf)
{
    uint64_t oid = 0;
    for (int i = 0; i != 8; ++i)
        oid = oid << 8 | buf[i];
    return oid;
}

/* --- the pending index: writes queued but not committed yet -------------------------------------- */

static size_t pending_bucket_of_hash(const cache_hash_t *h)
{
    return ((size_t)h->bytes[0] << 8 | h->bytes[1]) % PENDING_BUCKETS;
}

static size_t pending_bucket_of_chunk(uint64_t oid, uint32_t index)
{
    return (size_t)((oid * 31 + index) % PENDING_BUCKETS);
}

/* The newest pending write to the object `hash`, or NULL. With s->mutex held. */
static msg_t *pending_record(cache_store_t *s, const cache_hash_t *hash)
{
    h2o_linklist_t *anchor = s->pending + pending_bucket_of_hash(hash);
    for (h2o_linklist_t *l = anchor->next; l != anchor; l = l->next) {
        msg_t *m = H2O_STRUCT_FROM_MEMBER(msg_t, pending, l);
        if ((m->type == MSG_RECORD || m->type == MSG_DELETE) && memcmp(m->hash.bytes, hash->bytes, sizeof(hash->bytes)) == 0)
            return m;
    }
    return NULL;
}

/* The newest pending chunk `index` of `oid`, or NULL. With s->mutex held. */
static msg_t *pending_chunk(cache_store_t *s, uint64_t oid, uint32_t index)
{
    h2o_linklist_t *anchor = s->pending + pending_bucket_of_chunk(oid, index);
    for (h2o_linklist_t *l = anchor->next; l != anchor; l = l->next) {
        msg_t *m = H2O_STRUCT_FROM_MEMBER(msg_t, pending, l);
        if (m->type == MSG_CHUNK && m->oid == oid && m->index == index)
            return m;
    }
    return NULL;
}

/* --- reads ------------------------------------------------------------------------------------- */

cache_store_reader_t *cache_store_reader_new(cache_store_t *store)
{
    cache_store_reader_t *r = h2o_mem_alloc(sizeof(*r));
    *r = (cache_store_reader_t){.store = store};
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

int cache_store_get_pinned(cache_store_reader_t *r, const cache_hash_t *hash, h2o_iovec_t *out, cache_store_pin_t **pin)
{
    MDB_val k = {CACHE_KEY_HASH_LEN, (void *)hash->bytes}, v;
    cache_store_pin_t *p;
    int rc;

    if (r->pins_out >= CACHE_STORE_MAX_PINS || atomic_load_explicit(&r->store->num_pending, memory_order_acquire) != 0)
        return CACHE_STORE_EBUSY; /* (a queued write may be newer than the map: the copying path looks there) */
    if ((p = r->free_pins) != NULL) {
        r->free_pins = p->next;
        rc = mdb_txn_renew(p->txn);
    } else {
        p = h2o_mem_alloc(sizeof(*p));
        p->txn = NULL;
        rc = mdb_txn_begin(r->store->env, NULL, MDB_RDONLY, &p->txn);
    }
    if (rc != 0) {
        edge_log_error("store: cannot begin a pinned read transaction: %s", mdb_strerror(rc));
        if (p->txn != NULL && rc != 0)
            mdb_txn_abort(p->txn);
        free(p);
        return CACHE_STORE_EBUSY; /* e.g. MDB_READERS_FULL: copy instead */
    }
    if ((rc = mdb_get(p->txn, r->store->objects, &k, &v)) != 0) {
        mdb_txn_reset(p->txn);
        p->next = r->free_pins;
        r->free_pins = p;
        return rc == MDB_NOTFOUND ? CACHE_STORE_ENOTFOUND : CACHE_STORE_EIO;
    }
    *out = h2o_iovec_init(v.mv_data, v.mv_size);
    *pin = p;
    ++r->pins_out;
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
        edge_log_error("store: cannot begin a read transaction: %s", mdb_strerror(rc));
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

    if (atomic_load_explicit(&r->store->num_pending, memory_order_acquire) != 0) {
        pthread_mutex_lock(&r->store->mutex);
        msg_t *m = pending_record(r->store, hash);
        ret = m == NULL ? 1 : m->type == MSG_RECORD ? 0 : CACHE_STORE_ENOTFOUND;
        if (ret == 0) {
            out->base = h2o_mem_alloc_pool(pool, m->len);
            out->len = m->len;
            memcpy(out->base, m->data, m->len);
        }
        pthread_mutex_unlock(&r->store->mutex); /* m may be freed by the writer from here on */
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
    } else if (rc == MDB_NOTFOUND) {
        ret = CACHE_STORE_ENOTFOUND;
    } else {
        edge_log_error("store: get: %s", mdb_strerror(rc));
        ret = CACHE_STORE_EIO;
    }
    mdb_txn_reset(r->txn);
    return ret;
}

int cache_store_read_chunk(cache_store_reader_t *r, uint64_t oid, uint32_t index, void *dst, size_t cap, size_t *len)
{
    uint8_t kb[12];
    MDB_val k = {sizeof(kb), kb}, v;
    int rc, ret;

    chunk_key(kb, oid, index);
    if (atomic_load_explicit(&r->store->num_pending, memory_order_acquire) != 0) {
        pthread_mutex_lock(&r->store->mutex);
        msg_t *m = pending_chunk(r->store, oid, index);
        if (m != NULL && m->len <= cap) {
            memcpy(dst, m->data, m->len);
            *len = m->len;
        }
        ret = m == NULL ? 1 : m->len <= cap ? 0 : CACHE_STORE_ETOOBIG;
        pthread_mutex_unlock(&r->store->mutex);
        if (ret != 1)
            return ret;
    }
    if ((ret = begin_read(r)) != 0)
        return ret;
    if ((rc = mdb_get(r->txn, r->store->chunks, &k, &v)) == 0) {
        if (v.mv_size > cap) {
            ret = CACHE_STORE_ETOOBIG;
        } else {
            memcpy(dst, v.mv_data, v.mv_size);
            *len = v.mv_size;
            ret = 0;
        }
    } else if (rc == MDB_NOTFOUND) {
        ret = CACHE_STORE_ENOTFOUND;
    } else {
        edge_log_error("store: chunk get: %s", mdb_strerror(rc));
        ret = CACHE_STORE_EIO;
    }
    mdb_txn_reset(r->txn);
    return ret;
}

/* --- writes: queued, applied by the writer thread ----------------------------------------------- */

static void enqueue(cache_store_t *s, msg_type_t type, const cache_hash_t *hash, uint64_t oid, uint32_t index, const void *data,
                    size_t len)
{
    /* a loop never waits for the writer: when the writer is this far behind, new objects are simply not
     * stored (a chunk dropped here makes its record be dropped too); deletions always go through */
    if ((type == MSG_CHUNK || type == MSG_RECORD) && atomic_load_explicit(&s->backlog, memory_order_relaxed) > QUEUE_MAX_BYTES) {
        atomic_fetch_add_explicit(&s->dropped_writes, 1, memory_order_relaxed);
        cache_record_t rec;
        if (type == MSG_RECORD && cache_record_decode(&rec, data, len) == 0 && rec.oid != 0 && rec.chunk_size != 0)
            enqueue(s, MSG_DISCARD, NULL, rec.oid, (uint32_t)((rec.body_len + rec.chunk_size - 1) / rec.chunk_size), NULL, 0);
        return; /* (a record dropped here takes the chunks it names with it, so none is left an orphan) */
    }
    msg_t *m = h2o_mem_alloc(offsetof(msg_t, data) + len);
    m->next = NULL;
    m->pending = (h2o_linklist_t){NULL, NULL};
    m->type = type;
    if (hash != NULL)
        m->hash = *hash;
    m->oid = oid;
    m->index = index;
    m->len = len;
    if (len != 0)
        memcpy(m->data, data, len);
    pthread_mutex_lock(&s->mutex);
    *s->tail = m;
    s->tail = &m->next;
    if (type == MSG_RECORD || type == MSG_DELETE || type == MSG_CHUNK) {
        h2o_linklist_t *anchor =
            s->pending + (type == MSG_CHUNK ? pending_bucket_of_chunk(oid, index) : pending_bucket_of_hash(hash));
        h2o_linklist_insert(anchor->next, &m->pending); /* newest first */
        atomic_fetch_add_explicit(&s->num_pending, 1, memory_order_release);
    }
    ++s->queued_seq;
    s->queued_bytes += len;
    atomic_fetch_add_explicit(&s->backlog, len, memory_order_relaxed);
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mutex);
}

uint64_t cache_store_new_oid(cache_store_t *store)
{
    return atomic_fetch_add(&store->next_oid, 1);
}

void cache_store_put_chunk(cache_store_t *store, uint64_t oid, uint32_t index, const void *data, size_t len)
{
    enqueue(store, MSG_CHUNK, NULL, oid, index, data, len);
}

void cache_store_put_record(cache_store_t *store, const cache_hash_t *hash, const void *record, size_t len)
{
    enqueue(store, MSG_RECORD, hash, 0, 0, record, len);
}

void cache_store_discard(cache_store_t *store, uint64_t oid, uint32_t nchunks)
{
    if (nchunks != 0)
        enqueue(store, MSG_DISCARD, NULL, oid, nchunks, NULL, 0);
}

void cache_store_delete(cache_store_t *store, const cache_hash_t *hash)
{
    enqueue(store, MSG_DELETE, hash, 0, 0, NULL, 0);
}

void cache_store_flush(cache_store_t *s)
{
    pthread_mutex_lock(&s->mutex);
    uint64_t target = s->queued_seq;
    while (s->committed_seq < target)
        pthread_cond_wait(&s->committed, &s->mutex);
    pthread_mutex_unlock(&s->mutex);
}

static bool chunk_exists(cache_store_t *s, MDB_txn *txn, uint64_t oid, uint32_t index)
{
    uint8_t kb[12];
    MDB_val k = {sizeof(kb), kb}, v;
    chunk_key(kb, oid, index);
    return mdb_get(txn, s->chunks, &k, &v) == 0;
}

static void delete_chunks(cache_store_t *s, MDB_txn *txn, uint64_t oid, uint32_t n)
{
    uint8_t kb[12];
    MDB_val k = {sizeof(kb), kb};
    for (uint32_t i = 0; i != n; ++i) {
        chunk_key(kb, oid, i);
        mdb_del(txn, s->chunks, &k, NULL);
    }
}

/* Deletes the chunks of the record currently under `k`, unless it names `keep_oid`. */
static void delete_old_body(cache_store_t *s, MDB_txn *txn, MDB_val *k, uint64_t keep_oid)
{
    MDB_val v;
    cache_record_t old;
    if (mdb_get(txn, s->objects, k, &v) != 0 || cache_record_decode(&old, v.mv_data, v.mv_size) != 0)
        return; /* a corrupt old record: its chunks (if any) stay as orphans; never trust its lengths */
    if (old.oid != 0 && old.oid != keep_oid && old.chunk_size != 0)
        delete_chunks(s, txn, old.oid, (uint32_t)((old.body_len + old.chunk_size - 1) / old.chunk_size));
}

/* Applies one message; returns an LMDB error. With `deletes_only`, puts are skipped (after MAP_FULL). */
static int apply(cache_store_t *s, MDB_txn *txn, msg_t *m, bool deletes_only, uint64_t *oid_hwm)
{
    switch (m->type) {
    case MSG_CHUNK: {
        uint8_t kb[12];
        MDB_val k = {sizeof(kb), kb}, v = {m->len, m->data};
        if (deletes_only)
            return 0;
        chunk_key(kb, m->oid, m->index);
        if (m->oid >= *oid_hwm)
            *oid_hwm = m->oid + 1;
        return mdb_put(txn, s->chunks, &k, &v, 0);
    }
    case MSG_RECORD: {
        MDB_val k = {CACHE_KEY_HASH_LEN, m->hash.bytes}, v = {m->len, m->data};
        cache_record_t rec;
        if (deletes_only || cache_record_decode(&rec, m->data, m->len) != 0)
            return 0;
        if (rec.oid != 0 && rec.chunk_size != 0) {
            uint32_t n = (uint32_t)((rec.body_len + rec.chunk_size - 1) / rec.chunk_size);
            if (n == 0 || !chunk_exists(s, txn, rec.oid, 0) || !chunk_exists(s, txn, rec.oid, n - 1)) {
                /* its body did not fit: never store a record without its chunks, and drop what did fit */
                delete_chunks(s, txn, rec.oid, n);
                return 0;
            }
        }
        delete_old_body(s, txn, &k, rec.oid);
        return mdb_put(txn, s->objects, &k, &v, 0);
    }
    case MSG_DISCARD:
        delete_chunks(s, txn, m->oid, m->index);
        return 0;
    case MSG_DELETE: {
        MDB_val k = {CACHE_KEY_HASH_LEN, m->hash.bytes};
        delete_old_body(s, txn, &k, 0);
        int rc = mdb_del(txn, s->objects, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    }
    return 0;
}

/* Pages in use: the high-water page of the file minus the pages on LMDB's free list. */
static double map_usage(cache_store_t *s)
{
    MDB_envinfo info;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t free_pages = 0;

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

/* Deletes objects from a random point of the key space on, until about `pages` pages are freed. */
static void evict(cache_store_t *s, size_t pages)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    uint8_t start[CACHE_KEY_HASH_LEN];
    MDB_val k = {sizeof(start), start}, v;
    size_t freed = 0, n = 0, page_size = (size_t)sysconf(_SC_PAGESIZE);
    bool wrapped = false;
    int rc;

    for (size_t i = 0; i != sizeof(start); ++i)
        start[i] = (uint8_t)rand();
    if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
        return;
    if (mdb_cursor_open(txn, s->objects, &cur) != 0) {
        mdb_txn_abort(txn);
        return;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (freed < pages) {
        if (rc == MDB_NOTFOUND && !wrapped) {
            wrapped = true;
            rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
            continue;
        }
        if (rc != 0)
            break;
        cache_record_t rec;
        size_t bytes = v.mv_size;
        if (cache_record_decode(&rec, v.mv_data, v.mv_size) == 0 && rec.chunk_size != 0) {
            bytes += rec.body_len;
            delete_chunks(s, txn, rec.oid, (uint32_t)((rec.body_len + rec.chunk_size - 1) / rec.chunk_size));
        }
        if (mdb_cursor_del(cur, 0) != 0)
            break;
        freed += (bytes + page_size - 1) / page_size;
        ++n;
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        if (rc == 0 && wrapped && memcmp(k.mv_data, start, sizeof(start)) >= 0)
            break; /* went all the way round */
        if (rc != 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if ((rc = mdb_txn_commit(txn)) == 0) {
        s->evicted_objects += n;
        edge_log_info("store: evicted %zu objects (about %zu MiB) to keep room in the map", n, freed * page_size >> 20);
    } else {
        edge_log_error("store: eviction failed: %s", mdb_strerror(rc));
    }
}

/* Makes room before a batch of about `batch_bytes`: the map stays under HIGH_WATER with the batch in it
 * (counted twice: copy-on-write touches branch pages too), or, with `force`, frees a tenth of it more. */
static void keep_headroom(cache_store_t *s, size_t batch_bytes, bool force)
{
    /* counting the free pages walks LMDB's free list: do it only after about 1 % of the map was written */
    s->bytes_since_usage_check += batch_bytes;
    if (!force && s->bytes_since_usage_check < s->map_pages * (size_t)sysconf(_SC_PAGESIZE) / 100)
        return;
    s->bytes_since_usage_check = 0;
    double usage = map_usage(s), batch = 2.0 * (double)batch_bytes / (double)sysconf(_SC_PAGESIZE) / (double)s->map_pages;
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

static int commit_batch(cache_store_t *s, msg_t *batch, bool deletes_only)
{
    MDB_txn *txn;
    uint64_t oid_hwm = 0;
    int rc;

    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        return rc;
    for (msg_t *m = batch; m != NULL; m = m->next)
        if ((rc = apply(s, txn, m, deletes_only, &oid_hwm)) != 0)
            goto Fail;
    if (oid_hwm != 0) {
        MDB_val k = {sizeof(oid_hwm_key) - 1, oid_hwm_key}, v = {sizeof(oid_hwm), &oid_hwm};
        if ((rc = mdb_put(txn, s->info, &k, &v, 0)) != 0)
            goto Fail;
    }
    return mdb_txn_commit(txn);
Fail:
    mdb_txn_abort(txn);
    return rc;
}

static void *writer_main(void *arg)
{
    cache_store_t *s = arg;
    time_t last_sync = time(NULL);
    bool dirty = false;

    pthread_mutex_lock(&s->mutex);
    for (;;) {
        while (s->head == NULL && !s->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&s->cond, &s->mutex, &until);
            if (dirty && time(NULL) - last_sync >= SYNC_INTERVAL_SEC)
                break;
        }
        if (s->head == NULL && s->stopping)
            break;
        /* take the whole queue: one transaction per batch, however many messages arrived */
        /* take up to BATCH_MAX_BYTES off the queue: one transaction per batch, however many messages */
        msg_t *batch = s->head, **cut = &s->head;
        size_t batch_bytes = 0;
        uint64_t seq = s->committed_seq;
        while (*cut != NULL && (batch_bytes < BATCH_MAX_BYTES || cut == &s->head)) {
            batch_bytes += (*cut)->len;
            ++seq;
            cut = &(*cut)->next;
        }
        s->head = *cut;
        *cut = NULL;
        if (s->head == NULL)
            s->tail = &s->head;
        s->queued_bytes -= batch_bytes;
        pthread_mutex_unlock(&s->mutex);

        if (batch != NULL) {
            keep_headroom(s, batch_bytes, false);
            int rc = commit_batch(s, batch, false);
            if (rc == MDB_MAP_FULL) {
                keep_headroom(s, batch_bytes, true); /* make room, then try once more */
                rc = commit_batch(s, batch, false);
            }
            if (rc == MDB_MAP_FULL) {
                edge_log_warn("store: the cache is full (%s); the objects of this batch are not stored", mdb_strerror(rc));
                rc = commit_batch(s, batch, true);
            }
            if (rc != 0)
                edge_log_error("store: write transaction failed: %s", mdb_strerror(rc));
            dirty = true;
        }
        /* committed (or dropped): out of the pending index, so readers go to LMDB */
        atomic_fetch_sub_explicit(&s->backlog, batch_bytes, memory_order_relaxed);
        pthread_mutex_lock(&s->mutex);
        for (msg_t *m = batch; m != NULL; m = m->next) {
            if (h2o_linklist_is_linked(&m->pending)) {
                h2o_linklist_unlink(&m->pending);
                atomic_fetch_sub_explicit(&s->num_pending, 1, memory_order_release);
            }
        }
        pthread_mutex_unlock(&s->mutex);
        while (batch != NULL) {
            msg_t *next = batch->next;
            free(batch);
            batch = next;
        }
        if (dirty && time(NULL) - last_sync >= SYNC_INTERVAL_SEC) {
            mdb_env_sync(s->env, 1);
            last_sync = time(NULL);
            dirty = false;
        }

        pthread_mutex_lock(&s->mutex);
        if (seq > s->committed_seq)
            s->committed_seq = seq;
        pthread_cond_broadcast(&s->committed);
    }
    pthread_mutex_unlock(&s->mutex);
    return NULL;
}

/* --- open / close -------------------------------------------------------------------------------- */

static uint64_t initial_oid(cache_store_t *s)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k = {sizeof(oid_hwm_key) - 1, oid_hwm_key}, v;
    uint64_t oid = 1;

    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return oid;
    if (mdb_get(txn, s->info, &k, &v) == 0 && v.mv_size == sizeof(uint64_t))
        memcpy(&oid, v.mv_data, sizeof(oid));
    if (mdb_cursor_open(txn, s->chunks, &cur) == 0) {
        if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 12 && chunk_key_oid(k.mv_data) >= oid)
            oid = chunk_key_oid(k.mv_data) + 1;
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return oid < 1 ? 1 : oid;
}

cache_store_t *cache_store_open(const char *dir, uint64_t map_size, unsigned max_readers, char *err, size_t errlen)
{
    cache_store_t *s = h2o_mem_alloc(sizeof(*s));
    char path[PATH_MAX];
    MDB_txn *txn = NULL;
    int rc;

    memset(s, 0, sizeof(*s));
    s->lock_fd = -1;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create cache directory %s: %s", dir, strerror(errno));
        goto Fail;
    }
    snprintf(path, sizeof(path), "%s/edgecache.lock", dir);
    if ((s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto Fail;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "cache directory %s is in use by another edgecache process", dir);
        goto Fail;
    }
    if ((rc = mdb_env_create(&s->env)) != 0 || (rc = mdb_env_set_mapsize(s->env, (size_t)map_size)) != 0 ||
        (rc = mdb_env_set_maxreaders(s->env, max_readers)) != 0 || (rc = mdb_env_set_maxdbs(s->env, 8)) != 0) {
        snprintf(err, errlen, "cannot set up LMDB: %s", mdb_strerror(rc));
        goto Fail;
    }
    /* NOSYNC: a process crash loses nothing (committed pages are in the page cache); an OS crash may lose
     * the last few seconds of writes, which for a cache only means a few more misses. The writer syncs
     * every SYNC_INTERVAL_SEC. NOTLS: read transactions are pooled per loop, not per OS thread. */
    if ((rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NOSYNC | MDB_NOMETASYNC, 0644)) != 0) {
        snprintf(err, errlen, "cannot open LMDB environment in %s: %s", dir, mdb_strerror(rc));
        goto Fail;
    }
    int dead = 0;
    mdb_reader_check(s->env, &dead); /* clear slots left by a reader that was killed */
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0 || (rc = mdb_dbi_open(txn, "objects", MDB_CREATE, &s->objects)) != 0 ||
        (rc = mdb_dbi_open(txn, "chunks", MDB_CREATE, &s->chunks)) != 0 ||
        (rc = mdb_dbi_open(txn, "info", MDB_CREATE, &s->info)) != 0 || (rc = mdb_txn_commit(txn)) != 0) {
        if (txn != NULL && rc != 0)
            mdb_txn_abort(txn);
        snprintf(err, errlen, "cannot open LMDB databases in %s: %s", dir, mdb_strerror(rc));
        goto Fail;
    }
    atomic_init(&s->next_oid, initial_oid(s));
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->map_pages = info.me_mapsize / (size_t)sysconf(_SC_PAGESIZE);
    pthread_mutex_init(&s->mutex, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_cond_init(&s->committed, NULL);
    s->tail = &s->head;
    for (size_t i = 0; i != PENDING_BUCKETS; ++i)
        h2o_linklist_init_anchor(s->pending + i);
    atomic_init(&s->num_pending, 0);
    atomic_init(&s->backlog, 0);
    atomic_init(&s->dropped_writes, 0);
    if ((rc = pthread_create(&s->writer, NULL, writer_main, s)) != 0) {
        snprintf(err, errlen, "cannot start the writer thread: %s", strerror(rc));
        goto Fail;
    }
    return s;

Fail:
    if (s->env != NULL)
        mdb_env_close(s->env);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s);
    return NULL;
}

void cache_store_close(cache_store_t *s)
{
    pthread_mutex_lock(&s->mutex);
    s->stopping = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mutex);
    pthread_join(s->writer, NULL);
    mdb_env_sync(s->env, 1);
    mdb_env_close(s->env);
    close(s->lock_fd);
    pthread_mutex_destroy(&s->mutex);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->committed);
    free(s);
}
