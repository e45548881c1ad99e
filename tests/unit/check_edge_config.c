/*
 * tests/unit/check_edge_config.c: the configuration loader (edge/config.c, config_yaml.c, config_listen.c,
 * config_origin.c): whole files, defaults, the YAML helpers' errors, listeners, cache, origins and origin
 * groups, the command-line overrides and loading from a file. Behaviors and error pages are in
 * check_edge_config_behavior.c; the fixture (a base directory of files the YAML names) is config_fixture.h.
 */
#include "tests/unit/config_fixture.h"

/* The defaults of the keys an origin may leave out (besides the timeouts, checked where they are set). */
static void assert_origin_defaults(const origin_conf_t *o)
{
    ck_assert_int_eq(o->balance, ORIGIN_CONF_BALANCE_ROUND_ROBIN);
    ck_assert_ptr_null(o->health.path);
    ck_assert_uint_eq(o->health.interval_ms, 10000);
    ck_assert_uint_eq(o->health.timeout_ms, 5000);
    ck_assert_uint_eq(o->health.unhealthy_threshold, 2);
    ck_assert_uint_eq(o->health.healthy_threshold, 3);
    ck_assert_ptr_null(o->tls.ca_file);
    ck_assert_ptr_null(o->tls.sni);
    ck_assert(o->tls.verify);
}

/* --- valid configurations --------------------------------------------------------------------------------- */

START_TEST(test_default_yaml)
{
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    const char *yaml = edge_config_default_yaml();

    ck_assert_msg(edge_config_parse(&conf, "<embedded>", NULL, yaml, strlen(yaml), err) == 0, "%s", err);
    ck_assert_str_eq(conf.source, "<embedded>");
    ck_assert_uint_eq(conf.num_listens, 1);
    ck_assert_str_eq(conf.listens[0].address, "127.0.0.1");
    ck_assert_uint_eq(conf.listens[0].port, 8080);
    ck_assert_ptr_null(conf.listens[0].tls_certificate);
    ck_assert_str_eq(conf.cache.path, "edgecache-cache");
    ck_assert_uint_eq(conf.upstream.num_origins, 1);
    ck_assert_str_eq(conf.upstream.origins[0].name, "default");
    ck_assert_uint_eq(conf.upstream.origins[0].num_servers, 1);
    ck_assert_msg(strncmp(conf.upstream.origins[0].servers[0], "file:", 5) == 0 &&
                      strstr(conf.upstream.origins[0].servers[0], "sample-site") != NULL,
                  "%s", conf.upstream.origins[0].servers[0]);
    ck_assert_uint_eq(conf.num_behaviors, 1);
    ck_assert_str_eq(conf.behaviors[0].path, "*");
    ck_assert_uint_eq(conf.behaviors[0].ttl.default_ttl, 3600);
    ck_assert_uint_eq(conf.behaviors[0].route.origin_index, 0);
    ck_assert_uint_eq(conf.num_error_pages, 0);
    edge_config_dispose(&conf);
    assert_empty(&conf);
}
END_TEST

