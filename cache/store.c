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
 *   delete; the writer therefore evicts objects, least recently used first, before a batch that would take
 *   the map past HIGH_WATER, down to LOW_WATER. MDB_MAP_FULL never reaches a caller: a batch that still
 *   does not fit is retried after a larger eviction, then with deletions only.
 * - The secondary indexes are derived from the record alone, by the writer, whenever a record is put or
 *   deleted: "urls" (the key's URL part → hashes, for purge by URL and by prefix), "tags" (each
 *   Surrogate-Key / Cache-Tag → hashes), "atime" (hash → last use, in seconds) and "lru" ((last use,
 *   hash) → nothing, in use order, for eviction). Every path that removes a record goes through
 *   delete_object, so no index ever names a hash that the objects database lost without it.
 * - Recency costs a hit no write: loops collect the hashes they served and hand them to the writer in
 *   batches (MSG_TOUCH), about once a second; the writer moves an object in the lru index only when its
 *   last-use second changed. Eviction order is therefore LRU at one-second granularity, over the uses
 *   reported so far (bench/README.md measures how close that is to exact LRU).
 * - Bodies carry checksums (a CRC-32 trailer on each chunk, body_crc in a record with an inline body),
 *   computed when queued. A record written before the store's latest open (an older epoch) may predate a
 *   crash or a bad disk, so its body is verified when read (cache_store_needs_verify).
 */
#include <dirent.h>
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
#include "cache/checksum.h"
#include "cache/record.h"
#include "cache/store.h"
#include "cache/ttl.h"
#include "common/log.h"

#define SYNC_INTERVAL_SEC 5
#define PENDING_BUCKETS 1024
#define QUEUE_MAX_BYTES ((size_t)128 << 20) /* writes beyond this backlog are dropped, never waited for */
#define BATCH_MAX_BYTES ((size_t)32 << 20)  /* one write transaction takes at most this much */
#define HIGH_WATER 0.85                     /* evict when more than this share of the map is in use... */
#define LOW_WATER 0.70                      /* ...down to this share */

#define URL_INDEX_MAX 400   /* bytes of a URL kept in the urls index (LMDB keys are at most 511 bytes) */
#define TAG_MAX 256         /* bytes of one tag; longer ones are not indexed */
#define TAGS_MAX 64         /* tags indexed per object */
#define TOUCH_SLOTS 1024    /* hashes a reader collects before it hands them to the writer */
#define VERIFIED_SLOTS 8192 /* objects of an older epoch a reader remembers as verified */
#define EVICTED_SLOTS 65536 /* evictions remembered, for cache_store_recently_evicted */
#define PURGE_SLICE 20000   /* objects one purge step touches in one transaction */
#define PURGE_HISTORY 1024  /* invalidations whose status is kept */
#define PURGE_BARRIER_S 600 /* how long a purge keeps refusing records fetched before it */
#define CHUNK_TRAILER 4     /* the CRC-32 after each chunk's bytes */

static char oid_hwm_key[] = "oid_hwm";     /* in the info database: the highest oid ever used, plus one */
static char epoch_key[] = "epoch";         /* ...: how many times the store was opened for writing */
static char purge_seq_key[] = "purge_seq"; /* ...: the last invalidation id handed out */

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

typedef struct st_purge_entry_t {
    cache_store_purge_status_t st; /* records requested before it (a lower purge sequence) and matching are refused */
    char *target;                  /* the whole target (st.target is cut for display) */
    size_t target_len;
} purge_entry_t;

/* What a purge slice did, made known only once its transaction is committed (a batch may be retried). */
typedef struct st_purge_effect_t {
    const struct st_msg_t *msg;
    uint64_t objects;
    bool more;
} purge_effect_t;

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
    pthread_t writer, syncer;
    pthread_cond_t sync_cond; /* wakes the syncer to stop */
    atomic_bool dirty;        /* committed since the last sync */
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
    MDB_dbi aux, urls, tags, atime, lru, owners;
    uint64_t sweep_next, sweep_limit; /* the orphan sweep: oids below sweep_limit (older runs'), from sweep_next on */
    uint64_t swept_chunks;
    bool readonly;
    uint32_t epoch;
    atomic_uint_fast64_t evicted_objects, purged_objects;
    uint64_t purge_seq;                 /* under mutex */
    atomic_uint_fast64_t purge_seq_pub; /* its value, for readers without the mutex */
    atomic_uint pending_purges;         /* invalidations queued and not finished: readers apply them */
    purge_effect_t *effects;            /* writer only: of the batch being committed */
    size_t num_effects, cap_effects;
    purge_entry_t purges[PURGE_HISTORY]; /* under mutex; slot id % PURGE_HISTORY */
    struct {                             /* written by the writer, read by any thread, racy by design: a torn */
        atomic_uint_fast64_t tag;        /* entry only makes one miss counted as something else */
        atomic_uint_fast32_t when;
    } evicted[EVICTED_SLOTS];
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
    cache_hash_t touched[TOUCH_SLOTS]; /* used since the last hand-over, without duplicates */
    uint16_t touch_slot[TOUCH_SLOTS];  /* open addressing over `touched`: index + 1, 0 = free */
    size_t num_touched;
    uint64_t verified[VERIFIED_SLOTS]; /* hash prefixes of older-epoch objects whose body checked out */
    size_t num_verified;
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
    case CACHE_STORE_ECORRUPT:
        return "stored body fails its checksum";
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

static void chunk_key_oid_only(uint8_t buf[8], uint64_t oid)
{
    for (int i = 0; i != 8; ++i)
        buf[i] = (uint8_t)(oid >> (56 - 8 * i));
}

static uint64_t chunk_key_oid(const uint8_t *buf)
{
    uint64_t oid = 0;
    for (int i = 0; i != 8; ++i)
        oid = oid << 8 | buf[i];
    return oid;
}

static int apply_pending_purges(cache_store_t *s, uint8_t *copy, size_t len);

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

    if (r->pins_out >= CACHE_STORE_MAX_PINS || atomic_load_explicit(&r->store->num_pending, memory_order_acquire) != 0 ||
        atomic_load_explicit(&r->store->pending_purges, memory_order_acquire) != 0)
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
        common_log_error("store: cannot begin a pinned read transaction: %s", mdb_strerror(rc));
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
        if (ret == 0 && atomic_load_explicit(&r->store->pending_purges, memory_order_acquire) != 0)
            ret = apply_pending_purges(r->store, (uint8_t *)out->base, out->len);
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
        if (atomic_load_explicit(&r->store->pending_purges, memory_order_acquire) != 0)
            ret = apply_pending_purges(r->store, (uint8_t *)out->base, out->len);
    } else if (rc == MDB_NOTFOUND) {
        ret = CACHE_STORE_ENOTFOUND;
    } else {
        common_log_error("store: get: %s", mdb_strerror(rc));
        ret = CACHE_STORE_EIO;
    }
    mdb_txn_reset(r->txn);
    return ret;
}

