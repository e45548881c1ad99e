/*
 * tests/unit/check_cache_record.c: the record codec (cache/record.c).
 *
 * Besides round trips, this is the decoder's fuzz harness (STYLE.md rules 10 and 14): every truncation
 * of a valid record, every single-bit flip, random multi-bit flips and random buffers. Each input is
 * copied into a heap buffer of exactly its length, so that under --enable-asan a read one byte past the
 * record is reported, not hidden by the slack of a larger buffer. A record that decodes must have every
 * part, and every header of its blocks, inside the input.
 *
 * The random inputs come from a fixed-seed generator so that a failure can be replayed.
 */
#include "cache/record.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* xorshift64*: fixed seed, same sequence on every platform */
static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

typedef struct st_sample_t {
    uint8_t headers[256];
    uint8_t vary[64];
    cache_record_t rec;
} sample_t;

/* A record with a key, three headers (one with an empty value), a vary block and an inline body. */
static void sample_inline(sample_t *s)
{
    uint8_t *p = s->headers;
    cache_record_put_header(&p, H2O_STRLIT("content-type"), H2O_STRLIT("text/html; charset=utf-8"));
    cache_record_put_header(&p, H2O_STRLIT("etag"), H2O_STRLIT("\"abc123\""));
    cache_record_put_header(&p, H2O_STRLIT("x-empty"), "", 0);
    size_t hlen = (size_t)(p - s->headers);
    p = s->vary;
    cache_record_put_header(&p, H2O_STRLIT("accept-encoding"), H2O_STRLIT("gzip"));
    size_t vlen = (size_t)(p - s->vary);

    s->rec = (cache_record_t){.status = 200,
                              .flags = 0x3,
                              .request_time = INT64_C(1700000000),
                              .response_time = INT64_C(1700000002),
                              .initial_age = 2,
                              .lifetime = 3600,
                              .stale_while_revalidate = 30,
                              .stale_if_error = 600,
                              .oid = 0,
                              .body_len = 11,
                              .chunk_size = 0,
                              .key = h2o_iovec_init(H2O_STRLIT("/index.html?a=1&b=2")),
                              .headers = h2o_iovec_init(s->headers, hlen),
                              .vary = h2o_iovec_init(s->vary, vlen),
                              .body = h2o_iovec_init(H2O_STRLIT("hello world"))};
}

/* The same metadata, with a body that lives in chunks. */
static void sample_chunked(sample_t *s)
{
    sample_inline(s);
    s->rec.oid = UINT64_C(0x0102030405060708);
    s->rec.chunk_size = 256 * 1024;
    s->rec.body_len = UINT64_C(5) * 1024 * 1024 * 1024 + 17; /* over 4 GiB: the field is 64 bits wide */
    s->rec.body = h2o_iovec_init(NULL, 0);
}

/* Encodes into a heap buffer of exactly cache_record_size() bytes; the caller frees it. */
static uint8_t *encode(const cache_record_t *rec, size_t *len)
{
    *len = cache_record_size(rec);
    uint8_t *buf = malloc(*len);
    ck_assert_ptr_nonnull(buf);
    size_t written = cache_record_encode(rec, buf);
    ck_assert_msg(written == *len, "encode wrote %zu bytes, cache_record_size said %zu", written, *len);
    return buf;
}

