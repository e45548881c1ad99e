/*
 * cache/inflight.c: the in-flight table (see inflight.h): a fixed array of buckets of intrusive lists,
 * under one mutex.
 *
 * Invariant that is easy to break: the lookup and the listing of a new entry must happen in one critical
 * section (cache_inflight_find_or_add). Two loops that miss the same key at the same moment would
 * otherwise both find nothing and both start a fetch.
 */
#include <string.h>
#include "cache/inflight.h"

static size_t bucket_of(const cache_hash_t *h)
{
    return ((size_t)h->bytes[0] << 8 | h->bytes[1]) % CACHE_INFLIGHT_BUCKETS;
}

void cache_inflight_init(cache_inflight_t *t)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->_mutex, NULL);
}

void cache_inflight_dispose(cache_inflight_t *t)
{
    pthread_mutex_destroy(&t->_mutex);
}

static void add_locked(cache_inflight_t *t, cache_inflight_entry_t *e)
{
    size_t b = bucket_of(&e->hash);
    e->_next = t->_buckets[b];
    t->_buckets[b] = e;
    e->_listed = true;
}

static cache_inflight_entry_t *find_locked(cache_inflight_t *t, const cache_hash_t *hash)
{
    for (cache_inflight_entry_t *e = t->_buckets[bucket_of(hash)]; e != NULL; e = e->_next)
        if (memcmp(e->hash.bytes, hash->bytes, sizeof(hash->bytes)) == 0)
            return e;
    return NULL;
}

cache_inflight_entry_t *cache_inflight_find_or_add(cache_inflight_t *t, const cache_hash_t *hash,
                                                   void (*on_found)(cache_inflight_entry_t *entry, void *ctx),
                                                   cache_inflight_entry_t *(*make)(void *ctx), void *ctx, bool *added)
{
    cache_inflight_entry_t *e;

    *added = false;
    pthread_mutex_lock(&t->_mutex);
    if ((e = find_locked(t, hash)) != NULL) {
        if (on_found != NULL)
            on_found(e, ctx);
    } else if ((e = make(ctx)) != NULL) {
        e->hash = *hash;
        add_locked(t, e);
        *added = true;
    }
    pthread_mutex_unlock(&t->_mutex);
    return e;
}

void cache_inflight_add(cache_inflight_t *t, cache_inflight_entry_t *e)
{
    pthread_mutex_lock(&t->_mutex);
    add_locked(t, e);
    pthread_mutex_unlock(&t->_mutex);
}

bool cache_inflight_remove(cache_inflight_t *t, cache_inflight_entry_t *e)
{
    bool found = false;

    if (!e->_listed)
        return false;
    pthread_mutex_lock(&t->_mutex);
    for (cache_inflight_entry_t **p = &t->_buckets[bucket_of(&e->hash)]; *p != NULL; p = &(*p)->_next) {
        if (*p == e) {
            *p = e->_next;
            found = true;
            break;
        }
    }
    e->_next = NULL;
    e->_listed = false;
    pthread_mutex_unlock(&t->_mutex);
    return found;
}

bool cache_inflight_listed(const cache_inflight_entry_t *e)
{
    return e->_listed;
}

size_t cache_inflight_count(cache_inflight_t *t)
{
    size_t n = 0;
    pthread_mutex_lock(&t->_mutex);
    for (size_t b = 0; b != CACHE_INFLIGHT_BUCKETS; ++b)
        for (cache_inflight_entry_t *e = t->_buckets[b]; e != NULL; e = e->_next)
            ++n;
    pthread_mutex_unlock(&t->_mutex);
    return n;
}