/* Copies the bytes of a chunk value (data, then its CRC-32 trailer) into `dst`. */
static int copy_chunk(const uint8_t *v, size_t vlen, void *dst, size_t cap, size_t *len, bool verify)
{
    if (vlen < CHUNK_TRAILER)
        return CACHE_STORE_ECORRUPT;
    size_t n = vlen - CHUNK_TRAILER;
    if (n > cap)
        return CACHE_STORE_ETOOBIG;
    if (verify) {
        uint32_t crc = (uint32_t)v[n] | (uint32_t)v[n + 1] << 8 | (uint32_t)v[n + 2] << 16 | (uint32_t)v[n + 3] << 24;
        if (cache_checksum(v, n) != crc)
            return CACHE_STORE_ECORRUPT;
    }
    memcpy(dst, v, n);
    *len = n;
    return 0;
}

int cache_store_read_chunk(cache_store_reader_t *r, uint64_t oid, uint32_t index, void *dst, size_t cap, size_t *len, bool verify)
{
    uint8_t kb[12];
    MDB_val k = {sizeof(kb), kb}, v;
    int rc, ret;

    chunk_key(kb, oid, index);
    if (atomic_load_explicit(&r->store->num_pending, memory_order_acquire) != 0) {
        pthread_mutex_lock(&r->store->mutex);
        msg_t *m = pending_chunk(r->store, oid, index);
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

static uint64_t hash_tag(const cache_hash_t *h)
{
    uint64_t t;
    memcpy(&t, h->bytes, sizeof(t));
    return t | 1; /* never 0, the mark of a free slot */
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

/* --- writes: queued, applied by the writer thread ----------------------------------------------- */

static void post(cache_store_t *s, msg_type_t type, const cache_hash_t *hash, uint64_t oid, uint32_t index, const void *data,
                 size_t len);
static void publish(cache_store_t *s, msg_t *m);
static void tag_matches(void *ctx, h2o_iovec_t tag);

/* Allocates a message with room for `len` + `extra` bytes and copies `data` (when not NULL) into it; the
 * caller completes it and hands it to publish. NULL when the write is dropped. */
static msg_t *enqueue(cache_store_t *s, msg_type_t type, const cache_hash_t *hash, uint64_t oid, uint32_t index, const void *data,
                      size_t len, size_t extra)
{
    /* a loop never waits for the writer: when the writer is this far behind, new objects are simply not
     * stored (a chunk dropped here makes its record be dropped too); deletions always go through */
    if ((type == MSG_CHUNK || type == MSG_RECORD || type == MSG_TOUCH) &&
        atomic_load_explicit(&s->backlog, memory_order_relaxed) > QUEUE_MAX_BYTES) {
        atomic_fetch_add_explicit(&s->dropped_writes, 1, memory_order_relaxed);
        cache_record_t rec;
        if (type == MSG_RECORD && cache_record_decode(&rec, data, len) == 0 && rec.oid != 0 && rec.chunk_size != 0)
            post(s, MSG_DISCARD, NULL, rec.oid, (uint32_t)((rec.body_len + rec.chunk_size - 1) / rec.chunk_size), NULL, 0);
        return NULL; /* (a record dropped here takes the chunks it names with it, so none is left an orphan) */
    }
    msg_t *m = h2o_mem_alloc(offsetof(msg_t, data) + len + extra);
    m->next = NULL;
    m->pending = (h2o_linklist_t){NULL, NULL};
    m->type = type;
    if (hash != NULL)
        m->hash = *hash;
    m->oid = oid;
    m->index = index;
    m->len = len + extra;
    if (data != NULL && len != 0)
        memcpy(m->data, data, len);
    return m;
}

/* Queues a message built by enqueue; from here on the writer owns it. */
static void publish(cache_store_t *s, msg_t *m)
{
    pthread_mutex_lock(&s->mutex);
    *s->tail = m;
    s->tail = &m->next;
    if (m->type == MSG_RECORD || m->type == MSG_DELETE || m->type == MSG_CHUNK) {
        h2o_linklist_t *anchor =
            s->pending + (m->type == MSG_CHUNK ? pending_bucket_of_chunk(m->oid, m->index) : pending_bucket_of_hash(&m->hash));
        h2o_linklist_insert(anchor->next, &m->pending); /* newest first */
        atomic_fetch_add_explicit(&s->num_pending, 1, memory_order_release);
    }
    ++s->queued_seq;
    s->queued_bytes += m->len;
    atomic_fetch_add_explicit(&s->backlog, m->len, memory_order_relaxed);
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mutex);
}

uint64_t cache_store_new_oid(cache_store_t *store)
{
    return atomic_fetch_add(&store->next_oid, 1);
}

void cache_store_put_chunk(cache_store_t *store, uint64_t oid, uint32_t index, const void *data, size_t len)
{
    uint32_t crc = cache_checksum(data, len);
    msg_t *m = enqueue(store, MSG_CHUNK, NULL, oid, index, data, len, CHUNK_TRAILER);
    if (m != NULL) {
        for (int i = 0; i != 4; ++i)
            m->data[len + i] = (uint8_t)(crc >> (8 * i));
        publish(store, m);
    }
}

void cache_store_put_record(cache_store_t *store, const cache_hash_t *hash, const void *record, size_t len, uint64_t purge_seq)
{
    cache_record_t rec;
    msg_t *m = enqueue(store, MSG_RECORD, hash, purge_seq, 0, record, len, 0);
    if (m == NULL)
        return;
    if (cache_record_decode(&rec, m->data, m->len) == 0)
        cache_record_seal(m->data, store->epoch, rec.chunk_size == 0 ? cache_checksum(rec.body.base, rec.body.len) : 0);
    publish(store, m);
}

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
    msg_t *m = enqueue(r->store, MSG_TOUCH, NULL, (uint64_t)time(NULL), 0, r->touched, r->num_touched * sizeof(r->touched[0]), 0);
    if (m != NULL)
        publish(r->store, m);
    r->num_touched = 0;
    memset(r->touch_slot, 0, sizeof(r->touch_slot));
}

static void post(cache_store_t *s, msg_type_t type, const cache_hash_t *hash, uint64_t oid, uint32_t index, const void *data,
                 size_t len)
{
    msg_t *m = enqueue(s, type, hash, oid, index, data, len, 0);
    if (m != NULL)
        publish(s, m);
}

void cache_store_discard(cache_store_t *store, uint64_t oid, uint32_t nchunks)
{
    if (nchunks != 0)
        post(store, MSG_DISCARD, NULL, oid, nchunks, NULL, 0);
}

void cache_store_delete(cache_store_t *store, const cache_hash_t *hash)
{
    post(store, MSG_DELETE, hash, 0, 0, NULL, 0);
}

/* A message whose data is a u16 length, a first part, then a second part. */
static void post_pair(cache_store_t *s, msg_type_t type, const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen == 0 || alen > 500)
        return;
    msg_t *m = enqueue(s, type, NULL, 0, 0, NULL, 2 + alen + blen, 0);
    if (m == NULL)
        return;
    m->data[0] = (uint8_t)alen;
    m->data[1] = (uint8_t)(alen >> 8);
    memcpy(m->data + 2, a, alen);
    if (blen != 0)
        memcpy(m->data + 2 + alen, b, blen);
    publish(s, m);
}