START_TEST(test_full)
{
    static const char yaml[] = "listen:\n"
                               "  - address: 0.0.0.0\n"
                               "    port: 80\n"
                               "  - address: '::1'\n"
                               "    port: 443\n"
                               "    tls:\n"
                               "      certificate: cert.pem\n"
                               "      key: key.pem\n"
                               "threads: 4\n"
                               "node_id: eu-1.example_2\n"
                               "cache:\n"
                               "  path: /var/cache/edge\n"
                               "  max_size: 20G\n"
                               "origins:\n"
                               "  web:\n"
                               "    servers: [http://10.0.0.1:8080, 'http://web.internal/', 'http://[::1]:81']\n"
                               "    connect_timeout: 250ms\n"
                               "    connect_attempts: 5\n"
                               "    read_timeout: 1m\n"
                               "    keepalive_timeout: 0\n"
                               "    host_header: www.example.com\n"
                               "  static:\n"
                               "    servers: file:site\n"
                               "behaviors:\n"
                               "  - path: /images/*\n"
                               "    origin: static\n"
                               "    min_ttl: 60\n"
                               "    default_ttl: 1h\n"
                               "    max_ttl: 2d\n"
                               "    query_string: none\n"
                               "  - path: /api/*\n"
                               "    origin: web\n"
                               "    query_string: [page, id]\n"
                               "  - path: '*'\n"
                               "    origin: web\n"
                               "error_pages:\n"
                               "  - status: [502, 503, connect_error, timeout]\n"
                               "    page: page.html\n"
                               "    response_code: 503\n"
                               "    error_caching_min_ttl: 30s\n"
                               "  - status: reset\n"
                               "    page: 502.html\n";
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN], expect[PATH_MAX];

    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert_str_eq(conf.source, "t.yaml");

    ck_assert_uint_eq(conf.num_listens, 2);
    ck_assert_str_eq(conf.listens[0].address, "0.0.0.0");
    ck_assert_uint_eq(conf.listens[0].port, 80);
    ck_assert_ptr_null(conf.listens[0].tls_certificate);
    ck_assert_ptr_null(conf.listens[0].tls_key);
    ck_assert_str_eq(conf.listens[1].address, "::1");
    ck_assert_uint_eq(conf.listens[1].port, 443);
    snprintf(expect, sizeof(expect), "%s/cert.pem", base);
    ck_assert_str_eq(conf.listens[1].tls_certificate, expect);
    snprintf(expect, sizeof(expect), "%s/key.pem", base);
    ck_assert_str_eq(conf.listens[1].tls_key, expect);

    ck_assert_str_eq(conf.node_id, "eu-1.example_2");
    ck_assert_uint_eq(conf.threads, 4);
    ck_assert_str_eq(conf.cache.path, "/var/cache/edge");
    ck_assert_uint_eq(conf.cache.max_size, 20ull << 30);

    ck_assert_uint_eq(conf.upstream.num_origins, 2);
    ck_assert_str_eq(conf.upstream.origins[0].name, "web");
    ck_assert_uint_eq(conf.upstream.origins[0].num_servers, 3);
    ck_assert_str_eq(conf.upstream.origins[0].servers[0], "http://10.0.0.1:8080");
    ck_assert_str_eq(conf.upstream.origins[0].servers[1], "http://web.internal"); /* the trailing '/' is dropped */
    ck_assert_str_eq(conf.upstream.origins[0].servers[2], "http://[::1]:81");
    ck_assert_uint_eq(conf.upstream.origins[0].connect_timeout_ms, 250);
    ck_assert_uint_eq(conf.upstream.origins[0].connect_attempts, 5);
    ck_assert_uint_eq(conf.upstream.origins[0].read_timeout_ms, 60000);
    ck_assert_uint_eq(conf.upstream.origins[0].keepalive_timeout_ms, 0);
    ck_assert_str_eq(conf.upstream.origins[0].host_header, "www.example.com");
    ck_assert_str_eq(conf.upstream.origins[1].name, "static");
    ck_assert_uint_eq(conf.upstream.origins[1].num_servers, 1);
    snprintf(expect, sizeof(expect), "file://%s/site", base); /* resolved against basedir */
    ck_assert_str_eq(conf.upstream.origins[1].servers[0], expect);
    ck_assert_ptr_null(conf.upstream.origins[1].host_header);

    ck_assert_uint_eq(conf.num_behaviors, 3); /* the last is "*": no implicit one */
    ck_assert_str_eq(conf.behaviors[0].path, "/images/*");
    ck_assert_uint_eq(conf.behaviors[0].route.origin_index, 1);
    ck_assert_uint_eq(conf.behaviors[0].ttl.min_ttl, 60);
    ck_assert_uint_eq(conf.behaviors[0].ttl.default_ttl, 3600);
    ck_assert_uint_eq(conf.behaviors[0].ttl.max_ttl, 172800);
    ck_assert_int_eq(conf.behaviors[0].key.query_string, CACHE_KEY_QS_NONE);
    ck_assert_uint_eq(conf.behaviors[1].route.origin_index, 0);
    ck_assert_int_eq(conf.behaviors[1].key.query_string, CACHE_KEY_QS_LIST);
    ck_assert_uint_eq(conf.behaviors[1].key.num_query_names, 2);
    ck_assert_str_eq(conf.behaviors[1].key.query_names[0], "id");
    ck_assert_str_eq(conf.behaviors[1].key.query_names[1], "page");
    ck_assert_str_eq(conf.behaviors[2].path, "*");
    ck_assert_uint_eq(conf.behaviors[2].route.origin_index, 0);

    ck_assert_uint_eq(conf.num_error_pages, 2);
    ck_assert_uint_eq(conf.error_pages[0].num_statuses, 2);
    ck_assert_int_eq(conf.error_pages[0].statuses[0], 502);
    ck_assert_int_eq(conf.error_pages[0].statuses[1], 503);
    ck_assert_uint_eq(conf.error_pages[0].failures, ERRORPAGES_FAIL_CONNECT | ERRORPAGES_FAIL_TIMEOUT);
    ck_assert_str_eq(conf.error_pages[0].page, "page.html");
    ck_assert_uint_eq(conf.error_pages[0].body_len, strlen("<p>sorry</p>\n"));
    ck_assert_str_eq(conf.error_pages[0].body, "<p>sorry</p>\n");
    ck_assert_int_eq(conf.error_pages[0].response_code, 503);
    ck_assert_uint_eq(conf.error_pages[0].error_caching_min_ttl, 30);
    ck_assert_uint_eq(conf.error_pages[1].num_statuses, 0);
    ck_assert_uint_eq(conf.error_pages[1].failures, ERRORPAGES_FAIL_RESET);
    ck_assert_int_eq(conf.error_pages[1].response_code, 0);
    ck_assert_uint_eq(conf.error_pages[1].error_caching_min_ttl, 10);
    edge_config_dispose(&conf);
    assert_empty(&conf);
}
END_TEST

START_TEST(test_defaults)
{
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, "origin: http://127.0.0.1:9000\n", err) == 0, "%s", err);
    ck_assert_uint_eq(conf.num_listens, 1);
    ck_assert_str_eq(conf.listens[0].address, "127.0.0.1");
    ck_assert_uint_eq(conf.listens[0].port, 8080);
    ck_assert_uint_eq(conf.threads, 0);
    ck_assert_str_eq(conf.cache.path, "edgecache-cache");
    ck_assert_uint_eq(conf.cache.max_size, 1ull << 30);
    {
        char host[256] = "";
        gethostname(host, sizeof(host)); /* the node id's default: the host name */
        ck_assert_str_eq(conf.node_id, host);
    }
    ck_assert_uint_eq(conf.upstream.num_origins, 1);
    ck_assert_str_eq(conf.upstream.origins[0].name, "default");
    ck_assert_str_eq(conf.upstream.origins[0].servers[0], "http://127.0.0.1:9000");
    ck_assert_uint_eq(conf.upstream.origins[0].connect_timeout_ms, 10000);
    ck_assert_uint_eq(conf.upstream.origins[0].connect_attempts, 3);
    ck_assert_uint_eq(conf.upstream.origins[0].read_timeout_ms, 30000);
    ck_assert_uint_eq(conf.upstream.origins[0].keepalive_timeout_ms, 5000);
    ck_assert_ptr_null(conf.upstream.origins[0].host_header);
    assert_origin_defaults(&conf.upstream.origins[0]);
    ck_assert_uint_eq(conf.cache.background_fetch_max, 64ull << 20);
    ck_assert_ptr_null(conf.upstream.groups);
    ck_assert_uint_eq(conf.upstream.num_groups, 0);
    ck_assert_uint_eq(conf.num_behaviors, 1);
    ck_assert_str_eq(conf.behaviors[0].path, "*");
    ck_assert_uint_eq(conf.behaviors[0].route.origin_index, 0);
    ck_assert_uint_eq(conf.behaviors[0].route.group_index, SIZE_MAX);
    ck_assert_ptr_null(conf.behaviors[0].route.forward_headers);
    ck_assert_uint_eq(conf.behaviors[0].route.num_forward_headers, 0);
    ck_assert_ptr_null(conf.behaviors[0].key.key_headers);
    ck_assert_uint_eq(conf.behaviors[0].key.num_key_headers, 0);
    ck_assert_uint_eq(conf.behaviors[0].ttl.min_ttl, 0);
    ck_assert_uint_eq(conf.behaviors[0].ttl.default_ttl, 86400);
    ck_assert_uint_eq(conf.behaviors[0].ttl.max_ttl, 31536000);
    ck_assert_int_eq(conf.behaviors[0].key.query_string, CACHE_KEY_QS_ALL);
    ck_assert_uint_eq(conf.num_error_pages, 0);
    edge_config_dispose(&conf);

    /* a default_ttl left out is clamped into [min_ttl, max_ttl] rather than contradicting them */
    ck_assert_msg(
        parse(&conf, "origin: http://a\nbehaviors:\n  - path: /x\n    max_ttl: 60\n  - path: /y\n    min_ttl: 2d\n", err) == 0,
        "%s", err);
    ck_assert_uint_eq(conf.behaviors[0].ttl.default_ttl, 60);
    ck_assert_uint_eq(conf.behaviors[1].ttl.default_ttl, 172800);
    edge_config_dispose(&conf);

    /* the defaults hold for an origin of the origins mapping, and for an https one without a tls mapping (whose
     * verify must not be left at calloc's false) */
    ck_assert_msg(parse(&conf,
                        "origins:\n  a: {servers: http://a}\n  b: {servers: 'https://b'}\nbehaviors: [{path: '*', origin: a}]\n",
                        err) == 0,
                  "%s", err);
    assert_origin_defaults(&conf.upstream.origins[0]);
    assert_origin_defaults(&conf.upstream.origins[1]);
    ck_assert_str_eq(conf.upstream.origins[1].servers[0], "https://b");
    edge_config_dispose(&conf);
}
END_TEST

