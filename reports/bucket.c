/*
 * reports/bucket.c: the per-behavior statistics of a time bucket, their sketches, and the stored layout
 * of reports/bucket.h.
 *
 * Invariant that is easy to break: the sketches that are merged across threads and processes (the
 * HyperLogLog registers) hash with one fixed seed; a per-process seed would make their union meaningless.
 * Decoders never trust a count before checking that the remaining bytes can hold it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <h2o.h>
#include "reports/bucket.h"
#include "reports/codec.h"
#include "reports/stats.h"

#define VALUE_VERSION 1
#define HLL_SEED 0x6564676563616368u /* fixed: registers merge across threads and processes */
#define MAX_PATH 4096                /* a behavior pattern longer than this is not from our config */

const reports_beh_counter_info_t reports_beh_counter_table[] = {
#define REPORTS_BEH_INFO(n, d) {#n, d, offsetof(reports_beh_counts_t, n)},
    REPORTS_BEH_COUNTERS(REPORTS_BEH_INFO)
#undef REPORTS_BEH_INFO
};
const size_t reports_beh_counter_count = sizeof(reports_beh_counter_table) / sizeof(reports_beh_counter_table[0]);

static uint64_t *beh_counter(reports_beh_counts_t *c, size_t i)
{
    return (uint64_t *)((char *)c + reports_beh_counter_table[i].offset);
}

/* --- keys ---------------------------------------------------------------------------------------- */

static void put_be(uint8_t *p, uint64_t v, size_t width)
{
    for (size_t i = 0; i != width; ++i)
        p[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, size_t width)
{
    uint64_t v = 0;
    for (size_t i = 0; i != width; ++i)
        v = v << 8 | p[i];
    return v;
}

void reports_key_bound(uint8_t out[REPORTS_KEY_BOUND_LEN], uint64_t bucket_start)
{
    out[0] = 'R';
    out[1] = '1';
    put_be(out + 2, bucket_start, 8);
}

void reports_key_encode(uint8_t out[REPORTS_KEY_LEN], const reports_key_t *key)
{
    reports_key_bound(out, key->bucket_start);
    out[10] = (uint8_t)key->kind;
    put_be(out + 11, key->run, 4);
    put_be(out + 15, key->thread, 2);
}

int reports_key_decode(reports_key_t *key, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len != REPORTS_KEY_LEN || p[0] != 'R' || p[1] != '1' || (p[10] != REPORTS_KIND_OBJECTS && p[10] != REPORTS_KIND_BEHAVIORS))
        return -1;
    key->bucket_start = get_be(p + 2, 8);
    key->kind = (reports_kind_t)p[10];
    key->run = (uint32_t)get_be(p + 11, 4);
    key->thread = (uint16_t)get_be(p + 15, 2);
    return 0;
}

/* --- sketches ------------------------------------------------------------------------------------ */

uint64_t reports_latency_quantile(const reports_latency_t *l, double q)
{
    uint64_t n = 0, seen = 0;
    for (size_t i = 0; i != REPORTS_LATENCY_BUCKETS; ++i)
        n += l->buckets[i];
    if (n == 0)
        return 0;
    /* the rank of the quantile, 1-based: the smallest r with r >= q * n */
    uint64_t rank = (uint64_t)ceil(q * (double)n);
    if (rank == 0)
        rank = 1;
    for (size_t i = 0; i != REPORTS_LATENCY_NUM_BOUNDS; ++i)
        if ((seen += l->buckets[i]) >= rank)
            return reports_latency_bounds_ms[i];
    return UINT64_MAX;
}

void reports_hll_add(uint8_t *registers, const void *data, size_t len)
{
    uint64_t h = reports_hash(HLL_SEED, data, len);
    size_t index = (size_t)(h >> 56); /* 8 bits: 256 registers */
    uint64_t rest = h << 8;
    uint8_t rank = rest == 0 ? 57 : (uint8_t)(__builtin_clzll(rest) + 1);
    if (rank > registers[index])
        registers[index] = rank;
}

double reports_hll_estimate(const uint8_t *registers)
{
    const double m = REPORTS_HLL_REGISTERS, alpha = 0.7213 / (1 + 1.079 / m);
    double sum = 0;
    unsigned zeros = 0;
    for (size_t i = 0; i != REPORTS_HLL_REGISTERS; ++i) {
        sum += ldexp(1.0, -(int)registers[i]);
        zeros += registers[i] == 0;
    }
    double e = alpha * m * m / sum;
    if (e <= 2.5 * m && zeros != 0)
        e = m * log(m / zeros); /* small ranges: linear counting is exact-ish where HLL is biased */
    return e;
}

