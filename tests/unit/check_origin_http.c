/*
 * tests/unit/check_origin_http.c: the per-loop HTTP state of an origin (origin/http.c).
 *
 * origin_http_init is run on a loop of the test's own against origins built by hand: the servers' URLs
 * (valid, defaulted ports, IPv6, and every kind of malformed one), https with and without tls.sni, and
 * the error it reports, and the address and TLS name each server resolves to. Nothing connects: a pool
 * opens connections only when asked, and every name looked up is a literal address or a name under
 * .invalid, which never resolves (RFC 6761). The request serialiser is checked byte for byte.
 */
#include "origin/http.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static h2o_loop_t *loop;

static void setup(void)
{
    loop = h2o_evloop_create();
}

static void teardown(void)
{
    h2o_evloop_destroy(loop);
}

static char name_o[] = "o";

static origin_conf_t conf_of(char **servers, size_t n)
{
    return (origin_conf_t){.name = name_o,
                           .servers = servers,
                           .num_servers = n,
                           .connect_timeout_ms = 1500,
                           .connect_attempts = 3,
                           .read_timeout_ms = 2500,
                           .keepalive_timeout_ms = 3500,
                           .tls.verify = true};
}

static void assert_iov(h2o_iovec_t v, const char *want)
{
    ck_assert_msg(v.len == strlen(want) && memcmp(v.base, want, v.len) == 0, "got \"%.*s\", want \"%s\"", (int)v.len, v.base, want);
}

/* The address and TLS name a server resolves to (origin_http_resolve), checked against what is expected. */
static void assert_resolved(const origin_conf_t *conf, size_t i, int family, uint16_t port, bool tls, const char *name)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    bool is_tls = !tls;
    char got_name[256], err[256] = "";
    ck_assert_int_eq(origin_http_resolve(conf, i, &ss, &sl, &is_tls, got_name, sizeof(got_name), err, sizeof(err)), 0);
    ck_assert_int_eq(is_tls, tls);
    ck_assert_str_eq(got_name, name);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
    ck_assert_int_eq(ss.ss_family, family);
    if (family == AF_INET) {
        ck_assert_uint_eq(sl, sizeof(*sin));
        ck_assert_uint_eq(ntohs(sin->sin_port), port);
        ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
    } else {
        ck_assert_uint_eq(sl, sizeof(*sin6));
        ck_assert_uint_eq(ntohs(sin6->sin6_port), port);
        ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
    }
}

/* --- valid servers ------------------------------------------------------------------------------ */

START_TEST(test_http_servers)
{
    char *servers[] = {(char[]){"http://127.0.0.1:8080"}, (char[]){"http://origin.invalid"}, (char[]){"http://[::1]:9090"}};
    origin_conf_t conf = conf_of(servers, 3);
    origin_http_t o;
    char err[256] = "";
    h2o_multithread_receiver_t *receiver = (h2o_multithread_receiver_t *)0x1; /* unused: names are resolved at init */

    ck_assert_int_eq(origin_http_init(&o, loop, receiver, &conf, NULL, err, sizeof(err)), 0);
    ck_assert_str_eq(err, "");
    ck_assert_ptr_eq(o.conf, &conf);
    ck_assert_ptr_eq(o.loop, loop);
    ck_assert_uint_eq(o.num_servers, 3);
    ck_assert_uint_eq(o.cursor, 0);
    ck_assert_uint_eq(o.pool_full, 0);
    ck_assert_uint_eq(o.max_connections, ORIGIN_HTTP_DEFAULT_MAX_CONNECTIONS);
    for (size_t i = 0; i != 3; ++i)
        ck_assert_uint_eq(o.outstanding[i], 0);

    /* the timeouts, one per duration on this loop, that the client runs */
    ck_assert_uint_eq(o.read_timeout.timeout, 2500);
    ck_assert_uint_eq(o.connect_timeout.timeout, 1500);
    ck_assert_uint_eq(o.keepalive_timeout.timeout, 3500);
    ck_assert_uint_eq(o.zero_timeout.timeout, 0);
    ck_assert_ptr_eq(o.client_ctx.loop, loop);
    ck_assert_ptr_eq(o.client_ctx.read_timeout, &o.read_timeout);
    ck_assert_ptr_eq(o.client_ctx.connect_timeout, &o.connect_timeout);
    ck_assert_ptr_eq(o.client_ctx.keepalive_timeout, &o.keepalive_timeout);
    ck_assert_ptr_eq(o.client_ctx.zero_timeout, &o.zero_timeout);

    assert_iov(o.servers[0].authority, "127.0.0.1:8080");
    assert_iov(o.servers[1].authority, "origin.invalid");
    assert_iov(o.servers[2].authority, "[::1]:9090");
    /* a name that does not resolve leaves the server without a pool (its requests fail), not the edge unstarted */
    ck_assert_ptr_nonnull(o.servers[0].pool);
    ck_assert_ptr_null(o.servers[1].pool);
    ck_assert_ptr_nonnull(o.servers[2].pool);
    ck_assert_uint_eq(origin_client_pool_num_connections(o.servers[0].pool), 0); /* nothing connects before a request */
    assert_resolved(&conf, 0, AF_INET, 8080, false, "");
    assert_resolved(&conf, 2, AF_INET6, 9090, false, "");
    origin_http_dispose(&o);
    ck_assert_ptr_null(o.servers);
    ck_assert_ptr_null(o.outstanding);
    ck_assert_uint_eq(o.num_servers, 0);
}
END_TEST

