/*
 * tests/unit/check_edge_config_behavior.c: the "behaviors" and "error_pages" sections of the configuration
 * (edge/config_behavior.c) and the choice of a behavior by path (edge/behavior.c): header lists, query names,
 * TTL checks, reachability, error pages built in or from files, and their errors; then the errors of "admin",
 * "access_log" and "reports" (edge/config_admin.c). The rest of the loader is in check_edge_config.c; the
 * fixture (a base directory of files the YAML names) is config_fixture.h.
 */
#include "tests/unit/config_fixture.h"
#include "edge/behavior.h"
#include "errorpages/errorpages.h"

/* --- valid configurations --------------------------------------------------------------------------------- */

START_TEST(test_headers)
{
    static const char yaml[] = "origin: http://a\n"
                               "behaviors:\n"
                               "  - path: /merge/*\n"
                               "    forward_headers: [Accept-Language, X-Custom, accept-language]\n"
                               "    cache_key_headers: [X-Device, Accept-Encoding, x-device, X-Custom]\n"
                               "  - path: /keys/*\n"
                               "    cache_key_headers: [X-B, x-a]\n"
                               "  - path: /none/*\n"
                               "    forward_headers: []\n"
                               "  - path: /tchar/*\n"
                               "    forward_headers: [\"!#$%&'*+-.^_`|~09AZaz\"]\n"
                               "  - path: '*'\n"
                               "    forward_headers: [x-only]\n"
                               "    cache_key_headers: []\n";
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];
    const edge_conf_behavior_t *b;

    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);

    /* lower-cased and without duplicates; the key headers are sorted, and those missing from forward_headers are
     * appended to it */
    b = &conf.behaviors[0];
    ck_assert_uint_eq(b->key.num_key_headers, 3);
    ck_assert_str_eq(b->key.key_headers[0], "accept-encoding");
    ck_assert_str_eq(b->key.key_headers[1], "x-custom");
    ck_assert_str_eq(b->key.key_headers[2], "x-device");
    ck_assert_uint_eq(b->route.num_forward_headers, 4);
    ck_assert_str_eq(b->route.forward_headers[0], "accept-language");
    ck_assert_str_eq(b->route.forward_headers[1], "x-custom");
    ck_assert_str_eq(b->route.forward_headers[2], "accept-encoding");
    ck_assert_str_eq(b->route.forward_headers[3], "x-device");

    /* without forward_headers everything is forwarded, key headers included: nothing to add */
    b = &conf.behaviors[1];
    ck_assert_ptr_null(b->route.forward_headers);
    ck_assert_uint_eq(b->route.num_forward_headers, 0);
    ck_assert_uint_eq(b->key.num_key_headers, 2);
    ck_assert_str_eq(b->key.key_headers[0], "x-a");
    ck_assert_str_eq(b->key.key_headers[1], "x-b");

    /* an empty list forwards nothing, which NULL (forward all) must not be mistaken for */
    b = &conf.behaviors[2];
    ck_assert_ptr_nonnull(b->route.forward_headers);
    ck_assert_uint_eq(b->route.num_forward_headers, 0);
    ck_assert_ptr_null(b->key.key_headers);

    b = &conf.behaviors[3];
    ck_assert_uint_eq(b->route.num_forward_headers, 1);
    ck_assert_str_eq(b->route.forward_headers[0], "!#$%&'*+-.^_`|~09azaz");

    b = &conf.behaviors[4];
    ck_assert_uint_eq(b->route.num_forward_headers, 1);
    ck_assert_str_eq(b->route.forward_headers[0], "x-only");
    ck_assert_ptr_null(b->key.key_headers);
    ck_assert_uint_eq(b->key.num_key_headers, 0);
    edge_config_dispose(&conf);
    assert_empty(&conf);
}
END_TEST

/* --- errors ----------------------------------------------------------------------------------------------- */