START_TEST(test_listen_forms)
{
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, "listen: '[::1]:8443'\norigin: http://a\n", err) == 0, "%s", err);
    ck_assert_uint_eq(conf.num_listens, 1);
    ck_assert_str_eq(conf.listens[0].address, "::1");
    ck_assert_uint_eq(conf.listens[0].port, 8443);
    edge_config_dispose(&conf);

    ck_assert_msg(parse(&conf, "listen: [127.0.0.1:80, '[::]:80', {address: 10.1.2.3, port: 81}]\norigin: http://a\n", err) == 0,
                  "%s", err);
    ck_assert_uint_eq(conf.num_listens, 3);
    ck_assert_str_eq(conf.listens[0].address, "127.0.0.1");
    ck_assert_uint_eq(conf.listens[0].port, 80);
    ck_assert_str_eq(conf.listens[1].address, "::");
    ck_assert_uint_eq(conf.listens[1].port, 80);
    ck_assert_str_eq(conf.listens[2].address, "10.1.2.3");
    ck_assert_uint_eq(conf.listens[2].port, 81);
    edge_config_dispose(&conf);
}
END_TEST

START_TEST(test_durations_and_sizes)
{
    static const struct {
        const char *text;
        uint64_t ms;
    } durations[] = {{"7", 7000},     {"250ms", 250},    {"10s", 10000}, {"5m", 300000},
                     {"1h", 3600000}, {"2d", 172800000}, {"3 s", 3000}};
    static const struct {
        const char *text;
        uint64_t bytes;
    } sizes[] = {{"1048576", 1048576}, {"2M", 2ull << 20},  {"1536KiB", 1536ull << 10}, {"3MB", 3ull << 20},
                 {"20G", 20ull << 30}, {"1gb", 1ull << 30}, {"2TiB", 2ull << 40},       {"4 M", 4ull << 20}};
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN], yaml[256];

    for (size_t i = 0; i != sizeof(durations) / sizeof(durations[0]); ++i) {
        snprintf(yaml, sizeof(yaml), "origins:\n  o:\n    servers: http://a\n    read_timeout: %s\n", durations[i].text);
        ck_assert_msg(parse(&conf, yaml, err) == 0, "%s: %s", durations[i].text, err);
        ck_assert_uint_eq(conf.upstream.origins[0].read_timeout_ms, durations[i].ms);
        edge_config_dispose(&conf);
    }
    for (size_t i = 0; i != sizeof(sizes) / sizeof(sizes[0]); ++i) {
        snprintf(yaml, sizeof(yaml), "origin: http://a\ncache:\n  max_size: %s\n", sizes[i].text);
        ck_assert_msg(parse(&conf, yaml, err) == 0, "%s: %s", sizes[i].text, err);
        ck_assert_uint_eq(conf.cache.max_size, sizes[i].bytes);
        edge_config_dispose(&conf);
    }
}
END_TEST

