/*
 * reports/codec.h: the little-endian writer and the bounds-checked reader of the reports' stored records.
 *
 * The writer grows a malloc'd buffer (allocation failure aborts, as h2o_mem_alloc does). The reader never
 * reads past its end: a short read sets `bad`, returns zeros, and every later read fails too, so a decoder
 * can read a whole record and check `bad` once before trusting what it read.
 */
#ifndef REPORTS_CODEC_H
#define REPORTS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <h2o.h>

typedef struct st_reports_wbuf_t {
    uint8_t *base;
    size_t len, cap;
} reports_wbuf_t;

static inline uint8_t *reports_wbuf_reserve(reports_wbuf_t *w, size_t n)
{
    if (w->cap - w->len < n) {
        size_t cap = w->cap < 256 ? 256 : w->cap;
        while (cap - w->len < n)
            cap *= 2;
        w->base = h2o_mem_realloc(w->base, cap);
        w->cap = cap;
    }
    uint8_t *p = w->base + w->len;
    w->len += n;
    return p;
}

static inline void reports_wbuf_bytes(reports_wbuf_t *w, const void *src, size_t n)
{
    if (n != 0)
        memcpy(reports_wbuf_reserve(w, n), src, n);
}

static inline void reports_wbuf_uint(reports_wbuf_t *w, uint64_t v, size_t width)
{
    uint8_t *p = reports_wbuf_reserve(w, width);
    for (size_t i = 0; i != width; ++i)
        p[i] = (uint8_t)(v >> (8 * i));
}

#define reports_wbuf_u8(w, v) reports_wbuf_uint((w), (v), 1)
#define reports_wbuf_u16(w, v) reports_wbuf_uint((w), (v), 2)
#define reports_wbuf_u32(w, v) reports_wbuf_uint((w), (v), 4)
#define reports_wbuf_u64(w, v) reports_wbuf_uint((w), (v), 8)

typedef struct st_reports_rbuf_t {
    const uint8_t *p, *end;
    bool bad;
} reports_rbuf_t;

static inline reports_rbuf_t reports_rbuf_init(const void *data, size_t len)
{
    return (reports_rbuf_t){(const uint8_t *)data, (const uint8_t *)data + len, false};
}

/* The next `n` bytes, or NULL (and `bad` set) when fewer remain. */
static inline const uint8_t *reports_rbuf_bytes(reports_rbuf_t *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

static inline uint64_t reports_rbuf_uint(reports_rbuf_t *r, size_t width)
{
    const uint8_t *p = reports_rbuf_bytes(r, width);
    uint64_t v = 0;
    if (p != NULL)
        for (size_t i = width; i != 0; --i)
            v = v << 8 | p[i - 1];
    return v;
}

#define reports_rbuf_u8(r) ((uint8_t)reports_rbuf_uint((r), 1))
#define reports_rbuf_u16(r) ((uint16_t)reports_rbuf_uint((r), 2))
#define reports_rbuf_u32(r) ((uint32_t)reports_rbuf_uint((r), 4))
#define reports_rbuf_u64(r) reports_rbuf_uint((r), 8)

/* A seeded 64-bit hash of `len` bytes (multiply-xorshift). Stored sketches (reports/bucket.c) use a fixed
 * seed, so that they merge across threads and processes; in-memory tables seed it per table. */
static inline uint64_t reports_hash(uint64_t seed, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15u);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdu;
        h ^= h >> 32;
    }
    uint64_t tail = 0;
    if (len > i)
        memcpy(&tail, p + i, len - i);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53u;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdu;
    return h ^ (h >> 32);
}

static inline size_t reports_rbuf_left(const reports_rbuf_t *r)
{
    return r->bad ? 0 : (size_t)(r->end - r->p);
}

#endif
