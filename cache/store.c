/*
 * cache/store.c: the LMDB store: opening and closing it, its statistics and snapshots.
 *
 * The store's other jobs live beside it, sharing cache/store_int.h: the loops' reads (store_read.c), the
 * writer thread and its queue (store_writer.c), the secondary indexes (store_index.c), invalidations
 * (store_purge.c), and the size budget with eviction and the orphan sweep (store_evict.c).
 *
 * Invariants that are easy to break (store_read.c has the reads' own):
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