void cache_store_put_aux(cache_store_t *store, const void *key, size_t klen, const void *val, size_t vlen)
{
    post_pair(store, MSG_AUX_PUT, key, klen, val, vlen);
}

void cache_store_delete_aux_range(cache_store_t *store, const void *from, size_t flen, const void *to, size_t tlen)
{
    post_pair(store, MSG_AUX_RANGE, from, flen, to, tlen);
}

uint64_t cache_store_purge_seq(cache_store_t *s)
{
    return atomic_load_explicit(&s->purge_seq_pub, memory_order_acquire);
}

uint64_t cache_store_purge(cache_store_t *s, cache_purge_kind_t kind, const char *target, size_t len, bool soft)
{
    pthread_mutex_lock(&s->mutex);
    uint64_t id = ++s->purge_seq;
    atomic_store_explicit(&s->purge_seq_pub, id, memory_order_release);
    purge_entry_t *e = &s->purges[id % PURGE_HISTORY];
    free(e->target);
    memset(e, 0, sizeof(*e));
    e->target = h2o_mem_alloc(len + 1);
    memcpy(e->target, target, len);
    e->target_len = len;
    e->st.id = id;
    e->st.kind = kind;
    e->st.soft = soft;
    e->st.created = (int64_t)time(NULL);
    size_t n = len < sizeof(e->st.target) - 1 ? len : sizeof(e->st.target) - 1;
    memcpy(e->st.target, target, n);
    e->st.target[n] = '\0';
    pthread_mutex_unlock(&s->mutex);
    atomic_fetch_add_explicit(&s->pending_purges, 1, memory_order_release);
    post(s, MSG_PURGE, NULL, id, (uint32_t)kind | (soft ? PURGE_SOFT : 0), target, len);
    return id;
}