static bool iov_eq(h2o_iovec_t a, h2o_iovec_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

static void assert_same(const cache_record_t *a, const cache_record_t *b)
{
    ck_assert_uint_eq(a->status, b->status);
    ck_assert_uint_eq(a->flags, b->flags);
    ck_assert_int_eq(a->request_time, b->request_time);
    ck_assert_int_eq(a->response_time, b->response_time);
    ck_assert_uint_eq(a->initial_age, b->initial_age);
    ck_assert_uint_eq(a->lifetime, b->lifetime);
    ck_assert_uint_eq(a->stale_while_revalidate, b->stale_while_revalidate);
    ck_assert_uint_eq(a->stale_if_error, b->stale_if_error);
    ck_assert_uint_eq(a->oid, b->oid);
    ck_assert_uint_eq(a->body_len, b->body_len);
    ck_assert_uint_eq(a->chunk_size, b->chunk_size);
    ck_assert(iov_eq(a->key, b->key));
    ck_assert(iov_eq(a->headers, b->headers));
    ck_assert(iov_eq(a->vary, b->vary));
    ck_assert(iov_eq(a->body, b->body));
}

static bool inside(h2o_iovec_t v, const uint8_t *src, size_t len)
{
    const uint8_t *b = (const uint8_t *)v.base;
    return v.len == 0 || (b >= src && v.len <= len && b - src <= (ptrdiff_t)(len - v.len));
}

/* Walks a decoded block; every name and value must lie inside [src, src + len). Returns the count. */
static size_t walk_block(h2o_iovec_t block, const uint8_t *src, size_t len)
{
    h2o_iovec_t name, value;
    size_t n = 0;
    while (cache_record_next_header(&block, &name, &value)) {
        ck_assert_msg(inside(name, src, len) && inside(value, src, len), "header %zu of a decoded block lies outside the input", n);
        ck_assert_msg(name.len != 0, "a decoded block holds an empty name");
        ++n;
        ck_assert_msg(n <= len / 6, "a block yields more headers than its bytes can hold");
    }
    ck_assert_uint_eq(block.len, 0);
    return n;
}

/* The fuzz oracle: decode must either fail with a known error or produce a record entirely inside the input. */
static int decode_checked(const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len != 0 ? len : 1);
    cache_record_t rec;
    ck_assert_ptr_nonnull(copy);
    if (len != 0)
        memcpy(copy, data, len);
    int ret = cache_record_decode(&rec, copy, len);
    ck_assert_msg(ret == 0 || ret == CACHE_RECORD_E_SHORT || ret == CACHE_RECORD_E_VERSION || ret == CACHE_RECORD_E_CORRUPT,
                  "unexpected return %d", ret);
    if (ret == 0) {
        ck_assert(inside(rec.key, copy, len) && inside(rec.headers, copy, len) && inside(rec.vary, copy, len) &&
                  inside(rec.body, copy, len));
        ck_assert(rec.status >= 100 && rec.status <= 999);
        ck_assert(rec.chunk_size == 0 ? rec.body.len == rec.body_len && rec.oid == 0 : rec.body.len == 0 && rec.oid != 0);
        walk_block(rec.headers, copy, len);
        walk_block(rec.vary, copy, len);
    }
    free(copy);
    return ret;
}

/* --- layout and round trips ---------------------------------------------------------------------- */

START_TEST(test_layout)
{
    /* the fixed part is 2+2+4+8+8+4*4+8+8+4+4*4 bytes, the version first, then the variable parts */
    ck_assert_uint_eq(CACHE_RECORD_HEADER_SIZE, 84);
    cache_record_t empty = {.status = 204};
    ck_assert_uint_eq(cache_record_size(&empty), CACHE_RECORD_HEADER_SIZE);

    sample_t s;
    size_t len;
    sample_inline(&s);
    uint8_t *buf = encode(&s.rec, &len);
    ck_assert_uint_eq(len, CACHE_RECORD_HEADER_SIZE + s.rec.key.len + s.rec.headers.len + s.rec.vary.len + s.rec.body.len);
    ck_assert_uint_eq(buf[0] | buf[1] << 8, CACHE_RECORD_VERSION);
    ck_assert_uint_eq(buf[2] | buf[3] << 8, 200);
    ck_assert_mem_eq(buf + CACHE_RECORD_HEADER_SIZE, s.rec.key.base, s.rec.key.len);
    ck_assert_mem_eq(buf + len - s.rec.body.len, "hello world", 11);
    free(buf);
}
END_TEST

START_TEST(test_encode_stays_in_buffer)
{
    /* encode must write exactly cache_record_size() bytes: guard bytes after the record stay untouched */
    sample_t s;
    sample_inline(&s);
    size_t len = cache_record_size(&s.rec);
    uint8_t *buf = malloc(len + 16);
    memset(buf, 0xee, len + 16);
    cache_record_encode(&s.rec, buf);
    for (size_t i = len; i != len + 16; ++i)
        ck_assert_msg(buf[i] == 0xee, "encode wrote past cache_record_size() at offset %zu (size %zu)", i, len);
    free(buf);
}
END_TEST

