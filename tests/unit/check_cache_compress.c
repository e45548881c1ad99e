/*
 * tests/unit/check_cache_compress.c: compression stored once (cache/compress.c).
 *
 * The pure parts — which responses are compressible, which coding a client gets (RFC 9110 §12.5.3), the
 * stamps — are checked against tables. The encoders are checked by decoding: gzip with zlib's inflate
 * here (brotli is decoded by the end-to-end scenario g01-compress, with the brotli command). The compressor
 * thread runs against a real store (tests/unit/store_fixture.h): a variant appears once the compressor and
 * the writer are flushed, carries its object's stamp, decodes to the object's body, and goes when the
 * object is deleted.
 */
#include "cache/compress.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cache/record.h"
#include "cache/ttl.h"

#define MAP_SIZE (64 * 1024 * 1024)
#define MAX_READERS 64
#define CHUNK 4096

#include "tests/unit/store_fixture.h"

static const unsigned BOTH = 1u << CACHE_CODING_GZIP | 1u << CACHE_CODING_BR;

/* --- the choice of a coding ---------------------------------------------------------------------------- */

START_TEST(test_choose)
{
    static const struct {
        const char *ae;
        unsigned available;
        cache_coding_t want;
    } cases[] = {
        {NULL, 6, CACHE_CODING_IDENTITY},
        {"", 6, CACHE_CODING_IDENTITY},
        {"gzip", 6, CACHE_CODING_GZIP},
        {"br", 6, CACHE_CODING_BR},
        {"gzip, br", 6, CACHE_CODING_BR},
        {"gzip, deflate, br, zstd", 6, CACHE_CODING_BR},
        {"br, gzip", 1u << CACHE_CODING_GZIP, CACHE_CODING_GZIP}, /* br not stored */
        {"br", 1u << CACHE_CODING_GZIP, CACHE_CODING_IDENTITY},
        {"x-gzip", 6, CACHE_CODING_GZIP},
        {"GZip", 6, CACHE_CODING_GZIP},
        {"br;q=0.5, gzip", 6, CACHE_CODING_GZIP},
        {"br;q=0.5, gzip;q=0.5", 6, CACHE_CODING_BR},
        {"br;q=0.9, gzip;q=0.95", 6, CACHE_CODING_GZIP},
        {"gzip;q=0, br;q=0", 6, CACHE_CODING_IDENTITY},
        {"gzip;q=0.0, br;q=0.000", 6, CACHE_CODING_IDENTITY},
        {"br;q=0, gzip;q=0.001", 6, CACHE_CODING_GZIP},
        {"gzip ; q=1.0 , br ; q=0.2", 6, CACHE_CODING_GZIP},
        {"identity;q=0, gzip", 6, CACHE_CODING_GZIP},
        {"identity;q=0", 6, CACHE_CODING_IDENTITY}, /* nothing acceptable: identity all the same (not a 406) */
        {"*", 6, CACHE_CODING_BR},
        {"*;q=0", 6, CACHE_CODING_IDENTITY},
        {"*;q=0.2, br;q=0", 6, CACHE_CODING_GZIP},
        {"gzip;q=0, *", 6, CACHE_CODING_BR},
        {"deflate", 6, CACHE_CODING_IDENTITY},
        {"identity", 6, CACHE_CODING_IDENTITY},
        {",,gzip,,", 6, CACHE_CODING_GZIP},
        {"gzip;level=9", 6, CACHE_CODING_GZIP},
        {"gzip;q=", 6, CACHE_CODING_GZIP},
        {"gzip", 0, CACHE_CODING_IDENTITY},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        h2o_iovec_t ae = cases[i].ae != NULL ? h2o_iovec_init(cases[i].ae, strlen(cases[i].ae)) : h2o_iovec_init(NULL, 0);
        unsigned available = cases[i].available == 6 ? BOTH : cases[i].available;
        ck_assert_msg(cache_compress_choose(ae, available) == cases[i].want, "Accept-Encoding \"%s\": got %s, want %s",
                      cases[i].ae ? cases[i].ae : "(none)", cache_compress_coding_name(cache_compress_choose(ae, available)),
                      cache_compress_coding_name(cases[i].want));
    }
}
END_TEST

/* --- which responses ------------------------------------------------------------------------------------- */

static bool type_ok(const cache_compress_rules_t *r, const char *t)
{
    return cache_compress_type_ok(r, h2o_iovec_init(t, strlen(t)));
}

