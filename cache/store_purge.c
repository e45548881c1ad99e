/*
 * cache/store_purge.c: invalidations (purge by URL, by prefix, by tag; hard or soft), their status, and
 * the barrier that keeps a purged object from coming back.
 *
 * cache_store_purge hands out an id (persisted in the info database, so ids grow across restarts), keeps
 * the invalidation in a history of PURGE_HISTORY entries for its status, and queues a MSG_PURGE for the
 * writer, which applies it in slices of PURGE_SLICE objects, one slice per transaction, found through the
 * urls and tags indexes (cache/store_index.c).
 *
 * Invariants that are easy to break:
 * - An invalidation is in force from its answer on, not from the writer's next commit: while one is
 *   queued and not finished (purge.pending != 0), every record a reader copies goes through
 *   cache_store_purge_apply_pending, and no reader pins a value straight from the map.
 * - A record whose request went to the origin before an invalidation that covers it (a lower purge
 *   sequence) is refused by the writer (cache_store_purge_barred), so a response already on its way cannot
 *   bring a purged object back.
 * - What a slice did (its count, its status, the rest of a larger purge queued again) is published only
 *   once its transaction is committed: a batch may be aborted and retried after eviction.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cache/store_int.h"
#include "cache/ttl.h"

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

/* A target split into the hosts it names (empty: every host) and what it names there (see cache/store.h). */
static void split_target(cache_purge_kind_t kind, h2o_iovec_t t, h2o_iovec_t *hosts, h2o_iovec_t *rest)
{
    const char *sep = memchr(t.base, kind == CACHE_PURGE_TAG ? '\n' : '/', t.len);
    size_t skip = kind == CACHE_PURGE_TAG ? 1 : 0; /* (a path keeps its '/') */

    if (sep == NULL) {
        *hosts = h2o_iovec_init(NULL, 0);
        *rest = t;
        return;
    }
    *hosts = h2o_iovec_init(t.base, (size_t)(sep - t.base));
    *rest = h2o_iovec_init(sep + skip, t.len - (size_t)(sep - t.base) - skip);
}

/* The host and the path of a key's URL part: "shop.example.com/a" is "shop.example.com" and "/a". */
static void split_url(h2o_iovec_t url, h2o_iovec_t *host, h2o_iovec_t *path)
{
    const char *slash = memchr(url.base, '/', url.len);
    size_t hlen = slash != NULL ? (size_t)(slash - url.base) : url.len;
    *host = h2o_iovec_init(url.base, hlen);
    *path = h2o_iovec_init(url.base + hlen, url.len - hlen);
}

/* Whether an invalidation of `kind` and `target` names the object of `rec`. */
static bool target_covers(cache_purge_kind_t kind, h2o_iovec_t target, const cache_record_t *rec)
{
    h2o_iovec_t hosts, rest, host, path;
    split_target(kind, target, &hosts, &rest);
    split_url(cache_key_url(rec->key), &host, &path);
    if (!cache_key_host_in(hosts, host))
        return false;
    switch (kind) {
    case CACHE_PURGE_URL:
        return h2o_memis(path.base, path.len, rest.base, rest.len);
    case CACHE_PURGE_PREFIX:
        return path.len >= rest.len && memcmp(path.base, rest.base, rest.len) == 0;
    case CACHE_PURGE_TAG: {
        struct {
            const char *t;
            size_t len;
            bool hit;
        } c = {rest.base, rest.len, false};
        cache_store_for_each_tag(rec, tag_matches, &c);
        return c.hit;
    }
    }
    return false;
}

/* Whether the invalidation `e` names the object of `rec`. With s->mutex held (`e` is in the history). */
static bool purge_covers(const purge_entry_t *e, const cache_record_t *rec)
{
    return target_covers(e->st.kind, h2o_iovec_init(e->target, e->target_len), rec);
}

uint64_t cache_store_purge_seq(cache_store_t *s)
{
    return atomic_load_explicit(&s->purge.seq_pub, memory_order_acquire);
}

uint64_t cache_store_purge(cache_store_t *s, cache_purge_kind_t kind, const char *target, size_t len, bool soft)
{
    pthread_mutex_lock(&s->mutex);
    uint64_t id = ++s->purge.seq;
    atomic_store_explicit(&s->purge.seq_pub, id, memory_order_release);
    purge_entry_t *e = &s->purge.history[id % PURGE_HISTORY];
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
    if (!s->usable) { /* nothing is stored, so nothing is left to invalidate */
        e->st.done = true;
        e->st.completed = e->st.created;
        pthread_mutex_unlock(&s->mutex);
        return id;
    }
    pthread_mutex_unlock(&s->mutex);
    atomic_fetch_add_explicit(&s->purge.pending, 1, memory_order_release);
    cache_store_post(s, MSG_PURGE, NULL, id, (uint32_t)kind | (soft ? PURGE_SOFT : 0), target, len);
    return id;
}

