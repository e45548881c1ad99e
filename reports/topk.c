/*
 * reports/topk.c: Space-Saving over a hash table and a min-heap (see topk.h for the bound it keeps).
 *
 * Layout: `entries` holds the used slots (at most K); `heap` orders them by requests (smallest first), each
 * entry knowing its heap position; `slots` is an open-addressing table (linear probing, at most half full)
 * from the key's hash to entry index + 1. A touch is one lookup and one sift-down: O(log K), and O(1) for
 * the popular keys, which sit at the bottom of the heap where they stay. The arrays grow with the keys
 * actually seen, up to K, so memory follows use (and a capacity read from the disk costs nothing until
 * entries fill it).
 *
 * Invariants that are easy to break:
 * - every used entry is in both `slots` and `heap`, and entry->_heap_pos is its place in `heap`;
 * - deleting from `slots` shifts the following run back (no tombstones), so a lookup may stop at the
 *   first empty slot;
 * - requests >= error for every entry, and every key not monitored has at most `floor` true requests:
 *   a key inserted later therefore starts at (at least) floor + 1 with error (at least) floor.
 *
 * The hash is seeded per summary, so a client that picks URLs cannot aim them at one probe run of a
 * table whose seed it does not know.
 */
#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <h2o.h>
#include "reports/codec.h"
#include "reports/topk.h"

#define ENCODING_VERSION 1

const reports_obj_counter_info_t reports_obj_counter_table[] = {
#define REPORTS_OBJ_INFO(n, d) {#n, d, offsetof(reports_obj_counts_t, n)},
    REPORTS_OBJ_COUNTERS(REPORTS_OBJ_INFO)
#undef REPORTS_OBJ_INFO
};
const size_t reports_obj_counter_count = sizeof(reports_obj_counter_table) / sizeof(reports_obj_counter_table[0]);

struct st_reports_topk_t {
    unsigned capacity;
    uint32_t used, allocated; /* entries in use; entries (and heap places) allocated, <= capacity */
    uint64_t total, floor, seed;
    reports_topk_entry_t *entries; /* [allocated]; [0, used) are in use */
    uint32_t *heap;                /* [allocated]: entry indexes, a min-heap on c.requests */
    uint32_t *slots;               /* [nslots]: entry index + 1, 0 = empty */
    size_t slot_mask;
};

static uint64_t *counter_at(reports_obj_counts_t *c, size_t i)
{
    return (uint64_t *)((char *)c + reports_obj_counter_table[i].offset);
}

#define hash_key reports_hash

static uint64_t new_seed(void)
{
    static atomic_uint_fast64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return hash_key((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30, (const char *)&ts, 0) ^ atomic_fetch_add(&counter, 1);
}

#define INITIAL_ALLOC 16

reports_topk_t *reports_topk_new(unsigned capacity)
{
    if (capacity == 0 || capacity > REPORTS_TOPK_MAX_CAPACITY)
        return NULL;
    reports_topk_t *t = h2o_mem_alloc(sizeof(*t));
    *t = (reports_topk_t){.capacity = capacity, .seed = new_seed()};
    t->allocated = capacity < INITIAL_ALLOC ? capacity : INITIAL_ALLOC;
    t->entries = h2o_mem_alloc(sizeof(*t->entries) * t->allocated);
    memset(t->entries, 0, sizeof(*t->entries) * t->allocated);
    t->heap = h2o_mem_alloc(sizeof(*t->heap) * t->allocated);
    t->slot_mask = 2 * INITIAL_ALLOC - 1;
    t->slots = h2o_mem_alloc(sizeof(*t->slots) * (t->slot_mask + 1));
    memset(t->slots, 0, sizeof(*t->slots) * (t->slot_mask + 1));
    return t;
}

void reports_topk_free(reports_topk_t *t)
{
    if (t == NULL)
        return;
    for (uint32_t i = 0; i != t->allocated; ++i)
        free(t->entries[i].key);
    free(t->entries);
    free(t->heap);
    free(t->slots);
    free(t);
}

void reports_topk_clear(reports_topk_t *t)
{
    t->used = 0;
    t->total = 0;
    t->floor = 0;
    memset(t->slots, 0, sizeof(*t->slots) * (t->slot_mask + 1));
}

unsigned reports_topk_capacity(const reports_topk_t *t)
{
    return t->capacity;
}

size_t reports_topk_size(const reports_topk_t *t)
{
    return t->used;
}

uint64_t reports_topk_total(const reports_topk_t *t)
{
    return t->total;
}

uint64_t reports_topk_floor(const reports_topk_t *t)
{
    return t->floor;
}

void reports_topk_set_bounds(reports_topk_t *t, uint64_t total, uint64_t floor)
{
    t->total = total;
    t->floor = floor;
}

/* --- the hash table ------------------------------------------------------------------------------ */

/* The slot holding `key`, or the empty slot where it would go. */
static size_t find_slot(const reports_topk_t *t, const char *key, size_t len, uint64_t hash)
{
    size_t i = (size_t)hash & t->slot_mask;
    for (; t->slots[i] != 0; i = (i + 1) & t->slot_mask) {
        const reports_topk_entry_t *e = t->entries + t->slots[i] - 1;
        if (e->_hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0)
            break;
    }
    return i;
}

/* Empties slot `i` and moves back the entries of the run after it that would no longer be found. */
static void delete_slot(reports_topk_t *t, size_t i)
{
    size_t j = i;
    t->slots[i] = 0;
    for (;;) {
        j = (j + 1) & t->slot_mask;
        if (t->slots[j] == 0)
            return;
        size_t home = (size_t)t->entries[t->slots[j] - 1]._hash & t->slot_mask;
        /* the entry at j stays unless its home lies cyclically in (i, j] */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            t->slots[i] = t->slots[j];
            t->slots[j] = 0;
            i = j;
        }
    }
}