static const struct {
    const char *yaml;
    const char *prefix; /* the message must start with this */
    const char *part;   /* and contain this */
} bad[] = {
    /* behaviors */
    {"origin: http://a\nbehaviors:\n  - path: /images/*\n  - path: /images/*.jpg\n",
     "t.yaml:4:11: ", "behavior \"/images/*.jpg\" can never match: \"/images/*\" (line 3) comes first"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n  - path: /a\n",
     "t.yaml:4:11: ", "behavior \"/a\" can never match: \"*\" (line 3) comes first"},
    {"origin: http://a\nbehaviors:\n  - path: /a\n    origin: b\n", "t.yaml:4:13: ", "unknown origin \"b\" (configured: default)"},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\nbehaviors:\n  - path: /x\n", "t.yaml:5:5: ", "names no origin"},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\nbehaviors:\n  - path: /x\n    origin: a\n",
     "t.yaml:5:3: ", "the last behavior is not \"*\""},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\n", "t.yaml:1:1: ", "the last behavior is not \"*\""},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\norigin_groups:\n  g: {primary: a, secondary: b}\n"
     "behaviors:\n  - path: '*'\n",
     "t.yaml:7:5: ", "behavior \"*\" names no origin"},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\norigin_groups:\n  g: {primary: a, secondary: b}\n"
     "behaviors:\n  - {path: '*', origin: x}\n",
     "t.yaml:7:25: ", "unknown origin \"x\" (configured: a, b, g)"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    forward_headers: [accept, Connection]\n",
     "t.yaml:4:31: ", "forward_headers: \"connection\" is a hop-by-hop header"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    forward_headers: [TE]\n", "t.yaml:4:23: ", "\"te\" is a hop-by-hop header"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    forward_headers: ['x y']\n",
     "t.yaml:4:23: ", "forward_headers: \"x y\" is not a header name"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    forward_headers: ['x:y']\n",
     "t.yaml:4:23: ", "\"x:y\" is not a header name"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    forward_headers: [Host]\n",
     "t.yaml:4:23: ", "forward_headers: \"host\" cannot be listed"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    forward_headers: accept\n",
     "t.yaml:4:22: ", "forward_headers: expected a list of header names, found a single value"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    cache_key_headers: [accept, upgrade]\n",
     "t.yaml:4:33: ", "cache_key_headers: \"upgrade\" is a hop-by-hop header"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    cache_key_headers: ['']\n",
     "t.yaml:4:25: ", "cache_key_headers: must not be empty"},
    {"origin: http://a\nbehaviors:\n  - origin: default\n", "t.yaml:3:5: ", "behavior: missing required key \"path\""},
    {"origin: http://a\nbehaviors:\n  - path: ''\n", "t.yaml:3:11: ", "path: must not be empty"},
    {"origin: http://a\nbehaviors:\n  - path: '/a b'\n", "t.yaml:3:11: ", "contains a space"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    min_ttl: 10\n    default_ttl: 5\n",
     "t.yaml:5:18: ", "default_ttl 5 is below min_ttl 10"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    default_ttl: 100\n    max_ttl: 50\n",
     "t.yaml:5:14: ", "max_ttl 50 is below default_ttl 100"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    min_ttl: 100\n    max_ttl: 50\n",
     "t.yaml:5:14: ", "max_ttl 50 is below min_ttl 100"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    min_ttl: 40000000\n",
     "t.yaml:4:14: ", "min_ttl 40000000 is above the default max_ttl"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    default_ttl: 40000000\n", "t.yaml:4:18: ", "is above the default max_ttl"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    query_string: some\n",
     "t.yaml:4:19: ", "query_string: expected none, all, or a list"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    query_string: [a, 'b=c']\n",
     "t.yaml:4:23: ", "\"b=c\" is not a parameter name"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    compress: maybe\n", "t.yaml:4:15: ", "compress"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    compress_types: text/html\n",
     "t.yaml:4:21: ", "compress_types: expected a list of media types"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    compress_types: [text/html, png]\n",
     "t.yaml:4:33: ", "\"png\" is not a media type"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    compress_types: ['image/p*g']\n",
     "t.yaml:4:22: ", "\"image/p*g\" is not a media type"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    compress_types: ['text/html; charset=utf-8']\n",
     "t.yaml:4:22: ", "is not a media type"},
    /* error pages */
    {"origin: http://a\nerror_pages:\n  - status: 302\n    page: page.html\n",
     "t.yaml:3:13: ", "status: 302 is out of range (400..599)"},
    {"origin: http://a\nerror_pages:\n  - status: [500, 600]\n    page: page.html\n", "t.yaml:3:19: ", "600 is out of range"},
    {"origin: http://a\nerror_pages:\n  - status: crash\n    page: page.html\n", "t.yaml:3:13: ", "unknown status \"crash\""},
    {"origin: http://a\nerror_pages:\n  - status: []\n    page: page.html\n", "t.yaml:3:13: ", "at least one status"},
    {"origin: http://a\nerror_pages:\n  - page: page.html\n", "t.yaml:3:5: ", "error page: missing required key \"status\""},
    {"origin: http://a\nerror_pages:\n  - status: 502\n", "t.yaml:3:5: ", "error page: missing required key \"page\""},
    {"origin: http://a\nerror_pages:\n  - status: 502\n    page: missing.html\n", "t.yaml:4:11: ", "page: cannot read"},
    {"origin: http://a\nerror_pages:\n  - status: 502\n    page: site\n", "t.yaml:4:11: ", "not a regular file"},
    {"origin: http://a\nerror_pages:\n  - status: 502\n    page: big.html\n", "t.yaml:4:11: ", "is larger than 1048576 bytes"},
    {"origin: http://a\nerror_pages:\n  - status: 502\n    page: page.html\n    response_code: 100\n",
     "t.yaml:5:20: ", "response_code: 100 is out of range (200..599)"},
    {"origin: http://a\nerror_pages:\n  - {status: [502, timeout], page: page.html}\n  - {status: [timeout], page: page.html}\n",
     "t.yaml:4:15: ", "status: timeout already has an error page (line 3)"},
    {"origin: http://a\nerror_pages:\n  - {status: 502, page: page.html}\n  - {status: [503, 502], page: page.html}\n",
     "t.yaml:4:20: ", "status: 502 already has an error page (line 3)"},
    /* admin, access_log, reports */
    {"origin: http://a\nadmin: {listen: 127.0.0.1}\n", "t.yaml:2:17: ", "admin listen \"127.0.0.1\": expected \"ADDRESS:PORT\""},
    {"origin: http://a\nadmin: {token_file: missing.token}\n", "t.yaml:2:21: ", "token_file: cannot read"},
    {"origin: http://a\nadmin: {token_file: page.html}\n", "t.yaml:2:21: ", "must hold one token of at least 16 characters"},
    {"origin: http://a\nadmin: {purge_allow: 10.0.0.0/33}\n", "t.yaml:2:22: ", "purge_allow: prefix length \"33\" is not in 0..32"},
    {"origin: http://a\nadmin: {purge_allow: ['::1', '::/129']}\n", "t.yaml:2:30: ", "prefix length \"129\" is not in 0..128"},
    {"origin: http://a\nadmin: {purge_allow: [10.0.0/8]}\n", "t.yaml:2:23: ", "purge_allow: \"10.0.0\" is not a numeric IPv4"},
    {"origin: http://a\nadmin: {purge_allow: /8}\n", "t.yaml:2:22: ", "purge_allow: \"/8\" is not an address or a network"},
    {"origin: http://a\nadmin: {purge_allow: {a: 1}}\n", "t.yaml:2:22: ", "purge_allow: expected a list of addresses"},
    {"origin: http://a\naccess_log: {format: x}\n", "t.yaml:2:13: ", "access_log: missing required key \"path\""},
    {"origin: http://a\nreports: {bucket: 1500ms}\n", "t.yaml:2:19: ", "bucket: must be whole seconds from 1s to 1d"},
    {"origin: http://a\nreports: {bucket: 1h, retention: 30m}\n", "t.yaml:2:34: ", "retention: must be at least one bucket"},
    {"origin: http://a\nreports: {top: 5000, capacity: 100}\n", "t.yaml:2:16: ", "top 5000 is above capacity 100"},
};

