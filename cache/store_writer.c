/*
 * cache/store_writer.c: the store's writer thread, its queue, the pending index, and the syncer.
 *
 * Every cache_store_put_* / _delete / _purge call copies its arguments into a message (msg_t) and queues
 * it; the single writer thread takes up to BATCH_MAX_BYTES of messages at a time and applies them in one
 * write transaction. A loop never waits for the writer: past QUEUE_MAX_BYTES of backlog, new objects are
 * dropped (deletions always go through).
 *
 * Invariants that are easy to break:
 * - Only the writer thread opens write transactions, and it applies messages in queue order, so the
 *   chunks of an object are committed no later than the record that names them.
 * - A record that names chunks is written only when its first and last chunks are in the database, so a
 *   chunk that did not fit can never leave a record without its body.
 * - Readers see every write as soon as it is queued: records, deletions and chunks that the writer has not
 *   committed yet are found in the pending index first, and leave it only after their batch is committed
 *   (or dropped). Otherwise an object just fetched would be a miss again until the next commit, and a
 *   second origin request would follow.
 * - Bodies carry checksums (a CRC-32 trailer on each chunk, body_crc in a record with an inline body),
 *   computed here when queued, never later: what a reader finds in the pending index has not been at risk.
 * - `mutex` is never held across an LMDB call (see cache/store_int.h): the writer releases it before a
 *   batch and takes it again to unlink what the batch committed.
 * - A batch that fails is dropped, never retried (but after MDB_MAP_FULL, once room is made): a full disk
 *   must cost the edge its stores, not its loops. Each failure is counted; the log gets one line per cause
 *   per FAULT_LOG_INTERVAL_SEC (cache_store_note_fault), not one per batch.
 * - Messages are malloc'd on the loops' threads (each with its own glibc arena) and freed here. A backlog
 *   raises those arenas' high-water mark, which glibc keeps as free but resident memory (249 MB after a fast
 *   1,000,000-object fill) unless someone returns it: after a backlog of TRIM_AFTER_BYTES or more, the writer
 *   calls malloc_trim once the burst is over (its queue empty, and no such backlog for TRIM_QUIET_MS). A trim
 *   walks every arena's free chunks under that arena's lock (a loop that mallocs meanwhile waits: about 2,000
 *   madvise calls after a 40 MB backlog), so it is kept out of bursts and off the steady state, where
 *   backlogs stay small.
 * - The writer and the syncer run under SCHED_BATCH (background_thread): on a machine whose cores the loops
 *   keep busy, a waking writer would otherwise preempt a loop in the middle of its requests, and every
 *   request queued on that loop would wait for the batch (bench/NOTES.md, issue 15 part 3). A batch thread
 *   keeps its fair share of CPU; it only waits for a core to fall idle or for the next scheduler tick.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include "cache/checksum.h"
#include "cache/store_int.h"
#include "common/log.h"

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
msg_t *cache_store_pending_record(cache_store_t *s, const cache_hash_t *hash)
{
    h2o_linklist_t *anchor = s->pending.buckets + pending_bucket_of_hash(hash);
    for (h2o_linklist_t *l = anchor->next; l != anchor; l = l->next) {
        msg_t *m = H2O_STRUCT_FROM_MEMBER(msg_t, pending, l);
        if ((m->type == MSG_RECORD || m->type == MSG_DELETE) && memcmp(m->hash.bytes, hash->bytes, sizeof(hash->bytes)) == 0)
            return m;
    }
    return NULL;
}

/* The newest pending chunk `index` of `oid`, or NULL. With s->mutex held. */
msg_t *cache_store_pending_chunk(cache_store_t *s, uint64_t oid, uint32_t index)
{
    h2o_linklist_t *anchor = s->pending.buckets + pending_bucket_of_chunk(oid, index);
    for (h2o_linklist_t *l = anchor->next; l != anchor; l = l->next) {
        msg_t *m = H2O_STRUCT_FROM_MEMBER(msg_t, pending, l);
        if (m->type == MSG_CHUNK && m->oid == oid && m->index == index)
            return m;
    }
    return NULL;
}