/* --- the heap ------------------------------------------------------------------------------------- */

static bool heap_less(const reports_topk_t *t, uint32_t a, uint32_t b)
{
    return t->entries[a].c.requests < t->entries[b].c.requests;
}

static void heap_set(reports_topk_t *t, uint32_t pos, uint32_t idx)
{
    t->heap[pos] = idx;
    t->entries[idx]._heap_pos = pos;
}

static void sift_up(reports_topk_t *t, uint32_t pos)
{
    uint32_t idx = t->heap[pos];
    while (pos != 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!heap_less(t, idx, t->heap[parent]))
            break;
        heap_set(t, pos, t->heap[parent]);
        pos = parent;
    }
    heap_set(t, pos, idx);
}

static void sift_down(reports_topk_t *t, uint32_t pos)
{
    uint32_t idx = t->heap[pos];
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= t->used)
            break;
        if (child + 1 < t->used && heap_less(t, t->heap[child + 1], t->heap[child]))
            ++child;
        if (!heap_less(t, t->heap[child], idx))
            break;
        heap_set(t, pos, t->heap[child]);
        pos = child;
    }
    heap_set(t, pos, idx);
}

/* --- updates ------------------------------------------------------------------------------------- */

static void set_key(reports_topk_entry_t *e, const char *key, size_t len, uint64_t hash)
{
    if (e->_key_cap < len + 1) {
        /* round up, so that a slot replaced over and over stops reallocating */
        size_t cap = len + 1 < 64 ? 64 : (len + 64) & ~(size_t)63;
        free(e->key);
        e->key = h2o_mem_alloc(cap);
        e->_key_cap = cap;
    }
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    e->key_len = len;
    e->_hash = hash;
}

/* Room for one more entry (used < capacity): doubles the arrays, and the table to stay at most half full. */
static void grow(reports_topk_t *t)
{
    if (t->used == t->allocated) {
        uint32_t n = t->allocated * 2 < t->capacity ? t->allocated * 2 : t->capacity;
        t->entries = h2o_mem_realloc(t->entries, sizeof(*t->entries) * n);
        memset(t->entries + t->allocated, 0, sizeof(*t->entries) * (n - t->allocated));
        t->heap = h2o_mem_realloc(t->heap, sizeof(*t->heap) * n);
        t->allocated = n;
    }
    if (2 * ((size_t)t->used + 1) > t->slot_mask + 1) {
        size_t nslots = 2 * (t->slot_mask + 1);
        free(t->slots);
        t->slots = h2o_mem_alloc(sizeof(*t->slots) * nslots);
        memset(t->slots, 0, sizeof(*t->slots) * nslots);
        t->slot_mask = nslots - 1;
        for (uint32_t i = 0; i != t->used; ++i) {
            size_t j = (size_t)t->entries[i]._hash & t->slot_mask;
            while (t->slots[j] != 0)
                j = (j + 1) & t->slot_mask;
            t->slots[j] = i + 1;
        }
    }
}

/* Puts `key` (not monitored) into a free entry, or in place of the least requested one; it starts at
 * `base` requests and error (the count it may have had while not monitored). */