/* --- behaviors ----------------------------------------------------------------------------------- */

void reports_beh_init(reports_beh_t *b, const char *path, size_t path_len)
{
    memset(b, 0, sizeof(*b));
    b->path = h2o_mem_alloc(path_len + 1);
    memcpy(b->path, path, path_len);
    b->path[path_len] = '\0';
    b->refetched = reports_topk_new(REPORTS_SIDE_TOPK);
    b->fragmented = reports_topk_new(REPORTS_SIDE_TOPK);
}

void reports_beh_dispose(reports_beh_t *b)
{
    free(b->path);
    reports_topk_free(b->refetched);
    reports_topk_free(b->fragmented);
    memset(b, 0, sizeof(*b));
}

void reports_beh_clear(reports_beh_t *b)
{
    memset(&b->c, 0, sizeof(b->c));
    memset(&b->latency, 0, sizeof(b->latency));
    memset(b->distinct_keyed, 0, sizeof(b->distinct_keyed));
    reports_topk_clear(b->refetched);
    reports_topk_clear(b->fragmented);
}

void reports_beh_merge(reports_beh_t *dst, const reports_beh_t *src)
{
    for (size_t i = 0; i != reports_beh_counter_count; ++i)
        *beh_counter(&dst->c, i) += *beh_counter((reports_beh_counts_t *)&src->c, i);
    reports_latency_add(&dst->latency, &src->latency);
    for (size_t i = 0; i != REPORTS_HLL_REGISTERS; ++i)
        if (src->distinct_keyed[i] > dst->distinct_keyed[i])
            dst->distinct_keyed[i] = src->distinct_keyed[i];
    reports_topk_merge(dst->refetched, src->refetched);
    reports_topk_merge(dst->fragmented, src->fragmented);
}

/* --- values -------------------------------------------------------------------------------------- */

uint8_t *reports_objects_encode(const reports_topk_t *objects, uint64_t bucket_s, size_t *len)
{
    reports_wbuf_t w = {NULL, 0, 0};
    size_t tlen;
    uint8_t *t = reports_topk_encode(objects, &tlen);
    reports_wbuf_u8(&w, VALUE_VERSION);
    reports_wbuf_u32(&w, bucket_s);
    reports_wbuf_bytes(&w, t, tlen);
    free(t);
    *len = w.len;
    return w.base;
}

reports_topk_t *reports_objects_decode(const void *data, size_t len, uint64_t *bucket_s)
{
    reports_rbuf_t r = reports_rbuf_init(data, len);
    reports_topk_t *t;
    size_t used;

    if (reports_rbuf_u8(&r) != VALUE_VERSION || (*bucket_s = reports_rbuf_u32(&r)) == 0 || r.bad)
        return NULL;
    if ((t = reports_topk_decode(r.p, reports_rbuf_left(&r), &used)) == NULL)
        return NULL;
    if (used != reports_rbuf_left(&r)) { /* trailing bytes: not what we wrote */
        reports_topk_free(t);
        return NULL;
    }
    return t;
}

static void encode_side(reports_wbuf_t *w, const reports_topk_t *t)
{
    size_t len;
    uint8_t *p = reports_topk_encode(t, &len);
    reports_wbuf_u32(w, len);
    reports_wbuf_bytes(w, p, len);
    free(p);
}