START_TEST(test_origin_options)
{
    static const char yaml[] = "cache:\n"
                               "  background_fetch_max: 8M\n"
                               "origins:\n"
                               "  web:\n"
                               "    servers: ['https://a.example', 'https://10.0.0.2:8443', 'https://[::1]/']\n"
                               "    balance: least_outstanding\n"
                               "    health_check:\n"
                               "      path: /healthz?full=1\n"
                               "      interval: 30s\n"
                               "      timeout: 2500ms\n"
                               "      unhealthy_threshold: 1\n"
                               "      healthy_threshold: 100\n"
                               "    tls:\n"
                               "      ca_file: cert.pem\n"
                               "      sni: origin.example\n"
                               "      verify: false\n"
                               "  api:\n"
                               "    servers: http://b\n"
                               "    balance: consistent_hash\n"
                               "    health_check: {path: /}\n"
                               "  secure:\n"
                               "    servers: 'https://c'\n"
                               "    balance: round_robin\n"
                               "    tls: {verify: true}\n"
                               "behaviors:\n"
                               "  - {path: '*', origin: web}\n";
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN], expect[PATH_MAX];
    const origin_conf_t *o;

    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert_uint_eq(conf.cache.background_fetch_max, 8ull << 20);
    ck_assert_uint_eq(conf.upstream.num_origins, 3);

    o = &conf.upstream.origins[0];
    ck_assert_uint_eq(o->num_servers, 3);
    ck_assert_str_eq(o->servers[0], "https://a.example");
    ck_assert_str_eq(o->servers[1], "https://10.0.0.2:8443");
    ck_assert_str_eq(o->servers[2], "https://[::1]"); /* the trailing '/' is dropped, as for http:// */
    ck_assert_int_eq(o->balance, ORIGIN_CONF_BALANCE_LEAST_OUTSTANDING);
    ck_assert_str_eq(o->health.path, "/healthz?full=1");
    ck_assert_uint_eq(o->health.interval_ms, 30000);
    ck_assert_uint_eq(o->health.timeout_ms, 2500);
    ck_assert_uint_eq(o->health.unhealthy_threshold, 1);
    ck_assert_uint_eq(o->health.healthy_threshold, 100);
    snprintf(expect, sizeof(expect), "%s/cert.pem", base); /* resolved against basedir */
    ck_assert_str_eq(o->tls.ca_file, expect);
    ck_assert_str_eq(o->tls.sni, "origin.example");
    ck_assert(!o->tls.verify);

    o = &conf.upstream.origins[1];
    ck_assert_int_eq(o->balance, ORIGIN_CONF_BALANCE_CONSISTENT_HASH);
    ck_assert_str_eq(o->health.path, "/");
    ck_assert_uint_eq(o->health.interval_ms, 10000);
    ck_assert_uint_eq(o->health.timeout_ms, 5000);
    ck_assert_uint_eq(o->health.unhealthy_threshold, 2);
    ck_assert_uint_eq(o->health.healthy_threshold, 3);
    ck_assert(o->tls.verify);

    o = &conf.upstream.origins[2];
    ck_assert_int_eq(o->balance, ORIGIN_CONF_BALANCE_ROUND_ROBIN);
    ck_assert_ptr_null(o->health.path);
    ck_assert_ptr_null(o->tls.ca_file);
    ck_assert_ptr_null(o->tls.sni);
    ck_assert(o->tls.verify);
    edge_config_dispose(&conf);

    /* 0 is allowed: never continue a fetch without a client */
    ck_assert_msg(parse(&conf, "origin: 'https://a'\ncache: {background_fetch_max: 0}\n", err) == 0, "%s", err);
    ck_assert_uint_eq(conf.cache.background_fetch_max, 0);
    ck_assert_str_eq(conf.upstream.origins[0].servers[0], "https://a");
    ck_assert(conf.upstream.origins[0].tls.verify);
    edge_config_dispose(&conf);
}
END_TEST

START_TEST(test_groups)
{
    static const char yaml[] = "origins:\n"
                               "  a: {servers: http://a}\n"
                               "  b: {servers: http://b}\n"
                               "  c: {servers: http://c}\n"
                               "origin_groups:\n"
                               "  ab: {primary: a, secondary: b}\n"
                               "  cb:\n"
                               "    primary: c\n"
                               "    secondary: b\n"
                               "    failover_on: [504, 404, 416, 404, 400, 403]\n"
                               "    circuit_breaker: {failures: 0, cool_down: 2m}\n"
                               "  one:\n"
                               "    primary: b\n"
                               "    secondary: c\n"
                               "    failover_on: 503\n"
                               "    circuit_breaker: {failures: 1000}\n"
                               "behaviors:\n"
                               "  - {path: /ab/*, origin: ab}\n"
                               "  - {path: /cb/*, origin: cb}\n"
                               "  - {path: /b/*, origin: b}\n"
                               "  - {path: '*', origin: one}\n";
    static const int cb_failover[] = {400, 403, 404, 416, 504};
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];
    const origin_conf_group_t *g;

    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert_uint_eq(conf.upstream.num_origins, 3);
    ck_assert_uint_eq(conf.upstream.num_groups, 3);

    g = &conf.upstream.groups[0];
    ck_assert_str_eq(g->name, "ab");
    ck_assert_uint_eq(g->primary, 0);
    ck_assert_uint_eq(g->secondary, 1);
    ck_assert_uint_eq(g->num_failover_on, 4); /* the default */
    ck_assert_int_eq(g->failover_on[0], 500);
    ck_assert_int_eq(g->failover_on[1], 502);
    ck_assert_int_eq(g->failover_on[2], 503);
    ck_assert_int_eq(g->failover_on[3], 504);
    ck_assert_uint_eq(g->breaker_failures, 5);
    ck_assert_uint_eq(g->breaker_cooldown_ms, 30000);

    g = &conf.upstream.groups[1];
    ck_assert_str_eq(g->name, "cb");
    ck_assert_uint_eq(g->primary, 2);
    ck_assert_uint_eq(g->secondary, 1);
    ck_assert_uint_eq(g->num_failover_on, 5); /* sorted, without the second 404 */
    for (size_t i = 0; i != 5; ++i)
        ck_assert_int_eq(g->failover_on[i], cb_failover[i]);
    ck_assert_uint_eq(g->breaker_failures, 0);
    ck_assert_uint_eq(g->breaker_cooldown_ms, 120000);

    g = &conf.upstream.groups[2];
    ck_assert_uint_eq(g->primary, 1);
    ck_assert_uint_eq(g->secondary, 2);
    ck_assert_uint_eq(g->num_failover_on, 1);
    ck_assert_int_eq(g->failover_on[0], 503);
    ck_assert_uint_eq(g->breaker_failures, 1000);
    ck_assert_uint_eq(g->breaker_cooldown_ms, 30000);

    /* a behavior naming a group goes to its primary; one naming an origin has no group */
    ck_assert_uint_eq(conf.num_behaviors, 4);
    ck_assert_uint_eq(conf.behaviors[0].route.group_index, 0);
    ck_assert_uint_eq(conf.behaviors[0].route.origin_index, 0);
    ck_assert_uint_eq(conf.behaviors[1].route.group_index, 1);
    ck_assert_uint_eq(conf.behaviors[1].route.origin_index, 2);
    ck_assert_uint_eq(conf.behaviors[2].route.group_index, SIZE_MAX);
    ck_assert_uint_eq(conf.behaviors[2].route.origin_index, 1);
    ck_assert_uint_eq(conf.behaviors[3].route.group_index, 2);
    ck_assert_uint_eq(conf.behaviors[3].route.origin_index, 1);
    edge_config_dispose(&conf);
    assert_empty(&conf);

    /* with groups, a behavior without "origin" still takes the origin named "default", as the implicit "*" does */
    ck_assert_msg(parse(&conf,
                        "origins:\n  default: {servers: http://a}\n  b: {servers: http://b}\n"
                        "origin_groups:\n  g: {primary: b, secondary: default}\n"
                        "behaviors:\n  - {path: /g/*, origin: g}\n  - {path: /x/*}\n",
                        err) == 0,
                  "%s", err);
    ck_assert_uint_eq(conf.num_behaviors, 3);
    ck_assert_uint_eq(conf.behaviors[0].route.group_index, 0);
    ck_assert_uint_eq(conf.behaviors[0].route.origin_index, 1);
    ck_assert_uint_eq(conf.behaviors[1].route.group_index, SIZE_MAX);
    ck_assert_uint_eq(conf.behaviors[1].route.origin_index, 0);
    ck_assert_str_eq(conf.behaviors[2].path, "*");
    ck_assert_uint_eq(conf.behaviors[2].route.group_index, SIZE_MAX);
    ck_assert_uint_eq(conf.behaviors[2].route.origin_index, 0);
    edge_config_dispose(&conf);
}
END_TEST