static reports_topk_entry_t *insert(reports_topk_t *t, const char *key, size_t len, uint64_t hash, size_t slot, uint64_t base)
{
    uint32_t idx;
    if (t->used < t->capacity) {
        size_t mask = t->slot_mask;
        grow(t);
        if (t->slot_mask != mask)
            slot = find_slot(t, key, len, hash); /* rehashed */
        idx = t->used++;
        t->entries[idx]._heap_pos = idx;
        t->heap[idx] = idx;
    } else {
        idx = t->heap[0];
        reports_topk_entry_t *victim = t->entries + idx;
        if (victim->c.requests > t->floor)
            t->floor = victim->c.requests; /* the victim, from now on unmonitored, had at most this */
        if (victim->c.requests > base)
            base = victim->c.requests;
        delete_slot(t, find_slot(t, victim->key, victim->key_len, victim->_hash));
        slot = find_slot(t, key, len, hash); /* the deletion may have moved the run */
    }
    reports_topk_entry_t *e = t->entries + idx;
    set_key(e, key, len, hash);
    e->error = base;
    memset(&e->c, 0, sizeof(e->c));
    e->c.requests = base;
    t->slots[slot] = idx + 1;
    return e;
}

reports_topk_entry_t *reports_topk_touch(reports_topk_t *t, const char *key, size_t len)
{
    if (len > REPORTS_TOPK_MAX_KEY)
        len = REPORTS_TOPK_MAX_KEY;
    uint64_t hash = hash_key(t->seed, key, len);
    size_t slot = find_slot(t, key, len, hash);
    reports_topk_entry_t *e = t->slots[slot] != 0 ? t->entries + t->slots[slot] - 1 : insert(t, key, len, hash, slot, t->floor);
    ++e->c.requests;
    ++t->total;
    sift_down(t, e->_heap_pos); /* its count grew: in a min-heap it can only move down */
    return e;
}

const reports_topk_entry_t *reports_topk_find(const reports_topk_t *t, const char *key, size_t len)
{
    if (len > REPORTS_TOPK_MAX_KEY)
        len = REPORTS_TOPK_MAX_KEY;
    size_t slot = find_slot(t, key, len, hash_key(t->seed, key, len));
    return t->slots[slot] != 0 ? t->entries + t->slots[slot] - 1 : NULL;
}

int reports_topk_load(reports_topk_t *t, const char *key, size_t len, uint64_t error, const reports_obj_counts_t *c)
{
    if (len > REPORTS_TOPK_MAX_KEY || t->used == t->capacity || error > c->requests)
        return -1;
    uint64_t hash = hash_key(t->seed, key, len);
    size_t slot = find_slot(t, key, len, hash);
    if (t->slots[slot] != 0)
        return -1;
    reports_topk_entry_t *e = insert(t, key, len, hash, slot, 0);
    e->error = error;
    e->c = *c;
    sift_up(t, e->_heap_pos);
    return 0;
}

/* --- reading ------------------------------------------------------------------------------------- */

static int cmp_entries(const void *a, const void *b)
{
    const reports_topk_entry_t *x = *(const reports_topk_entry_t *const *)a, *y = *(const reports_topk_entry_t *const *)b;
    if (x->c.requests != y->c.requests)
        return x->c.requests > y->c.requests ? -1 : 1;
    return strcmp(x->key, y->key);
}

size_t reports_topk_sorted(const reports_topk_t *t, const reports_topk_entry_t **out)
{
    for (uint32_t i = 0; i != t->used; ++i)
        out[i] = t->entries + i;
    qsort(out, t->used, sizeof(*out), cmp_entries);
    return t->used;
}

/* --- merging ------------------------------------------------------------------------------------- */