START_TEST(test_roundtrip_inline)
{
    sample_t s;
    cache_record_t out;
    size_t len;
    sample_inline(&s);
    uint8_t *buf = encode(&s.rec, &len);
    ck_assert_int_eq(cache_record_decode(&out, buf, len), 0);
    assert_same(&s.rec, &out);
    /* the iovecs point into the input, not into a copy */
    ck_assert(inside(out.key, buf, len) && inside(out.headers, buf, len) && inside(out.vary, buf, len) &&
              inside(out.body, buf, len));
    ck_assert_ptr_eq(out.body.base, (char *)buf + len - 11);
    free(buf);
}
END_TEST

START_TEST(test_roundtrip_chunked)
{
    sample_t s;
    cache_record_t out;
    size_t len;
    sample_chunked(&s);
    uint8_t *buf = encode(&s.rec, &len);
    ck_assert_int_eq(cache_record_decode(&out, buf, len), 0);
    assert_same(&s.rec, &out);
    ck_assert_uint_eq(out.oid, UINT64_C(0x0102030405060708));
    ck_assert_uint_eq(out.chunk_size, 256 * 1024);
    ck_assert_uint_eq(out.body_len, UINT64_C(5) * 1024 * 1024 * 1024 + 17);
    ck_assert_uint_eq(out.body.len, 0);
    free(buf);
}
END_TEST

START_TEST(test_roundtrip_minimal_and_extremes)
{
    cache_record_t in = {.status = 100}, out;
    size_t len;
    uint8_t *buf = encode(&in, &len);
    ck_assert_int_eq(cache_record_decode(&out, buf, len), 0);
    assert_same(&in, &out);
    free(buf);

    in = (cache_record_t){.status = 999,
                          .flags = UINT32_MAX,
                          .request_time = INT64_MIN,
                          .response_time = -1,
                          .initial_age = UINT32_MAX,
                          .lifetime = UINT32_MAX,
                          .stale_while_revalidate = UINT32_MAX,
                          .stale_if_error = UINT32_MAX,
                          .oid = UINT64_MAX,
                          .body_len = UINT64_MAX,
                          .chunk_size = UINT32_MAX,
                          .key = h2o_iovec_init(H2O_STRLIT("k"))};
    buf = encode(&in, &len);
    ck_assert_int_eq(cache_record_decode(&out, buf, len), 0);
    assert_same(&in, &out);
    free(buf);
}
END_TEST

START_TEST(test_roundtrip_binary_body)
{
    uint8_t body[1000];
    for (size_t i = 0; i != sizeof(body); ++i)
        body[i] = (uint8_t)(i * 7);
    cache_record_t in = {.status = 200, .body_len = sizeof(body), .body = h2o_iovec_init(body, sizeof(body))}, out;
    size_t len;
    uint8_t *buf = encode(&in, &len);
    ck_assert_int_eq(cache_record_decode(&out, buf, len), 0);
    ck_assert_uint_eq(out.body.len, sizeof(body));
    ck_assert_mem_eq(out.body.base, body, sizeof(body));
    free(buf);
}
END_TEST

/* --- header blocks -------------------------------------------------------------------------------- */

START_TEST(test_header_block)
{
    static const struct {
        const char *name, *value;
    } hdrs[] = {{"content-type", "image/png"}, {"x-empty", ""}, {"etag", "W/\"1\""}, {"content-type", "dup"}};
    uint8_t block[256], *p = block;
    size_t expect = 0;
    for (size_t i = 0; i != 4; ++i) {
        uint8_t *before = p;
        cache_record_put_header(&p, hdrs[i].name, strlen(hdrs[i].name), hdrs[i].value, strlen(hdrs[i].value));
        ck_assert_uint_eq((size_t)(p - before), cache_record_header_size(strlen(hdrs[i].name), strlen(hdrs[i].value)));
        expect += cache_record_header_size(strlen(hdrs[i].name), strlen(hdrs[i].value));
    }
    ck_assert_uint_eq((size_t)(p - block), expect);

    h2o_iovec_t it = h2o_iovec_init(block, (size_t)(p - block)), name, value;
    for (size_t i = 0; i != 4; ++i) {
        ck_assert(cache_record_next_header(&it, &name, &value));
        ck_assert(h2o_memis(name.base, name.len, hdrs[i].name, strlen(hdrs[i].name)));
        ck_assert(h2o_memis(value.base, value.len, hdrs[i].value, strlen(hdrs[i].value)));
    }
    ck_assert(!cache_record_next_header(&it, &name, &value));
    ck_assert_uint_eq(it.len, 0);
    ck_assert_uint_eq(cache_record_header_size(0, 0), 6);
    ck_assert_uint_eq(cache_record_header_size(4, 10), 20);
}
END_TEST