START_TEST(test_types)
{
    cache_compress_rules_t def = {.enabled = true};
    ck_assert(type_ok(&def, "text/html"));
    ck_assert(type_ok(&def, "text/plain; charset=utf-8"));
    ck_assert(type_ok(&def, "TEXT/CSS"));
    ck_assert(type_ok(&def, "application/javascript"));
    ck_assert(type_ok(&def, "application/json;charset=utf-8"));
    ck_assert(type_ok(&def, "image/svg+xml"));
    ck_assert(!type_ok(&def, "image/png"));
    ck_assert(!type_ok(&def, "application/octet-stream"));
    ck_assert(!type_ok(&def, "text"));
    ck_assert(!type_ok(&def, "text/"));
    ck_assert(!type_ok(&def, "textile/x"));
    ck_assert(!type_ok(&def, ""));
    ck_assert(!type_ok(&def, "application/jsonp"));

    char json[] = "application/json", image[] = "image/*";
    char *list[] = {json, image};
    cache_compress_rules_t mine = {.enabled = true, .types = list, .num_types = 2};
    ck_assert(type_ok(&mine, "application/json"));
    ck_assert(type_ok(&mine, "image/png"));
    ck_assert(!type_ok(&mine, "text/html"));
}
END_TEST

static bool eligible(const cache_compress_rules_t *r, int status, const char *const *fields)
{
    h2o_mem_pool_t p;
    h2o_headers_t h = {NULL};
    h2o_mem_init_pool(&p);
    for (; fields[0] != NULL; fields += 2)
        h2o_add_header_by_str(&p, &h, fields[0], strlen(fields[0]), 1, NULL, fields[1], strlen(fields[1]));
    bool ok = cache_compress_eligible(r, status, &h);
    h2o_mem_clear_pool(&p);
    return ok;
}

START_TEST(test_eligible)
{
    cache_compress_rules_t on = {.enabled = true}, off = {.enabled = false};
    const char *const text[] = {"content-type", "text/html", NULL};
    const char *const identity[] = {"content-type", "text/html", "content-encoding", "identity", NULL};
    const char *const gz[] = {"content-type", "text/html", "content-encoding", "gzip", NULL};
    const char *const nt[] = {"content-type", "text/html", "cache-control", "public, no-transform, max-age=60", NULL};
    const char *const cc[] = {"content-type", "text/html", "cache-control", "public, max-age=60", NULL};
    const char *const none[] = {"cache-control", "max-age=60", NULL};
    const char *const png[] = {"content-type", "image/png", NULL};
    ck_assert(eligible(&on, 200, text));
    ck_assert(eligible(&on, 200, identity));
    ck_assert(eligible(&on, 200, cc));
    ck_assert(!eligible(&off, 200, text));
    ck_assert(!eligible(&on, 404, text));
    ck_assert(!eligible(&on, 206, text));
    ck_assert(!eligible(&on, 200, gz));
    ck_assert(!eligible(&on, 200, nt));
    ck_assert(!eligible(&on, 200, none));
    ck_assert(!eligible(&on, 200, png));
    ck_assert(!cache_compress_length_ok(999));
    ck_assert(cache_compress_length_ok(1000));
    ck_assert(cache_compress_length_ok(10 * 1024 * 1024));
    ck_assert(!cache_compress_length_ok(10 * 1024 * 1024 + 1));
}
END_TEST

/* --- the encoders ------------------------------------------------------------------------------------------ */

/* A text of `n` bytes that compresses, but not to nothing. */
static char *sample(size_t n)
{
    char *s = malloc(n + 1);
    for (size_t i = 0; i != n; ++i)
        s[i] = "the quick brown fox jumps over the lazy dog 0123456789\n"[(i * 7 + i / 61) % 55];
    s[n] = '\0';
    return s;
}

static void assert_gunzips_to(const uint8_t *gz, size_t gzlen, const char *want, size_t wantlen)
{
    z_stream zs = {.zalloc = Z_NULL};
    char *out = malloc(wantlen + 16);
    ck_assert_int_eq(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)gz;
    zs.avail_in = (uInt)gzlen;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)(wantlen + 16);
    ck_assert_int_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
    ck_assert_uint_eq(zs.total_out, wantlen);
    ck_assert(memcmp(out, want, wantlen) == 0);
    inflateEnd(&zs);
    free(out);
}