/* --- errors ----------------------------------------------------------------------------------------------- */

static const struct {
    const char *yaml;
    const char *prefix; /* the message must start with this */
    const char *part;   /* and contain this */
} bad[] = {
    /* input that is not a configuration at all */
    {"", "t.yaml:1:1: ", "the configuration is empty"},
    {"# only a comment\n", "t.yaml:1:1: ", "the configuration is empty"},
    {"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "t.yaml:1:1: ", "UTF-8"},
    {"origin: http://a\nthreads: 1\x01\n", "t.yaml:2:11: ", "control characters"},
    {"just a string\n", "t.yaml:1:1: ", "expected a mapping of settings"},
    {"origin: [http://a\n", "t.yaml:2:1: ", "line 1"},
    {"origin: http://a\n---\norigin: http://b\n", "t.yaml:3:1: ", "a configuration is a single YAML document"},
    {"origin: http://a\nthreads: \"1\\02\"\n", "t.yaml:2:10: ", "contains a NUL byte"},
    /* unknown and duplicate keys */
    {"origin: http://a\nbehaviours: []\n",
     "t.yaml:2:1: ", "unknown key \"behaviours\" in the configuration (allowed: listen, threads"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    ttl: 5\n",
     "t.yaml:4:5: ", "unknown key \"ttl\" in behavior (allowed: path, origin,"},
    {"origin: http://a\ncache:\n  path: a\n  path: b\n", "t.yaml:4:3: ", "duplicate key \"path\" in cache (first at line 3)"},
    {"origin: http://a\n? [a]\n: b\n", "t.yaml:2:3: ", "expected a key name, found a list"},
    /* wrong types */
    {"origin: http://a\ncache: /tmp\n", "t.yaml:2:8: ", "cache: expected a mapping, found a single value"},
    {"origin: http://a\nthreads: {a: 1}\n", "t.yaml:2:10: ", "threads: expected a single value, found a mapping"},
    {"origin: http://a\nthreads:\n", "t.yaml:2:9: ", "threads: expected a single value, found nothing"},
    {"origin: http://a\nbehaviors: {path: x}\n", "t.yaml:2:12: ", "behaviors: expected a list, found a mapping"},
    {"origins: [http://a]\n", "t.yaml:1:10: ", "origins: expected a mapping from names to origins, found a list"},
    {"origin: http://a\nlisten: [[1]]\n", "t.yaml:2:10: ", "listen: expected \"ADDRESS:PORT\" or a mapping"},
    /* numbers */
    {"origin: http://a\nthreads: -1\n", "t.yaml:2:10: ", "threads: -1 is out of range (0..1024)"},
    {"origin: http://a\nthreads: 5000\n", "t.yaml:2:10: ", "threads: 5000 is out of range (0..1024)"},
    {"origin: http://a\nthreads: 0x10\n", "t.yaml:2:10: ", "threads: expected an integer, found \"0x10\""},
    {"origin: http://a\nthreads: 99999999999999999999999\n", "t.yaml:2:10: ", "out of range"},
    /* durations */
    {"origins:\n  o:\n    servers: http://a\n    read_timeout: 10x\n",
     "t.yaml:4:19: ", "read_timeout: invalid duration \"10x\": unknown unit"},
    {"origins:\n  o:\n    servers: http://a\n    read_timeout: -5s\n", "t.yaml:4:19: ", "must not be negative"},
    {"origins:\n  o:\n    servers: http://a\n    read_timeout: soon\n", "t.yaml:4:19: ", "invalid duration \"soon\""},
    {"origins:\n  o:\n    servers: http://a\n    read_timeout: 99999999999999999999999s\n", "t.yaml:4:19: ", "too large"},
    {"origins:\n  o:\n    servers: http://a\n    read_timeout: 40000d\n", "t.yaml:4:19: ", "too large"},
    {"origins:\n  o:\n    servers: http://a\n    connect_timeout: 0\n", "t.yaml:4:22: ", "connect_timeout: must be more than 0"},
    {"origin: http://a\nbehaviors:\n  - path: '*'\n    min_ttl: 1500ms\n",
     "t.yaml:4:14: ", "min_ttl: must be a whole number of seconds"},
    /* sizes */
    {"origin: http://a\ncache:\n  max_size: 20Q\n", "t.yaml:3:13: ", "max_size: invalid size \"20Q\": unknown unit"},
    {"origin: http://a\ncache:\n  max_size: big\n", "t.yaml:3:13: ", "invalid size \"big\""},
    {"origin: http://a\ncache:\n  max_size: -1G\n", "t.yaml:3:13: ", "must not be negative"},
    {"origin: http://a\ncache:\n  max_size: 99999999999T\n", "t.yaml:3:13: ", "too large"},
    {"origin: http://a\ncache:\n  max_size: 1K\n", "t.yaml:3:13: ", "at least 1M"},
    /* listeners */
    {"origin: http://a\nlisten: 127.0.0.1:70000\n",
     "t.yaml:2:9: ", "listen \"127.0.0.1:70000\": port \"70000\" is not in 1..65535"},
    {"origin: http://a\nlisten: 127.0.0.1\n", "t.yaml:2:9: ", "expected \"ADDRESS:PORT\""},
    {"origin: http://a\nlisten: localhost:80\n", "t.yaml:2:9: ", "\"localhost\" is not a numeric IPv4 or IPv6 address"},
    {"origin: http://a\nlisten: '::1:80'\n", "t.yaml:2:9: ", "needs brackets"},
    {"origin: http://a\nlisten:\n  - address: 0.0.0.0\n    port: 0\n", "t.yaml:4:11: ", "port: 0 is out of range (1..65535)"},
    {"origin: http://a\nlisten:\n  - address: 0.0.0.0\n", "t.yaml:3:5: ", "listener: missing required key \"port\""},
    {"origin: http://a\nlisten: []\n", "t.yaml:2:9: ", "at least one listener"},
    {"origin: http://a\nlisten: [127.0.0.1:80, 127.0.0.1:80]\n", "t.yaml:2:24: ", "already listed at line 2"},
    {"origin: http://a\nlisten:\n  - address: 0.0.0.0\n    port: 443\n    tls:\n      certificate: cert.pem\n",
     "t.yaml:6:7: ", "tls: certificate without key"},
    {"origin: http://a\nlisten:\n  - address: 0.0.0.0\n    port: 443\n    tls:\n      key: key.pem\n",
     "t.yaml:6:7: ", "tls: key without certificate"},
    {"origin: http://a\nlisten:\n  - address: 0.0.0.0\n    port: 443\n    tls: {certificate: nope.pem, key: key.pem}\n",
     "t.yaml:5:24: ", "certificate: cannot read"},
    /* origins */
    {"threads: 1\n", "t.yaml:1:1: ", "no origin configured"},
    {"origins: {}\n", "t.yaml:1:10: ", "no origin configured"},
    {"origin: https://a/b\n", "t.yaml:1:9: ", "origin \"https://a/b\": a server URL has no path"},
    {"origin: 'https://a:0'\n", "t.yaml:1:9: ", "the port is not in 1..65535"},
    {"origin: ftp://a\n", "t.yaml:1:9: ", "unsupported URL"},
    {"origin: http://a/b\n", "t.yaml:1:9: ", "a server URL has no path"},
    {"origin: http://a:0\n", "t.yaml:1:9: ", "the port is not in 1..65535"},
    {"origin: http://a:99999\n", "t.yaml:1:9: ", "the port is not in 1..65535"},
    {"origin: http://\n", "t.yaml:1:9: ", "invalid host"},
    {"origin: http://a b\n", "t.yaml:1:9: ", "invalid host"},
    {"origin: http://u:p@a\n", "t.yaml:1:9: ", "credentials"},
    {"origin: 'http://[zz]:80'\n", "t.yaml:1:9: ", "invalid IPv6 address"},
    {"origin: file:nonexistent\n", "t.yaml:1:9: ", "No such file or directory"},
    {"origin: file:notadir\n", "t.yaml:1:9: ", "not a directory"},
    {"origin: file://host/dir\n", "t.yaml:1:9: ", "names no host"},
    {"origins:\n  o:\n    servers: [file:site, http://a]\n", "t.yaml:3:14: ", "a file origin has exactly one server"},
    {"origins:\n  o:\n    servers: []\n", "t.yaml:3:14: ", "at least one server"},
    {"origins:\n  o:\n    read_timeout: 1s\n", "t.yaml:3:5: ", "origin \"o\": missing required key \"servers\""},
    {"origins:\n  o:\n    servers: http://a\n  o:\n    servers: http://b\n",
     "t.yaml:4:3: ", "duplicate origin \"o\" (first at line 2)"},
    {"origins:\n  o:\n    servers: http://a\n    connect_attempts: 11\n",
     "t.yaml:4:23: ", "connect_attempts: 11 is out of range (1..10)"},
    {"origins:\n  o:\n    servers: http://a\n    host_header: 'a b'\n", "t.yaml:4:18: ", "is not a valid host"},
    {"origins:\n  o:\n    servers: http://a\n    retries: 2\n", "t.yaml:4:5: ", "unknown key \"retries\" in origin \"o\""},
    {"origin: http://a\norigins:\n  b:\n    servers: http://b\n", "t.yaml:1:9: ", "use either origin"},
    /* balance, health checks, tls */
    {"origins:\n  o:\n    servers: http://a\n    balance: random\n", "t.yaml:4:14: ", "balance: unknown method \"random\""},
    {"origins:\n  o:\n    servers: http://a\n    health_check: {interval: 5s}\n", "t.yaml:4:19: ", "health_check needs a path"},
    {"origins:\n  o:\n    servers: http://a\n    health_check: {path: healthz}\n", "t.yaml:4:26: ", "must start with '/'"},
    {"origins:\n  o:\n    servers: http://a\n    health_check: {path: '/a b'}\n", "t.yaml:4:26: ", "must start with '/'"},
    {"origins:\n  o:\n    servers: http://a\n    health_check:\n      path: /h\n      interval: 5s\n      timeout: 5s\n",
     "t.yaml:7:16: ", "health_check: the timeout (5000ms) must be below the interval (5000ms)"},
    {"origins:\n  o:\n    servers: http://a\n    health_check: {path: /h, interval: 3s}\n",
     "t.yaml:4:40: ", "the timeout (5000ms, the default) must be below the interval (3000ms)"},
    {"origins:\n  o:\n    servers: http://a\n    health_check: {path: /h, timeout: 0}\n",
     "t.yaml:4:39: ", "timeout: must be more than 0"},
    {"origins:\n  o:\n    servers: http://a\n    health_check: {path: /h, unhealthy_threshold: 0}\n",
     "t.yaml:4:51: ", "unhealthy_threshold: 0 is out of range (1..100)"},
    {"origins:\n  o:\n    servers: http://a\n    health_check:\n      path: /h\n      healthy_threshold: 101\n",
     "t.yaml:6:26: ", "healthy_threshold: 101 is out of range (1..100)"},
    {"origins:\n  o:\n    servers: http://a\n    health_check: {path: /h, retries: 2}\n",
     "t.yaml:4:30: ", "unknown key \"retries\" in health_check"},
    {"origins:\n  o:\n    servers: file:site\n    health_check: {path: /h}\n", "t.yaml:4:19: ", "origin \"o\" serves files"},
    {"origins:\n  o:\n    servers: [http://a, 'https://b']\n",
     "t.yaml:3:25: ", "servers: \"https://b\" is https:// but \"http://a\" is http://"},
    {"origins:\n  o:\n    servers: ['https://a', http://b]\n", "t.yaml:3:28: ", "all http:// or all https://"},
    {"origins:\n  o:\n    servers: ['https://a', file:site]\n", "t.yaml:3:14: ", "a file origin has exactly one server"},
    {"origins:\n  o:\n    servers: http://a\n    tls: {verify: false}\n",
     "t.yaml:4:10: ", "tls: the servers of origin \"o\" are not https://"},
    {"origins:\n  o:\n    servers: file:site\n    tls: {verify: false}\n", "t.yaml:4:10: ", "are not https://"},
    {"origins:\n  o:\n    servers: 'https://a'\n    tls:\n      ca_file: nope.pem\n", "t.yaml:5:16: ", "ca_file: cannot read"},
    {"origins:\n  o:\n    servers: 'https://a'\n    tls:\n      sni: 'a b'\n",
     "t.yaml:5:12: ", "sni: \"a b\" is not a valid host name"},
    {"origins:\n  o:\n    servers: 'https://a'\n    tls:\n      verify: maybe\n",
     "t.yaml:5:15: ", "verify: expected true or false, found \"maybe\""},
    {"origins:\n  o:\n    servers: 'https://a'\n    tls: yes\n", "t.yaml:4:10: ", "tls: expected a mapping"},
    /* origin groups */
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\norigin_groups:\n  g: {primary: a, secondary: c}\n",
     "t.yaml:5:30: ", "secondary: unknown origin \"c\" (configured: a, b)"},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\norigin_groups:\n  g: {primary: x, secondary: b}\n",
     "t.yaml:5:16: ", "primary: unknown origin \"x\""},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\norigin_groups:\n  g: {primary: a, secondary: a}\n",
     "t.yaml:5:30: ", "secondary: \"a\" is also the primary"},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\norigin_groups:\n  a: {primary: a, secondary: b}\n",
     "t.yaml:5:3: ", "duplicate name \"a\""},
    {"origin: http://a\norigin_groups:\n  default: {primary: default, secondary: default}\n",
     "t.yaml:3:3: ", "duplicate name \"default\""},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\norigin_groups:\n  g: {primary: a, secondary: h}\n"
     "  h: {primary: a, secondary: b}\n",
     "t.yaml:5:30: ", "secondary: \"h\" is an origin group"},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\norigin_groups:\n  g: {primary: a, secondary: b}\n"
     "  g: {primary: b, secondary: a}\n",
     "t.yaml:6:3: ", "duplicate origin group \"g\" (first at line 5)"},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\norigin_groups:\n  g: {primary: a}\n",
     "t.yaml:5:6: ", "origin group \"g\": missing required key \"secondary\""},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\norigin_groups:\n  g: {primary: a, secondary: b, failover_on: "
     "[500, 501]}\n",
     "t.yaml:5:52: ", "failover_on: 501 cannot fail over (allowed: 400, 403, 404, 416, 500, 502, 503, 504)"},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\norigin_groups:\n  g: {primary: a, secondary: b, failover_on: "
     "[]}\n",
     "t.yaml:5:46: ", "failover_on: at least one status is needed"},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\norigin_groups:\n"
     "  g: {primary: a, secondary: b, circuit_breaker: {failures: 1001}}\n",
     "t.yaml:5:61: ", "failures: 1001 is out of range (0..1000)"},
    {"origins:\n  a: {servers: http://a}\n  b: {servers: http://b}\norigin_groups:\n"
     "  g: {primary: a, secondary: b, circuit_breaker: {cool_down: 0}}\n",
     "t.yaml:5:62: ", "cool_down: must be more than 0"},
    {"origin: http://a\norigin_groups: [a]\n", "t.yaml:2:16: ", "origin_groups: expected a mapping from names to groups"},
    /* cache */
    {"origin: http://a\ncache:\n  background_fetch_max: -1\n", "t.yaml:3:25: ", "background_fetch_max: invalid size \"-1\""},
    /* node_id */
    {"origin: http://a\nnode_id: \"eu 1\"\n", "t.yaml:2:10: ", "node_id: 1..64 letters, digits, '.', '_' or '-'"},
    {"origin: http://a\nnode_id: [a]\n", "t.yaml:2:10: ", "node_id"},
};