START_TEST(test_header_blocks_roundtrip)
{
    sample_t s;
    cache_record_t out;
    size_t len;
    h2o_iovec_t name, value;
    sample_inline(&s);
    uint8_t *buf = encode(&s.rec, &len);
    ck_assert_int_eq(cache_record_decode(&out, buf, len), 0);

    h2o_iovec_t it = out.headers;
    ck_assert(cache_record_next_header(&it, &name, &value));
    ck_assert(h2o_memis(name.base, name.len, H2O_STRLIT("content-type")));
    ck_assert(h2o_memis(value.base, value.len, H2O_STRLIT("text/html; charset=utf-8")));
    ck_assert(cache_record_next_header(&it, &name, &value));
    ck_assert(h2o_memis(name.base, name.len, H2O_STRLIT("etag")));
    ck_assert(h2o_memis(value.base, value.len, H2O_STRLIT("\"abc123\"")));
    ck_assert(cache_record_next_header(&it, &name, &value));
    ck_assert(h2o_memis(name.base, name.len, H2O_STRLIT("x-empty")));
    ck_assert_uint_eq(value.len, 0);
    ck_assert(!cache_record_next_header(&it, &name, &value));

    it = out.vary;
    ck_assert(cache_record_next_header(&it, &name, &value));
    ck_assert(h2o_memis(name.base, name.len, H2O_STRLIT("accept-encoding")));
    ck_assert(h2o_memis(value.base, value.len, H2O_STRLIT("gzip")));
    ck_assert(!cache_record_next_header(&it, &name, &value));
    ck_assert_uint_eq(walk_block(out.headers, buf, len), 3);
    free(buf);
}
END_TEST

START_TEST(test_empty_blocks)
{
    cache_record_t in = {.status = 200, .key = h2o_iovec_init(H2O_STRLIT("/"))}, out;
    size_t len;
    h2o_iovec_t name, value;
    uint8_t *buf = encode(&in, &len);
    ck_assert_int_eq(cache_record_decode(&out, buf, len), 0);
    ck_assert_uint_eq(out.headers.len, 0);
    ck_assert_uint_eq(out.vary.len, 0);
    ck_assert(!cache_record_next_header(&out.headers, &name, &value));
    ck_assert(!cache_record_next_header(&out.vary, &name, &value));
    free(buf);
}
END_TEST

/* --- errors --------------------------------------------------------------------------------------- */

START_TEST(test_every_truncation_fails)
{
    sample_t samples[2];
    sample_inline(&samples[0]);
    sample_chunked(&samples[1]);
    for (size_t k = 0; k != 2; ++k) {
        size_t n;
        uint8_t *buf = encode(&samples[k].rec, &n);
        for (size_t len = 0; len != n; ++len) {
            int ret = decode_checked(buf, len);
            ck_assert_msg(ret == CACHE_RECORD_E_SHORT, "sample %zu truncated to %zu of %zu bytes: got %d, expected E_SHORT", k, len,
                          n, ret);
        }
        ck_assert_int_eq(decode_checked(buf, n), 0);
        free(buf);
    }
}
END_TEST

START_TEST(test_trailing_bytes_corrupt)
{
    sample_t s;
    size_t n;
    cache_record_t out;
    sample_inline(&s);
    uint8_t *buf = encode(&s.rec, &n), *longer = malloc(n + 1);
    memcpy(longer, buf, n);
    longer[n] = 0;
    ck_assert_int_eq(cache_record_decode(&out, longer, n + 1), CACHE_RECORD_E_CORRUPT);
    free(longer);
    free(buf);
}
END_TEST