bool cache_store_purge_status(cache_store_t *s, uint64_t id, cache_store_purge_status_t *out)
{
    pthread_mutex_lock(&s->mutex);
    const purge_entry_t *e = &s->purges[id % PURGE_HISTORY];
    bool found = id != 0 && e->st.id == id;
    if (found)
        *out = e->st;
    pthread_mutex_unlock(&s->mutex);
    return found;
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

/* mdb_del, where "not there" is no error */
static int del(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
    int rc = mdb_del(txn, dbi, k, v);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int delete_chunks(cache_store_t *s, MDB_txn *txn, uint64_t oid, uint32_t n)
{
    uint8_t kb[12];
    MDB_val k = {sizeof(kb), kb};
    int rc;
    for (uint32_t i = 0; i != n; ++i) {
        chunk_key(kb, oid, i);
        if ((rc = del(txn, s->chunks, &k, NULL)) != 0)
            return rc;
    }
    return 0;
}

static uint32_t num_chunks(const cache_record_t *rec)
{
    return rec->oid != 0 && rec->chunk_size != 0 ? (uint32_t)((rec->body_len + rec->chunk_size - 1) / rec->chunk_size) : 0;
}

/* --- secondary indexes, derived from the record ------------------------------------------------------ */

/* ...truncated to what the urls index keeps. */
static h2o_iovec_t url_of(h2o_iovec_t key)
{
    h2o_iovec_t url = cache_key_url(key);
    if (url.len > URL_INDEX_MAX)
        url.len = URL_INDEX_MAX;
    return url;
}

/* Calls `cb` for each tag of the record: Surrogate-Key (space-separated, Fastly) and Cache-Tag
 * (comma-separated, Cloudflare), at most TAGS_MAX, each at most TAG_MAX bytes. */
static void for_each_tag(const cache_record_t *rec, void (*cb)(void *ctx, h2o_iovec_t tag), void *ctx)
{
    h2o_iovec_t block = rec->headers, name, value;
    size_t n = 0;
    while (cache_record_next_header(&block, &name, &value)) {
        bool space = h2o_memis(name.base, name.len, H2O_STRLIT("surrogate-key"));
        if (!space && !h2o_memis(name.base, name.len, H2O_STRLIT("cache-tag")))
            continue;
        const char *p = value.base, *end = value.base + value.len;
        while (p != end && n != TAGS_MAX) {
            while (p != end && (*p == ' ' || *p == '\t' || *p == ','))
                ++p;
            const char *t = p;
            while (p != end && *p != ' ' && *p != '\t' && (space || *p != ','))
                ++p;
            if (p != t && (size_t)(p - t) <= TAG_MAX) {
                cb(ctx, h2o_iovec_init(t, p - t));
                ++n;
            }
        }
    }
}

typedef struct st_index_ctx_t {
    cache_store_t *s;
    MDB_txn *txn;
    const cache_hash_t *hash;
    bool add;
    int rc; /* the first error */
} index_ctx_t;

static void index_tag(void *_c, h2o_iovec_t tag)
{
    index_ctx_t *c = _c;
    MDB_val k = {tag.len, tag.base}, v = {CACHE_KEY_HASH_LEN, (void *)c->hash->bytes};
    int rc = c->add ? mdb_put(c->txn, c->s->tags, &k, &v, MDB_NODUPDATA) : del(c->txn, c->s->tags, &k, &v);
    if (rc != 0 && rc != MDB_KEYEXIST && c->rc == 0)
        c->rc = rc;
}

static void lru_key(uint8_t buf[4 + CACHE_KEY_HASH_LEN], uint32_t when, const cache_hash_t *hash)
{
    for (int i = 0; i != 4; ++i)
        buf[i] = (uint8_t)(when >> (24 - 8 * i)); /* big-endian: oldest first */
    memcpy(buf + 4, hash->bytes, CACHE_KEY_HASH_LEN);
}

/* Moves `hash` to `when` in the use order. With `must_exist`, only an object that has a use time already
 * (one that is stored) is moved. */
static int set_atime(cache_store_t *s, MDB_txn *txn, const cache_hash_t *hash, uint32_t when, bool must_exist)
{
    uint8_t lk[4 + CACHE_KEY_HASH_LEN];
    MDB_val k = {CACHE_KEY_HASH_LEN, (void *)hash->bytes}, v, lkv = {sizeof(lk), lk}, empty = {0, NULL};
    uint32_t old;
    int rc;

    if (mdb_get(txn, s->atime, &k, &v) == 0 && v.mv_size == sizeof(old)) {
        memcpy(&old, v.mv_data, sizeof(old));
        if (old == when)
            return 0;
        lru_key(lk, old, hash);
        if ((rc = del(txn, s->lru, &lkv, NULL)) != 0)
            return rc;
    } else if (must_exist) {
        return 0;
    }
    v = (MDB_val){sizeof(when), &when};
    if ((rc = mdb_put(txn, s->atime, &k, &v, 0)) != 0)
        return rc;
    lru_key(lk, when, hash);
    return mdb_put(txn, s->lru, &lkv, &empty, 0);
}

static int index_add(cache_store_t *s, MDB_txn *txn, const cache_hash_t *hash, const cache_record_t *rec, uint32_t now)
{
    h2o_iovec_t url = url_of(rec->key);
    MDB_val k = {url.len, url.base}, v = {CACHE_KEY_HASH_LEN, (void *)hash->bytes};
    index_ctx_t c = {s, txn, hash, true, 0};
    int rc;

    if (url.len != 0 && (rc = mdb_put(txn, s->urls, &k, &v, MDB_NODUPDATA)) != 0 && rc != MDB_KEYEXIST)
        return rc;
    if (rec->oid != 0) { /* who owns the chunks: what the orphan sweep asks */
        uint8_t ok[8];
        chunk_key_oid_only(ok, rec->oid);
        MDB_val okv = {sizeof(ok), ok};
        if ((rc = mdb_put(txn, s->owners, &okv, &v, 0)) != 0)
            return rc;
    }
    for_each_tag(rec, index_tag, &c);
    if (c.rc != 0)
        return c.rc;
    return set_atime(s, txn, hash, now, false);
}

static int index_remove(cache_store_t *s, MDB_txn *txn, const cache_hash_t *hash, const cache_record_t *rec)
{
    uint8_t lk[4 + CACHE_KEY_HASH_LEN];
    MDB_val k = {CACHE_KEY_HASH_LEN, (void *)hash->bytes}, v, lkv = {sizeof(lk), lk};
    uint32_t when;
    int rc;

    if (rec != NULL) {
        h2o_iovec_t url = url_of(rec->key);
        MDB_val uk = {url.len, url.base}, uv = {CACHE_KEY_HASH_LEN, (void *)hash->bytes};
        index_ctx_t c = {s, txn, hash, false, 0};
        if (url.len != 0 && (rc = del(txn, s->urls, &uk, &uv)) != 0)
            return rc;
        if (rec->oid != 0) {
            uint8_t ok[8];
            chunk_key_oid_only(ok, rec->oid);
            MDB_val okv = {sizeof(ok), ok};
            if ((rc = del(txn, s->owners, &okv, NULL)) != 0)
                return rc;
        }
        for_each_tag(rec, index_tag, &c);
        if (c.rc != 0)
            return c.rc;
    }
    if (mdb_get(txn, s->atime, &k, &v) == 0 && v.mv_size == sizeof(when)) {
        memcpy(&when, v.mv_data, sizeof(when));
        lru_key(lk, when, hash);
        if ((rc = del(txn, s->lru, &lkv, NULL)) != 0 || (rc = del(txn, s->atime, &k, NULL)) != 0)
            return rc;
    }
    return 0;
}

/* Deletes the object under `hash` with its indexes, and its chunks unless they are `keep_oid`'s; with
 * `keep_record`, the record itself stays (it is about to be replaced). Adds the bytes it held to `*freed`
 * (when not NULL), so that eviction knows what it freed. Returns an LMDB error. */
static int delete_object(cache_store_t *s, MDB_txn *txn, const cache_hash_t *hash, uint64_t keep_oid, bool keep_record,
                         size_t *freed)
{
    MDB_val k = {CACHE_KEY_HASH_LEN, (void *)hash->bytes}, v;
    cache_record_t old;
    int rc;

    if (mdb_get(txn, s->objects, &k, &v) != 0)
        return index_remove(s, txn, hash, NULL); /* (a stray use time) */
    if (freed != NULL)
        *freed += v.mv_size + 160; /* (about what its index entries take) */
    if (cache_record_decode(&old, v.mv_data, v.mv_size) == 0) {
        if ((rc = index_remove(s, txn, hash, &old)) != 0)
            return rc;
        if (old.oid != keep_oid) {
            if ((rc = delete_chunks(s, txn, old.oid, num_chunks(&old))) != 0)
                return rc;
            if (freed != NULL)
                *freed += old.body_len;
        }
    } else if ((rc = index_remove(s, txn, hash, NULL)) != 0) { /* a corrupt old record: its chunks stay for the sweep */
        return rc;
    }
    return keep_record ? 0 : del(txn, s->objects, &k, NULL);
}

/* --- invalidation, in the writer ------------------------------------------------------------------- */

/* Whether an invalidation made after `seq` (when the record's request went out) covers it: then it is not
 * stored, lest a response that was already on its way bring a purged object back. With s->mutex held. */
static bool purge_covers(const purge_entry_t *e, const cache_record_t *rec)
{
    h2o_iovec_t url = cache_key_url(rec->key);
    size_t tlen = e->target_len;
    switch (e->st.kind) {
    case CACHE_PURGE_URL:
        return h2o_memis(url.base, url.len, e->target, tlen);
    case CACHE_PURGE_PREFIX:
        return url.len >= tlen && memcmp(url.base, e->target, tlen) == 0;
    case CACHE_PURGE_TAG: {
        struct {
            const char *t;
            size_t len;
            bool hit;
        } c = {e->target, tlen, false};
        for_each_tag(rec, tag_matches, &c);
        return c.hit;
    }
    }
    return false;
}

static bool barred(cache_store_t *s, const cache_record_t *rec, uint64_t seq)
{
    if (seq >= s->purge_seq)
        return false; /* (the common case: nothing invalidated since) */
    for (size_t i = 0; i != PURGE_HISTORY; ++i) {
        const purge_entry_t *e = &s->purges[i];
        if (e->st.id > seq && !e->st.soft && purge_covers(e, rec))
            return true;
    }
    return false;
}

/* A record read while invalidations are queued but not applied yet, made what the reader will see once
 * they are: gone (CACHE_STORE_ENOTFOUND) or, for a soft one, expired now (its lifetime patched in `copy`).
 * So an invalidation is in force from its answer on, not from the writer's next commit. */
static int apply_pending_purges(cache_store_t *s, uint8_t *copy, size_t len)
{
    cache_record_t rec;
    int ret = 0;

    if (cache_record_decode(&rec, copy, len) != 0)
        return 0;
    pthread_mutex_lock(&s->mutex);
    for (size_t i = 0; i != PURGE_HISTORY && ret == 0; ++i) {
        const purge_entry_t *e = &s->purges[i];
        if (e->st.id == 0 || e->st.done || !purge_covers(e, &rec))
            continue;
        if (!e->st.soft) {
            ret = CACHE_STORE_ENOTFOUND;
        } else {
            int64_t age = cache_ttl_current_age(rec.initial_age, rec.response_time, (int64_t)time(NULL));
            if (age < (int64_t)rec.lifetime) {
                rec.lifetime = (uint32_t)age;
                cache_record_seal_lifetime(copy, rec.lifetime);
            }
        }
    }
    pthread_mutex_unlock(&s->mutex);
    return ret;
}

typedef struct st_hash_vec_t {
    cache_hash_t *entries;
    size_t size, capacity;
} hash_vec_t;

static void hash_vec_push(hash_vec_t *v, const void *hash)
{
    if (v->size == v->capacity) {
        v->capacity = v->capacity == 0 ? 64 : v->capacity * 2;
        v->entries = h2o_mem_realloc(v->entries, v->capacity * sizeof(v->entries[0]));
    }
    memcpy(v->entries[v->size++].bytes, hash, CACHE_KEY_HASH_LEN);
}

/* Collects up to `max` hashes that the invalidation names, from the index `dbi`: the duplicates of one key
 * (URL, tag), or of every key that starts with the prefix. */
static void purge_collect(cache_store_t *s, MDB_txn *txn, MDB_dbi dbi, h2o_iovec_t target, bool prefix, size_t max, hash_vec_t *out)
{
    MDB_cursor *cur;
    MDB_val k = {target.len, target.base}, v;
    int rc;

    if (target.len == 0 && !prefix)
        return;
    if (mdb_cursor_open(txn, dbi, &cur) != 0)
        return;
    /* an empty prefix means every URL */
    rc = target.len == 0 ? mdb_cursor_get(cur, &k, &v, MDB_FIRST)
                         : mdb_cursor_get(cur, &k, &v, prefix ? MDB_SET_RANGE : MDB_SET_KEY);
    while (rc == 0 && out->size < max) {
        if (prefix ? k.mv_size < target.len || memcmp(k.mv_data, target.base, target.len) != 0
                   : !h2o_memis(k.mv_data, k.mv_size, target.base, target.len))
            break;
        if (v.mv_size == CACHE_KEY_HASH_LEN)
            hash_vec_push(out, v.mv_data);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
}

/* Marks the object stale in place (soft purge): its lifetime ends now — it becomes its current age — so
 * that the stale-while-revalidate and stale-if-error windows it carries count from the purge. Returns
 * false when it was stale already. */
static bool soften(cache_store_t *s, MDB_txn *txn, const cache_hash_t *hash)
{
    MDB_val k = {CACHE_KEY_HASH_LEN, (void *)hash->bytes}, v;
    cache_record_t rec;

    if (mdb_get(txn, s->objects, &k, &v) != 0 || cache_record_decode(&rec, v.mv_data, v.mv_size) != 0)
        return false;
    int64_t age = cache_ttl_current_age(rec.initial_age, rec.response_time, (int64_t)time(NULL));
    if (age >= (int64_t)rec.lifetime)
        return false;
    uint8_t *copy = h2o_mem_alloc(v.mv_size);
    rec.lifetime = (uint32_t)age;
    size_t len = cache_record_encode(&rec, copy); /* (same size: only a fixed field changed) */
    MDB_val nv = {len, copy};
    int rc = mdb_put(txn, s->objects, &k, &nv, 0);
    free(copy);
    return rc == 0;
}

/* Applies one slice of an invalidation in `txn`; what it did is published once the transaction commits
 * (publish_effects), and the rest, when there is more than a slice, is queued again then. */
static int apply_purge(cache_store_t *s, MDB_txn *txn, msg_t *m)
{
    cache_purge_kind_t kind = (cache_purge_kind_t)(m->index & 0xff);
    bool soft = (m->index & PURGE_SOFT) != 0;
    h2o_iovec_t target = h2o_iovec_init(m->data, m->len);
    hash_vec_t hashes = {NULL};
    uint64_t n = 0;

    if (kind == CACHE_PURGE_TAG)
        purge_collect(s, txn, s->tags, target, false, SIZE_MAX, &hashes);
    else
        purge_collect(s, txn, s->urls, target.len > URL_INDEX_MAX ? h2o_iovec_init(target.base, URL_INDEX_MAX) : target,
                      kind == CACHE_PURGE_PREFIX, SIZE_MAX, &hashes);
    size_t i;
    for (i = 0; i != hashes.size && n != PURGE_SLICE; ++i) {
        MDB_val k = {CACHE_KEY_HASH_LEN, hashes.entries[i].bytes}, v;
        cache_record_t rec;
        if (mdb_get(txn, s->objects, &k, &v) != 0 || cache_record_decode(&rec, v.mv_data, v.mv_size) != 0)
            continue;
        /* the index keeps URLs truncated: check the whole URL of the record */
        h2o_iovec_t url = cache_key_url(rec.key);
        bool match = kind == CACHE_PURGE_TAG ||
                     (kind == CACHE_PURGE_URL ? h2o_memis(url.base, url.len, target.base, target.len)
                                              : url.len >= target.len && memcmp(url.base, target.base, target.len) == 0);
        if (!match)
            continue;
        size_t bytes = 0;
        if (soft ? soften(s, txn, &hashes.entries[i])
                 : (delete_object(s, txn, &hashes.entries[i], 0, false, &bytes) == 0 && bytes != 0))
            ++n;
    }
    bool more = i != hashes.size; /* one slice per transaction: the rest goes to the back of the queue */
    MDB_val sk = {sizeof(purge_seq_key) - 1, purge_seq_key}, sv = {sizeof(m->oid), &m->oid};
    free(hashes.entries);
    if (s->num_effects == s->cap_effects) {
        s->cap_effects = s->cap_effects == 0 ? 8 : s->cap_effects * 2;
        s->effects = h2o_mem_realloc(s->effects, s->cap_effects * sizeof(s->effects[0]));
    }
    s->effects[s->num_effects++] = (purge_effect_t){m, n, more};
    return mdb_put(txn, s->info, &sk, &sv, 0); /* ids keep growing across restarts */
}

/* Publishes what the purge slices of a committed batch did: their counts and status, and the rest of a
 * purge larger than a slice, queued again. */
static void publish_effects(cache_store_t *s)
{
    for (size_t i = 0; i != s->num_effects; ++i) {
        const purge_effect_t *fx = &s->effects[i];
        atomic_fetch_add_explicit(&s->purged_objects, fx->objects, memory_order_relaxed);
        pthread_mutex_lock(&s->mutex);
        purge_entry_t *e = &s->purges[fx->msg->oid % PURGE_HISTORY];
        if (e->st.id == fx->msg->oid) {
            e->st.objects += fx->objects;
            if (!fx->more) {
                e->st.done = true;
                e->st.completed = (int64_t)time(NULL);
                atomic_fetch_sub_explicit(&s->pending_purges, 1, memory_order_release);
            }
        }
        pthread_mutex_unlock(&s->mutex);
        if (fx->more)
            post(s, MSG_PURGE, NULL, fx->msg->oid, fx->msg->index, fx->msg->data, fx->msg->len);
    }
    s->num_effects = 0;
}

static void tag_matches(void *_c, h2o_iovec_t tag)
{
    struct {
        const char *t;
        size_t len;
        bool hit;
    } *c = _c;
    if (h2o_memis(tag.base, tag.len, c->t, c->len))
        c->hit = true;
}

/* Applies one message; returns an LMDB error. With `deletes_only`, puts are skipped (after MAP_FULL). */
static int apply(cache_store_t *s, MDB_txn *txn, msg_t *m, bool deletes_only, uint64_t *oid_hwm)
{
    uint32_t now = (uint32_t)time(NULL);

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
        int rc;
        if (deletes_only || cache_record_decode(&rec, m->data, m->len) != 0)
            return 0;
        pthread_mutex_lock(&s->mutex);
        bool bar = barred(s, &rec, m->oid);
        pthread_mutex_unlock(&s->mutex);
        uint32_t n = num_chunks(&rec);
        if (bar || (n != 0 && (!chunk_exists(s, txn, rec.oid, 0) || !chunk_exists(s, txn, rec.oid, n - 1)))) {
            /* purged while it was on its way, or its body did not fit: never store a record without its
             * chunks, and drop what did fit */
            return delete_chunks(s, txn, rec.oid, n);
        }
        if ((rc = delete_object(s, txn, &m->hash, rec.oid, true, NULL)) != 0 || (rc = mdb_put(txn, s->objects, &k, &v, 0)) != 0)
            return rc;
        return index_add(s, txn, &m->hash, &rec, now);
    }
    case MSG_DISCARD:
        return delete_chunks(s, txn, m->oid, m->index);
    case MSG_DELETE:
        return delete_object(s, txn, &m->hash, 0, false, NULL);
    case MSG_TOUCH:
        if (deletes_only)
            return 0;
        for (size_t off = 0; off + CACHE_KEY_HASH_LEN <= m->len; off += CACHE_KEY_HASH_LEN) {
            cache_hash_t h;
            memcpy(h.bytes, m->data + off, CACHE_KEY_HASH_LEN);
            int rc = set_atime(s, txn, &h, (uint32_t)m->oid, true);
            if (rc != 0)
                return rc;
        }
        return 0;
    case MSG_AUX_PUT:
    case MSG_AUX_RANGE: {
        size_t alen = (size_t)m->data[0] | (size_t)m->data[1] << 8;
        MDB_val a = {alen, m->data + 2}, b = {m->len - 2 - alen, m->data + 2 + alen};
        if (m->type == MSG_AUX_PUT)
            return deletes_only ? 0 : mdb_put(txn, s->aux, &a, &b, 0);
        MDB_cursor *cur;
        MDB_val k = a, v;
        int rc;
        if ((rc = mdb_cursor_open(txn, s->aux, &cur)) != 0)
            return rc;
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            size_t n = k.mv_size < b.mv_size ? k.mv_size : b.mv_size;
            int c = memcmp(k.mv_data, b.mv_data, n);
            if (c > 0 || (c == 0 && k.mv_size >= b.mv_size))
                break; /* reached `to` */
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
        }
        mdb_cursor_close(cur);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    case MSG_PURGE:
        return apply_purge(s, txn, m);
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

static void note_evicted(cache_store_t *s, const cache_hash_t *hash, uint32_t now)
{
    uint64_t tag = hash_tag(hash);
    size_t i = (size_t)(tag >> 16) % EVICTED_SLOTS;
    atomic_store_explicit(&s->evicted[i].tag, tag, memory_order_relaxed);
    atomic_store_explicit(&s->evicted[i].when, now, memory_order_relaxed);
}

bool cache_store_recently_evicted(cache_store_t *s, const cache_hash_t *hash, int64_t within_s)
{
    uint64_t tag = hash_tag(hash);
    size_t i = (size_t)(tag >> 16) % EVICTED_SLOTS;
    if (atomic_load_explicit(&s->evicted[i].tag, memory_order_relaxed) != tag)
        return false;
    int64_t when = (int64_t)atomic_load_explicit(&s->evicted[i].when, memory_order_relaxed);
    return (int64_t)time(NULL) - when <= within_s;
}

/* Up to `max` eviction victims: the least recently used objects, or, when the use order is empty (objects of
 * an older layout), objects from a random point of the key space. */
static void pick_victims(cache_store_t *s, MDB_txn *txn, size_t max, hash_vec_t *out)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if (mdb_cursor_open(txn, s->lru, &cur) == 0) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && out->size != max; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            if (k.mv_size == 4 + CACHE_KEY_HASH_LEN)
                hash_vec_push(out, (const uint8_t *)k.mv_data + 4);
        mdb_cursor_close(cur);
    }
    if (out->size != 0 || mdb_cursor_open(txn, s->objects, &cur) != 0)
        return;
    uint8_t start[CACHE_KEY_HASH_LEN];
    for (size_t i = 0; i != sizeof(start); ++i)
        start[i] = (uint8_t)rand();
    k = (MDB_val){sizeof(start), start};
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && out->size != max; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        hash_vec_push(out, k.mv_data);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && out->size == 0 && out->size != max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        hash_vec_push(out, k.mv_data);
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
            if ((rc = delete_object(s, txn, &victims.entries[i], 0, false, &bytes)) != 0)
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
    atomic_fetch_add_explicit(&s->evicted_objects, n, memory_order_relaxed);
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
static void keep_headroom(cache_store_t *s, size_t batch_bytes, size_t nmsgs, bool force)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), dirty = (nmsgs < 64 ? nmsgs : 64) * 8 * page;
    s->bytes_since_usage_check += batch_bytes + nmsgs * 8 * page;
    if (!force && s->bytes_since_usage_check < s->map_pages * page / 100)
        return;
    s->bytes_since_usage_check = 0;
    double usage = map_usage(s), batch = (2.0 * (double)batch_bytes + (double)dirty) / (double)page / (double)s->map_pages;
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

    s->num_effects = 0; /* (what an aborted attempt recorded never happened) */
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
    if ((rc = mdb_txn_commit(txn)) == 0)
        publish_effects(s);
    return rc;
Fail:
    mdb_txn_abort(txn);
    return rc;
}

