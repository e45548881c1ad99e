/*
 * cache/store.c: the LMDB store: opening and closing it, and the reads of the event loops.
 *
 * The store's other jobs live beside it, sharing cache/store_int.h: the writer thread and its queue
 * (store_writer.c), the secondary indexes (store_index.c), invalidations (store_purge.c), and the size
 * budget with eviction and the orphan sweep (store_evict.c).
 *
 * Invariants that are easy to break:
 * - A read transaction lives for one lookup only (renew → get → copy → reset). Holding one across an
 *   event-loop wait would pin every page the writer frees meanwhile, and the map would grow without
 *   bound (the hit-path prototype measured +595 MiB in 40 s with one transaction per response). A pin
 *   (cache_store_get_pinned, cache_store_read_chunk_pinned) is the one exception, bounded by
 *   CACHE_STORE_MAX_PINS per reader (records and chunks share them).
 * - Readers see every write as soon as it is queued: a read looks in the pending index first (when it is
 *   not empty), and a pin is refused while anything is pending, because the map may be older than the queue.
 *   Likewise a record copied while an invalidation is queued goes through cache_store_purge_apply_pending.
 * - A record written before the store's latest open (an older epoch) may predate a crash or a bad disk, so
 *   its body is verified when read (cache_store_needs_verify); the epoch is bumped at every open for writing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cache/checksum.h"
#include "cache/store_int.h"
#include "common/log.h"

char cache_store_oid_hwm_key[] = "oid_hwm";
char cache_store_epoch_key[] = "epoch";
char cache_store_purge_seq_key[] = "purge_seq";

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

/* --- open / close -------------------------------------------------------------------------------- */

uint64_t cache_store_initial_oid(cache_store_t *s)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k = {sizeof(cache_store_oid_hwm_key) - 1, cache_store_oid_hwm_key}, v;
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
        (rc = mdb_dbi_open(txn, "urls", create | MDB_DUPSORT, &s->index.urls)) != 0 ||
        (rc = mdb_dbi_open(txn, "tags", create | MDB_DUPSORT, &s->index.tags)) != 0 ||
        (rc = mdb_dbi_open(txn, "atime", create, &s->index.atime)) != 0 ||
        (rc = mdb_dbi_open(txn, "lru", create, &s->index.lru)) != 0 ||
        (rc = mdb_dbi_open(txn, "owners", create, &s->index.owners)) != 0)
        return rc;
    return 0;
}

static void init_sync(cache_store_t *s)
{
    pthread_mutex_init(&s->mutex, NULL);
    cache_store_writer_init(s);
    atomic_init(&s->evict.evicted_objects, 0);
    atomic_init(&s->purge.purged_objects, 0);
    atomic_init(&s->purge.pending, 0);
    atomic_init(&s->vary_refused, 0);
    for (int f = 0; f != CACHE_STORE_NUM_FAULTS; ++f)
        atomic_init(&s->faults.dropped[f], 0);
}

/* Whether an errno from opening means the directory cannot be written (rather than something else). */
static int why_errno(int e)
{
    return e == EACCES || e == EROFS || e == EPERM || e == ENOSPC || e == EDQUOT ? CACHE_STORE_EUNWRITABLE : CACHE_STORE_EIO;
}

/* Whether an LMDB error from opening means the files are not a whole environment. */
static bool broken_rc(int rc)
{
    return rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND;
}

/* Whether data.mdb is shorter than its meta page says: LMDB maps the file and would take SIGBUS at the first
 * page beyond its end (a file truncated while the edge was stopped, a copy cut short). */
static bool truncated(cache_store_t *s, const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    MDB_envinfo info;
    MDB_stat ms;

    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &st) != 0 || mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &ms) != 0)
        return false;
    return ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize > (uint64_t)st.st_size;
}

/* The files of the store proper (the directory's lock, edgecache.lock, is not one: it is held). */
static const char *const store_files[] = {"data.mdb", "lock.mdb", NULL};