START_TEST(test_unknown_version)
{
    static const uint16_t versions[] = {0, CACHE_RECORD_VERSION + 1, 0x0100, 0xffff};
    sample_t s;
    size_t n;
    cache_record_t out;
    sample_inline(&s);
    uint8_t *buf = encode(&s.rec, &n);
    for (size_t i = 0; i != sizeof(versions) / sizeof(versions[0]); ++i) {
        buf[0] = (uint8_t)versions[i];
        buf[1] = (uint8_t)(versions[i] >> 8);
        ck_assert_int_eq(cache_record_decode(&out, buf, n), CACHE_RECORD_E_VERSION);
        /* the version is judged before the length: a future format may be shorter */
        ck_assert_int_eq(cache_record_decode(&out, buf, 2), CACHE_RECORD_E_VERSION);
    }
    free(buf);
}
END_TEST

static int decode_variant(const cache_record_t *rec)
{
    size_t n;
    cache_record_t out;
    uint8_t *buf = encode(rec, &n);
    int ret = cache_record_decode(&out, buf, n);
    free(buf);
    return ret;
}

START_TEST(test_inline_chunk_inconsistent)
{
    sample_t s;
    cache_record_t r;

    sample_inline(&s);
    r = s.rec;
    r.oid = 5; /* inline body, but an oid */
    ck_assert_int_eq(decode_variant(&r), CACHE_RECORD_E_CORRUPT);
    r = s.rec;
    r.body_len = 12; /* inline body shorter than body_len */
    ck_assert_int_eq(decode_variant(&r), CACHE_RECORD_E_CORRUPT);
    r = s.rec;
    r.body_len = 10; /* longer */
    ck_assert_int_eq(decode_variant(&r), CACHE_RECORD_E_CORRUPT);

    sample_chunked(&s);
    r = s.rec;
    r.oid = 0; /* chunked, but no oid */
    ck_assert_int_eq(decode_variant(&r), CACHE_RECORD_E_CORRUPT);
    r = s.rec;
    r.body = h2o_iovec_init(H2O_STRLIT("x")); /* chunked, and an inline body too */
    ck_assert_int_eq(decode_variant(&r), CACHE_RECORD_E_CORRUPT);

    /* the consistent ones still decode */
    ck_assert_int_eq(decode_variant(&s.rec), 0);
    sample_inline(&s);
    ck_assert_int_eq(decode_variant(&s.rec), 0);
}
END_TEST

START_TEST(test_status_out_of_range)
{
    sample_t s;
    sample_inline(&s);
    s.rec.status = 99;
    ck_assert_int_eq(decode_variant(&s.rec), CACHE_RECORD_E_CORRUPT);
    s.rec.status = 1000;
    ck_assert_int_eq(decode_variant(&s.rec), CACHE_RECORD_E_CORRUPT);
    s.rec.status = 0;
    ck_assert_int_eq(decode_variant(&s.rec), CACHE_RECORD_E_CORRUPT);
}
END_TEST

