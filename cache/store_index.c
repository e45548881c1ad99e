/*
 * cache/store_index.c: the store's secondary indexes, and the one way an object leaves the store.
 *
 * The indexes are derived from the record alone, by the writer, whenever a record is put or deleted:
 * "urls" (the key's URL part → hashes, for purge by URL and by prefix), "tags" (each Surrogate-Key /
 * Cache-Tag → hashes), "atime" (hash → last use, in seconds), "lru" ((last use, hash) → nothing, in use
 * order, for eviction) and "owners" (oid → the hash whose record names its chunks, for the orphan sweep).
 *
 * Invariant that is easy to break: every path that removes a record (a replacement, a deletion, a purge,
 * an eviction) goes through cache_store_delete_object, which removes the index entries derived from the
 * old record first; so no index ever names a hash that the objects database lost without it. A new path
 * that deletes from the objects database directly leaves stale entries that purges and eviction then trip
 * over. Everything here runs in the writer thread, inside its write transactions.
 */
#include <stdlib.h>
#include <string.h>
#include "cache/store_int.h"
#include "cache/ttl.h"

bool cache_store_chunk_exists(cache_store_t *s, MDB_txn *txn, uint64_t oid, uint32_t index)
{
    uint8_t kb[12];
    MDB_val k = {sizeof(kb), kb}, v;
    chunk_key(kb, oid, index);
    return mdb_get(txn, s->chunks, &k, &v) == 0;
}

bool cache_store_object_exists(cache_store_t *s, MDB_txn *txn, const cache_hash_t *hash)
{
    MDB_val k = {CACHE_KEY_HASH_LEN, (void *)hash->bytes}, v;
    return mdb_get(txn, s->objects, &k, &v) == 0;
}

/* mdb_del, where "not there" is no error */
static int del(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
    int rc = mdb_del(txn, dbi, k, v);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int cache_store_delete_chunks(cache_store_t *s, MDB_txn *txn, uint64_t oid, uint32_t n)
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
void cache_store_for_each_tag(const cache_record_t *rec, void (*cb)(void *ctx, h2o_iovec_t tag), void *ctx)
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
    int rc = c->add ? mdb_put(c->txn, c->s->index.tags, &k, &v, MDB_NODUPDATA) : del(c->txn, c->s->index.tags, &k, &v);
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
int cache_store_set_atime(cache_store_t *s, MDB_txn *txn, const cache_hash_t *hash, uint32_t when, bool must_exist)
{
    uint8_t lk[4 + CACHE_KEY_HASH_LEN];
    MDB_val k = {CACHE_KEY_HASH_LEN, (void *)hash->bytes}, v, lkv = {sizeof(lk), lk}, empty = {0, NULL};
    uint32_t old;
    int rc;

    if (mdb_get(txn, s->index.atime, &k, &v) == 0 && v.mv_size == sizeof(old)) {
        memcpy(&old, v.mv_data, sizeof(old));
        if (old == when)
            return 0;
        lru_key(lk, old, hash);
        if ((rc = del(txn, s->index.lru, &lkv, NULL)) != 0)
            return rc;
    } else if (must_exist) {
        return 0;
    }
    v = (MDB_val){sizeof(when), &when};
    if ((rc = mdb_put(txn, s->index.atime, &k, &v, 0)) != 0)
        return rc;
    lru_key(lk, when, hash);
    return mdb_put(txn, s->index.lru, &lkv, &empty, 0);
}

size_t cache_store_url_objects(cache_store_t *s, MDB_txn *txn, const cache_record_t *rec)
{
    h2o_iovec_t url = url_of(rec->key);
    MDB_val k = {url.len, url.base}, v;
    MDB_cursor *cur;
    size_t n = 0;

    if (url.len == 0 || mdb_cursor_open(txn, s->index.urls, &cur) != 0)
        return 0;
    if (mdb_cursor_get(cur, &k, &v, MDB_SET) == 0 && mdb_cursor_count(cur, &n) != 0)
        n = 0;
    mdb_cursor_close(cur);
    return n;
}

int cache_store_index_add(cache_store_t *s, MDB_txn *txn, const cache_hash_t *hash, const cache_record_t *rec, uint32_t now)
{
    h2o_iovec_t url = url_of(rec->key);
    MDB_val k = {url.len, url.base}, v = {CACHE_KEY_HASH_LEN, (void *)hash->bytes};
    index_ctx_t c = {s, txn, hash, true, 0};
    int rc;

    /* an encoded variant is reached through its object only (delete_variants): invalidations and the Vary cap
     * count objects, not their encodings */
    bool encoded = (rec->flags & CACHE_TTL_ENCODED) != 0;
    if (!encoded && url.len != 0 && (rc = mdb_put(txn, s->index.urls, &k, &v, MDB_NODUPDATA)) != 0 && rc != MDB_KEYEXIST)
        return rc;
    if (rec->oid != 0) { /* who owns the chunks: what the orphan sweep asks */
        uint8_t ok[8];
        chunk_key_oid_only(ok, rec->oid);
        MDB_val okv = {sizeof(ok), ok};
        if ((rc = mdb_put(txn, s->index.owners, &okv, &v, 0)) != 0)
            return rc;
    }
    if (!encoded)
        cache_store_for_each_tag(rec, index_tag, &c);
    if (c.rc != 0)
        return c.rc;
    return cache_store_set_atime(s, txn, hash, now, false);
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
        if (url.len != 0 && (rc = del(txn, s->index.urls, &uk, &uv)) != 0)
            return rc;
        if (rec->oid != 0) {
            uint8_t ok[8];
            chunk_key_oid_only(ok, rec->oid);
            MDB_val okv = {sizeof(ok), ok};
            if ((rc = del(txn, s->index.owners, &okv, NULL)) != 0)
                return rc;
        }
        cache_store_for_each_tag(rec, index_tag, &c);
        if (c.rc != 0)
            return c.rc;
    }
    if (mdb_get(txn, s->index.atime, &k, &v) == 0 && v.mv_size == sizeof(when)) {
        memcpy(&when, v.mv_data, sizeof(when));
        lru_key(lk, when, hash);
        if ((rc = del(txn, s->index.lru, &lkv, NULL)) != 0 || (rc = del(txn, s->index.atime, &k, NULL)) != 0)
            return rc;
    }
    return 0;
}

