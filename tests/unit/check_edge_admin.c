/*
 * tests/unit/check_edge_admin.c: the admin API's decisions from a request (edge/admin_parse.c) and the
 * JSON status of an invalidation (edge/admin.c), without a listener.
 *
 * Each rule is driven with plain values: the bearer token (missing, wrong scheme, wrong, right, and
 * tokens of other lengths, including a prefix and an extension of the right one), every route with
 * every method that matters, the invalidation form (empty, not a form, unknown fields, two targets,
 * malformed escapes, a huge body), the mapping of a URL to the key's URL part under the behaviors'
 * query rules (from a configuration parsed from YAML, as edge/config.c does at start-up), invalidation
 * ids at the edges of 64 bits, and report queries on a fixed `now`.
 */
#include "edge/admin.h"
#include "edge/admin_parse.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IOV(s) h2o_iovec_init((s), strlen(s))

static h2o_mem_pool_t pool;
static edge_conf_t conf;

static const char yaml[] = "origin: http://127.0.0.1:1\n"
                           "behaviors:\n"
                           "  - path: /static/*\n"
                           "    query_string: none\n"
                           "  - path: /api/*\n"
                           "    query_string: [page, id]\n"
                           "  - path: '*'\n";

static void setup(void)
{
    char err[EDGE_CONF_ERRLEN];
    h2o_mem_init_pool(&pool);
    ck_assert_msg(edge_config_parse(&conf, "t.yaml", NULL, yaml, strlen(yaml), err) == 0, "%s", err);
}

static void teardown(void)
{
    edge_config_dispose(&conf);
    h2o_mem_clear_pool(&pool);
}

static void assert_iov(h2o_iovec_t v, const char *want)
{
    ck_assert_msg(v.base != NULL && v.len == strlen(want) && memcmp(v.base, want, v.len) == 0, "got \"%.*s\", want \"%s\"",
                  v.base != NULL ? (int)v.len : 6, v.base != NULL ? v.base : "(null)", want);
}

/* --- the token ---------------------------------------------------------------------------------- */

static const char token[] = "s3cret-token-0123456789";

START_TEST(test_token_right)
{
    ck_assert(edge_admin_parse_authorized(token, IOV("Bearer s3cret-token-0123456789")));
    ck_assert_msg(edge_admin_parse_authorized(token, IOV("bearer s3cret-token-0123456789")), "the scheme is case-insensitive");
    ck_assert(edge_admin_parse_authorized(token, IOV("BEARER s3cret-token-0123456789")));
}
END_TEST

START_TEST(test_token_missing)
{
    ck_assert(!edge_admin_parse_authorized(token, h2o_iovec_init(NULL, 0)));
    ck_assert_msg(!edge_admin_parse_authorized(token, IOV("")), "an empty header");
    ck_assert(!edge_admin_parse_authorized(token, IOV("Bearer")));
    ck_assert(!edge_admin_parse_authorized(token, IOV("Bearer ")));
}
END_TEST

START_TEST(test_token_wrong)
{
    ck_assert(!edge_admin_parse_authorized(token, IOV("Bearer s3cret-token-0123456788")));
    ck_assert(!edge_admin_parse_authorized(token, IOV("Bearer x3cret-token-0123456789")));
    ck_assert_msg(!edge_admin_parse_authorized(token, IOV("S3cret-token-0123456789")), "no scheme");
    ck_assert(!edge_admin_parse_authorized(token, IOV("Basic s3cret-token-0123456789")));
    ck_assert_msg(!edge_admin_parse_authorized(token, IOV("Bearer  s3cret-token-0123456789")),
                  "an extra space is part of the token");
    ck_assert(!edge_admin_parse_authorized(token, IOV("Bearer S3CRET-TOKEN-0123456789")));
}
END_TEST

