/*
 * tests/unit/check_cache_key.c: the cache key and its hash (cache/key.c).
 *
 * Keys are compared as whole strings, because the invariant is byte-identity: two requests that the
 * behavior calls one object must produce the same bytes, and two that it does not must not. The hash
 * is checked against the FIPS 180-2 SHA-256 vectors, so a wrong algorithm or a lost update cannot pass.
 */
#include "cache/key.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static h2o_mem_pool_t pool;

static void setup(void)
{
    h2o_mem_init_pool(&pool);
}

static void teardown(void)
{
    h2o_mem_clear_pool(&pool);
}

/* `names` must be sorted (strcmp), as the config module leaves them; the module never writes through them. */
static cache_key_rules_t behavior(cache_key_qs_t qs, const char **names, size_t num_names)
{
    cache_key_rules_t b = {.query_string = qs};
    b.query_names = (char **)names;
    b.num_query_names = num_names;
    return b;
}

/* Builds the key of "path?query" (query NULL: no '?' at all) and compares it with `expected`. */
static void check_key(const cache_key_rules_t *b, const char *path, const char *query, const char *expected)
{
    h2o_iovec_t q = query != NULL ? h2o_iovec_init(query, strlen(query)) : h2o_iovec_init(NULL, 0);
    h2o_iovec_t key = cache_key_build(&pool, h2o_iovec_init(path, strlen(path)), q, b);
    ck_assert_msg(key.len == strlen(expected) && memcmp(key.base, expected, key.len) == 0,
                  "key of %s?%s: got \"%.*s\", expected \"%s\"", path, query != NULL ? query : "(none)", (int)key.len, key.base,
                  expected);
}

static void assert_name(const char *host, const char *name)
{
    h2o_iovec_t n = cache_key_host_name(h2o_iovec_init(host, strlen(host)));
    ck_assert_msg(h2o_memis(n.base, n.len, name, strlen(name)), "name of %s: %.*s", host, (int)n.len, n.base);
}

/* The one normal form of a target: what is keyed is what is sent. */
START_TEST(test_normalize_target)
{
    static const struct {
        const char *target, *path, *query;
    } cases[] = {
        {"/mm1/%2e%2e/target1", "/target1", NULL},
        {"/static%2fapp.js", "/static%2Fapp.js", NULL},
        {"/account/..%2fpublic.css", "/account/..%2Fpublic.css", NULL},
        {"/../../etc/passwd", "/etc/passwd", NULL},
        {"/a/./b/../c?x=1&y", "/a/c", "x=1&y"},
        {"/%41%7e%20", "/A~%20", NULL},
        {"/a/b/..", "/a/", NULL},
        {"/a//b", "/a//b", NULL},
        {"/..", "/", NULL},
        {"/?", "/", ""},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        h2o_iovec_t path, query;
        ck_assert_int_eq(cache_key_normalize_target(&pool, h2o_iovec_init(cases[i].target, strlen(cases[i].target)), &path, &query),
                         0);
        ck_assert_msg(h2o_memis(path.base, path.len, cases[i].path, strlen(cases[i].path)), "%s: %.*s", cases[i].target,
                      (int)path.len, path.base);
        if (cases[i].query == NULL)
            ck_assert_ptr_null(query.base);
        else
            ck_assert(h2o_memis(query.base, query.len, cases[i].query, strlen(cases[i].query)));
    }
    static const char *const bad[] = {"", "x", "/a%", "/a%2", "/a%zz", "http://x/"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        h2o_iovec_t path, query;
        ck_assert_int_eq(cache_key_normalize_target(&pool, h2o_iovec_init(bad[i], strlen(bad[i])), &path, &query),
                         CACHE_KEY_EBADTARGET);
    }
}
END_TEST

/* --- query_string: none / all / list ------------------------------------------------------------ */