uint8_t *reports_behs_encode(const reports_beh_t *behs, size_t n, uint64_t bucket_s, size_t *len)
{
    reports_wbuf_t w = {NULL, 0, 0};
    reports_wbuf_u8(&w, VALUE_VERSION);
    reports_wbuf_u32(&w, bucket_s);
    reports_wbuf_u16(&w, n);
    for (size_t i = 0; i != n; ++i) {
        const reports_beh_t *b = behs + i;
        size_t plen = strlen(b->path);
        reports_wbuf_u16(&w, plen);
        reports_wbuf_bytes(&w, b->path, plen);
        reports_wbuf_u8(&w, b->query_string);
        reports_wbuf_u64(&w, b->min_ttl);
        reports_wbuf_u64(&w, b->default_ttl);
        reports_wbuf_u64(&w, b->max_ttl);
        reports_wbuf_u8(&w, reports_beh_counter_count);
        for (size_t f = 0; f != reports_beh_counter_count; ++f)
            reports_wbuf_u64(&w, *beh_counter((reports_beh_counts_t *)&b->c, f));
        reports_wbuf_u8(&w, REPORTS_LATENCY_BUCKETS);
        for (size_t f = 0; f != REPORTS_LATENCY_BUCKETS; ++f)
            reports_wbuf_u64(&w, b->latency.buckets[f]);
        reports_wbuf_u64(&w, b->latency.sum_ms);
        reports_wbuf_u16(&w, REPORTS_HLL_REGISTERS);
        reports_wbuf_bytes(&w, b->distinct_keyed, REPORTS_HLL_REGISTERS);
        encode_side(&w, b->refetched);
        encode_side(&w, b->fragmented);
    }
    *len = w.len;
    return w.base;
}

static reports_topk_t *decode_side(reports_rbuf_t *r)
{
    uint32_t len = reports_rbuf_u32(r);
    const uint8_t *p = reports_rbuf_bytes(r, len);
    size_t used;
    reports_topk_t *t;
    if (p == NULL || (t = reports_topk_decode(p, len, &used)) == NULL)
        return NULL;
    if (used != len || reports_topk_capacity(t) > REPORTS_SIDE_TOPK) {
        reports_topk_free(t);
        return NULL;
    }
    return t;
}

void reports_behs_free(reports_beh_t *behs, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        reports_beh_dispose(behs + i);
    free(behs);
}

int reports_behs_decode(const void *data, size_t len, uint64_t *bucket_s, reports_beh_t **behs, size_t *n)
{
    reports_rbuf_t r = reports_rbuf_init(data, len);
    reports_beh_t *out;
    size_t count;

    if (reports_rbuf_u8(&r) != VALUE_VERSION || (*bucket_s = reports_rbuf_u32(&r)) == 0)
        return -1;
    count = reports_rbuf_u16(&r);
    if (r.bad || count == 0)
        return -1;
    out = h2o_mem_alloc(sizeof(*out) * count);
    for (size_t i = 0; i != count; ++i) {
        reports_beh_t *b = out + i;
        uint16_t plen = reports_rbuf_u16(&r);
        const uint8_t *path = reports_rbuf_bytes(&r, plen);
        if (path == NULL || plen > MAX_PATH || memchr(path, '\0', plen) != NULL) {
            reports_behs_free(out, i);
            return -1;
        }
        reports_beh_init(b, (const char *)path, plen);
        b->query_string = reports_rbuf_u8(&r);
        b->min_ttl = reports_rbuf_u64(&r);
        b->default_ttl = reports_rbuf_u64(&r);
        b->max_ttl = reports_rbuf_u64(&r);
        bool ok = reports_rbuf_u8(&r) == reports_beh_counter_count;
        for (size_t f = 0; ok && f != reports_beh_counter_count; ++f)
            *beh_counter(&b->c, f) = reports_rbuf_u64(&r);
        ok = ok && reports_rbuf_u8(&r) == REPORTS_LATENCY_BUCKETS;
        for (size_t f = 0; ok && f != REPORTS_LATENCY_BUCKETS; ++f)
            b->latency.count += (b->latency.buckets[f] = reports_rbuf_u64(&r));
        b->latency.sum_ms = ok ? reports_rbuf_u64(&r) : 0;
        ok = ok && reports_rbuf_u16(&r) == REPORTS_HLL_REGISTERS;
        const uint8_t *regs = ok ? reports_rbuf_bytes(&r, REPORTS_HLL_REGISTERS) : NULL;
        if (regs != NULL)
            memcpy(b->distinct_keyed, regs, REPORTS_HLL_REGISTERS);
        reports_topk_t *refetched = regs != NULL ? decode_side(&r) : NULL;
        reports_topk_t *fragmented = refetched != NULL ? decode_side(&r) : NULL;
        if (fragmented == NULL || r.bad) {
            reports_topk_free(refetched);
            reports_behs_free(out, i + 1);
            return -1;
        }
        reports_topk_free(b->refetched);
        reports_topk_free(b->fragmented);
        b->refetched = refetched;
        b->fragmented = fragmented;
    }
    if (reports_rbuf_left(&r) != 0) {
        reports_behs_free(out, count);
        return -1;
    }
    *behs = out;
    *n = count;
    return 0;
}
