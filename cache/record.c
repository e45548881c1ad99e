/*
 * cache/record.c: the record codec.
 *
 * Invariant: decode never trusts a length. A record may come from an older build, a crashed writer or a
 * flipped bit; every declared length is checked against the bytes actually present and every header
 * block is walked once before the record is handed out, so code that iterates over a decoded record
 * can never read outside it. Fuzzed by tests/unit/check_cache_record.c with truncations and garbage.
 */
#include <assert.h>
#include <string.h>
#include "cache/record.h"

static void put16(uint8_t **p, uint16_t v)
{
    (*p)[0] = (uint8_t)v;
    (*p)[1] = (uint8_t)(v >> 8);
    *p += 2;
}

static void put32(uint8_t **p, uint32_t v)
{
    for (int i = 0; i != 4; ++i)
        (*p)[i] = (uint8_t)(v >> (8 * i));
    *p += 4;
}

static void put64(uint8_t **p, uint64_t v)
{
    for (int i = 0; i != 8; ++i)
        (*p)[i] = (uint8_t)(v >> (8 * i));
    *p += 8;
}

static uint16_t get16(const uint8_t **p)
{
    uint16_t v = (uint16_t)((*p)[0] | (*p)[1] << 8);
    *p += 2;
    return v;
}

static uint32_t get32(const uint8_t **p)
{
    uint32_t v = 0;
    for (int i = 0; i != 4; ++i)
        v |= (uint32_t)(*p)[i] << (8 * i);
    *p += 4;
    return v;
}

static uint64_t get64(const uint8_t **p)
{
    uint64_t v = 0;
    for (int i = 0; i != 8; ++i)
        v |= (uint64_t)(*p)[i] << (8 * i);
    *p += 8;
    return v;
}

size_t cache_record_size(const cache_record_t *rec)
{
    return CACHE_RECORD_HEADER_SIZE + rec->key.len + rec->headers.len + rec->vary.len + rec->body.len;
}

size_t cache_record_encode(const cache_record_t *rec, uint8_t *dst)
{
    uint8_t *p = dst;
    put16(&p, CACHE_RECORD_VERSION);
    put16(&p, rec->status);
    put32(&p, rec->flags);
    put64(&p, (uint64_t)rec->request_time);
    put64(&p, (uint64_t)rec->response_time);
    put32(&p, rec->initial_age);
    put32(&p, rec->lifetime);
    put32(&p, rec->stale_while_revalidate);
    put32(&p, rec->stale_if_error);
    put64(&p, rec->oid);
    put64(&p, rec->body_len);
    put32(&p, rec->chunk_size);
    put32(&p, (uint32_t)rec->key.len);
    put32(&p, (uint32_t)rec->headers.len);
    put32(&p, (uint32_t)rec->vary.len);
    put32(&p, (uint32_t)rec->body.len);
    put32(&p, rec->epoch);
    put32(&p, rec->body_crc);
    assert(p - dst == CACHE_RECORD_HEADER_SIZE);
    const h2o_iovec_t *parts[] = {&rec->key, &rec->headers, &rec->vary, &rec->body};
    for (size_t i = 0; i != 4; ++i) {
        if (parts[i]->len != 0)
            memcpy(p, parts[i]->base, parts[i]->len);
        p += parts[i]->len;
    }
    return (size_t)(p - dst);
}

static bool block_valid(h2o_iovec_t block)
{
    const uint8_t *p = (const uint8_t *)block.base, *end = p + block.len;
    while (p != end) {
        if (end - p < 2)
            return false;
        size_t n = get16(&p);
        if ((size_t)(end - p) < n + 4 || n == 0)
            return false;
        p += n;
        size_t v = get32(&p);
        if ((size_t)(end - p) < v)
            return false;
        p += v;
    }
    return true;
}

int cache_record_decode(cache_record_t *rec, const uint8_t *src, size_t len)
{
    const uint8_t *p = src;
    if (len < 2)
        return CACHE_RECORD_E_SHORT;
    if (get16(&p) != CACHE_RECORD_VERSION)
        return CACHE_RECORD_E_VERSION;
    if (len < CACHE_RECORD_HEADER_SIZE)
        return CACHE_RECORD_E_SHORT;
    rec->status = get16(&p);
    rec->flags = get32(&p);
    rec->request_time = (int64_t)get64(&p);
    rec->response_time = (int64_t)get64(&p);
    rec->initial_age = get32(&p);
    rec->lifetime = get32(&p);
    rec->stale_while_revalidate = get32(&p);
    rec->stale_if_error = get32(&p);
    rec->oid = get64(&p);
    rec->body_len = get64(&p);
    rec->chunk_size = get32(&p);
    size_t lens[4];
    uint64_t total = CACHE_RECORD_HEADER_SIZE;
    for (size_t i = 0; i != 4; ++i)
        total += lens[i] = get32(&p);
    rec->epoch = get32(&p);
    rec->body_crc = get32(&p);
    assert(p - src == CACHE_RECORD_HEADER_SIZE);
    if (total != len)
        return total > len ? CACHE_RECORD_E_SHORT : CACHE_RECORD_E_CORRUPT;
    h2o_iovec_t *parts[] = {&rec->key, &rec->headers, &rec->vary, &rec->body};
    for (size_t i = 0; i != 4; ++i) {
        *parts[i] = h2o_iovec_init(p, lens[i]);
        p += lens[i];
    }
    if (rec->status < 100 || rec->status > 999 || !block_valid(rec->headers) || !block_valid(rec->vary))
        return CACHE_RECORD_E_CORRUPT;
    /* either the whole body is inline, or it is all in chunks */
    if (rec->chunk_size == 0 ? rec->body.len != rec->body_len || rec->oid != 0 : rec->body.len != 0 || rec->oid == 0)
        return CACHE_RECORD_E_CORRUPT;
    return 0;
}

void cache_record_seal_lifetime(uint8_t *encoded, uint32_t lifetime)
{
    uint8_t *p = encoded + CACHE_RECORD_LIFETIME_OFFSET;
    put32(&p, lifetime);
}

void cache_record_seal(uint8_t *encoded, uint32_t epoch, uint32_t body_crc)
{
    uint8_t *p = encoded + CACHE_RECORD_EPOCH_OFFSET;
    put32(&p, epoch);
    put32(&p, body_crc);
}

const char *cache_record_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case CACHE_RECORD_E_SHORT:
        return "record truncated";
    case CACHE_RECORD_E_VERSION:
        return "unknown record version";
    case CACHE_RECORD_E_CORRUPT:
        return "record corrupt";
    default:
        return "unknown record error";
    }
}

size_t cache_record_header_size(size_t name_len, size_t value_len)
{
    return 2 + name_len + 4 + value_len;
}

void cache_record_put_header(uint8_t **dst, const char *name, size_t name_len, const char *value, size_t value_len)
{
    put16(dst, (uint16_t)name_len);
    memcpy(*dst, name, name_len);
    *dst += name_len;
    put32(dst, (uint32_t)value_len);
    if (value_len != 0)
        memcpy(*dst, value, value_len);
    *dst += value_len;
}

bool cache_record_next_header(h2o_iovec_t *block, h2o_iovec_t *name, h2o_iovec_t *value)
{
    const uint8_t *p = (const uint8_t *)block->base;
    if (block->len == 0)
        return false;
    size_t n = get16(&p);
    *name = h2o_iovec_init(p, n);
    p += n;
    size_t v = get32(&p);
    *value = h2o_iovec_init(p, v);
    p += v;
    block->len -= (size_t)((const char *)p - block->base);
    block->base = (char *)p;
    return true;
}