/* The URL part of a key ends where the key headers or a variant's Vary values begin. */
/* The host that starts every key: one spelling per name, and no byte that could pass for a path. */
START_TEST(test_normalize_host)
{
    static const struct {
        const char *in;
        int tls;
        const char *out; /* NULL: refused */
    } cases[] = {
        {"shop.example.com", 0, "shop.example.com"},
        {"SHOP.example.com.:80", 0, "shop.example.com"},
        {"Shop.Example.COM:443", 1, "shop.example.com"},
        {"shop.example.com:443", 0, "shop.example.com:443"},
        {"shop.example.com:80", 1, "shop.example.com:80"},
        {"shop.example.com:08080", 0, "shop.example.com:8080"},
        {"shop.example.com:", 0, "shop.example.com"},
        {"127.0.0.1:8080", 0, "127.0.0.1:8080"},
        {"[::1]:8443", 1, "[::1]:8443"},
        {"[2001:DB8::1]:443", 1, "[2001:db8::1]"},
        {"", 0, ""},
        {"a/b", 0, NULL},
        {"a,b", 0, NULL},
        {"a b", 0, NULL},
        {"a\nb", 0, NULL},
        {"a:b", 0, NULL},
        {"a:0", 0, NULL},
        {"a:65536", 0, NULL},
        {"[::1", 0, NULL},
        {"[::1]x", 0, NULL},
        {"[zz]", 0, NULL},
        {"user@host", 0, NULL},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        h2o_iovec_t out;
        int r = cache_key_normalize_host(&pool, h2o_iovec_init(cases[i].in, strlen(cases[i].in)), cases[i].tls, &out);
        if (cases[i].out == NULL) {
            ck_assert_msg(r == CACHE_KEY_EBADHOST, "\"%s\" was accepted as \"%.*s\"", cases[i].in, (int)out.len, out.base);
            continue;
        }
        ck_assert_msg(r == 0, "\"%s\" was refused", cases[i].in);
        ck_assert_msg(h2o_memis(out.base, out.len, cases[i].out, strlen(cases[i].out)), "\"%s\": got \"%.*s\", expected \"%s\"",
                      cases[i].in, (int)out.len, out.base, cases[i].out);
    }
    assert_name("a.com:8080", "a.com");
    assert_name("[::1]:8080", "[::1]");
    assert_name("a.com", "a.com");
}
END_TEST

/* The host starts the key, and the URL part of the key keeps it. */
START_TEST(test_key_with_host)
{
    cache_key_rules_t b = behavior(CACHE_KEY_QS_ALL, NULL, 0);
    h2o_iovec_t key = cache_key_build_for_host(&pool, h2o_iovec_init(H2O_STRLIT("shop.example.com")),
                                               h2o_iovec_init(H2O_STRLIT("/a")), h2o_iovec_init(H2O_STRLIT("z=1&b=2")), &b);
    ck_assert(h2o_memis(key.base, key.len, H2O_STRLIT("shop.example.com/a?b=2&z=1")));
    key = cache_key_build_for_host(&pool, h2o_iovec_init(H2O_STRLIT("")), h2o_iovec_init(H2O_STRLIT("/a")), h2o_iovec_init(NULL, 0),
                                   &b);
    ck_assert(h2o_memis(key.base, key.len, H2O_STRLIT("/a")));
}
END_TEST

START_TEST(test_key_url)
{
    static const struct {
        const char *key, *url;
    } cases[] = {{"/a?b=1", "/a?b=1"}, {"/a\nx-variant: 1", "/a"}, {"/a?q\nvary\naccept-encoding: gzip", "/a?q"}, {"", ""}};
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        h2o_iovec_t url = cache_key_url(h2o_iovec_init(cases[i].key, strlen(cases[i].key)));
        ck_assert_msg(h2o_memis(url.base, url.len, cases[i].url, strlen(cases[i].url)), "%s: %.*s", cases[i].key, (int)url.len,
                      url.base);
    }
}
END_TEST

START_TEST(test_qs_none_drops_query)
{
    cache_key_rules_t b = behavior(CACHE_KEY_QS_NONE, NULL, 0);
    check_key(&b, "/a/b.css", "v=1&x=2", "/a/b.css");
    check_key(&b, "/a/b.css", NULL, "/a/b.css");
}
END_TEST

START_TEST(test_qs_all_keeps_every_param_sorted)
{
    cache_key_rules_t b = behavior(CACHE_KEY_QS_ALL, NULL, 0);
    check_key(&b, "/p", "z=9&a=1&m=5", "/p?a=1&m=5&z=9");
    check_key(&b, "/p", "only", "/p?only");
}
END_TEST

START_TEST(test_qs_list_keeps_only_listed)
{
    const char *names[] = {"lang", "v"}; /* sorted, as the config module leaves them */
    cache_key_rules_t b = behavior(CACHE_KEY_QS_LIST, names, 2);
    check_key(&b, "/p", "utm_source=x&v=3&lang=fr&session=abc", "/p?lang=fr&v=3");
    check_key(&b, "/p", "utm_source=x", "/p");
}
END_TEST