/* Renames the store's files to <name>.broken-<UTC time>, beside them, and logs what went where. */
static int move_aside(const char *dir, const char *what, char *err, size_t errlen)
{
    char from[PATH_MAX], to[PATH_MAX], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    struct stat st;

    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
    for (const char *const *f = store_files; *f != NULL; ++f) {
        snprintf(from, sizeof(from), "%s/%s", dir, *f);
        snprintf(to, sizeof(to), "%s/%s.broken-%s", dir, *f, stamp);
        if (stat(from, &st) != 0)
            continue;
        if (rename(from, to) != 0) {
            snprintf(err, errlen, "cannot move %s aside to %s: %s", from, to, strerror(errno));
            return -1;
        }
        common_log_error("cache: %s is not a usable cache (%s): moved it aside to %s (%lld bytes); starting with an empty cache",
                         from, what, to, (long long)st.st_size);
    }
    return 0;
}

/* serve --reset-cache: deletes the store's files and the copies moved aside earlier; nothing else. */
static int reset_files(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    DIR *d;
    struct dirent *de;

    if ((d = opendir(dir)) == NULL) {
        snprintf(err, errlen, "cannot read cache directory %s: %s", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        bool ours = false;
        for (const char *const *f = store_files; *f != NULL; ++f) {
            size_t n = strlen(*f);
            if (strncmp(de->d_name, *f, n) == 0 && (de->d_name[n] == '\0' || strncmp(de->d_name + n, ".broken-", 8) == 0))
                ours = true;
        }
        if (!ours)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (unlink(path) != 0) {
            snprintf(err, errlen, "cannot delete %s: %s", path, strerror(errno));
            closedir(d);
            return -1;
        }
        common_log_info("cache: --reset-cache: deleted %s", path);
    }
    closedir(d);
    return 0;
}

/* Opens the environment and its databases in `dir`, whose lock `s` holds. Returns 0 or a reason. */
static int open_env(cache_store_t *s, const char *dir, const cache_store_config_t *conf, char *err, size_t errlen)
{
    MDB_txn *txn = NULL;
    int rc;

    if ((rc = mdb_env_create(&s->env)) != 0 || (rc = mdb_env_set_mapsize(s->env, (size_t)conf->map_size)) != 0 ||
        (rc = mdb_env_set_maxreaders(s->env, conf->max_readers)) != 0 || (rc = mdb_env_set_maxdbs(s->env, 16)) != 0) {
        snprintf(err, errlen, "cannot set up LMDB: %s", mdb_strerror(rc));
        return CACHE_STORE_EIO;
    }
    /* NOSYNC: a process crash loses nothing (committed pages are in the page cache); an OS crash may lose
     * the last few seconds of writes, which for a cache only means a few more misses. The writer syncs
     * every SYNC_INTERVAL_SEC. NOTLS: read transactions are pooled per loop, not per OS thread. */
    if ((rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NOSYNC | MDB_NOMETASYNC, 0644)) != 0) {
        snprintf(err, errlen, "cannot open LMDB environment in %s: %s", dir, mdb_strerror(rc));
        return broken_rc(rc) ? CACHE_STORE_EBROKEN : rc > 0 ? why_errno(rc) : CACHE_STORE_EIO;
    }
    if (truncated(s, dir)) {
        snprintf(err, errlen, "cannot open LMDB environment in %s: data.mdb is shorter than its last page (truncated)", dir);
        return CACHE_STORE_EBROKEN;
    }
    int dead = 0;
    mdb_reader_check(s->env, &dead); /* clear slots left by a reader that was killed */
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0 || (rc = open_dbis(s, txn, MDB_CREATE)) != 0) {
        if (txn != NULL)
            mdb_txn_abort(txn);
        snprintf(err, errlen, "cannot open LMDB databases in %s: %s", dir, mdb_strerror(rc));
        return broken_rc(rc) ? CACHE_STORE_EBROKEN : rc > 0 ? why_errno(rc) : CACHE_STORE_EIO;
    }
    /* a new epoch: what was written before it is verified against its checksums when read */
    uint64_t epoch = info_u64(s, txn, cache_store_epoch_key, sizeof(cache_store_epoch_key) - 1) + 1;
    s->epoch = (uint32_t)epoch;
    s->purge.seq = info_u64(s, txn, cache_store_purge_seq_key, sizeof(cache_store_purge_seq_key) - 1);
    atomic_init(&s->purge.seq_pub, s->purge.seq);
    MDB_val ek = {sizeof(cache_store_epoch_key) - 1, cache_store_epoch_key}, ev = {sizeof(epoch), &epoch};
    if ((rc = mdb_put(txn, s->info, &ek, &ev, 0)) != 0)
        mdb_txn_abort(txn); /* (mdb_txn_commit frees the transaction even when it fails, mdb_put does not) */
    else
        rc = mdb_txn_commit(txn);
    if (rc != 0) {
        snprintf(err, errlen, "cannot write LMDB databases in %s: %s", dir, mdb_strerror(rc));
        return rc > 0 ? (rc == EIO ? CACHE_STORE_EUNWRITABLE : why_errno(rc)) : CACHE_STORE_EIO;
    }
    return 0;
}