START_TEST(test_errors)
{
    assert_parse_error(_i, bad[_i].yaml, strlen(bad[_i].yaml), bad[_i].prefix, bad[_i].part);
}
END_TEST

/* --- matching, query names, error pages --------------------------------------------------------------------- */

START_TEST(test_match)
{
    static const char yaml[] = "origin: http://a\n"
                               "behaviors:\n"
                               "  - path: /images/*.jpg\n"
                               "  - path: /images/*\n"
                               "  - path: '*.css'\n"
                               "  - path: /a?c\n";
    static const struct {
        const char *path;
        size_t index;
    } cases[] = {{"/images/x.jpg", 0},
                 {"/images/a/b.jpg", 0},
                 {"/images/x.png", 1},
                 {"/images/", 1},
                 {"/s/x.css", 2},
                 {"/images/x.css", 1},
                 {"/abc", 3},
                 {"/ac", 4},
                 {"/", 4},
                 {"/abcd", 4}};
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert_uint_eq(conf.num_behaviors, 5); /* with the implicit "*" at the end */
    ck_assert_str_eq(conf.behaviors[4].path, "*");
    ck_assert_uint_eq(conf.behaviors[4].ttl.default_ttl, 86400);
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        const edge_conf_behavior_t *b =
            edge_behavior_match(conf.behaviors, conf.num_behaviors, cases[i].path, strlen(cases[i].path));
        ck_assert_ptr_nonnull(b);
        ck_assert_msg(b == &conf.behaviors[cases[i].index], "%s matched %s", cases[i].path, b->path);
    }
    /* the length is honoured: "/images/x.jpgXYZ" cut to 13 bytes is "/images/x.jpg" */
    ck_assert_ptr_eq(edge_behavior_match(conf.behaviors, conf.num_behaviors, "/images/x.jpgXYZ", 13), &conf.behaviors[0]);
    edge_config_dispose(&conf);
}
END_TEST