START_TEST(test_token_other_lengths)
{
    ck_assert_msg(!edge_admin_parse_authorized(token, IOV("Bearer s3cret-token-012345678")), "a prefix of the token");
    ck_assert_msg(!edge_admin_parse_authorized(token, IOV("Bearer s3cret-token-01234567890")), "the token and one more byte");
    ck_assert(!edge_admin_parse_authorized(token, IOV("Bearer s")));
    ck_assert(!edge_admin_parse_authorized(token, IOV("Bearer s3cret-token-0123456789s3cret-token-0123456789")));
    /* the length given must match: a NUL after the token does not end it */
    ck_assert(!edge_admin_parse_authorized(token, h2o_iovec_init("Bearer s3cret-token-0123456789\0", 31)));
}
END_TEST

START_TEST(test_token_not_configured)
{
    ck_assert(!edge_admin_parse_authorized(NULL, IOV("Bearer s3cret-token-0123456789")));
    ck_assert_msg(!edge_admin_parse_authorized(NULL, IOV("Bearer ")), "no token configured is not an empty token");
    ck_assert(!edge_admin_parse_authorized(NULL, h2o_iovec_init(NULL, 0)));
}
END_TEST

START_TEST(test_token_empty_configured)
{
    /* the loader refuses an empty token file; were it let through, only "Bearer " would match */
    ck_assert(edge_admin_parse_authorized("", IOV("Bearer ")));
    ck_assert(!edge_admin_parse_authorized("", IOV("Bearer x")));
}
END_TEST

/* --- routes ------------------------------------------------------------------------------------- */

static const struct {
    const char *method, *path;
    edge_admin_route_t route;
    const char *id; /* PURGE_STATUS: the id text */
} routes[] = {
    {"GET", "/healthz", EDGE_ADMIN_ROUTE_HEALTHZ, NULL},
    {"HEAD", "/healthz", EDGE_ADMIN_ROUTE_HEALTHZ, NULL},
    {"POST", "/healthz", EDGE_ADMIN_ROUTE_HEALTHZ_METHOD, NULL},
    {"DELETE", "/healthz", EDGE_ADMIN_ROUTE_HEALTHZ_METHOD, NULL},
    {"get", "/healthz", EDGE_ADMIN_ROUTE_HEALTHZ_METHOD, NULL}, /* methods are case-sensitive */
    {"GET", "/healthz/", EDGE_ADMIN_ROUTE_NOT_FOUND, NULL},
    {"GET", "/metrics", EDGE_ADMIN_ROUTE_METRICS, NULL},
    {"HEAD", "/metrics", EDGE_ADMIN_ROUTE_METRICS, NULL},
    {"POST", "/metrics", EDGE_ADMIN_ROUTE_NOT_FOUND, NULL},
    {"GET", "/metrics/x", EDGE_ADMIN_ROUTE_NOT_FOUND, NULL},
    {"GET", "/reports/popular", EDGE_ADMIN_ROUTE_REPORT_POPULAR, NULL},
    {"GET", "/reports/stats", EDGE_ADMIN_ROUTE_REPORT_STATS, NULL},
    {"GET", "/reports/ttl", EDGE_ADMIN_ROUTE_REPORT_TTL, NULL},
    {"HEAD", "/reports/ttl", EDGE_ADMIN_ROUTE_REPORT_TTL, NULL},
    {"POST", "/reports/popular", EDGE_ADMIN_ROUTE_NOT_FOUND, NULL},
    {"GET", "/reports", EDGE_ADMIN_ROUTE_NOT_FOUND, NULL},
    {"GET", "/reports/", EDGE_ADMIN_ROUTE_NOT_FOUND, NULL},
    {"GET", "/reports/other", EDGE_ADMIN_ROUTE_NOT_FOUND, NULL},
    {"POST", "/purge", EDGE_ADMIN_ROUTE_PURGE, NULL},
    {"GET", "/purge", EDGE_ADMIN_ROUTE_PURGE_METHOD, NULL},
    {"PURGE", "/purge", EDGE_ADMIN_ROUTE_PURGE_METHOD, NULL},
    {"PUT", "/purge", EDGE_ADMIN_ROUTE_PURGE_METHOD, NULL},
    {"GET", "/purge/42", EDGE_ADMIN_ROUTE_PURGE_STATUS, "42"},
    {"HEAD", "/purge/42", EDGE_ADMIN_ROUTE_PURGE_STATUS, "42"},
    {"GET", "/purge/abc", EDGE_ADMIN_ROUTE_PURGE_STATUS, "abc"}, /* routed; the id check answers 404 */
    {"GET", "/purge/1/2", EDGE_ADMIN_ROUTE_PURGE_STATUS, "1/2"},
    {"GET", "/purge/", EDGE_ADMIN_ROUTE_NOT_FOUND, NULL},
    {"POST", "/purge/42", EDGE_ADMIN_ROUTE_NOT_FOUND, NULL},
    {"DELETE", "/purge/42", EDGE_ADMIN_ROUTE_NOT_FOUND, NULL},
    {"GET", "/", EDGE_ADMIN_ROUTE_NOT_FOUND, NULL},
    {"GET", "", EDGE_ADMIN_ROUTE_NOT_FOUND, NULL},
    {"GET", "/PURGE/1", EDGE_ADMIN_ROUTE_NOT_FOUND, NULL},
};