START_TEST(test_errors)
{
    const char *yaml = bad[_i].yaml;
    /* the binary case holds NUL bytes: give its full length */
    size_t len = yaml[0] == '\x89' ? 16 : strlen(yaml);

    assert_parse_error(_i, yaml, len, bad[_i].prefix, bad[_i].part);
}
END_TEST

/* --- overrides, loading ------------------------------------------------------------------------------------- */

static const char two_origins[] = "listen: [127.0.0.1:80, 127.0.0.1:81]\n"
                                  "cache: {path: /var/cache/a}\n"
                                  "origins:\n"
                                  "  a: {servers: http://a, host_header: a.example}\n"
                                  "  b: {servers: [http://b1, http://b2]}\n"
                                  "behaviors:\n"
                                  "  - {path: /b/*, origin: b}\n"
                                  "  - {path: '*', origin: a}\n";

START_TEST(test_override)
{
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, two_origins, err) == 0, "%s", err);
    ck_assert_int_eq(edge_config_override(&conf, NULL, NULL, NULL, err), 0);
    ck_assert_uint_eq(conf.num_listens, 2);
    ck_assert_uint_eq(conf.upstream.num_origins, 2);

    ck_assert_msg(edge_config_override(&conf, "[::1]:9090", "http://127.0.0.1:8000/", "/tmp/x", err) == 0, "%s", err);
    ck_assert_uint_eq(conf.num_listens, 1);
    ck_assert_str_eq(conf.listens[0].address, "::1");
    ck_assert_uint_eq(conf.listens[0].port, 9090);
    ck_assert_ptr_null(conf.listens[0].tls_certificate);
    ck_assert_uint_eq(conf.upstream.num_origins, 1);
    ck_assert_str_eq(conf.upstream.origins[0].name, "default");
    ck_assert_uint_eq(conf.upstream.origins[0].num_servers, 1);
    ck_assert_str_eq(conf.upstream.origins[0].servers[0], "http://127.0.0.1:8000");
    ck_assert_uint_eq(conf.upstream.origins[0].connect_timeout_ms, 10000);
    ck_assert_uint_eq(conf.upstream.origins[0].connect_attempts, 3);
    ck_assert_ptr_null(conf.upstream.origins[0].host_header);
    ck_assert_uint_eq(conf.num_behaviors, 2);
    ck_assert_uint_eq(conf.behaviors[0].route.origin_index, 0);
    ck_assert_uint_eq(conf.behaviors[1].route.origin_index, 0);
    ck_assert_str_eq(conf.cache.path, "/tmp/x");

    /* a bad override fails as a whole: the valid parts given with it are not applied */
    ck_assert_int_eq(edge_config_override(&conf, "127.0.0.1:1", "ftp://x", NULL, err), -1);
    ck_assert_msg(strstr(err, "unsupported URL") != NULL, "%s", err);
    ck_assert_uint_eq(conf.listens[0].port, 9090);
    ck_assert_int_eq(edge_config_override(&conf, "localhost:80", NULL, NULL, err), -1);
    ck_assert_msg(strstr(err, "listen \"localhost:80\": \"localhost\" is not a numeric") != NULL, "%s", err);
    ck_assert_int_eq(edge_config_override(&conf, "1.2.3.4", NULL, NULL, err), -1);
    ck_assert_int_eq(edge_config_override(&conf, NULL, "file:nonexistent-dir-for-test", NULL, err), -1);
    ck_assert_msg(strstr(err, "No such file or directory") != NULL, "%s", err);
    ck_assert_int_eq(edge_config_override(&conf, NULL, NULL, "", err), -1);
    ck_assert_str_eq(conf.upstream.origins[0].servers[0], "http://127.0.0.1:8000");
    ck_assert_str_eq(conf.cache.path, "/tmp/x");

    /* a relative file origin resolves against the working directory */
    ck_assert_int_eq(chdir(base), 0);
    ck_assert_msg(edge_config_override(&conf, NULL, "file:site", NULL, err) == 0, "%s", err);
    ck_assert_str_eq(conf.upstream.origins[0].servers[0], "file:site");
    edge_config_dispose(&conf);
}
END_TEST

