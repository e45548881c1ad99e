/*
 * tests/unit/check_origin_request.c: the header fields sent to the origin (origin/request.c).
 *
 * Each test builds a client's fields as libh2o would (tokens for known names, lower case), asks for the
 * origin's fields and checks what was dropped (hop-by-hop, the edge's own, the client's conditions on a
 * cacheable fetch, anything not in forward_headers) and what was added (Via and X-Forwarded-For
 * appended to the client's chain, X-Forwarded-Proto, the stored validators).
 */
#include "origin/request.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static h2o_mem_pool_t pool;
static h2o_headers_t client;

static void setup(void)
{
    h2o_mem_init_pool(&pool);
    memset(&client, 0, sizeof(client));
}
static void teardown(void)
{
    h2o_mem_clear_pool(&pool);
}

static void add(const char *name, const char *value)
{
    const h2o_token_t *t = h2o_lookup_token(name, strlen(name));
    if (t != NULL)
        h2o_add_header(&pool, &client, t, NULL, value, strlen(value));
    else
        h2o_add_header_by_str(&pool, &client, name, strlen(name), 1, NULL, value, strlen(value));
}

/* The value of `name` in `h`, or NULL; fails the test when it appears more than once. */
static const char *get(const h2o_headers_t *h, const char *name)
{
    const char *found = NULL;
    for (size_t i = 0; i != h->size; ++i) {
        if (h2o_memis(h->entries[i].name->base, h->entries[i].name->len, name, strlen(name))) {
            ck_assert_msg(found == NULL, "%s appears twice", name);
            found = h2o_strdup(&pool, h->entries[i].value.base, h->entries[i].value.len).base;
        }
    }
    return found;
}

static h2o_headers_t build(const origin_conf_route_t *route, bool cacheable, bool https)
{
    h2o_headers_t out = {NULL};
    origin_request_t in = {
        .route = route, .client_headers = &client, .client_addr = "192.0.2.7", .https = https, .cacheable = cacheable};
    origin_request_headers(&pool, &in, &out);
    return out;
}

START_TEST(test_hop_by_hop_dropped)
{
    origin_conf_route_t route = {0};
    add("host", "example.com");
    add("connection", "keep-alive, x-secret");
    add("keep-alive", "timeout=5");
    add("te", "trailers");
    add("upgrade", "h2c");
    add("x-secret", "named by Connection");
    add("content-length", "0");
    add("expect", "100-continue");
    add("accept", "*/*");
    h2o_headers_t out = build(&route, true, false);
    const char *gone[] = {"host", "connection", "keep-alive", "te", "upgrade", "x-secret", "content-length", "expect", NULL};
    for (const char **g = gone; *g != NULL; ++g)
        ck_assert_msg(get(&out, *g) == NULL, "%s was forwarded", *g);
    ck_assert_str_eq(get(&out, "accept"), "*/*");
    ck_assert_str_eq(get(&out, "x-forwarded-for"), "192.0.2.7");
    ck_assert_str_eq(get(&out, "x-forwarded-proto"), "http");
    ck_assert_str_eq(get(&out, "via"), "1.1 edgecache");
}
END_TEST

START_TEST(test_conditions_only_when_passed)
{
    origin_conf_route_t route = {0};
    add("if-none-match", "\"a\"");
    add("range", "bytes=0-1");
    add("if-range", "\"a\"");
    h2o_headers_t cached = build(&route, true, false);
    ck_assert_ptr_null(get(&cached, "if-none-match"));
    ck_assert_ptr_null(get(&cached, "range"));
    ck_assert_ptr_null(get(&cached, "if-range"));
    h2o_headers_t passed = build(&route, false, false);
    ck_assert_str_eq(get(&passed, "if-none-match"), "\"a\"");
    ck_assert_str_eq(get(&passed, "range"), "bytes=0-1");
}
END_TEST

START_TEST(test_forward_list)
{
    char n0[] = "accept-language", n1[] = "x-keep";
    char *names[] = {n0, n1};
    origin_conf_route_t route = {.forward_headers = names, .num_forward_headers = 2};
    add("accept-language", "fr");
    add("x-keep", "1");
    add("cookie", "a=b");
    add("user-agent", "curl");
    h2o_headers_t out = build(&route, true, true);
    ck_assert_str_eq(get(&out, "accept-language"), "fr");
    ck_assert_str_eq(get(&out, "x-keep"), "1");
    ck_assert_ptr_null(get(&out, "cookie"));
    ck_assert_ptr_null(get(&out, "user-agent"));
    ck_assert_str_eq(get(&out, "x-forwarded-proto"), "https"); /* always added */
    ck_assert_str_eq(get(&out, "via"), "1.1 edgecache");
    /* a PASS forwards everything the client sent */
    out = build(&route, false, true);
    ck_assert_str_eq(get(&out, "cookie"), "a=b");

    /* "forward_headers: []": none of the client's */
    origin_conf_route_t none = {.forward_headers = names, .num_forward_headers = 0};
    out = build(&none, true, false);
    ck_assert_ptr_null(get(&out, "accept-language"));
    ck_assert_str_eq(get(&out, "x-forwarded-for"), "192.0.2.7");
}
END_TEST