START_TEST(test_malformed_blocks)
{
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
    } blocks[] = {
        {"empty name", {0, 0, 1, 0, 0, 0, 'v'}, 7},
        {"name longer than the block", {9, 0, 'a', 'b', 0, 0, 0, 0}, 8},
        {"value longer than the block", {1, 0, 'a', 5, 0, 0, 0, 'v'}, 8},
        {"value length cut short", {1, 0, 'a', 0, 0}, 5},
        {"one stray byte", {1}, 1},
        {"a valid header then a stray byte", {1, 0, 'a', 1, 0, 0, 0, 'v', 0}, 9},
        {"huge name length", {0xff, 0xff, 'a'}, 3},
        {"huge value length", {1, 0, 'a', 0xff, 0xff, 0xff, 0xff}, 7},
    };
    sample_t s, c;
    sample_inline(&s);
    sample_chunked(&c);
    for (size_t i = 0; i != sizeof(blocks) / sizeof(blocks[0]); ++i) {
        cache_record_t r = s.rec;
        r.headers = h2o_iovec_init(blocks[i].bytes, blocks[i].len);
        ck_assert_msg(decode_variant(&r) == CACHE_RECORD_E_CORRUPT, "headers: %s", blocks[i].what);
        r = s.rec;
        r.vary = h2o_iovec_init(blocks[i].bytes, blocks[i].len);
        ck_assert_msg(decode_variant(&r) == CACHE_RECORD_E_CORRUPT, "vary: %s", blocks[i].what);
        /* the block last in the record (no body after it), so that under ASan a read past the block is a
         * read past the buffer */
        r = c.rec;
        r.vary = h2o_iovec_init(blocks[i].bytes, blocks[i].len);
        ck_assert_msg(decode_variant(&r) == CACHE_RECORD_E_CORRUPT, "vary, last: %s", blocks[i].what);
        r = c.rec;
        r.vary = h2o_iovec_init(NULL, 0);
        r.headers = h2o_iovec_init(blocks[i].bytes, blocks[i].len);
        ck_assert_msg(decode_variant(&r) == CACHE_RECORD_E_CORRUPT, "headers, last: %s", blocks[i].what);
    }
}
END_TEST

START_TEST(test_declared_lengths_overflow)
{
    /* lengths whose sum wraps a 32-bit counter must not pass as consistent */
    sample_t s;
    size_t n;
    cache_record_t out;
    sample_inline(&s);
    uint8_t *buf = encode(&s.rec, &n);
    /* key_len is at offset 60: make key_len + headers_len wrap around 2^32 back to the real total */
    uint32_t key_len = (uint32_t)s.rec.key.len + 0x80000000u, hdr_len = (uint32_t)s.rec.headers.len + 0x80000000u;
    for (int i = 0; i != 4; ++i) {
        buf[60 + i] = (uint8_t)(key_len >> (8 * i));
        buf[64 + i] = (uint8_t)(hdr_len >> (8 * i));
    }
    int ret = cache_record_decode(&out, buf, n);
    ck_assert_msg(ret == CACHE_RECORD_E_SHORT || ret == CACHE_RECORD_E_CORRUPT, "wrapped lengths decoded: %d", ret);
    free(buf);
}
END_TEST

START_TEST(test_strerror)
{
    static const int codes[] = {0, CACHE_RECORD_E_SHORT, CACHE_RECORD_E_VERSION, CACHE_RECORD_E_CORRUPT, -99};
    for (size_t i = 0; i != sizeof(codes) / sizeof(codes[0]); ++i) {
        ck_assert_ptr_nonnull(cache_record_strerror(codes[i]));
        ck_assert_uint_gt(strlen(cache_record_strerror(codes[i])), 0);
        for (size_t j = 0; j != i; ++j)
            ck_assert_str_ne(cache_record_strerror(codes[i]), cache_record_strerror(codes[j]));
    }
}
END_TEST

/* --- fuzz ----------------------------------------------------------------------------------------- */

START_TEST(test_fuzz_random_buffers)
{
    uint8_t buf[600];
    size_t decoded = 0, reached_blocks = 0;

    rng_state = UINT64_C(0x9e3779b97f4a7c15);
    for (size_t iter = 0; iter != 10000; ++iter) {
        size_t len = (size_t)(rng() % sizeof(buf));
        for (size_t i = 0; i != len; ++i)
            buf[i] = (uint8_t)rng();
        switch (iter % 3) {
        case 0: /* pure noise */
            break;
        case 1: /* a known version, so the rest of the header is read */
            if (len >= 2)
                buf[0] = CACHE_RECORD_VERSION, buf[1] = 0;
            break;
        case 2: /* a known version and lengths that add up, so the header blocks are walked */
            if (len >= CACHE_RECORD_HEADER_SIZE) {
                size_t rest = len - CACHE_RECORD_HEADER_SIZE, lens[4];
                buf[0] = CACHE_RECORD_VERSION, buf[1] = 0;
                buf[2] = 200, buf[3] = 0;
                lens[0] = rest != 0 ? (size_t)(rng() % (rest + 1)) : 0;
                lens[1] = rest - lens[0] != 0 ? (size_t)(rng() % (rest - lens[0] + 1)) : 0;
                lens[2] = rest - lens[0] - lens[1] != 0 ? (size_t)(rng() % (rest - lens[0] - lens[1] + 1)) : 0;
                lens[3] = rest - lens[0] - lens[1] - lens[2];
                for (size_t k = 0; k != 4; ++k)
                    for (int b = 0; b != 4; ++b)
                        buf[60 + 4 * k + b] = (uint8_t)(lens[k] >> (8 * b));
                ++reached_blocks;
            }
            break;
        }
        if (decode_checked(buf, len) == 0)
            ++decoded;
    }
    ck_assert_uint_gt(reached_blocks, 1000); /* the structured inputs did get generated */
    (void)decoded;
}
END_TEST