/* An --origin replaces the groups too, since they index the origins it drops; the new origin has every default
 * (verify included), and a failed override leaves the groups in place. */
START_TEST(test_override_groups)
{
    static const char yaml[] = "origins:\n"
                               "  a: {servers: http://a, balance: consistent_hash}\n"
                               "  b: {servers: http://b}\n"
                               "origin_groups:\n"
                               "  g: {primary: b, secondary: a}\n"
                               "behaviors:\n"
                               "  - {path: /g/*, origin: g}\n"
                               "  - {path: '*', origin: a}\n";
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert_uint_eq(conf.upstream.num_groups, 1);
    ck_assert_uint_eq(conf.behaviors[0].route.group_index, 0);
    ck_assert_uint_eq(conf.behaviors[0].route.origin_index, 1);

    ck_assert_int_eq(edge_config_override(&conf, NULL, "gopher://x", NULL, err), -1);
    ck_assert_uint_eq(conf.upstream.num_groups, 1);
    ck_assert_ptr_nonnull(conf.upstream.groups);
    ck_assert_uint_eq(conf.behaviors[0].route.group_index, 0);
    ck_assert_msg(edge_config_override(&conf, "127.0.0.1:81", NULL, NULL, err) == 0, "%s", err);
    ck_assert_uint_eq(conf.upstream.num_groups, 1);

    ck_assert_msg(edge_config_override(&conf, NULL, "https://127.0.0.1:8443", NULL, err) == 0, "%s", err);
    ck_assert_ptr_null(conf.upstream.groups);
    ck_assert_uint_eq(conf.upstream.num_groups, 0);
    ck_assert_uint_eq(conf.upstream.num_origins, 1);
    ck_assert_str_eq(conf.upstream.origins[0].servers[0], "https://127.0.0.1:8443");
    assert_origin_defaults(&conf.upstream.origins[0]);
    for (size_t i = 0; i != conf.num_behaviors; ++i) {
        ck_assert_uint_eq(conf.behaviors[i].route.origin_index, 0);
        ck_assert_uint_eq(conf.behaviors[i].route.group_index, SIZE_MAX);
    }
    edge_config_dispose(&conf);
    assert_empty(&conf);
}
END_TEST