START_TEST(test_qs_list_many_names_binary_search)
{
    /* enough names that the binary search visits both halves */
    const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"};
    cache_key_rules_t b = behavior(CACHE_KEY_QS_LIST, names, sizeof(names) / sizeof(names[0]));
    check_key(&b, "/p", "k=11&a=1&f=6&zz=0&j=10&b=2&0=x", "/p?a=1&b=2&f=6&j=10&k=11");
}
END_TEST

START_TEST(test_qs_list_empty_list)
{
    cache_key_rules_t b = behavior(CACHE_KEY_QS_LIST, NULL, 0);
    check_key(&b, "/p", "a=1&b=2", "/p");
}
END_TEST

/* --- order, repetition, empty parameters ------------------------------------------------------- */

START_TEST(test_order_independent)
{
    cache_key_rules_t b = behavior(CACHE_KEY_QS_ALL, NULL, 0);
    h2o_iovec_t path = h2o_iovec_init(H2O_STRLIT("/x"));
    h2o_iovec_t k1 = cache_key_build(&pool, path, h2o_iovec_init(H2O_STRLIT("b=1&a=2")), &b);
    h2o_iovec_t k2 = cache_key_build(&pool, path, h2o_iovec_init(H2O_STRLIT("a=2&b=1")), &b);
    ck_assert(h2o_memis(k1.base, k1.len, k2.base, k2.len));
    ck_assert(h2o_memis(k1.base, k1.len, H2O_STRLIT("/x?a=2&b=1")));

    const char *names[] = {"a", "b"};
    cache_key_rules_t l = behavior(CACHE_KEY_QS_LIST, names, 2);
    check_key(&l, "/x", "b=1&c=0&a=2", "/x?a=2&b=1");
    check_key(&l, "/x", "a=2&b=1&c=7", "/x?a=2&b=1");
}
END_TEST

START_TEST(test_repeated_params_kept)
{
    cache_key_rules_t b = behavior(CACHE_KEY_QS_ALL, NULL, 0);
    check_key(&b, "/p", "a=1&a=2", "/p?a=1&a=2");
    /* equal names sort by value, so the order of repeats does not matter either */
    check_key(&b, "/p", "a=2&a=1", "/p?a=1&a=2");
    /* a repeat is a different object from a single parameter */
    h2o_iovec_t path = h2o_iovec_init(H2O_STRLIT("/p"));
    h2o_iovec_t k1 = cache_key_build(&pool, path, h2o_iovec_init(H2O_STRLIT("a=1")), &b);
    h2o_iovec_t k2 = cache_key_build(&pool, path, h2o_iovec_init(H2O_STRLIT("a=1&a=1")), &b);
    ck_assert(!h2o_memis(k1.base, k1.len, k2.base, k2.len));

    const char *names[] = {"a"};
    cache_key_rules_t l = behavior(CACHE_KEY_QS_LIST, names, 1);
    check_key(&l, "/p", "a=2&x=0&a=1", "/p?a=1&a=2");
}
END_TEST

START_TEST(test_name_sorts_before_value)
{
    /* "a=2" vs "ab=1": the name decides ("a" < "ab"), not the whole string ('=' < 'b' would agree here,
     * but "a-=1" vs "a=1" shows the difference: byte order puts '-' (0x2d) before '=' (0x3d)) */
    cache_key_rules_t b = behavior(CACHE_KEY_QS_ALL, NULL, 0);
    check_key(&b, "/p", "ab=1&a=2", "/p?a=2&ab=1");
    check_key(&b, "/p", "a=1&a-=2", "/p?a=1&a-=2");
    check_key(&b, "/p", "a-=2&a=1", "/p?a=1&a-=2");
    /* a bare name and the same name with a value are different and deterministic */
    check_key(&b, "/p", "a=1&a", "/p?a&a=1");
}
END_TEST

START_TEST(test_empty_params_dropped)
{
    cache_key_rules_t b = behavior(CACHE_KEY_QS_ALL, NULL, 0);
    check_key(&b, "/p", "a=1&&b=2", "/p?a=1&b=2");
    check_key(&b, "/p", "&a=1&", "/p?a=1");
    check_key(&b, "/p", "&&&", "/p");
    check_key(&b, "/p", "&", "/p");
}
END_TEST