START_TEST(test_fuzz_single_bit_flips)
{
    sample_t samples[2];
    size_t decoded = 0;
    sample_inline(&samples[0]);
    sample_chunked(&samples[1]);
    for (size_t k = 0; k != 2; ++k) {
        size_t n;
        uint8_t *buf = encode(&samples[k].rec, &n);
        for (size_t bit = 0; bit != n * 8; ++bit) {
            buf[bit / 8] ^= (uint8_t)(1 << (bit % 8));
            if (decode_checked(buf, n) == 0)
                ++decoded;
            buf[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        }
        ck_assert_int_eq(decode_checked(buf, n), 0);
        free(buf);
    }
    ck_assert_uint_gt(decoded, 0); /* flips in the times or the body still decode: the oracle did run */
}
END_TEST

START_TEST(test_fuzz_random_bit_flips)
{
    sample_t s;
    size_t n;
    sample_inline(&s);
    uint8_t *orig = encode(&s.rec, &n), *buf = malloc(n);

    rng_state = UINT64_C(0x243f6a8885a308d3);
    for (size_t iter = 0; iter != 10000; ++iter) {
        memcpy(buf, orig, n);
        size_t flips = 1 + (size_t)(rng() % 8);
        for (size_t f = 0; f != flips; ++f) {
            /* most flips in the fixed part and the header blocks, where the lengths are */
            size_t pos = rng() % 2 == 0 ? (size_t)(rng() % (CACHE_RECORD_HEADER_SIZE + s.rec.key.len + s.rec.headers.len))
                                        : (size_t)(rng() % n);
            buf[pos] ^= (uint8_t)(1 << (rng() % 8));
        }
        decode_checked(buf, n);
        /* and the same bytes, truncated at a random point */
        decode_checked(buf, (size_t)(rng() % n));
    }
    free(buf);
    free(orig);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_record");
    TCase *tc;

    tc = tcase_create("roundtrip");
    tcase_add_test(tc, test_layout);
    tcase_add_test(tc, test_encode_stays_in_buffer);
    tcase_add_test(tc, test_roundtrip_inline);
    tcase_add_test(tc, test_roundtrip_chunked);
    tcase_add_test(tc, test_roundtrip_minimal_and_extremes);
    tcase_add_test(tc, test_roundtrip_binary_body);
    suite_add_tcase(s, tc);

    tc = tcase_create("header_blocks");
    tcase_add_test(tc, test_header_block);
    tcase_add_test(tc, test_header_blocks_roundtrip);
    tcase_add_test(tc, test_empty_blocks);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_every_truncation_fails);
    tcase_add_test(tc, test_trailing_bytes_corrupt);
    tcase_add_test(tc, test_unknown_version);
    tcase_add_test(tc, test_inline_chunk_inconsistent);
    tcase_add_test(tc, test_status_out_of_range);
    tcase_add_test(tc, test_malformed_blocks);
    tcase_add_test(tc, test_declared_lengths_overflow);
    tcase_add_test(tc, test_strerror);
    suite_add_tcase(s, tc);

    tc = tcase_create("fuzz");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fuzz_random_buffers);
    tcase_add_test(tc, test_fuzz_single_bit_flips);
    tcase_add_test(tc, test_fuzz_random_bit_flips);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