bool cache_store_purge_status(cache_store_t *s, uint64_t id, cache_store_purge_status_t *out)
{
    pthread_mutex_lock(&s->mutex);
    const purge_entry_t *e = &s->purge.history[id % PURGE_HISTORY];
    bool found = id != 0 && e->st.id == id;
    if (found)
        *out = e->st;
    pthread_mutex_unlock(&s->mutex);
    return found;
}

/* A record read while invalidations are queued but not applied yet, made what the reader will see once
 * they are: gone (CACHE_STORE_ENOTFOUND) or, for a soft one, expired now (its lifetime patched in `copy`).
 * So an invalidation is in force from its answer on, not from the writer's next commit. */
int cache_store_purge_apply_pending(cache_store_t *s, uint8_t *copy, size_t len)
{
    cache_record_t rec;
    int ret = 0;

    if (cache_record_decode(&rec, copy, len) != 0)
        return 0;
    pthread_mutex_lock(&s->mutex);
    for (size_t i = 0; i != PURGE_HISTORY && ret == 0; ++i) {
        const purge_entry_t *e = &s->purge.history[i];
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

/* --- in the writer ------------------------------------------------------------------------------- */

/* Whether an invalidation made after `seq` (when the record's request went out) covers it: then it is not
 * stored, lest a response that was already on its way bring a purged object back. With s->mutex held. */
bool cache_store_purge_barred(cache_store_t *s, const cache_record_t *rec, uint64_t seq)
{
    if (seq >= s->purge.seq)
        return false; /* (the common case: nothing invalidated since) */
    for (size_t i = 0; i != PURGE_HISTORY; ++i) {
        const purge_entry_t *e = &s->purge.history[i];
        if (e->st.id > seq && !e->st.soft && purge_covers(e, rec))
            return true;
    }
    return false;
}

/* Collects the hashes of the duplicates of one key of the index `dbi` (a tag). */
static void collect_key(MDB_txn *txn, MDB_dbi dbi, h2o_iovec_t target, hash_vec_t *out)
{
    MDB_cursor *cur;
    MDB_val k = {target.len, target.base}, v;
    int rc;

    if (target.len == 0 || mdb_cursor_open(txn, dbi, &cur) != 0)
        return;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); rc == 0 && h2o_memis(k.mv_data, k.mv_size, target.base, target.len);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (v.mv_size == CACHE_KEY_HASH_LEN)
            cache_store_hash_vec_push(out, v.mv_data);
    mdb_cursor_close(cur);
}

/* Collects the hashes that a url or prefix invalidation names from the urls index ("host/path" → hashes). The
 * index is in host order, and each host's URLs are one contiguous run, so the scan hops from host to host: on
 * a host the target names, a range scan from host + path; then a seek past the host's run (host + "0", '0'
 * being the byte after '/'). That is a few seeks per stored host, not a read of every URL. The index keeps
 * URLs truncated to URL_INDEX_MAX, so the comparisons here are on truncated text; the caller checks the whole
 * URL of each record. */
static void collect_urls(cache_store_t *s, MDB_txn *txn, h2o_iovec_t hosts, h2o_iovec_t path, bool prefix, hash_vec_t *out)
{
    MDB_cursor *cur;
    MDB_val k, v;
    char seek[URL_INDEX_MAX + 1];
    int rc;

    if (path.len == 0) /* the empty prefix: every URL of a host starts with host + "/" (and LMDB seeks no empty key) */
        path = h2o_iovec_init(H2O_STRLIT("/"));
    if (mdb_cursor_open(txn, s->index.urls, &cur) != 0)
        return;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        const char *slash = memchr(k.mv_data, '/', k.mv_size);
        size_t hlen = slash != NULL ? (size_t)(slash - (const char *)k.mv_data) : k.mv_size;
        if (hlen >= URL_INDEX_MAX) { /* (a host that fills the index key: no path of it can be told apart) */
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP);
            continue;
        }
        memcpy(seek, k.mv_data, hlen); /* (the cursor's data changes with the next seek) */
        if (cache_key_host_in(hosts, h2o_iovec_init(seek, hlen))) {
            size_t n = hlen + path.len < URL_INDEX_MAX ? hlen + path.len : URL_INDEX_MAX;
            memcpy(seek + hlen, path.base, n - hlen);
            MDB_val sk = {n, seek};
            for (rc = mdb_cursor_get(cur, &sk, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &sk, &v, MDB_NEXT)) {
                if (prefix ? sk.mv_size < n || memcmp(sk.mv_data, seek, n) != 0 : !h2o_memis(sk.mv_data, sk.mv_size, seek, n))
                    break;
                if (v.mv_size == CACHE_KEY_HASH_LEN)
                    cache_store_hash_vec_push(out, v.mv_data);
            }
        }
        seek[hlen] = '0';
        k = (MDB_val){hlen + 1, seek};
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
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
 * (cache_store_purge_publish_effects), and the rest, when there is more than a slice, is queued again then. */
int cache_store_purge_apply(cache_store_t *s, MDB_txn *txn, msg_t *m)
{
    cache_purge_kind_t kind = (cache_purge_kind_t)(m->index & 0xff);
    bool soft = (m->index & PURGE_SOFT) != 0;
    h2o_iovec_t target = h2o_iovec_init(m->data, m->len);
    hash_vec_t hashes = {NULL};
    uint64_t n = 0;

    h2o_iovec_t hosts, rest;
    split_target(kind, target, &hosts, &rest);
    if (kind == CACHE_PURGE_TAG)
        collect_key(txn, s->index.tags, rest, &hashes);
    else if (kind == CACHE_PURGE_PREFIX || rest.len != 0)
        collect_urls(s, txn, hosts, rest, kind == CACHE_PURGE_PREFIX, &hashes);
    size_t i;
    for (i = 0; i != hashes.size && n != PURGE_SLICE; ++i) {
        MDB_val k = {CACHE_KEY_HASH_LEN, hashes.entries[i].bytes}, v;
        cache_record_t rec;
        if (mdb_get(txn, s->objects, &k, &v) != 0 || cache_record_decode(&rec, v.mv_data, v.mv_size) != 0)
            continue;
        /* the index keeps URLs truncated, and a tag's objects may be on other hosts: check the record itself */
        if (!target_covers(kind, target, &rec))
            continue;
        size_t bytes = 0;
        if (soft ? soften(s, txn, &hashes.entries[i])
                 : (cache_store_delete_object(s, txn, &hashes.entries[i], 0, false, &bytes) == 0 && bytes != 0))
            ++n;
    }
    bool more = i != hashes.size; /* one slice per transaction: the rest goes to the back of the queue */
    MDB_val sk = {sizeof(cache_store_purge_seq_key) - 1, cache_store_purge_seq_key}, sv = {sizeof(m->oid), &m->oid};
    free(hashes.entries);
    if (s->purge.num_effects == s->purge.cap_effects) {
        s->purge.cap_effects = s->purge.cap_effects == 0 ? 8 : s->purge.cap_effects * 2;
        s->purge.effects = h2o_mem_realloc(s->purge.effects, s->purge.cap_effects * sizeof(s->purge.effects[0]));
    }
    s->purge.effects[s->purge.num_effects++] = (purge_effect_t){m, n, more};
    return mdb_put(txn, s->info, &sk, &sv, 0); /* ids keep growing across restarts */
}

/* Publishes what the purge slices of a committed batch did: their counts and status, and the rest of a
 * purge larger than a slice, queued again. */
void cache_store_purge_publish_effects(cache_store_t *s)
{
    for (size_t i = 0; i != s->purge.num_effects; ++i) {
        const purge_effect_t *fx = &s->purge.effects[i];
        atomic_fetch_add_explicit(&s->purge.purged_objects, fx->objects, memory_order_relaxed);
        pthread_mutex_lock(&s->mutex);
        purge_entry_t *e = &s->purge.history[fx->msg->oid % PURGE_HISTORY];
        if (e->st.id == fx->msg->oid) {
            e->st.objects += fx->objects;
            if (!fx->more) {
                e->st.done = true;
                e->st.completed = (int64_t)time(NULL);
                atomic_fetch_sub_explicit(&s->purge.pending, 1, memory_order_release);
            }
        }
        pthread_mutex_unlock(&s->mutex);
        if (fx->more)
            cache_store_post(s, MSG_PURGE, NULL, fx->msg->oid, fx->msg->index, fx->msg->data, fx->msg->len);
    }
    s->purge.num_effects = 0;
}

/* (what an aborted attempt to commit a batch recorded never happened) */
void cache_store_purge_reset_effects(cache_store_t *s)
{
    s->purge.num_effects = 0;
}

void cache_store_purge_dispose(cache_store_t *s)
{
    for (size_t i = 0; i != PURGE_HISTORY; ++i)
        free(s->purge.history[i].target);
    free(s->purge.effects);
}