/* By default a cacheable fetch forwards only the safe few and the key headers; never Host, Cookie or the
 * headers that make origins answer for another URL or host. A long chain is forwarded whole. */
START_TEST(test_default_forwarding)
{
    origin_conf_route_t route = {0};
    char k0[] = "x-device";
    char *keys[] = {k0};
    add("x-forwarded-host", "evil.example");
    add("x-original-url", "/admin");
    add("x-http-method-override", "DELETE");
    add("cookie", "a=b");
    add("x-device", "phone");
    add("accept-encoding", "gzip, deflate, br;q=0");
    add("authorization", "Bearer t");
    char chain[2000];
    memset(chain, '1', sizeof(chain) - 1);
    chain[sizeof(chain) - 1] = '\0';
    add("x-forwarded-for", chain);
    h2o_headers_t out = {NULL};
    origin_request_t in = {.route = &route,
                           .key_headers = keys,
                           .num_key_headers = 1,
                           .client_headers = &client,
                           .client_addr = "192.0.2.7",
                           .cacheable = true};
    origin_request_headers(&pool, &in, &out);
    const char *gone[] = {"x-forwarded-host", "x-original-url", "x-http-method-override", "cookie", NULL};
    for (const char **g = gone; *g != NULL; ++g)
        ck_assert_msg(get(&out, *g) == NULL, "%s was forwarded", *g);
    ck_assert_str_eq(get(&out, "x-device"), "phone");
    ck_assert_str_eq(get(&out, "accept-encoding"), "gzip");
    ck_assert_str_eq(get(&out, "authorization"), "Bearer t");
    ck_assert_uint_eq(strlen(get(&out, "x-forwarded-for")), sizeof(chain) - 1 + strlen(", 192.0.2.7"));
    ck_assert(origin_request_default_header(H2O_STRLIT("Accept")));
    ck_assert(!origin_request_default_header(H2O_STRLIT("host")));
}
END_TEST

START_TEST(test_chain_appended)
{
    origin_conf_route_t route = {0};
    add("x-forwarded-for", "203.0.113.1, 198.51.100.2");
    add("x-forwarded-proto", "https");
    add("via", "1.1 cdn-a");
    h2o_headers_t out = build(&route, true, false);
    ck_assert_str_eq(get(&out, "x-forwarded-for"), "203.0.113.1, 198.51.100.2, 192.0.2.7");
    ck_assert_str_eq(get(&out, "x-forwarded-proto"), "http"); /* ours, not the client's claim */
    ck_assert_str_eq(get(&out, "via"), "1.1 cdn-a, 1.1 edgecache");
}
END_TEST

START_TEST(test_validators)
{
    origin_conf_route_t route = {0};
    h2o_headers_t out = {NULL};
    origin_request_t in = {.route = &route,
                           .client_headers = &client,
                           .client_addr = "::1",
                           .cacheable = true,
                           .etag = h2o_iovec_init(H2O_STRLIT("\"v1\"")),
                           .last_modified = h2o_iovec_init(H2O_STRLIT("Sun, 06 Nov 1994 08:49:37 GMT"))};
    origin_request_headers(&pool, &in, &out);
    ck_assert_str_eq(get(&out, "if-none-match"), "\"v1\"");
    ck_assert_str_eq(get(&out, "if-modified-since"), "Sun, 06 Nov 1994 08:49:37 GMT");
    ck_assert_str_eq(get(&out, "x-forwarded-for"), "::1");
    /* a passed request never gets the stored validators */
    h2o_headers_t passed = {NULL};
    in.cacheable = false;
    origin_request_headers(&pool, &in, &passed);
    ck_assert_ptr_null(get(&passed, "if-none-match"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("origin_request");
    TCase *tc = tcase_create("headers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_hop_by_hop_dropped);
    tcase_add_test(tc, test_conditions_only_when_passed);
    tcase_add_test(tc, test_forward_list);
    tcase_add_test(tc, test_chain_appended);
    tcase_add_test(tc, test_default_forwarding);
    tcase_add_test(tc, test_validators);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