/* One step of the orphan sweep, run when the writer is idle: chunks that no record owns, left by a run that
 * was killed between storing a body's chunks and its record (or whose record was dropped), are deleted.
 * Only oids below sweep_limit are looked at — those of earlier runs, none of which can still be in flight.
 * Returns false when the sweep is over. */
static bool sweep_step(cache_store_t *s)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    uint8_t kb[12];
    MDB_val k = {sizeof(kb), kb}, v;
    size_t oids = 0, deleted = 0;
    int rc;

    if (s->sweep_next >= s->sweep_limit)
        return false;
    if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0 || mdb_cursor_open(txn, s->chunks, &cur) != 0) {
        if (txn != NULL)
            mdb_txn_abort(txn);
        s->sweep_next = s->sweep_limit; /* (not worth a retry loop: the next start sweeps again) */
        return false;
    }
    chunk_key(kb, s->sweep_next, 0);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && oids != 256 && k.mv_size == 12) {
        uint64_t oid = chunk_key_oid(k.mv_data);
        if (oid >= s->sweep_limit)
            break;
        uint8_t ok[8];
        chunk_key_oid_only(ok, oid);
        MDB_val okv = {sizeof(ok), ok}, owner;
        ++oids;
        if (mdb_get(txn, s->owners, &okv, &owner) == 0) { /* owned: on to the next object's chunks */
            chunk_key(kb, oid + 1, 0);
            k = (MDB_val){sizeof(kb), kb};
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            s->sweep_next = oid + 1;
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
        s->sweep_next = oid + 1;
    }
    bool more = rc == 0 && k.mv_size == 12 && chunk_key_oid(k.mv_data) < s->sweep_limit;
    mdb_cursor_close(cur);
    if (mdb_txn_commit(txn) != 0) {
        s->sweep_next = s->sweep_limit;
        return false;
    }
    s->swept_chunks += deleted;
    if (!more) {
        s->sweep_next = s->sweep_limit;
        if (s->swept_chunks != 0)
            common_log_info("store: deleted %llu orphan chunks left by an earlier run", (unsigned long long)s->swept_chunks);
    }
    return more;
}