START_TEST(test_compress)
{
    static const char yaml[] = "origin: http://a\n"
                               "behaviors:\n"
                               "  - {path: /off/*, compress: false}\n"
                               "  - {path: /types/*, compress_types: [Application/JSON, 'image/*']}\n"
                               "  - {path: '*'}\n";
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert(!conf.behaviors[0].compress.enabled);
    ck_assert(conf.behaviors[1].compress.enabled);
    ck_assert_uint_eq(conf.behaviors[1].compress.num_types, 2);
    ck_assert_str_eq(conf.behaviors[1].compress.types[0], "application/json");
    ck_assert_str_eq(conf.behaviors[1].compress.types[1], "image/*");
    ck_assert(cache_compress_type_ok(&conf.behaviors[1].compress, h2o_iovec_init(H2O_STRLIT("image/png"))));
    ck_assert(!cache_compress_type_ok(&conf.behaviors[1].compress, h2o_iovec_init(H2O_STRLIT("text/html"))));
    /* the default: on, with the default types */
    ck_assert(conf.behaviors[2].compress.enabled);
    ck_assert_ptr_null(conf.behaviors[2].compress.types);
    ck_assert(cache_compress_type_ok(&conf.behaviors[2].compress, h2o_iovec_init(H2O_STRLIT("text/html"))));
    edge_config_dispose(&conf);
}
END_TEST