/* --- the queue ----------------------------------------------------------------------------------- */

/* Allocates a message with room for `len` + `extra` bytes and copies `data` (when not NULL) into it; the
 * caller completes it and hands it to publish. NULL when the write is dropped. */
static msg_t *enqueue(cache_store_t *s, msg_type_t type, const cache_hash_t *hash, uint64_t oid, uint32_t index, const void *data,
                      size_t len, size_t extra)
{
    if (!s->usable || atomic_load_explicit(&s->queue.released, memory_order_relaxed))
        return NULL; /* no environment, or the writer handed over to another process: nothing is stored */
    /* a loop never waits for the writer: when the writer is this far behind, new objects are simply not
     * stored (a chunk dropped here makes its record be dropped too); deletions always go through */
    if ((type == MSG_CHUNK || type == MSG_RECORD || type == MSG_TOUCH) &&
        atomic_load_explicit(&s->queue.backlog, memory_order_relaxed) > QUEUE_MAX_BYTES) {
        atomic_fetch_add_explicit(&s->queue.dropped_writes, 1, memory_order_relaxed);
        cache_record_t rec;
        if (type == MSG_RECORD && cache_record_decode(&rec, data, len) == 0 && rec.oid != 0 && rec.chunk_size != 0)
            cache_store_post(s, MSG_DISCARD, NULL, rec.oid, (uint32_t)((rec.body_len + rec.chunk_size - 1) / rec.chunk_size), NULL,
                             0);
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
    *s->queue.tail = m;
    s->queue.tail = &m->next;
    if (m->type == MSG_RECORD || m->type == MSG_DELETE || m->type == MSG_CHUNK) {
        h2o_linklist_t *anchor = s->pending.buckets + (m->type == MSG_CHUNK ? pending_bucket_of_chunk(m->oid, m->index)
                                                                            : pending_bucket_of_hash(&m->hash));
        h2o_linklist_insert(anchor->next, &m->pending); /* newest first */
        atomic_fetch_add_explicit(&s->pending.count, 1, memory_order_release);
    }
    ++s->queue.queued_seq;
    s->queue.queued_bytes += m->len;
    atomic_fetch_add_explicit(&s->queue.backlog, m->len, memory_order_relaxed);
    pthread_cond_signal(&s->queue.cond);
    pthread_mutex_unlock(&s->mutex);
}

void cache_store_post(cache_store_t *s, msg_type_t type, const cache_hash_t *hash, uint64_t oid, uint32_t index, const void *data,
                      size_t len)
{
    msg_t *m = enqueue(s, type, hash, oid, index, data, len, 0);
    if (m != NULL)
        publish(s, m);
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
    /* the record's use time is when it was queued, not when the writer gets to it: a writer running behind
     * must not make a just-stored cold object look newer than the hits the loops handed over meanwhile */
    msg_t *m = enqueue(store, MSG_RECORD, hash, purge_seq, (uint32_t)time(NULL), record, len, 0);
    if (m == NULL)
        return;
    if (cache_record_decode(&rec, m->data, m->len) == 0)
        cache_record_seal(m->data, store->epoch, rec.chunk_size == 0 ? cache_checksum(rec.body.base, rec.body.len) : 0);
    publish(store, m);
}

void cache_store_discard(cache_store_t *store, uint64_t oid, uint32_t nchunks)
{
    if (nchunks != 0)
        cache_store_post(store, MSG_DISCARD, NULL, oid, nchunks, NULL, 0);
}

void cache_store_delete(cache_store_t *store, const cache_hash_t *hash)
{
    cache_store_post(store, MSG_DELETE, hash, 0, 0, NULL, 0);
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

void cache_store_flush(cache_store_t *s)
{
    pthread_mutex_lock(&s->mutex);
    uint64_t target = s->queue.queued_seq;
    while (s->queue.committed_seq < target)
        pthread_cond_wait(&s->queue.committed, &s->mutex);
    pthread_mutex_unlock(&s->mutex);
}

/* --- failed writes ------------------------------------------------------------------------------- */

static int64_t monotonic_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

void cache_store_note_fault(cache_store_t *s, int rc, size_t nwrites, uint64_t needed)
{
    struct statvfs vfs;
    uint64_t free_bytes = statvfs(s->dir, &vfs) == 0 ? (uint64_t)vfs.f_bavail * vfs.f_frsize : UINT64_MAX;
    cache_store_fault_t f = cache_store_write_fault(rc, free_bytes, needed);

    atomic_fetch_add_explicit(&s->faults.dropped[f], nwrites, memory_order_relaxed);
    pthread_mutex_lock(&s->mutex);
    s->faults.unreported[f] += nwrites;
    s->faults.last_rc[f] = rc;
    pthread_mutex_unlock(&s->mutex);
    cache_store_report_faults(s, false);
}

void cache_store_report_faults(cache_store_t *s, bool force)
{
    uint64_t n[CACHE_STORE_NUM_FAULTS] = {0};
    int rc[CACHE_STORE_NUM_FAULTS];
    int64_t now = monotonic_sec(), since;
    bool any = false;

    /* take the counts under the lock, log after it: `mutex` is never held across a write to the log */
    pthread_mutex_lock(&s->mutex);
    since = s->faults.last_report != 0 ? now - s->faults.last_report : FAULT_LOG_INTERVAL_SEC;
    if (force || since >= FAULT_LOG_INTERVAL_SEC) {
        for (int f = 0; f != CACHE_STORE_NUM_FAULTS; ++f) {
            if ((n[f] = s->faults.unreported[f]) != 0)
                any = true;
            rc[f] = s->faults.last_rc[f];
            s->faults.unreported[f] = 0;
        }
        if (any)
            s->faults.last_report = now;
    }
    pthread_mutex_unlock(&s->mutex);
    if (!any)
        return;
    if (since > FAULT_LOG_INTERVAL_SEC || since <= 0)
        since = FAULT_LOG_INTERVAL_SEC; /* (the first line after a quiet spell: they all happened just now) */
    if (n[CACHE_STORE_FAULT_DISK_FULL] != 0)
        common_log_error("cache disk full: %s: %llu writes dropped in the last %llds (%s); reads and misses go on", s->dir,
                         (unsigned long long)n[CACHE_STORE_FAULT_DISK_FULL], (long long)since,
                         mdb_strerror(rc[CACHE_STORE_FAULT_DISK_FULL]));
    if (n[CACHE_STORE_FAULT_MAP_FULL] != 0)
        common_log_warn("cache full: %s: %llu writes dropped in the last %llds: cache.max_size is in use even after eviction",
                        s->dir, (unsigned long long)n[CACHE_STORE_FAULT_MAP_FULL], (long long)since);
    if (n[CACHE_STORE_FAULT_IO] != 0)
        common_log_error("cache write error: %s: %llu writes dropped in the last %llds: %s", s->dir,
                         (unsigned long long)n[CACHE_STORE_FAULT_IO], (long long)since, mdb_strerror(rc[CACHE_STORE_FAULT_IO]));
}

/* --- the writer thread ---------------------------------------------------------------------------- */

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Counts the writer's time since `start` as busy (edgecache_store_writer_busy_seconds_total). Writer only. */
static void add_busy(cache_store_t *s, int64_t start)
{
    int64_t d = monotonic_ns() - start;
    if (d > 0)
        atomic_fetch_add_explicit(&s->queue.busy_ns, (uint64_t)d, memory_order_relaxed);
}

/* Returns freed heap to the kernel after a large backlog, once the burst is over. Called by the writer without
 * `mutex`, when its queue is empty (see the paragraph at the top). */
static void maybe_trim(cache_store_t *s)
{
    if (s->queue.peak_since_trim < TRIM_AFTER_BYTES)
        return;
    int64_t now = monotonic_ns();
    if (now / 1000000 - s->queue.last_backlog_ms < TRIM_QUIET_MS)
        return; /* (the writer looks again within a second: its idle wait is one second long) */
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    s->queue.peak_since_trim = 0;
    add_busy(s, now);
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
        bool bar = cache_store_purge_barred(s, &rec, m->oid);
        pthread_mutex_unlock(&s->mutex);
        uint32_t n = num_chunks(&rec);
        if (bar ||
            (n != 0 && (!cache_store_chunk_exists(s, txn, rec.oid, 0) || !cache_store_chunk_exists(s, txn, rec.oid, n - 1)))) {
            /* purged while it was on its way, or its body did not fit: never store a record without its
             * chunks, and drop what did fit */
            return cache_store_delete_chunks(s, txn, rec.oid, n);
        }
        if (s->max_variants != 0 && rec.vary.len != 0 && cache_store_url_objects(s, txn, &rec) > s->max_variants &&
            !cache_store_object_exists(s, txn, &m->hash)) {
            /* a new variant of a URL that has max_variants (plus its index record) already: served, not stored,
             * so that one client making up variants cannot evict everything else. A variant already stored is
             * replaced as usual. (Refusing keeps the variants in use; replacing one would need an LRU per URL.) */
            atomic_fetch_add_explicit(&s->vary_refused, 1, memory_order_relaxed);
            return cache_store_delete_chunks(s, txn, rec.oid, n);
        }
        if ((rc = cache_store_delete_object(s, txn, &m->hash, rec.oid, true, NULL)) != 0 ||
            (rc = mdb_put(txn, s->objects, &k, &v, 0)) != 0)
            return rc;
        return cache_store_index_add(s, txn, &m->hash, &rec, m->index != 0 && m->index < now ? m->index : now);
    }
    case MSG_DISCARD:
        return cache_store_delete_chunks(s, txn, m->oid, m->index);
    case MSG_DELETE:
        return cache_store_delete_object(s, txn, &m->hash, 0, false, NULL);
    case MSG_TOUCH:
        if (deletes_only)
            return 0;
        for (size_t off = 0; off + CACHE_KEY_HASH_LEN <= m->len; off += CACHE_KEY_HASH_LEN) {
            cache_hash_t h;
            memcpy(h.bytes, m->data + off, CACHE_KEY_HASH_LEN);
            int rc = cache_store_set_atime(s, txn, &h, (uint32_t)m->oid, true);
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
        return cache_store_purge_apply(s, txn, m);
    }
    return 0;
}

static int commit_batch(cache_store_t *s, msg_t *batch, bool deletes_only)
{
    MDB_txn *txn;
    uint64_t oid_hwm = 0;
    int rc;

    cache_store_purge_reset_effects(s); /* (what an aborted attempt recorded never happened) */
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        return rc;
    for (msg_t *m = batch; m != NULL; m = m->next)
        if ((rc = apply(s, txn, m, deletes_only, &oid_hwm)) != 0)
            goto Fail;
    if (oid_hwm != 0) {
        MDB_val k = {sizeof(cache_store_oid_hwm_key) - 1, cache_store_oid_hwm_key}, v = {sizeof(oid_hwm), &oid_hwm};
        if ((rc = mdb_put(txn, s->info, &k, &v, 0)) != 0)
            goto Fail;
    }
    if ((rc = mdb_txn_commit(txn)) == 0)
        cache_store_purge_publish_effects(s);
    return rc;
Fail:
    mdb_txn_abort(txn);
    return rc;
}

/* Makes the calling thread a batch thread: it no longer preempts a running loop when it wakes. Best effort:
 * where the policy is refused (another kernel, a sandbox), the thread runs as before. */
static void background_thread(void)
{
    struct sched_param param = {.sched_priority = 0};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
}

/* The syncer: every SYNC_INTERVAL_SEC, flushes what the writer committed since. It is a thread of its own so
 * that the writer never waits for the disk: a writer stalled in fdatasync falls behind, and past
 * QUEUE_MAX_BYTES of backlog new objects are dropped. */
static void *syncer_main(void *arg)
{
    cache_store_t *s = arg;

    background_thread();
    pthread_mutex_lock(&s->mutex);
    while (!s->queue.stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += SYNC_INTERVAL_SEC;
        pthread_cond_timedwait(&s->sync.cond, &s->mutex, &until);
        if (s->queue.stopping)
            break;
        pthread_mutex_unlock(&s->mutex);
        int rc;
        if (atomic_exchange(&s->sync.dirty, false) && (rc = mdb_env_sync(s->env, 1)) != 0)
            cache_store_note_fault(s, rc, 1, 0); /* (fdatasync: ENOSPC when delayed allocation finds no room) */
        pthread_mutex_lock(&s->mutex);
    }
    pthread_mutex_unlock(&s->mutex);
    return NULL;
}

static void *writer_main(void *arg)
{
    cache_store_t *s = arg;

    background_thread();
    pthread_mutex_lock(&s->mutex);
    for (;;) {
        while (s->queue.head == NULL && !s->queue.stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            if (s->sweep.next < s->sweep.limit) {
                /* idle: sweep a little, then look at the queue again */
                pthread_mutex_unlock(&s->mutex);
                int64_t t0 = monotonic_ns();
                cache_store_sweep_step(s);
                add_busy(s, t0);
                pthread_mutex_lock(&s->mutex);
                continue;
            }
            if (s->queue.peak_since_trim >= TRIM_AFTER_BYTES) {
                /* the queue drained after a backlog: give the freed heap back (now, or on a later tick when
                 * the backlog is too recent) */
                pthread_mutex_unlock(&s->mutex);
                maybe_trim(s);
                pthread_mutex_lock(&s->mutex);
                if (s->queue.head != NULL || s->queue.stopping)
                    continue;
            }
            pthread_cond_timedwait(&s->queue.cond, &s->mutex, &until);
            pthread_mutex_unlock(&s->mutex);
            cache_store_report_faults(s, false); /* what failed since the last line, once its interval is over */
            pthread_mutex_lock(&s->mutex);
        }
        if (s->queue.head == NULL && s->queue.stopping)
            break;
        /* take up to BATCH_MAX_BYTES off the queue: one transaction per batch, however many messages */
        msg_t *batch = s->queue.head, **cut = &s->queue.head;
        size_t batch_bytes = 0, nmsgs = 0;
        uint64_t seq = s->queue.committed_seq;
        while (*cut != NULL && (batch_bytes < BATCH_MAX_BYTES || cut == &s->queue.head)) {
            batch_bytes += (*cut)->len;
            ++nmsgs;
            ++seq;
            cut = &(*cut)->next;
        }
        s->queue.head = *cut;
        *cut = NULL;
        if (s->queue.head == NULL)
            s->queue.tail = &s->queue.head;
        if (s->queue.queued_bytes >= TRIM_AFTER_BYTES)
            s->queue.last_backlog_ms = monotonic_ns() / 1000000;
        if (s->queue.queued_bytes > s->queue.peak_since_trim)
            s->queue.peak_since_trim = s->queue.queued_bytes; /* (all that was queued: the heap held it at once) */
        s->queue.queued_bytes -= batch_bytes;
        pthread_mutex_unlock(&s->mutex);

        int64_t t0 = monotonic_ns();
        if (batch != NULL) {
            cache_store_keep_headroom(s, batch_bytes, nmsgs, false);
            int rc = commit_batch(s, batch, false);
            if (rc == MDB_MAP_FULL) {
                cache_store_keep_headroom(s, batch_bytes, nmsgs, true); /* make room, then try once more */
                rc = commit_batch(s, batch, false);
            }
            if (rc == MDB_MAP_FULL) {
                cache_store_note_fault(s, rc, nmsgs, batch_bytes);
                rc = commit_batch(s, batch, true); /* the deletions and invalidations still go through */
            }
            /* a full disk fails every batch: the writes are dropped, counted, and logged once per interval */
            if (rc != 0)
                cache_store_note_fault(s, rc, nmsgs, batch_bytes + ((uint64_t)1 << 20));
            atomic_store(&s->sync.dirty, true);
        }
        /* committed (or dropped): out of the pending index, so readers go to LMDB */
        atomic_fetch_sub_explicit(&s->queue.backlog, batch_bytes, memory_order_relaxed);
        pthread_mutex_lock(&s->mutex);
        for (msg_t *m = batch; m != NULL; m = m->next) {
            if (h2o_linklist_is_linked(&m->pending)) {
                h2o_linklist_unlink(&m->pending);
                atomic_fetch_sub_explicit(&s->pending.count, 1, memory_order_release);
            }
        }
        pthread_mutex_unlock(&s->mutex);
        while (batch != NULL) {
            msg_t *next = batch->next;
            free(batch);
            batch = next;
        }
        add_busy(s, t0);

        cache_store_report_faults(s, false);
        pthread_mutex_lock(&s->mutex);
        if (seq > s->queue.committed_seq)
            s->queue.committed_seq = seq;
        pthread_cond_broadcast(&s->queue.committed);
    }
    pthread_mutex_unlock(&s->mutex);
    cache_key_thread_dispose(); /* (deleting an object hashes the keys of its encoded variants) */
    return NULL;
}

void cache_store_writer_init(cache_store_t *s)
{
    pthread_cond_init(&s->queue.cond, NULL);
    pthread_cond_init(&s->queue.committed, NULL);
    pthread_cond_init(&s->sync.cond, NULL);
    atomic_init(&s->sync.dirty, false);
    s->queue.tail = &s->queue.head;
    for (size_t i = 0; i != PENDING_BUCKETS; ++i)
        h2o_linklist_init_anchor(s->pending.buckets + i);
    atomic_init(&s->pending.count, 0);
    atomic_init(&s->queue.backlog, 0);
    atomic_init(&s->queue.dropped_writes, 0);
    atomic_init(&s->queue.released, false);
}

int cache_store_writer_start(cache_store_t *s, char *err, size_t errlen)
{
    int rc;

    if ((rc = pthread_create(&s->queue.writer, NULL, writer_main, s)) != 0) {
        snprintf(err, errlen, "cannot start the writer thread: %s", strerror(rc));
        return -1;
    }
    if ((rc = pthread_create(&s->sync.thread, NULL, syncer_main, s)) != 0) {
        pthread_mutex_lock(&s->mutex);
        s->queue.stopping = 1;
        pthread_cond_signal(&s->queue.cond);
        pthread_mutex_unlock(&s->mutex);
        pthread_join(s->queue.writer, NULL);
        snprintf(err, errlen, "cannot start the sync thread: %s", strerror(rc));
        return -1;
    }
    return 0;
}

void cache_store_writer_stop(cache_store_t *s)
{
    pthread_mutex_lock(&s->mutex);
    s->queue.stopping = 1;
    pthread_cond_signal(&s->queue.cond);
    pthread_cond_signal(&s->sync.cond);
    pthread_mutex_unlock(&s->mutex);
    pthread_join(s->queue.writer, NULL);
    pthread_join(s->sync.thread, NULL);
    cache_store_report_faults(s, true); /* what failed since the last line */
}

void cache_store_writer_release(cache_store_t *s)
{
    if (!s->usable || s->readonly || atomic_exchange(&s->queue.released, true))
        return;
    cache_store_writer_stop(s); /* (the queue is committed first) */
    mdb_env_sync(s->env, 1);
}

int cache_store_writer_resume(cache_store_t *s, char *err, size_t errlen)
{
    if (!s->usable || s->readonly || !atomic_load(&s->queue.released))
        return 0;
    uint64_t oid = cache_store_initial_oid(s);
    if (oid > atomic_load(&s->next_oid))
        atomic_store(&s->next_oid, oid);
    pthread_mutex_lock(&s->mutex);
    s->queue.stopping = 0;
    pthread_mutex_unlock(&s->mutex);
    atomic_store(&s->queue.released, false);
    return cache_store_writer_start(s, err, errlen);
}

void cache_store_writer_dispose(cache_store_t *s)
{
    pthread_cond_destroy(&s->queue.cond);
    pthread_cond_destroy(&s->queue.committed);
    pthread_cond_destroy(&s->sync.cond);
}