static cache_store_t *new_store(const char *dir)
{
    cache_store_t *s = h2o_mem_alloc(sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->lock_fd = -1;
    s->usable = true;
    s->dir = h2o_strdup(NULL, dir, SIZE_MAX).base;
    return s;
}

static void free_store(cache_store_t *s)
{
    free(s->dir);
    free(s);
}

cache_store_t *cache_store_open_with(const char *dir, const cache_store_config_t *conf, int *why, char *err, size_t errlen)
{
    cache_store_t *s = new_store(dir);
    char path[PATH_MAX];
    int dummy;

    if (why == NULL)
        why = &dummy;
    *why = CACHE_STORE_EIO;
    s->max_variants = conf->max_variants;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        *why = why_errno(errno);
        snprintf(err, errlen, "cannot create cache directory %s: %s", dir, strerror(errno));
        goto Fail;
    }
    snprintf(path, sizeof(path), "%s/edgecache.lock", dir);
    if (conf->inherit_lock) {
        s->lock_fd = conf->lock_fd; /* (flock locks belong to the open file, which the previous process shares) */
        fcntl(s->lock_fd, F_SETFD, FD_CLOEXEC);
    } else if ((s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        *why = why_errno(errno);
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto Fail;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        *why = CACHE_STORE_ELOCKED;
        snprintf(err, errlen, "cache directory %s is in use by another edgecache process", dir);
        goto Fail;
    }
    /* with the lock held: no other edgecache uses these files */
    if (conf->reset && reset_files(dir, err, errlen) != 0) {
        *why = CACHE_STORE_EUNWRITABLE;
        goto Fail;
    }
    if ((*why = open_env(s, dir, conf, err, errlen)) == CACHE_STORE_EBROKEN && conf->move_aside) {
        mdb_env_close(s->env);
        s->env = NULL;
        char what[256];
        snprintf(what, sizeof(what), "%s", err);
        if (move_aside(dir, what, err, errlen) != 0) {
            *why = CACHE_STORE_EUNWRITABLE;
            goto Fail;
        }
        *why = open_env(s, dir, conf, err, errlen);
    }
    if (*why != 0)
        goto Fail;
    atomic_init(&s->next_oid, cache_store_initial_oid(s));
    s->sweep.next = 1;
    s->sweep.limit = atomic_load(&s->next_oid); /* chunks of this run's fetches are never swept */
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->map_pages = info.me_mapsize / (size_t)sysconf(_SC_PAGESIZE);
    init_sync(s);
    if (cache_store_writer_start(s, err, errlen) != 0) {
        *why = CACHE_STORE_EIO;
        goto Fail;
    }
    return s;

Fail:
    if (s->env != NULL)
        mdb_env_close(s->env);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free_store(s);
    return NULL;
}

cache_store_t *cache_store_open(const char *dir, uint64_t map_size, unsigned max_readers, char *err, size_t errlen)
{
    cache_store_config_t conf = {.map_size = map_size, .max_readers = max_readers};
    return cache_store_open_with(dir, &conf, NULL, err, errlen);
}

cache_store_t *cache_store_open_unusable(const char *dir)
{
    cache_store_t *s = new_store(dir);
    s->usable = false;
    init_sync(s);
    return s;
}

int cache_store_lock_fd(cache_store_t *s)
{
    return s->usable ? s->lock_fd : -1;
}

bool cache_store_usable(cache_store_t *s)
{
    return s->usable;
}

cache_store_fault_t cache_store_write_fault(int rc, uint64_t free_bytes, uint64_t needed)
{
    if (rc == ENOSPC || rc == EDQUOT)
        return CACHE_STORE_FAULT_DISK_FULL;
    if (rc == MDB_MAP_FULL)
        return CACHE_STORE_FAULT_MAP_FULL;
    if (rc == EIO && free_bytes < needed)
        return CACHE_STORE_FAULT_DISK_FULL; /* LMDB's "short write, filesystem full?" */
    return CACHE_STORE_FAULT_IO;
}

cache_store_t *cache_store_open_readonly(const char *dir, char *err, size_t errlen)
{
    cache_store_t *s = new_store(dir);
    MDB_txn *txn = NULL;
    struct stat st;
    char path[PATH_MAX];
    int rc;

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
    free_store(s);
    return NULL;
}

int cache_store_scan_aux(cache_store_t *s, h2o_iovec_t from, h2o_iovec_t to,
                         int (*cb)(void *ctx, h2o_iovec_t key, h2o_iovec_t value), void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k = {from.len, from.base}, v;
    int rc, ret = 0;

    if (!s->usable)
        return 0; /* nothing stored */
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
    out->usable = s->usable;
    out->vary_refused = atomic_load_explicit(&s->vary_refused, memory_order_relaxed);
    for (int f = 0; f != CACHE_STORE_NUM_FAULTS; ++f)
        out->write_errors[f] = atomic_load_explicit(&s->faults.dropped[f], memory_order_relaxed);
    if (!s->usable)
        return;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) == 0) {
        if (mdb_stat(txn, s->objects, &st) == 0)
            out->objects = st.ms_entries;
        mdb_txn_abort(txn);
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    out->map_size = (uint64_t)s->map_pages * page;
    out->bytes_used = (uint64_t)(cache_store_map_usage(s) * (double)s->map_pages) * page;
    out->evictions = atomic_load_explicit(&s->evict.evicted_objects, memory_order_relaxed);
    out->purged = atomic_load_explicit(&s->purge.purged_objects, memory_order_relaxed);
    out->dropped_writes = atomic_load_explicit(&s->queue.dropped_writes, memory_order_relaxed);
    out->backlog_bytes = atomic_load_explicit(&s->queue.backlog, memory_order_relaxed);
    out->writer_busy_ns = atomic_load_explicit(&s->queue.busy_ns, memory_order_relaxed);
}

int cache_store_snapshot(cache_store_t *s, const char *dest, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct stat st;
    int rc;

    if (!s->usable) {
        snprintf(err, errlen, "the cache in %s is not usable (see the log at start): there is nothing to copy", s->dir);
        return -1;
    }
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
    if (s->readonly || !s->usable) {
        if (s->env != NULL)
            mdb_env_close(s->env);
        pthread_mutex_destroy(&s->mutex);
        cache_store_writer_dispose(s);
        cache_store_purge_dispose(s);
        free_store(s);
        return;
    }
    if (!atomic_load(&s->queue.released))
        cache_store_writer_stop(s);
    cache_store_purge_dispose(s);
    mdb_env_sync(s->env, 1);
    mdb_env_close(s->env);
    close(s->lock_fd);
    pthread_mutex_destroy(&s->mutex);
    cache_store_writer_dispose(s);
    free_store(s);
}