/* The syncer: every SYNC_INTERVAL_SEC, flushes what the writer committed since. It is a thread of its own so
 * that the writer never waits for the disk: a writer stalled in fdatasync falls behind, and past
 * QUEUE_MAX_BYTES of backlog new objects are dropped. */
static void *syncer_main(void *arg)
{
    cache_store_t *s = arg;

    pthread_mutex_lock(&s->mutex);
    while (!s->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += SYNC_INTERVAL_SEC;
        pthread_cond_timedwait(&s->sync_cond, &s->mutex, &until);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->mutex);
        if (atomic_exchange(&s->dirty, false))
            mdb_env_sync(s->env, 1);
        pthread_mutex_lock(&s->mutex);
    }
    pthread_mutex_unlock(&s->mutex);
    return NULL;
}

static void *writer_main(void *arg)
{
    cache_store_t *s = arg;

    pthread_mutex_lock(&s->mutex);
    for (;;) {
        while (s->head == NULL && !s->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            if (s->sweep_next < s->sweep_limit) {
                /* idle: sweep a little, then look at the queue again */
                pthread_mutex_unlock(&s->mutex);
                sweep_step(s);
                pthread_mutex_lock(&s->mutex);
                continue;
            }
            pthread_cond_timedwait(&s->cond, &s->mutex, &until);
        }
        if (s->head == NULL && s->stopping)
            break;
        /* take up to BATCH_MAX_BYTES off the queue: one transaction per batch, however many messages */
        msg_t *batch = s->head, **cut = &s->head;
        size_t batch_bytes = 0, nmsgs = 0;
        uint64_t seq = s->committed_seq;
        while (*cut != NULL && (batch_bytes < BATCH_MAX_BYTES || cut == &s->head)) {
            batch_bytes += (*cut)->len;
            ++nmsgs;
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
            keep_headroom(s, batch_bytes, nmsgs, false);
            int rc = commit_batch(s, batch, false);
            if (rc == MDB_MAP_FULL) {
                keep_headroom(s, batch_bytes, nmsgs, true); /* make room, then try once more */
                rc = commit_batch(s, batch, false);
            }
            if (rc == MDB_MAP_FULL) {
                common_log_warn("store: the cache is full (%s); the objects of this batch are not stored", mdb_strerror(rc));
                rc = commit_batch(s, batch, true);
            }
            if (rc != 0)
                common_log_error("store: write transaction failed: %s", mdb_strerror(rc));
            atomic_store(&s->dirty, true);
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

static uint64_t info_u64(cache_store_t *s, MDB_txn *txn, char *key, size_t klen)
{
    MDB_val k = {klen, key}, v;
    uint64_t x = 0;
    if (mdb_get(txn, s->info, &k, &v) == 0 && v.mv_size == sizeof(x))
        memcpy(&x, v.mv_data, sizeof(x));
    return x;
}

/* Opens (or with MDB_CREATE creates) every database of the store in `txn`. */
static int open_dbis(cache_store_t *s, MDB_txn *txn, unsigned create)
{
    int rc;
    if ((rc = mdb_dbi_open(txn, "objects", create, &s->objects)) != 0 ||
        (rc = mdb_dbi_open(txn, "chunks", create, &s->chunks)) != 0 || (rc = mdb_dbi_open(txn, "info", create, &s->info)) != 0 ||
        (rc = mdb_dbi_open(txn, "aux", create, &s->aux)) != 0 ||
        (rc = mdb_dbi_open(txn, "urls", create | MDB_DUPSORT, &s->urls)) != 0 ||
        (rc = mdb_dbi_open(txn, "tags", create | MDB_DUPSORT, &s->tags)) != 0 ||
        (rc = mdb_dbi_open(txn, "atime", create, &s->atime)) != 0 || (rc = mdb_dbi_open(txn, "lru", create, &s->lru)) != 0 ||
        (rc = mdb_dbi_open(txn, "owners", create, &s->owners)) != 0)
        return rc;
    return 0;
}

static void init_sync(cache_store_t *s)
{
    pthread_mutex_init(&s->mutex, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_cond_init(&s->committed, NULL);
    pthread_cond_init(&s->sync_cond, NULL);
    atomic_init(&s->dirty, false);
    s->tail = &s->head;
    for (size_t i = 0; i != PENDING_BUCKETS; ++i)
        h2o_linklist_init_anchor(s->pending + i);
    atomic_init(&s->num_pending, 0);
    atomic_init(&s->backlog, 0);
    atomic_init(&s->dropped_writes, 0);
    atomic_init(&s->evicted_objects, 0);
    atomic_init(&s->purged_objects, 0);
    atomic_init(&s->pending_purges, 0);
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
        (rc = mdb_env_set_maxreaders(s->env, max_readers)) != 0 || (rc = mdb_env_set_maxdbs(s->env, 16)) != 0) {
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
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0 || (rc = open_dbis(s, txn, MDB_CREATE)) != 0) {
        if (txn != NULL)
            mdb_txn_abort(txn);
        snprintf(err, errlen, "cannot open LMDB databases in %s: %s", dir, mdb_strerror(rc));
        goto Fail;
    }
    /* a new epoch: what was written before it is verified against its checksums when read */
    uint64_t epoch = info_u64(s, txn, epoch_key, sizeof(epoch_key) - 1) + 1;
    s->epoch = (uint32_t)epoch;
    s->purge_seq = info_u64(s, txn, purge_seq_key, sizeof(purge_seq_key) - 1);
    atomic_init(&s->purge_seq_pub, s->purge_seq);
    MDB_val ek = {sizeof(epoch_key) - 1, epoch_key}, ev = {sizeof(epoch), &epoch};
    if ((rc = mdb_put(txn, s->info, &ek, &ev, 0)) != 0 || (rc = mdb_txn_commit(txn)) != 0) {
        snprintf(err, errlen, "cannot open LMDB databases in %s: %s", dir, mdb_strerror(rc));
        goto Fail;
    }
    atomic_init(&s->next_oid, initial_oid(s));
    s->sweep_next = 1;
    s->sweep_limit = atomic_load(&s->next_oid); /* chunks of this run's fetches are never swept */
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->map_pages = info.me_mapsize / (size_t)sysconf(_SC_PAGESIZE);
    init_sync(s);
    if ((rc = pthread_create(&s->writer, NULL, writer_main, s)) != 0) {
        snprintf(err, errlen, "cannot start the writer thread: %s", strerror(rc));
        goto Fail;
    }
    if ((rc = pthread_create(&s->syncer, NULL, syncer_main, s)) != 0) {
        pthread_mutex_lock(&s->mutex);
        s->stopping = 1;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->mutex);
        pthread_join(s->writer, NULL);
        snprintf(err, errlen, "cannot start the sync thread: %s", strerror(rc));
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

cache_store_t *cache_store_open_readonly(const char *dir, char *err, size_t errlen)
{
    cache_store_t *s = h2o_mem_alloc(sizeof(*s));
    MDB_txn *txn = NULL;
    struct stat st;
    char path[PATH_MAX];
    int rc;

    memset(s, 0, sizeof(*s));
    s->lock_fd = -1;
    s->readonly = true;
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "no cache in %s: %s", dir, strerror(errno));
        goto Fail;
    }
    if ((rc = mdb_env_create(&s->env)) != 0 || (rc = mdb_env_set_maxdbs(s->env, 16)) != 0 ||
        (rc = mdb_env_set_maxreaders(s->env, 512)) != 0 || (rc = mdb_env_open(s->env, dir, MDB_RDONLY | MDB_NOTLS, 0644)) != 0) {
        snprintf(err, errlen, "cannot open the cache in %s: %s", dir, mdb_strerror(rc));
        goto Fail;
    }
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0 || (rc = open_dbis(s, txn, 0)) != 0) {
        if (txn != NULL)
            mdb_txn_abort(txn);
        snprintf(err, errlen, "cannot open the databases of the cache in %s: %s%s", dir, mdb_strerror(rc),
                 rc == MDB_NOTFOUND ? " (written by an older edgecache? start it once to upgrade)" : "");
        goto Fail;
    }
    mdb_txn_commit(txn); /* keeps the handles open for the environment's lifetime */
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->map_pages = info.me_mapsize / (size_t)sysconf(_SC_PAGESIZE);
    init_sync(s);
    return s;

Fail:
    if (s->env != NULL)
        mdb_env_close(s->env);
    free(s);
    return NULL;
}

int cache_store_scan_aux(cache_store_t *s, h2o_iovec_t from, h2o_iovec_t to,
                         int (*cb)(void *ctx, h2o_iovec_t key, h2o_iovec_t value), void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k = {from.len, from.base}, v;
    int rc, ret = 0;

    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return CACHE_STORE_EIO;
    if (mdb_cursor_open(txn, s->aux, &cur) != 0) {
        mdb_txn_abort(txn);
        return CACHE_STORE_EIO;
    }
    rc = from.len != 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t n = k.mv_size < to.len ? k.mv_size : to.len;
        int c = memcmp(k.mv_data, to.base, n);
        if (c > 0 || (c == 0 && k.mv_size >= to.len))
            break;
        if ((ret = cb(ctx, h2o_iovec_init(k.mv_data, k.mv_size), h2o_iovec_init(v.mv_data, v.mv_size))) != 0)
            break;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        ret = CACHE_STORE_EIO;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return ret;
}

void cache_store_stats(cache_store_t *s, cache_store_stats_t *out)
{
    MDB_txn *txn;
    MDB_stat st;

    memset(out, 0, sizeof(*out));
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) == 0) {
        if (mdb_stat(txn, s->objects, &st) == 0)
            out->objects = st.ms_entries;
        mdb_txn_abort(txn);
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    out->map_size = (uint64_t)s->map_pages * page;
    out->bytes_used = (uint64_t)(map_usage(s) * (double)s->map_pages) * page;
    out->evictions = atomic_load_explicit(&s->evicted_objects, memory_order_relaxed);
    out->purged = atomic_load_explicit(&s->purged_objects, memory_order_relaxed);
    out->dropped_writes = atomic_load_explicit(&s->dropped_writes, memory_order_relaxed);
    out->backlog_bytes = atomic_load_explicit(&s->backlog, memory_order_relaxed);
}