START_TEST(test_encoders)
{
    char *text = sample(100000);
    uint8_t *out;
    size_t outlen;

    ck_assert_int_eq(cache_compress_body(CACHE_CODING_GZIP, text, 100000, &out, &outlen), 0);
    ck_assert(outlen < 100000 / 4);
    ck_assert(out[0] == 0x1f && out[1] == 0x8b); /* a gzip member, not a zlib stream */
    assert_gunzips_to(out, outlen, text, 100000);
    free(out);
    ck_assert_int_eq(cache_compress_body(CACHE_CODING_BR, text, 100000, &out, &outlen), 0);
    ck_assert(outlen > 0 && outlen < 100000 / 4);
    free(out);
    ck_assert_int_eq(cache_compress_body(CACHE_CODING_IDENTITY, text, 100000, &out, &outlen), -1);
    free(text);
}
END_TEST

START_TEST(test_stamps)
{
    cache_record_t a = {.oid = 0, .body_len = 5000, .body_crc = 0x1234}, b = a, c = a, d = a;
    char sa[48], sb[48];
    b.body_crc = 0x1235;
    c.body_len = 5001;
    d.oid = 7;
    size_t la = cache_compress_stamp(&a, sa);
    ck_assert_uint_gt(la, 0);
    const cache_record_t *others[] = {&b, &c, &d};
    for (size_t i = 0; i != 3; ++i) {
        size_t lb = cache_compress_stamp(others[i], sb);
        ck_assert(!(la == lb && memcmp(sa, sb, la) == 0));
    }
    ck_assert_str_eq(cache_compress_coding_name(CACHE_CODING_GZIP), "gzip");
    ck_assert_str_eq(cache_compress_coding_name(CACHE_CODING_BR), "br");
}
END_TEST

/* --- the compressor thread against a store ---------------------------------------------------------------- */

/* Queues an identity record for `key` with an inline body (or, with oid, chunks of `body`) and `flags`. */
static void put_identity(cache_store_t *s, const char *key, const char *body, size_t len, uint64_t oid, uint32_t flags)
{
    static uint8_t headers[128];
    uint8_t *p = headers;
    cache_record_put_header(&p, H2O_STRLIT("content-type"), H2O_STRLIT("text/plain"));
    cache_record_put_header(&p, H2O_STRLIT("surrogate-key"), H2O_STRLIT("t1"));
    if (oid != 0)
        for (uint32_t i = 0; (size_t)i * CHUNK < len; ++i)
            cache_store_put_chunk(s, oid, i, body + (size_t)i * CHUNK,
                                  len - (size_t)i * CHUNK < CHUNK ? len - (size_t)i * CHUNK : CHUNK);
    cache_record_t rec = {.status = 200,
                          .flags = flags,
                          .request_time = 1700000000,
                          .response_time = 1700000001,
                          .lifetime = 600,
                          .oid = oid,
                          .body_len = len,
                          .chunk_size = oid != 0 ? CHUNK : 0,
                          .key = h2o_iovec_init(key, strlen(key)),
                          .headers = h2o_iovec_init(headers, (size_t)(p - headers)),
                          .body = oid == 0 ? h2o_iovec_init(body, len) : h2o_iovec_init(NULL, 0)};
    size_t rlen = cache_record_size(&rec);
    uint8_t *buf = malloc(rlen);
    cache_record_encode(&rec, buf);
    cache_hash_t h = hash_of(key);
    cache_store_put_record(s, &h, buf, rlen, cache_store_purge_seq(s));
    free(buf);
}

static char vkey[256];
static const char *variant_key(const char *key, const char *coding)
{
    snprintf(vkey, sizeof(vkey), "%s\nencoding: %s", key, coding);
    return vkey;
}

/* Reads the whole body of `rec` (inline or chunked) into a buffer from malloc. */
static uint8_t *whole_body(cache_store_reader_t *r, const cache_record_t *rec)
{
    uint8_t *buf = malloc(rec->body_len + 1);
    if (rec->chunk_size == 0) {
        memcpy(buf, rec->body.base, rec->body_len);
        return buf;
    }
    uint64_t off = 0;
    for (uint32_t i = 0; off < rec->body_len; ++i) {
        size_t len;
        ck_assert_int_eq(cache_store_read_chunk(r, rec->oid, i, buf + off, rec->body_len - off, &len, true), 0);
        off += len;
    }
    return buf;
}