START_TEST(test_load)
{
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN], path[PATH_MAX], expect[PATH_MAX + 64];

    /* paths in a loaded file are relative to the file's directory */
    snprintf(path, sizeof(path), "%s/conf/edge.yaml", base);
    ck_assert_msg(edge_config_load(&conf, path, err) == 0, "%s", err);
    ck_assert_str_eq(conf.source, path);
    snprintf(expect, sizeof(expect), "file://%s/conf/../site", base);
    ck_assert_str_eq(conf.upstream.origins[0].servers[0], expect);
    ck_assert_str_eq(conf.error_pages[0].body, "<p>sorry</p>\n");
    edge_config_dispose(&conf);

    snprintf(path, sizeof(path), "%s/conf/bad.yaml", base);
    ck_assert_int_eq(edge_config_load(&conf, path, err), -1);
    snprintf(expect, sizeof(expect), "%s:2:10: threads: expected an integer", path);
    ck_assert_msg(strncmp(err, expect, strlen(expect)) == 0, "%s", err);
    assert_empty(&conf);

    snprintf(path, sizeof(path), "%s/conf/empty.yaml", base);
    ck_assert_int_eq(edge_config_load(&conf, path, err), -1);
    snprintf(expect, sizeof(expect), "%s:1:1: the configuration is empty", path);
    ck_assert_str_eq(err, expect);

    snprintf(path, sizeof(path), "%s/conf/missing.yaml", base);
    ck_assert_int_eq(edge_config_load(&conf, path, err), -1);
    ck_assert_msg(strstr(err, path) != NULL && strstr(err, "No such file or directory") != NULL, "%s", err);
    assert_empty(&conf);

    snprintf(path, sizeof(path), "%s/site", base);
    ck_assert_int_eq(edge_config_load(&conf, path, err), -1);
    ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("edge_config");
    TCase *tc = tcase_create("config");

    tcase_add_test(tc, test_default_yaml);
    tcase_add_test(tc, test_full);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_listen_forms);
    tcase_add_test(tc, test_durations_and_sizes);
    tcase_add_test(tc, test_origin_options);
    tcase_add_test(tc, test_groups);
    tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_override);
    tcase_add_test(tc, test_override_groups);
    tcase_add_test(tc, test_load);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fixture_main(suite());
}