START_TEST(test_no_keepalive)
{
    char *servers[] = {(char[]){"http://127.0.0.1:8080"}};
    origin_conf_t conf = conf_of(servers, 1);
    conf.keepalive_timeout_ms = 0;
    origin_http_t o;
    char err[256] = "";

    ck_assert_int_eq(origin_http_init(&o, loop, NULL, &conf, NULL, err, sizeof(err)), 0);
    ck_assert_ptr_null(o.client_ctx.keepalive_timeout); /* the client then never pools a connection */
    origin_http_dispose(&o);
}
END_TEST

START_TEST(test_https_default_port_and_ssl_ctx)
{
    char *servers[] = {(char[]){"https://[::1]"}, (char[]){"https://127.0.0.1:8443"}};
    origin_conf_t conf = conf_of(servers, 2);
    SSL_CTX *ctxs[2] = {(SSL_CTX *)0x100, (SSL_CTX *)0x200}; /* only stored, never used here */
    origin_http_t o;
    char err[256] = "";

    ck_assert_int_eq(origin_http_init(&o, loop, NULL, &conf, ctxs, err, sizeof(err)), 0);
    ck_assert_uint_eq(o.num_servers, 2);
    assert_iov(o.servers[0].authority, "[::1]");
    ck_assert_ptr_nonnull(o.servers[0].pool);
    ck_assert_ptr_nonnull(o.servers[1].pool);
    /* without tls.sni, the TLS name is the server's host */
    assert_resolved(&conf, 0, AF_INET6, 443, true, "::1");
    assert_resolved(&conf, 1, AF_INET, 8443, true, "127.0.0.1");
    origin_http_dispose(&o);
}
END_TEST

START_TEST(test_https_sni_connects_by_address)
{
    char *servers[] = {(char[]){"https://127.0.0.1:8443"}, (char[]){"https://[::1]"}};
    origin_conf_t conf = conf_of(servers, 2);
    conf.tls.sni = (char[]){"cdn.example.com"};
    origin_http_t o;
    char err[256] = "";

    ck_assert_int_eq(origin_http_init(&o, loop, NULL, &conf, NULL, err, sizeof(err)), 0);
    /* the connection goes to the server's address and names the SNI host (handshake and certificate check) */
    assert_iov(o.servers[0].authority, "127.0.0.1:8443");
    assert_iov(o.servers[1].authority, "[::1]");
    assert_resolved(&conf, 0, AF_INET, 8443, true, "cdn.example.com");
    assert_resolved(&conf, 1, AF_INET6, 443, true, "cdn.example.com");
    origin_http_dispose(&o);
}
END_TEST