static void run_compressor(size_t len, bool chunked)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    char err[128] = "";
    cache_compress_t *c = cache_compress_start(s, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    char *text = sample(len);
    cache_record_t id, v;
    cache_hash_t h = hash_of("h/a");

    put_identity(s, "h/a", text, len, chunked ? cache_store_new_oid(s) : 0, CACHE_TTL_COMPRESSIBLE);
    put_identity(s, "h/plain", text, len, 0, 0); /* not flagged: never compressed */
    cache_compress_submit(c, &h, h2o_iovec_init(H2O_STRLIT("h/a")), cache_store_purge_seq(s));
    cache_hash_t hp = hash_of("h/plain");
    cache_compress_submit(c, &hp, h2o_iovec_init(H2O_STRLIT("h/plain")), cache_store_purge_seq(s));
    cache_hash_t hx = hash_of("h/absent");
    cache_compress_submit(c, &hx, h2o_iovec_init(H2O_STRLIT("h/absent")), cache_store_purge_seq(s));
    cache_compress_flush(c);
    cache_store_flush(s);

    cache_compress_stats_t st;
    cache_compress_stats(c, &st);
    ck_assert_uint_eq(st.objects, 1);
    ck_assert_uint_eq(st.variants, 2);
    ck_assert_uint_eq(st.skipped, 2);
    ck_assert_int_eq(get_record(r, "h/a", &id), 0);
    char stamp[48];
    size_t slen = cache_compress_stamp(&id, stamp);
    ck_assert_int_eq(get_record(r, variant_key("h/a", "gzip"), &v), 0);
    ck_assert_uint_eq(v.flags, CACHE_TTL_ENCODED);
    h2o_iovec_t vs = cache_compress_variant_stamp(&v);
    ck_assert(h2o_memis(vs.base, vs.len, stamp, slen));
    uint8_t *gz = whole_body(r, &v);
    assert_gunzips_to(gz, v.body_len, text, len);
    free(gz);
    ck_assert_int_eq(get_record(r, variant_key("h/a", "br"), &v), 0);
    ck_assert(v.body_len > 0 && v.body_len < len);
    ck_assert_int_eq(get_record(r, variant_key("h/plain", "gzip"), &v), CACHE_STORE_ENOTFOUND);

    /* the variants go with their object */
    cache_store_delete(s, &h);
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, "h/a", &id), CACHE_STORE_ENOTFOUND);
    ck_assert_int_eq(get_record(r, variant_key("h/a", "gzip"), &v), CACHE_STORE_ENOTFOUND);
    ck_assert_int_eq(get_record(r, variant_key("h/a", "br"), &v), CACHE_STORE_ENOTFOUND);

    free(text);
    cache_compress_stop(c);
    cache_store_reader_free(r);
    cache_store_close(s);
}

START_TEST(test_compressor_inline)
{
    run_compressor(20000, false);
}
END_TEST

START_TEST(test_compressor_chunked)
{
    /* a body in chunks, read back by the compressor chunk by chunk */
    run_compressor(4 * 1024 * 1024, true);
}
END_TEST

START_TEST(test_purge_by_tag_takes_variants)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    char err[128] = "", *text = sample(5000);
    cache_compress_t *c = cache_compress_start(s, err, sizeof(err));
    cache_hash_t h = hash_of("h/t");
    cache_record_t v;

    put_identity(s, "h/t", text, 5000, 0, CACHE_TTL_COMPRESSIBLE);
    cache_compress_submit(c, &h, h2o_iovec_init(H2O_STRLIT("h/t")), cache_store_purge_seq(s));
    cache_compress_flush(c);
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, variant_key("h/t", "br"), &v), 0);
    cache_store_purge(s, CACHE_PURGE_TAG, H2O_STRLIT("t1"), false);
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, "h/t", &v), CACHE_STORE_ENOTFOUND);
    ck_assert_int_eq(get_record(r, variant_key("h/t", "br"), &v), CACHE_STORE_ENOTFOUND);
    ck_assert_int_eq(get_record(r, variant_key("h/t", "gzip"), &v), CACHE_STORE_ENOTFOUND);
    cache_store_stats_t st;
    cache_store_stats(s, &st);
    ck_assert_uint_eq(st.objects, 0);
    free(text);
    cache_compress_stop(c);
    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/* (the fixture's chunk helpers, which these tests do not need) */
static void unused_fixture(void) __attribute__((unused));
static void unused_fixture(void)
{
    (void)chunk_status;
    (void)assert_chunk;
    (void)put_chunks;
}

static Suite *suite(void)
{
    Suite *s = suite_create("cache_compress");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, test_choose);
    tcase_add_test(tc, test_types);
    tcase_add_test(tc, test_eligible);
    tcase_add_test(tc, test_encoders);
    tcase_add_test(tc, test_stamps);
    suite_add_tcase(s, tc);

    tc = tcase_create("compressor");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_compressor_inline);
    tcase_add_test(tc, test_compressor_chunked);
    tcase_add_test(tc, test_purge_by_tag_takes_variants);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fixture_main("check_cache_compress", suite());
}