/* --- names that are prefixes of one another ----------------------------------------------------- */

START_TEST(test_list_prefix_names_do_not_match)
{
    const char *names[] = {"ab"};
    cache_key_rules_t b = behavior(CACHE_KEY_QS_LIST, names, 1);
    check_key(&b, "/p", "a=1", "/p");
    check_key(&b, "/p", "abc=1", "/p");
    check_key(&b, "/p", "a=1&abc=2&ab=3", "/p?ab=3");
}
END_TEST

START_TEST(test_list_listed_prefix_of_query_name)
{
    const char *names[] = {"a", "abc"};
    cache_key_rules_t b = behavior(CACHE_KEY_QS_LIST, names, 2);
    check_key(&b, "/p", "ab=1", "/p");
    check_key(&b, "/p", "ab=1&abc=2&a=3&abcd=4", "/p?a=3&abc=2");
}
END_TEST

START_TEST(test_list_value_does_not_count_as_name)
{
    /* the name ends at '=': "x=ab" does not carry the listed name "ab" */
    const char *names[] = {"ab"};
    cache_key_rules_t b = behavior(CACHE_KEY_QS_LIST, names, 1);
    check_key(&b, "/p", "x=ab", "/p");
    check_key(&b, "/p", "ab", "/p?ab");
    check_key(&b, "/p", "ab=", "/p?ab=");
}
END_TEST

/*
 * A query parameter whose name holds a NUL ("a\0xyz") is not the listed "a": names are compared as byte
 * strings of their own lengths (an earlier strncmp-based search counted it as listed and read past the
 * listed name). The listed name is padded with NULs so a wrong answer shows in every build, not only
 * under ASan.
 */
START_TEST(test_list_name_with_nul_byte)
{
    static char padded[8] = "a"; /* "a" followed by seven NULs */
    const char *names[] = {padded};
    cache_key_rules_t b = behavior(CACHE_KEY_QS_LIST, names, 1);
    static const char query[] = "a\0xyz=1";
    h2o_iovec_t key = cache_key_build(&pool, h2o_iovec_init(H2O_STRLIT("/p")), h2o_iovec_init(query, sizeof(query) - 1), &b);
    ck_assert_msg(h2o_memis(key.base, key.len, H2O_STRLIT("/p")),
                  "the parameter \"a\\0xyz\" was taken for the listed \"a\": key has %zu bytes", key.len);
}
END_TEST

/* --- when nothing remains ------------------------------------------------------------------------- */

START_TEST(test_no_question_mark_when_nothing_remains)
{
    cache_key_rules_t all = behavior(CACHE_KEY_QS_ALL, NULL, 0);
    h2o_iovec_t key = cache_key_build(&pool, h2o_iovec_init(H2O_STRLIT("/p")), h2o_iovec_init(H2O_STRLIT("")), &all);
    ck_assert(h2o_memis(key.base, key.len, H2O_STRLIT("/p")));
    ck_assert_ptr_null(memchr(key.base, '?', key.len));

    const char *names[] = {"v"};
    cache_key_rules_t l = behavior(CACHE_KEY_QS_LIST, names, 1);
    key = cache_key_build(&pool, h2o_iovec_init(H2O_STRLIT("/p")), h2o_iovec_init(H2O_STRLIT("w=1&x=2")), &l);
    ck_assert(h2o_memis(key.base, key.len, H2O_STRLIT("/p")));
}
END_TEST

START_TEST(test_path_without_query)
{
    cache_key_rules_t modes[] = {behavior(CACHE_KEY_QS_NONE, NULL, 0), behavior(CACHE_KEY_QS_ALL, NULL, 0),
                                 behavior(CACHE_KEY_QS_LIST, NULL, 0)};
    for (size_t i = 0; i != sizeof(modes) / sizeof(modes[0]); ++i) {
        check_key(&modes[i], "/", NULL, "/");
        check_key(&modes[i], "/images/logo.png", NULL, "/images/logo.png");
    }
}
END_TEST

START_TEST(test_path_unchanged_with_query)
{
    /* the path is taken as given (h2o has normalised it); only the query part is rebuilt */
    cache_key_rules_t b = behavior(CACHE_KEY_QS_ALL, NULL, 0);
    check_key(&b, "/A/b%20c", "Q=1", "/A/b%20c?Q=1");
}
END_TEST