START_TEST(test_http_ignores_sni)
{
    char *servers[] = {(char[]){"http://127.0.0.1:8080"}};
    origin_conf_t conf = conf_of(servers, 1);
    conf.tls.sni = (char[]){"cdn.example.com"};
    conf.tls.ca_file = (char[]){"/nonexistent/ca.pem"}; /* TLS settings are for https:// servers only */
    origin_http_t o;
    char err[256] = "";

    ck_assert_int_eq(origin_http_init(&o, loop, NULL, &conf, NULL, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(o.servers[0].pool);
    assert_resolved(&conf, 0, AF_INET, 8080, false, "");
    origin_http_dispose(&o);
}
END_TEST

START_TEST(test_https_verify_and_ca_file_not_used_here)
{
    /* the CA file and verification shape the TLS context (edge/server.c), not the pool: an unreadable
     * ca_file or verify false changes nothing in what origin_http_init builds */
    char *servers[] = {(char[]){"https://127.0.0.1:8443"}};
    origin_conf_t conf = conf_of(servers, 1);
    conf.tls.ca_file = (char[]){"/nonexistent/ca.pem"};
    conf.tls.verify = false;
    origin_http_t o;
    char err[256] = "";

    ck_assert_int_eq(origin_http_init(&o, loop, NULL, &conf, NULL, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(o.servers[0].pool);
    assert_resolved(&conf, 0, AF_INET, 8443, true, "127.0.0.1");
    origin_http_dispose(&o);
}
END_TEST

START_TEST(test_resolve_failure_is_reported)
{
    char *servers[] = {(char[]){"http://nonexistent.invalid:8080"}, (char[]){"http//x"}};
    origin_conf_t conf = conf_of(servers, 2);
    struct sockaddr_storage ss;
    socklen_t sl;
    bool is_tls;
    char name[64], err[256] = "";
    static const char prefix[] = "origin o: cannot resolve nonexistent.invalid: ";

    ck_assert_int_eq(origin_http_resolve(&conf, 0, &ss, &sl, &is_tls, name, sizeof(name), err, sizeof(err)), -2);
    ck_assert_msg(strncmp(err, prefix, sizeof(prefix) - 1) == 0, "err: %s", err);
    ck_assert_int_eq(origin_http_resolve(&conf, 1, &ss, &sl, &is_tls, name, sizeof(name), err, sizeof(err)), -1);
    ck_assert_str_eq(err, "origin o: cannot parse http//x");
}
END_TEST

/* --- invalid servers ---------------------------------------------------------------------------- */

static const char *const bad_urls[] = {
    "not a url", "127.0.0.1:80", "ftp://origin.example", "", "http://", "http://:80", "https://h:99999", "http://h:abc", "HTTP://h",
};

START_TEST(test_bad_url_refused)
{
    char *servers[] = {(char *)bad_urls[_i]};
    origin_conf_t conf = conf_of(servers, 1);
    origin_http_t o;
    char err[256] = "", want[256];

    ck_assert_int_eq(origin_http_init(&o, loop, NULL, &conf, NULL, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "origin o: cannot parse %s", bad_urls[_i]);
    ck_assert_str_eq(err, want);
    /* disposed on failure: nothing left to free */
    ck_assert_ptr_null(o.servers);
    ck_assert_ptr_null(o.outstanding);
    ck_assert_uint_eq(o.num_servers, 0);
}
END_TEST

START_TEST(test_bad_url_after_good_ones)
{
    char *servers[] = {(char[]){"http://127.0.0.1:8001"}, (char[]){"https://127.0.0.1:8002"}, (char[]){"http//127.0.0.1:8003"}};
    origin_conf_t conf = conf_of(servers, 3);
    conf.name = (char[]){"mixed"};
    origin_http_t o;
    char err[256] = "";

    /* the pools made for the first two are freed (ASan's leak check sees it) */
    ck_assert_int_eq(origin_http_init(&o, loop, NULL, &conf, NULL, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "origin mixed: cannot parse http//127.0.0.1:8003");
    ck_assert_uint_eq(o.num_servers, 0);
}
END_TEST

START_TEST(test_sni_host_does_not_resolve)
{
    char *servers[] = {(char[]){"https://127.0.0.1:8443"}, (char[]){"https://nonexistent.invalid:8443"}};
    origin_conf_t conf = conf_of(servers, 2);
    conf.tls.sni = (char[]){"cdn.example.com"};
    origin_http_t o;
    char err[256] = "";
    static const char prefix[] = "origin o: cannot resolve nonexistent.invalid: ";

    ck_assert_int_eq(origin_http_init(&o, loop, NULL, &conf, NULL, err, sizeof(err)), -1);
    ck_assert_msg(strncmp(err, prefix, sizeof(prefix) - 1) == 0 && strlen(err) > sizeof(prefix) - 1, "err: %s", err);
    ck_assert_ptr_null(o.servers);
    ck_assert_uint_eq(o.num_servers, 0);
}
END_TEST

START_TEST(test_error_truncated_to_errlen)
{
    char *servers[] = {(char[]){"nonsense-that-is-long"}};
    origin_conf_t conf = conf_of(servers, 1);
    origin_http_t o;
    char err[16];
    memset(err, 'x', sizeof(err));

    ck_assert_int_eq(origin_http_init(&o, loop, NULL, &conf, NULL, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "origin o: canno");
}
END_TEST

START_TEST(test_no_servers)
{
    origin_conf_t conf = conf_of(NULL, 0);
    origin_http_t o;
    char err[16] = "";
    ck_assert_int_eq(origin_http_init(&o, loop, NULL, &conf, NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(o.num_servers, 0);
    ck_assert_ptr_nonnull(o.outstanding);
    origin_http_dispose(&o);
}
END_TEST

/* --- serialising a request head ----------------------------------------------------------------- */

START_TEST(test_serialize_with_headers_and_length)
{
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    h2o_iovec_t ua = h2o_iovec_init(H2O_STRLIT("user-agent")), xf = h2o_iovec_init(H2O_STRLIT("X-Forwarded-For"));
    h2o_header_t headers[2] = {{.name = &ua, .value = h2o_iovec_init(H2O_STRLIT("curl/8"))},
                               {.name = &xf, .value = h2o_iovec_init(H2O_STRLIT("10.0.0.1"))}};
    h2o_iovec_t out = origin_http_serialize(&pool, h2o_iovec_init(H2O_STRLIT("POST")), h2o_iovec_init(H2O_STRLIT("/a/b?q=1")),
                                            h2o_iovec_init(H2O_STRLIT("origin.example:8080")), headers, 2, 42);
    assert_iov(out, "POST /a/b?q=1 HTTP/1.1\r\nhost: origin.example:8080\r\nuser-agent: curl/8\r\nX-Forwarded-For: 10.0.0.1\r\n"
                    "content-length: 42\r\n\r\n");
    h2o_mem_clear_pool(&pool);
}
END_TEST

START_TEST(test_serialize_without_body)
{
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    h2o_iovec_t out = origin_http_serialize(&pool, h2o_iovec_init(H2O_STRLIT("GET")), h2o_iovec_init(H2O_STRLIT("/")),
                                            h2o_iovec_init(H2O_STRLIT("h")), NULL, 0, SIZE_MAX);
    assert_iov(out, "GET / HTTP/1.1\r\nhost: h\r\n\r\n");
    out = origin_http_serialize(&pool, h2o_iovec_init(H2O_STRLIT("PUT")), h2o_iovec_init(H2O_STRLIT("/x")),
                                h2o_iovec_init(H2O_STRLIT("h")), NULL, 0, 0);
    assert_iov(out, "PUT /x HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n");
    h2o_mem_clear_pool(&pool);
}
END_TEST

START_TEST(test_serialize_largest_length)
{
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    /* the buffer is sized for the longest content-length (ASan would see an overflow) */
    h2o_iovec_t out = origin_http_serialize(&pool, h2o_iovec_init(H2O_STRLIT("PUT")), h2o_iovec_init(H2O_STRLIT("/")),
                                            h2o_iovec_init(H2O_STRLIT("")), NULL, 0, SIZE_MAX - 1);
    assert_iov(out, "PUT / HTTP/1.1\r\nhost: \r\ncontent-length: 18446744073709551614\r\n\r\n");
    h2o_mem_clear_pool(&pool);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("origin_http");
    TCase *tc = tcase_create("init");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_http_servers);
    tcase_add_test(tc, test_https_default_port_and_ssl_ctx);
    tcase_add_test(tc, test_https_sni_connects_by_address);
    tcase_add_test(tc, test_http_ignores_sni);
    tcase_add_test(tc, test_https_verify_and_ca_file_not_used_here);
    tcase_add_test(tc, test_no_keepalive);
    tcase_add_test(tc, test_resolve_failure_is_reported);
    tcase_add_test(tc, test_no_servers);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_bad_url_refused, 0, (int)(sizeof(bad_urls) / sizeof(bad_urls[0])));
    tcase_add_test(tc, test_bad_url_after_good_ones);
    tcase_add_test(tc, test_sni_host_does_not_resolve);
    tcase_add_test(tc, test_error_truncated_to_errlen);
    suite_add_tcase(s, tc);

    tc = tcase_create("serialize");
    tcase_add_test(tc, test_serialize_with_headers_and_length);
    tcase_add_test(tc, test_serialize_without_body);
    tcase_add_test(tc, test_serialize_largest_length);
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