START_TEST(test_route)
{
    h2o_iovec_t id = h2o_iovec_init("untouched", 9);
    edge_admin_route_t r = edge_admin_parse_route(IOV(routes[_i].method), IOV(routes[_i].path), &id);
    ck_assert_msg(r == routes[_i].route, "%s %s: route %d, want %d", routes[_i].method, routes[_i].path, (int)r,
                  (int)routes[_i].route);
    if (routes[_i].id != NULL)
        assert_iov(id, routes[_i].id);
    else
        assert_iov(id, "untouched");
}
END_TEST

/* --- purge ids ---------------------------------------------------------------------------------- */

START_TEST(test_purge_id_valid)
{
    uint64_t id = 7;
    ck_assert(edge_admin_parse_purge_id(IOV("0"), &id));
    ck_assert_uint_eq(id, 0);
    ck_assert(edge_admin_parse_purge_id(IOV("1"), &id));
    ck_assert_uint_eq(id, 1);
    ck_assert(edge_admin_parse_purge_id(IOV("000123"), &id));
    ck_assert_uint_eq(id, 123);
    ck_assert(edge_admin_parse_purge_id(IOV("18446744073709551615"), &id));
    ck_assert_uint_eq(id, UINT64_MAX);
}
END_TEST

START_TEST(test_purge_id_invalid)
{
    static const char *const bad[] = {"",
                                      "-1",
                                      "+1",
                                      " 1",
                                      "1 ",
                                      "1a",
                                      "0x10",
                                      "1.0",
                                      "18446744073709551616",
                                      "18446744073709551619",
                                      "99999999999999999999",
                                      "184467440737095516150"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        uint64_t id = 7;
        ck_assert_msg(!edge_admin_parse_purge_id(IOV(bad[i]), &id), "\"%s\" is not an id", bad[i]);
        ck_assert_uint_eq(id, 7);
    }
}
END_TEST

/* --- form values -------------------------------------------------------------------------------- */

START_TEST(test_form_value)
{
    h2o_iovec_t form = IOV("a=1&url=%2Fx%3Fq%3D1&b=two+words&empty=&url=second&noeq&pct=%41%4a%4A");
    assert_iov(edge_admin_parse_form_value(&pool, form, "a"), "1");
    assert_iov(edge_admin_parse_form_value(&pool, form, "url"), "/x?q=1"); /* the first wins */
    assert_iov(edge_admin_parse_form_value(&pool, form, "b"), "two words");
    assert_iov(edge_admin_parse_form_value(&pool, form, "empty"), "");
    assert_iov(edge_admin_parse_form_value(&pool, form, "pct"), "AJJ");
    ck_assert_ptr_null(edge_admin_parse_form_value(&pool, form, "noeq").base);
    ck_assert_ptr_null(edge_admin_parse_form_value(&pool, form, "missing").base);
    ck_assert_ptr_null(edge_admin_parse_form_value(&pool, form, "ur").base);
    ck_assert_ptr_null(edge_admin_parse_form_value(&pool, h2o_iovec_init(NULL, 0), "a").base);
    h2o_iovec_t v = edge_admin_parse_form_value(&pool, form, "a");
    ck_assert_msg(v.base[v.len] == '\0', "values are NUL-terminated");
}
END_TEST