int cache_store_snapshot(cache_store_t *s, const char *dest, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct stat st;
    int rc;

    if (mkdir(dest, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dest, strerror(errno));
        return -1;
    }
    DIR *d = opendir(dest);
    struct dirent *de;
    bool empty = d != NULL;
    while (d != NULL && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            empty = false;
    if (d != NULL)
        closedir(d);
    if (!empty) {
        snprintf(path, sizeof(path), "%s/data.mdb", dest);
        snprintf(err, errlen, "%s %s; a snapshot goes into a new or empty directory", dest,
                 stat(path, &st) == 0 ? "already holds a cache" : "is not empty");
        return -1;
    }
    /* a compacting copy runs in one read transaction: consistent, while the writer goes on */
    if ((rc = mdb_env_copy2(s->env, dest, MDB_CP_COMPACT)) != 0) {
        snprintf(err, errlen, "cannot copy the cache into %s: %s", dest, mdb_strerror(rc));
        return -1;
    }
    return 0;
}

void cache_store_close(cache_store_t *s)
{
    if (s->readonly) {
        mdb_env_close(s->env);
        pthread_mutex_destroy(&s->mutex);
        pthread_cond_destroy(&s->cond);
        pthread_cond_destroy(&s->committed);
        pthread_cond_destroy(&s->sync_cond);
        free(s);
        return;
    }
    pthread_mutex_lock(&s->mutex);
    s->stopping = 1;
    pthread_cond_signal(&s->cond);
    pthread_cond_signal(&s->sync_cond);
    pthread_mutex_unlock(&s->mutex);
    pthread_join(s->writer, NULL);
    pthread_join(s->syncer, NULL);
    for (size_t i = 0; i != PURGE_HISTORY; ++i)
        free(s->purges[i].target);
    free(s->effects);
    mdb_env_sync(s->env, 1);
    mdb_env_close(s->env);
    close(s->lock_fd);
    pthread_mutex_destroy(&s->mutex);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->committed);
    pthread_cond_destroy(&s->sync_cond);
    free(s);
}