/* Deletes the object under `hash` with its indexes, and its chunks unless they are `keep_oid`'s; with
 * `keep_record`, the record itself stays (it is about to be replaced). Adds the bytes it held to `*freed`
 * (when not NULL), so that eviction knows what it freed. Returns an LMDB error. */
/* Deletes the encoded variants (cache/compress.h) of the object `rec`, which is going away: they are keyed by its
 * key, and are never worth keeping without it. */
static int delete_variants(cache_store_t *s, MDB_txn *txn, const cache_record_t *rec, size_t *freed)
{
    static const char *const codings[] = CACHE_KEY_CODINGS;
    static const char infix[] = "\nencoding: ";
    cache_hash_t vh[sizeof(codings) / sizeof(codings[0])];
    size_t nv = 0;
    int rc = 0;

    /* the hashes first: `rec` may point into a page that the deletions below change */
    char *buf = h2o_mem_alloc(rec->key.len + sizeof(infix) + 16);
    for (const char *const *c = codings; *c != NULL; ++c) {
        size_t n = rec->key.len, clen = strlen(*c);
        memcpy(buf, rec->key.base, n);
        memcpy(buf + n, infix, sizeof(infix) - 1);
        memcpy(buf + n + sizeof(infix) - 1, *c, clen);
        cache_key_hash(h2o_iovec_init(buf, n + sizeof(infix) - 1 + clen), &vh[nv++]);
    }
    free(buf);
    for (size_t i = 0; i != nv && rc == 0; ++i) {
        MDB_val k = {CACHE_KEY_HASH_LEN, vh[i].bytes}, v;
        if (mdb_get(txn, s->objects, &k, &v) == 0)
            rc = cache_store_delete_object(s, txn, &vh[i], 0, false, freed);
    }
    return rc;
}

int cache_store_delete_object(cache_store_t *s, MDB_txn *txn, const cache_hash_t *hash, uint64_t keep_oid, bool keep_record,
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
            if ((rc = cache_store_delete_chunks(s, txn, old.oid, num_chunks(&old))) != 0)
                return rc;
            if (freed != NULL)
                *freed += old.body_len;
        }
        /* (a record replaced keeps its variants: they stay unused unless its stamp matches, and are replaced next) */
        if ((old.flags & (CACHE_TTL_COMPRESSIBLE | CACHE_TTL_ENCODED)) == CACHE_TTL_COMPRESSIBLE && !keep_record &&
            (rc = delete_variants(s, txn, &old, freed)) != 0)
            return rc;
    } else if ((rc = index_remove(s, txn, hash, NULL)) != 0) { /* a corrupt old record: its chunks stay for the sweep */
        return rc;
    }
    return keep_record ? 0 : del(txn, s->objects, &k, NULL);
}

void cache_store_hash_vec_push(hash_vec_t *v, const void *hash)
{
    if (v->size == v->capacity) {
        v->capacity = v->capacity == 0 ? 64 : v->capacity * 2;
        v->entries = h2o_mem_realloc(v->entries, v->capacity * sizeof(v->entries[0]));
    }
    memcpy(v->entries[v->size++].bytes, hash, CACHE_KEY_HASH_LEN);
}