START_TEST(test_form_value_bad_escapes)
{
    static const char *const bad[] = {"v=%", "v=%4", "v=%zz", "v=%4g", "v=ab%", "v=ab%2"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
        ck_assert_msg(edge_admin_parse_form_value(&pool, IOV(bad[i]), "v").base == NULL, "%s", bad[i]);
    /* an escape is not read past its field */
    ck_assert_ptr_null(edge_admin_parse_form_value(&pool, IOV("v=%4&x=1"), "v").base);
    assert_iov(edge_admin_parse_form_value(&pool, IOV("v=%25"), "v"), "%");
    ck_assert_msg(edge_admin_parse_form_value(&pool, IOV("v=%00x"), "v").len == 2, "a decoded NUL is kept, with its length");
}
END_TEST

/* --- the invalidation form ---------------------------------------------------------------------- */

static int purge(const char *form, edge_admin_purge_t *p)
{
    memset(p, 0, sizeof(*p));
    return edge_admin_parse_purge(&conf, &pool, IOV(form), p);
}

START_TEST(test_purge_url)
{
    edge_admin_purge_t p;
    ck_assert_int_eq(purge("url=/a/b", &p), 0);
    ck_assert_int_eq(p.kind, CACHE_PURGE_URL);
    assert_iov(p.target, "/a/b");
    ck_assert(!p.soft);
    /* the query under the behavior's rule: all (sorted), none, a list */
    ck_assert_int_eq(purge("url=%2Fa%3Fz%3D1%26b%3D2", &p), 0);
    assert_iov(p.target, "/a?b=2&z=1");
    ck_assert_int_eq(purge("url=/static/x.css%3Fv%3D3", &p), 0);
    assert_iov(p.target, "/static/x.css");
    ck_assert_int_eq(purge("url=/api/list%3Fid%3D1%26sort%3Dup%26page%3D2", &p), 0);
    assert_iov(p.target, "/api/list?id=1&page=2");
    /* an absolute URL: its host (normalised) and path */
    ck_assert_int_eq(purge("url=http://www.example.com/a/./c/../b", &p), 0);
    assert_iov(p.target, "www.example.com/a/b");
    ck_assert_int_eq(purge("url=https://other.example:8443/static/y", &p), 0);
    assert_iov(p.target, "other.example:8443/static/y");
    /* the one site of a file without sites claims every host: site=default scopes nothing */
    ck_assert_int_eq(purge("url=/a/b&site=default", &p), 0);
    assert_iov(p.target, "/a/b");
    ck_assert_int_eq(purge("url=/a/b&site=nope", &p), EDGE_ADMIN_PARSE_ESITE);
}
END_TEST

START_TEST(test_purge_prefix_tag_soft)
{
    edge_admin_purge_t p;
    ck_assert_int_eq(purge("prefix=/p/", &p), 0);
    ck_assert_int_eq(p.kind, CACHE_PURGE_PREFIX);
    assert_iov(p.target, "/p/");
    ck_assert_int_eq(purge("prefix=http://h.example/p/x", &p), 0);
    assert_iov(p.target, "h.example/p/x");
    ck_assert_int_eq(purge("prefix=", &p), 0);
    assert_iov(p.target, ""); /* everything */
    /* scoped to a site: its hosts (every host for the site of a file without sites) */
    ck_assert_int_eq(purge("prefix=/p/&site=default", &p), 0);
    assert_iov(p.target, "/p/");
    ck_assert_int_eq(purge("prefix=&site=default", &p), 0);
    assert_iov(p.target, "/");
    ck_assert_int_eq(purge("prefix=p/&site=default", &p), EDGE_ADMIN_PARSE_EBAD_URL);
    ck_assert_int_eq(purge("tag=t&site=default", &p), 0);
    assert_iov(p.target, "t");
    ck_assert_int_eq(purge("prefix=nothing-like-a-url", &p), 0);
    assert_iov(p.target, "nothing-like-a-url"); /* taken as given: it names no key */
    ck_assert_int_eq(purge("tag=product-42&soft=1", &p), 0);
    ck_assert_int_eq(p.kind, CACHE_PURGE_TAG);
    assert_iov(p.target, "product-42");
    ck_assert(p.soft);
    ck_assert_int_eq(purge("soft=true&url=/x", &p), 0);
    ck_assert(p.soft);
    static const char *const not_soft[] = {"url=/x&soft=0", "url=/x&soft=yes", "url=/x&soft=TRUE", "url=/x&soft=", "url=/x&soft"};
    for (size_t i = 0; i != sizeof(not_soft) / sizeof(not_soft[0]); ++i) {
        ck_assert_int_eq(purge(not_soft[i], &p), 0);
        ck_assert_msg(!p.soft, "%s", not_soft[i]);
    }
}
END_TEST

START_TEST(test_purge_not_exactly_one)
{
    edge_admin_purge_t p;
    static const char *const bad[] = {"",
                                      "&&&",
                                      "not a form at all",
                                      "{\"url\": \"/a\"}",
                                      "soft=1",
                                      "path=/a&key=/b",
                                      "URL=/a",
                                      "url=/a&prefix=/b",
                                      "url=/a&tag=t",
                                      "prefix=/a&tag=t",
                                      "url=/a&prefix=/b&tag=t",
                                      "url=%zz",
                                      "url"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
        ck_assert_msg(purge(bad[i], &p) == EDGE_ADMIN_PARSE_ENOT_ONE, "\"%s\"", bad[i]);
    /* a repeated field is one field: the first value counts */
    ck_assert_int_eq(purge("url=/a&url=/b", &p), 0);
    assert_iov(p.target, "/a");
    /* unknown fields beside one target are ignored */
    ck_assert_int_eq(purge("x=1&url=/a&y=2", &p), 0);
    assert_iov(p.target, "/a");
}
END_TEST

START_TEST(test_purge_bad_url_and_empty_tag)
{
    edge_admin_purge_t p;
    static const char *const bad[] = {"url=", "url=relative/path", "url=http://host.only", "url=http://", "url=a"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
        ck_assert_msg(purge(bad[i], &p) == EDGE_ADMIN_PARSE_EBAD_URL, "\"%s\"", bad[i]);
    ck_assert_int_eq(purge("tag=", &p), EDGE_ADMIN_PARSE_EEMPTY_TAG);
}
END_TEST

START_TEST(test_purge_huge_body)
{
    /* a 1 MiB body: one huge url= value, then a second target at its end */
    size_t n = 1 << 20;
    char *body = malloc(n + 64);
    memcpy(body, "url=/", 5);
    memset(body + 5, 'a', n - 5);
    body[n] = '\0';
    edge_admin_purge_t p;
    ck_assert_int_eq(purge(body, &p), 0);
    ck_assert_uint_eq(p.target.len, n - 4);
    strcpy(body + n, "&tag=t");
    ck_assert_int_eq(purge(body, &p), EDGE_ADMIN_PARSE_ENOT_ONE);
    /* only separators */
    memset(body, '&', n);
    body[n] = '\0';
    ck_assert_int_eq(purge(body, &p), EDGE_ADMIN_PARSE_ENOT_ONE);
    free(body);
}
END_TEST

START_TEST(test_purge_key_direct)
{
    h2o_iovec_t key;
    ck_assert_int_eq(edge_admin_parse_purge_key(&conf, &pool, IOV("/a%2fb/%41?x=1"), NULL, &key), 0);
    ck_assert_msg(key.len != 0 && key.base[0] == '/', "%.*s", (int)key.len, key.base);
    /* an absolute URL names its host, normalised as requests' hosts are */
    ck_assert_int_eq(edge_admin_parse_purge_key(&conf, &pool, IOV("http://h/"), NULL, &key), 0);
    assert_iov(key, "h/");
    ck_assert_int_eq(edge_admin_parse_purge_key(&conf, &pool, IOV("https://H.Example.:443/x"), NULL, &key), 0);
    assert_iov(key, "h.example/x");
    ck_assert_int_eq(edge_admin_parse_purge_key(&conf, &pool, IOV("http://h:8080/x"), NULL, &key), 0);
    assert_iov(key, "h:8080/x");
    ck_assert_int_eq(edge_admin_parse_purge_key(&conf, &pool, IOV("http://a,b/x"), NULL, &key), EDGE_ADMIN_PARSE_EBAD_URL);
    ck_assert_msg(edge_admin_parse_purge_key(&conf, &pool, IOV("x/http://h/a"), NULL, &key) != 0, "a '/' before :// is no scheme");
    ck_assert(edge_admin_parse_purge_key(&conf, &pool, IOV(""), NULL, &key) != 0);
    ck_assert(edge_admin_parse_purge_key(&conf, &pool, IOV("://"), NULL, &key) != 0);
}
END_TEST

/* --- report queries ----------------------------------------------------------------------------- */

static const uint64_t now = 1764000000; /* a fixed "now" */

START_TEST(test_report_query_defaults)
{
    reports_query_t q;
    reports_format_t fmt = REPORTS_FORMAT_TABLE;
    ck_assert_int_eq(edge_admin_parse_report_query(&pool, h2o_iovec_init(NULL, 0), now, 25, &q, &fmt), 0);
    ck_assert_uint_eq(q.from_s, now - 86400);
    ck_assert_uint_eq(q.to_s, now + 1);
    ck_assert_uint_eq(q.top, 25);
    ck_assert_int_eq(fmt, REPORTS_FORMAT_JSON);
}
END_TEST

START_TEST(test_report_query_values)
{
    reports_query_t q;
    reports_format_t fmt;
    ck_assert_int_eq(edge_admin_parse_report_query(&pool, IOV("since=30m&top=5&format=csv"), now, 25, &q, &fmt), 0);
    ck_assert_uint_eq(q.from_s, now - 1800);
    ck_assert_uint_eq(q.top, 5);
    ck_assert_int_eq(fmt, REPORTS_FORMAT_CSV);
    ck_assert_int_eq(
        edge_admin_parse_report_query(&pool, IOV("from=2025-11-24T00:00:00Z&to=1764000000&format=html"), now, 25, &q, &fmt), 0);
    ck_assert_uint_eq(q.from_s, 1763942400);
    ck_assert_uint_eq(q.to_s, 1764000000);
    ck_assert_int_eq(fmt, REPORTS_FORMAT_HTML);
    ck_assert_int_eq(edge_admin_parse_report_query(&pool, IOV("since=7d&format=table&top=100000"), 1000, 25, &q, &fmt), 0);
    ck_assert_msg(q.from_s == 0, "a span longer than the clock starts at 0");
    ck_assert_uint_eq(q.top, 100000);
    ck_assert_int_eq(fmt, REPORTS_FORMAT_TABLE);
}
END_TEST

START_TEST(test_report_query_errors)
{
    static const struct {
        const char *query;
        int err;
    } bad[] = {
        {"since=", EDGE_ADMIN_PARSE_ESINCE},
        {"since=0", EDGE_ADMIN_PARSE_ESINCE},
        {"since=1w", EDGE_ADMIN_PARSE_ESINCE},
        {"since=-1h", EDGE_ADMIN_PARSE_ESINCE},
        {"from=yesterday", EDGE_ADMIN_PARSE_EFROM_TO},
        {"to=", EDGE_ADMIN_PARSE_EFROM_TO},
        {"from=200&to=100", EDGE_ADMIN_PARSE_EFROM_TO},
        {"from=100&to=100", EDGE_ADMIN_PARSE_EFROM_TO},
        {"top=0", EDGE_ADMIN_PARSE_ETOP},
        {"top=100001", EDGE_ADMIN_PARSE_ETOP},
        {"top=5x", EDGE_ADMIN_PARSE_ETOP},
        {"top=", EDGE_ADMIN_PARSE_ETOP},
        {"top=-1", EDGE_ADMIN_PARSE_ETOP},
        {"format=xml", EDGE_ADMIN_PARSE_EFORMAT},
        {"format=", EDGE_ADMIN_PARSE_EFORMAT},
        {"since=bad&top=0", EDGE_ADMIN_PARSE_ESINCE},
    };
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        reports_query_t q;
        reports_format_t fmt;
        int err = edge_admin_parse_report_query(&pool, IOV(bad[i].query), now, 25, &q, &fmt);
        ck_assert_msg(err == bad[i].err, "%s: %d, want %d", bad[i].query, err, bad[i].err);
    }
}
END_TEST

START_TEST(test_strerror)
{
    int errs[] = {EDGE_ADMIN_PARSE_ENOT_ONE, EDGE_ADMIN_PARSE_EBAD_URL, EDGE_ADMIN_PARSE_EEMPTY_TAG, EDGE_ADMIN_PARSE_ESINCE,
                  EDGE_ADMIN_PARSE_EFROM_TO, EDGE_ADMIN_PARSE_ETOP,     EDGE_ADMIN_PARSE_EFORMAT};
    for (size_t i = 0; i != sizeof(errs) / sizeof(errs[0]); ++i) {
        const char *s = edge_admin_parse_strerror(errs[i]);
        ck_assert_msg(strlen(s) > 1 && s[strlen(s) - 1] == '\n' && strchr(s, '\n') == s + strlen(s) - 1, "%d: one line", errs[i]);
        for (size_t j = 0; j != i; ++j)
            ck_assert_str_ne(s, edge_admin_parse_strerror(errs[j]));
    }
    ck_assert_str_eq(edge_admin_parse_strerror(EDGE_ADMIN_PARSE_ENOT_ONE),
                     "give exactly one of url=, prefix= or tag= (form body or query)\n");
}
END_TEST

/* --- the JSON status ---------------------------------------------------------------------------- */

START_TEST(test_purge_json)
{
    cache_store_purge_status_t st = {
        .id = 12, .kind = CACHE_PURGE_PREFIX, .soft = true, .done = false, .objects = 3, .created = 100};
    strcpy(st.target, "/a\"b\\c\x01");
    h2o_iovec_t j = edge_admin_purge_json(&pool, &st);
    assert_iov(j, "{\"id\":\"12\",\"type\":\"prefix\",\"target\":\"/a\\\"b\\\\c\\u0001\",\"soft\":true,\"status\":\"pending\","
                  "\"objects\":3,\"created\":100,\"completed\":null}\n");
    st = (cache_store_purge_status_t){
        .id = UINT64_MAX, .kind = CACHE_PURGE_TAG, .done = true, .objects = 0, .created = 1, .completed = 2};
    strcpy(st.target, "t");
    j = edge_admin_purge_json(&pool, &st);
    assert_iov(j, "{\"id\":\"18446744073709551615\",\"type\":\"tag\",\"target\":\"t\",\"soft\":false,\"status\":\"done\","
                  "\"objects\":0,\"created\":1,\"completed\":2}\n");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("edge_admin");
    TCase *tc = tcase_create("token");
    tcase_add_test(tc, test_token_right);
    tcase_add_test(tc, test_token_missing);
    tcase_add_test(tc, test_token_wrong);
    tcase_add_test(tc, test_token_other_lengths);
    tcase_add_test(tc, test_token_not_configured);
    tcase_add_test(tc, test_token_empty_configured);
    suite_add_tcase(s, tc);

    tc = tcase_create("route");
    tcase_add_loop_test(tc, test_route, 0, (int)(sizeof(routes) / sizeof(routes[0])));
    tcase_add_test(tc, test_purge_id_valid);
    tcase_add_test(tc, test_purge_id_invalid);
    suite_add_tcase(s, tc);

    tc = tcase_create("purge");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_form_value);
    tcase_add_test(tc, test_form_value_bad_escapes);
    tcase_add_test(tc, test_purge_url);
    tcase_add_test(tc, test_purge_prefix_tag_soft);
    tcase_add_test(tc, test_purge_not_exactly_one);
    tcase_add_test(tc, test_purge_bad_url_and_empty_tag);
    tcase_add_test(tc, test_purge_huge_body);
    tcase_add_test(tc, test_purge_key_direct);
    tcase_add_test(tc, test_purge_json);
    suite_add_tcase(s, tc);

    tc = tcase_create("reports");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_report_query_defaults);
    tcase_add_test(tc, test_report_query_values);
    tcase_add_test(tc, test_report_query_errors);
    tcase_add_test(tc, test_strerror);
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