START_TEST(test_query_names)
{
    static const char yaml[] = "origin: http://a\n"
                               "behaviors:\n"
                               "  - {path: /l, query_string: [utm, b, a, utm, c, a, b]}\n"
                               "  - {path: /n, query_string: none}\n"
                               "  - {path: /e, query_string: []}\n"
                               "  - {path: '*', query_string: all}\n";
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert_int_eq(conf.behaviors[0].key.query_string, CACHE_KEY_QS_LIST);
    ck_assert_uint_eq(conf.behaviors[0].key.num_query_names, 4);
    ck_assert_str_eq(conf.behaviors[0].key.query_names[0], "a");
    ck_assert_str_eq(conf.behaviors[0].key.query_names[1], "b");
    ck_assert_str_eq(conf.behaviors[0].key.query_names[2], "c");
    ck_assert_str_eq(conf.behaviors[0].key.query_names[3], "utm");
    ck_assert_int_eq(conf.behaviors[1].key.query_string, CACHE_KEY_QS_NONE);
    ck_assert_int_eq(conf.behaviors[2].key.query_string, CACHE_KEY_QS_NONE);
    ck_assert_uint_eq(conf.behaviors[2].key.num_query_names, 0);
    ck_assert_int_eq(conf.behaviors[3].key.query_string, CACHE_KEY_QS_ALL);
    edge_config_dispose(&conf);
}
END_TEST

START_TEST(test_error_pages)
{
    static const char yaml[] = "origin: http://a\n"
                               "error_pages:\n"
                               "  - {status: 502, page: 502.html}\n" /* built-in: no such file in base */
                               "  - {status: 504, page: 504.html}\n" /* a file in base shadows the built-in */
                               "  - {status: [404, 410], page: page.html}\n";
    const errorpages_page_t *builtin = errorpages_by_name("502.html");
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_ptr_nonnull(builtin);
    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert_uint_eq(conf.num_error_pages, 3);
    ck_assert_str_eq(conf.error_pages[0].page, "502.html");
    ck_assert_uint_eq(conf.error_pages[0].body_len, builtin->len);
    ck_assert_int_eq(memcmp(conf.error_pages[0].body, builtin->body, builtin->len), 0);
    ck_assert_str_eq(conf.error_pages[1].body, "<p>our own 504</p>\n");
    ck_assert_uint_eq(conf.error_pages[2].num_statuses, 2);
    ck_assert_int_eq(conf.error_pages[2].statuses[0], 404);
    ck_assert_int_eq(conf.error_pages[2].statuses[1], 410);
    ck_assert_uint_eq(conf.error_pages[2].failures, 0);
    ck_assert_str_eq(conf.error_pages[2].body, "<p>sorry</p>\n");
    edge_config_dispose(&conf);
}
END_TEST

/* access_log: the keyword json selects the JSON lines format; any other format is a libh2o format string */
START_TEST(test_access_log_format)
{
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, "origin: http://a\naccess_log: {path: a.log, format: json}\n", err) == 0, "%s", err);
    ck_assert(conf.access_log.json);
    ck_assert_ptr_null(conf.access_log.format);
    edge_config_dispose(&conf);
    ck_assert_msg(parse(&conf, "origin: http://a\naccess_log: {path: a.log, format: \"%s json\"}\n", err) == 0, "%s", err);
    ck_assert(!conf.access_log.json);
    ck_assert_str_eq(conf.access_log.format, "%s json");
    edge_config_dispose(&conf);
    ck_assert_msg(parse(&conf, "origin: http://a\naccess_log: a.log\n", err) == 0, "%s", err);
    ck_assert(!conf.access_log.json);
    ck_assert_ptr_null(conf.access_log.format);
    edge_config_dispose(&conf);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("edge_config_behavior");
    TCase *tc = tcase_create("behavior");

    tcase_add_test(tc, test_headers);
    tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_match);
    tcase_add_test(tc, test_query_names);
    tcase_add_test(tc, test_compress);
    tcase_add_test(tc, test_error_pages);
    tcase_add_test(tc, test_access_log_format);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fixture_main(suite());
}