/* --- hashing ------------------------------------------------------------------------------------- */

static void hex_of(const char *s, char *buf)
{
    cache_hash_t h;
    cache_key_hash(h2o_iovec_init(s, strlen(s)), &h);
    cache_key_hex(&h, CACHE_KEY_HASH_LEN, buf);
}

START_TEST(test_hash_sha256_vectors)
{
    char hex[CACHE_KEY_HASH_LEN * 2 + 1];

    hex_of("abc", hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_of("", hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(test_hash_deterministic)
{
    cache_hash_t a, b;
    h2o_iovec_t key = h2o_iovec_init(H2O_STRLIT("/index.html?a=1"));
    cache_key_hash(key, &a);
    memset(&b, 0xaa, sizeof(b));
    cache_key_hash(key, &b);
    ck_assert_mem_eq(a.bytes, b.bytes, CACHE_KEY_HASH_LEN);
    /* a hash in between must not disturb the next one (the context is reused) */
    cache_key_hash(h2o_iovec_init(H2O_STRLIT("/other")), &b);
    cache_key_hash(key, &b);
    ck_assert_mem_eq(a.bytes, b.bytes, CACHE_KEY_HASH_LEN);
}
END_TEST

START_TEST(test_hash_differs)
{
    static const char *keys[] = {"/a", "/b", "/a?x=1", "/a?x=2", "/A", "/a/", ""};
    cache_hash_t h[sizeof(keys) / sizeof(keys[0])];
    for (size_t i = 0; i != sizeof(keys) / sizeof(keys[0]); ++i)
        cache_key_hash(h2o_iovec_init(keys[i], strlen(keys[i])), &h[i]);
    for (size_t i = 0; i != sizeof(keys) / sizeof(keys[0]); ++i)
        for (size_t j = i + 1; j != sizeof(keys) / sizeof(keys[0]); ++j)
            ck_assert_msg(memcmp(h[i].bytes, h[j].bytes, CACHE_KEY_HASH_LEN) != 0, "\"%s\" and \"%s\" hash alike", keys[i],
                          keys[j]);
}
END_TEST

START_TEST(test_hash_uses_length_not_nul)
{
    /* the key is (base, len): bytes past len are not hashed */
    cache_hash_t a, b;
    cache_key_hash(h2o_iovec_init("abcdef", 3), &a);
    cache_key_hash(h2o_iovec_init(H2O_STRLIT("abc")), &b);
    ck_assert_mem_eq(a.bytes, b.bytes, CACHE_KEY_HASH_LEN);
}
END_TEST

START_TEST(test_hash_after_thread_dispose)
{
    char hex[CACHE_KEY_HASH_LEN * 2 + 1];
    hex_of("abc", hex);
    cache_key_thread_dispose();
    cache_key_thread_dispose(); /* twice is harmless */
    hex_of("abc", hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cache_key_thread_dispose();
}
END_TEST

static void *hash_in_thread(void *arg)
{
    char *hex = arg;
    hex_of("abc", hex);
    cache_key_thread_dispose();
    return NULL;
}

START_TEST(test_hash_per_thread)
{
    char hex[4][CACHE_KEY_HASH_LEN * 2 + 1];
    pthread_t t[4];
    for (size_t i = 0; i != 4; ++i)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hash_in_thread, hex[i]), 0);
    for (size_t i = 0; i != 4; ++i) {
        pthread_join(t[i], NULL);
        ck_assert_str_eq(hex[i], "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
END_TEST

START_TEST(test_hex)
{
    cache_hash_t h;
    char buf[CACHE_KEY_HASH_LEN * 2 + 1];
    for (size_t i = 0; i != CACHE_KEY_HASH_LEN; ++i)
        h.bytes[i] = (uint8_t)(i * 17 + 0x0f);

    memset(buf, 'X', sizeof(buf));
    ck_assert_ptr_eq(cache_key_hex(&h, 4, buf), buf);
    ck_assert_str_eq(buf, "0f203142");

    memset(buf, 'X', sizeof(buf));
    cache_key_hex(&h, 0, buf);
    ck_assert_str_eq(buf, "");

    memset(buf, 'X', sizeof(buf));
    cache_key_hex(&h, CACHE_KEY_HASH_LEN, buf);
    ck_assert_uint_eq(strlen(buf), CACHE_KEY_HASH_LEN * 2);
    ck_assert(strncmp(buf, "0f203142", 8) == 0);
    ck_assert_str_eq(buf + 62, "1e"); /* the last byte: (31 * 17 + 15) & 0xff = 0x1e */
}
END_TEST

START_TEST(test_hex_clamps_to_hash_len)
{
    cache_hash_t h;
    char buf[CACHE_KEY_HASH_LEN * 2 + 1 + 16];
    memset(h.bytes, 0xab, sizeof(h.bytes));
    memset(buf, 'X', sizeof(buf));
    cache_key_hex(&h, CACHE_KEY_HASH_LEN + 8, buf);
    ck_assert_uint_eq(strlen(buf), CACHE_KEY_HASH_LEN * 2);
    ck_assert_int_eq(buf[CACHE_KEY_HASH_LEN * 2 + 1], 'X');
}
END_TEST

/* RFC 9111 §4.1: the variant key names the Vary fields (any case) with the request's values;
 * Accept-Encoding is normalised to the codings a cache tells apart. */
START_TEST(test_rfc9111_4_1_variant_key)
{
    h2o_headers_t h = {NULL};
    h2o_add_header_by_str(&pool, &h, H2O_STRLIT("x-lang"), 0, NULL, H2O_STRLIT(" en "));
    h2o_add_header(&pool, &h, H2O_TOKEN_ACCEPT_ENCODING, NULL, H2O_STRLIT("deflate, gzip;q=0.5, br;q=0"));
    h2o_iovec_t k =
        cache_key_variant(&pool, h2o_iovec_init(H2O_STRLIT("/a")), h2o_iovec_init(H2O_STRLIT("X-Lang, Accept-Encoding")), &h);
    ck_assert_str_eq(k.base, "/a\nvary\nx-lang: en\naccept-encoding: gzip");
    h2o_headers_t none = {NULL};
    k = cache_key_variant(&pool, h2o_iovec_init(H2O_STRLIT("/a")), h2o_iovec_init(H2O_STRLIT("x-lang,accept-encoding")), &none);
    ck_assert_str_eq(k.base, "/a\nvary\nx-lang: \naccept-encoding: ");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_key");
    TCase *tc;

    tc = tcase_create("query_string");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_qs_none_drops_query);
    tcase_add_test(tc, test_key_url);
    tcase_add_test(tc, test_normalize_host);
    tcase_add_test(tc, test_key_with_host);
    tcase_add_test(tc, test_rfc9111_4_1_variant_key);
    tcase_add_test(tc, test_qs_all_keeps_every_param_sorted);
    tcase_add_test(tc, test_qs_list_keeps_only_listed);
    tcase_add_test(tc, test_qs_list_many_names_binary_search);
    tcase_add_test(tc, test_qs_list_empty_list);
    suite_add_tcase(s, tc);

    tc = tcase_create("order");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_order_independent);
    tcase_add_test(tc, test_repeated_params_kept);
    tcase_add_test(tc, test_name_sorts_before_value);
    tcase_add_test(tc, test_empty_params_dropped);
    suite_add_tcase(s, tc);

    tc = tcase_create("prefix_names");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_list_prefix_names_do_not_match);
    tcase_add_test(tc, test_list_listed_prefix_of_query_name);
    tcase_add_test(tc, test_list_value_does_not_count_as_name);
    tcase_add_test(tc, test_list_name_with_nul_byte);
    suite_add_tcase(s, tc);

    tc = tcase_create("no_query");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_no_question_mark_when_nothing_remains);
    tcase_add_test(tc, test_normalize_target);
    tcase_add_test(tc, test_path_without_query);
    tcase_add_test(tc, test_path_unchanged_with_query);
    suite_add_tcase(s, tc);

    tc = tcase_create("hash");
    tcase_add_test(tc, test_hash_sha256_vectors);
    tcase_add_test(tc, test_hash_deterministic);
    tcase_add_test(tc, test_hash_differs);
    tcase_add_test(tc, test_hash_uses_length_not_nul);
    tcase_add_test(tc, test_hash_after_thread_dispose);
    tcase_add_test(tc, test_hash_per_thread);
    suite_add_tcase(s, tc);

    tc = tcase_create("hex");
    tcase_add_test(tc, test_hex);
    tcase_add_test(tc, test_hex_clamps_to_hash_len);
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