void reports_topk_merge(reports_topk_t *dst, const reports_topk_t *src)
{
    size_t n = 0, cap = (size_t)dst->used + src->used;
    reports_topk_entry_t *all = h2o_mem_alloc(sizeof(*all) * (cap != 0 ? cap : 1));
    const reports_topk_entry_t **sorted = h2o_mem_alloc(sizeof(*sorted) * (cap != 0 ? cap : 1));

    /* the union, each side credited with the other's floor where the other does not monitor the key */
    for (uint32_t i = 0; i != dst->used; ++i) {
        reports_topk_entry_t *e = all + n++;
        *e = dst->entries[i];
        const reports_topk_entry_t *o = reports_topk_find(src, e->key, e->key_len);
        if (o != NULL) {
            for (size_t f = 0; f != reports_obj_counter_count; ++f)
                *counter_at(&e->c, f) += *counter_at((reports_obj_counts_t *)&o->c, f);
            e->error += o->error;
        } else {
            e->c.requests += src->floor;
            e->error += src->floor;
        }
    }
    for (uint32_t i = 0; i != src->used; ++i) {
        const reports_topk_entry_t *o = src->entries + i;
        if (reports_topk_find(dst, o->key, o->key_len) != NULL)
            continue;
        reports_topk_entry_t *e = all + n++;
        *e = *o;
        e->c.requests += dst->floor;
        e->error += dst->floor;
    }

    /* keep the largest; the largest dropped count bounds every key that is no longer listed */
    for (size_t i = 0; i != n; ++i)
        sorted[i] = all + i;
    qsort(sorted, n, sizeof(*sorted), cmp_entries);
    uint64_t floor = dst->floor + src->floor;
    if (n > dst->capacity && sorted[dst->capacity]->c.requests > floor)
        floor = sorted[dst->capacity]->c.requests;
    size_t keep = n < dst->capacity ? n : dst->capacity;

    /* rebuild dst; its entries' key buffers are still owned by dst (`all` only borrowed the pointers),
     * so copy the kept keys out first */
    char **keys = h2o_mem_alloc(sizeof(*keys) * (keep != 0 ? keep : 1));
    for (size_t i = 0; i != keep; ++i) {
        keys[i] = h2o_mem_alloc(sorted[i]->key_len + 1);
        memcpy(keys[i], sorted[i]->key, sorted[i]->key_len + 1);
    }
    reports_topk_entry_t *kept = h2o_mem_alloc(sizeof(*kept) * (keep != 0 ? keep : 1));
    for (size_t i = 0; i != keep; ++i)
        kept[i] = *sorted[i];
    uint64_t total = dst->total + src->total;
    reports_topk_clear(dst);
    for (size_t i = 0; i != keep; ++i) {
        int rc = reports_topk_load(dst, keys[i], kept[i].key_len, kept[i].error, &kept[i].c);
        assert(rc == 0); /* distinct keys, at most capacity of them */
        (void)rc;
        free(keys[i]);
    }
    dst->total = total;
    dst->floor = floor;
    free(kept);
    free(keys);
    free(sorted);
    free(all);
}

/* --- encoding ------------------------------------------------------------------------------------ */

uint8_t *reports_topk_encode(const reports_topk_t *t, size_t *len)
{
    reports_wbuf_t w = {NULL, 0, 0};
    reports_wbuf_u8(&w, ENCODING_VERSION);
    reports_wbuf_u8(&w, reports_obj_counter_count);
    reports_wbuf_u32(&w, t->capacity);
    reports_wbuf_u64(&w, t->total);
    reports_wbuf_u64(&w, t->floor);
    reports_wbuf_u32(&w, t->used);
    for (uint32_t i = 0; i != t->used; ++i) {
        const reports_topk_entry_t *e = t->entries + i;
        reports_wbuf_u16(&w, e->key_len);
        reports_wbuf_bytes(&w, e->key, e->key_len);
        reports_wbuf_u64(&w, e->error);
        for (size_t f = 0; f != reports_obj_counter_count; ++f)
            reports_wbuf_u64(&w, *counter_at((reports_obj_counts_t *)&e->c, f));
    }
    *len = w.len;
    return w.base;
}

reports_topk_t *reports_topk_decode(const uint8_t *data, size_t len, size_t *used)
{
    reports_rbuf_t r = reports_rbuf_init(data, len);
    reports_topk_t *t = NULL;

    if (reports_rbuf_u8(&r) != ENCODING_VERSION || reports_rbuf_u8(&r) != reports_obj_counter_count)
        return NULL;
    uint32_t capacity = reports_rbuf_u32(&r);
    uint64_t total = reports_rbuf_u64(&r), floor = reports_rbuf_u64(&r);
    uint32_t count = reports_rbuf_u32(&r);
    /* each entry takes at least 2 + 8 * 11 bytes: a count the data cannot hold is rejected before allocating */
    if (r.bad || count > capacity || (uint64_t)count * (2 + 8 * (1 + reports_obj_counter_count)) > reports_rbuf_left(&r) ||
        (t = reports_topk_new(capacity)) == NULL)
        return NULL;
    for (uint32_t i = 0; i != count; ++i) {
        uint16_t klen = reports_rbuf_u16(&r);
        const uint8_t *key = reports_rbuf_bytes(&r, klen);
        uint64_t error = reports_rbuf_u64(&r);
        reports_obj_counts_t c;
        for (size_t f = 0; f != reports_obj_counter_count; ++f)
            *counter_at(&c, f) = reports_rbuf_u64(&r);
        if (r.bad || memchr(key, '\0', klen) != NULL || reports_topk_load(t, (const char *)key, klen, error, &c) != 0) {
            reports_topk_free(t);
            return NULL;
        }
    }
    t->total = total;
    t->floor = floor;
    *used = (size_t)(r.p - data);
    return t;
}
