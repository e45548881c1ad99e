/*
 * tests/unit/check_edge_server.c: the parts of edge/listeners.c and edge/tls.c that need no running server.
 *
 * A listener's socket address (numeric IPv4 and IPv6 only); the listening socket and its probe, which
 * must refuse a port that another process already serves, even one that set SO_REUSEPORT as a second
 * edgecache would (the test holds such a port itself, on the loopback, and never accepts); and the
 * client TLS context of an https:// origin server: peer verification, the name checked (the server's
 * host, tls.sni, or an IP address), tls.ca_file, and the errors. No loop runs and nothing connects.
 */
#include "edge/listeners.h"
#include "edge/tls.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* --- the socket address ------------------------------------------------------------------------- */

START_TEST(test_sockaddr_ipv4)
{
    edge_conf_listen_t l = {.address = (char[]){"127.0.0.1"}, .port = 8080};
    struct sockaddr_storage ss;
    socklen_t len = 0;
    ck_assert_int_eq(edge_listeners_sockaddr(&l, &ss, &len), 0);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    ck_assert_int_eq(sin->sin_family, AF_INET);
    ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
    ck_assert_uint_eq(ntohs(sin->sin_port), 8080);
    ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);

    l.address = (char[]){"0.0.0.0"};
    l.port = 0;
    ck_assert_int_eq(edge_listeners_sockaddr(&l, &ss, &len), 0);
    ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), INADDR_ANY);
    ck_assert_uint_eq(ntohs(sin->sin_port), 0);
}
END_TEST

START_TEST(test_sockaddr_ipv6)
{
    edge_conf_listen_t l = {.address = (char[]){"::1"}, .port = 65535};
    struct sockaddr_storage ss;
    socklen_t len = 0;
    ck_assert_int_eq(edge_listeners_sockaddr(&l, &ss, &len), 0);
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    ck_assert_int_eq(sin6->sin6_family, AF_INET6);
    ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
    ck_assert_uint_eq(ntohs(sin6->sin6_port), 65535);
    ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
    l.address = (char[]){"::"};
    ck_assert_int_eq(edge_listeners_sockaddr(&l, &ss, &len), 0);
    ck_assert(IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));
}
END_TEST

static const char *const bad_addresses[] = {"localhost",  "",           "1.2.3",        "256.0.0.1", "[::1]",
                                            "127.0.0.1 ", " 127.0.0.1", "127.0.0.1:80", "::1%lo",    "x::1"};

START_TEST(test_sockaddr_not_numeric)
{
    edge_conf_listen_t l = {.address = (char *)bad_addresses[_i], .port = 80};
    struct sockaddr_storage ss;
    socklen_t len = 0;
    ck_assert_msg(edge_listeners_sockaddr(&l, &ss, &len) == -1, "\"%s\" was taken as an address", bad_addresses[_i]);
}
END_TEST

/* --- the listener and its probe ----------------------------------------------------------------- */

/* A socket listening on 127.0.0.1 at a port the kernel picks, as another process would hold it. */
static int hold_port(bool reuseport, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    ck_assert_int_ge(fd, 0);
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

START_TEST(test_listen_port_in_use)
{
    uint16_t port;
    int held = hold_port(false, &port);
    edge_conf_listen_t l = {.address = (char[]){"127.0.0.1"}, .port = port};
    char err[256] = "", want[256];

    ck_assert_int_eq(edge_listeners_bind(&l, false, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "listen 127.0.0.1:%u: %s (is another edgecache running on this port?)", port,
             strerror(EADDRINUSE));
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(edge_listeners_bind(&l, true, err, sizeof(err)), -1);
    close(held);
}
END_TEST

START_TEST(test_listen_probe_sees_reuseport_holder)
{
    /* another edgecache holds the port with SO_REUSEPORT: a listener of ours with SO_REUSEPORT would
     * silently share it, which is why the probe binds without */
    uint16_t port;
    int held = hold_port(true, &port);
    edge_conf_listen_t l = {.address = (char[]){"127.0.0.1"}, .port = port};
    char err[256] = "";

    int shared = edge_listeners_bind(&l, true, err, sizeof(err));
    ck_assert_msg(shared >= 0, "SO_REUSEPORT shares the port: %s", err);
    close(shared);
    ck_assert_int_eq(edge_listeners_bind(&l, false, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "(is another edgecache running on this port?)") != NULL, "%s", err);
    close(held);
}
END_TEST

START_TEST(test_listen_free_port_then_loops)
{
    /* a free port: the probe binds (and is closed); then every loop binds its own with SO_REUSEPORT, and
     * from then on a probe, as a second edgecache would run it, fails */
    edge_conf_listen_t l = {.address = (char[]){"127.0.0.1"}, .port = 0};
    char err[256] = "";
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    int probe = edge_listeners_bind(&l, false, err, sizeof(err));
    ck_assert_msg(probe >= 0, "%s", err);
    close(probe);
    int a = edge_listeners_bind(&l, true, err, sizeof(err));
    ck_assert_msg(a >= 0, "%s", err);
    ck_assert_int_eq(getsockname(a, (struct sockaddr *)&sin, &len), 0);
    l.port = ntohs(sin.sin_port);
    int b = edge_listeners_bind(&l, true, err, sizeof(err));
    ck_assert_msg(b >= 0, "a second loop shares the port: %s", err);
    int flags = fcntl(a, F_GETFL), fdflags = fcntl(a, F_GETFD);
    ck_assert_msg((flags & O_NONBLOCK) != 0 && (fdflags & FD_CLOEXEC) != 0, "non-blocking, close-on-exec");
    ck_assert_int_eq(edge_listeners_bind(&l, false, err, sizeof(err)), -1);
    close(a);
    close(b);
}
END_TEST

START_TEST(test_listen_not_numeric)
{
    edge_conf_listen_t l = {.address = (char[]){"localhost"}, .port = 80};
    char err[256] = "";
    ck_assert_int_eq(edge_listeners_bind(&l, false, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "listen localhost:80: not a numeric address");
}
END_TEST

/* --- the client TLS of an https:// origin ------------------------------------------------------- */

static char name_o[] = "o";

static origin_conf_t tls_conf(void)
{
    return (origin_conf_t){.name = name_o, .tls.verify = true};
}

START_TEST(test_tls_verify_server_host)
{
    origin_conf_t o = tls_conf();
    char err[512] = "";
    SSL_CTX *ctx = edge_tls_origin_new(&o, "https://secure.example:8443", err, sizeof(err));
    ck_assert_msg(ctx != NULL, "%s", err);
    ck_assert_int_eq(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
    ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
    ck_assert_str_eq(X509_VERIFY_PARAM_get0_host(param, 0), "secure.example");
    ck_assert_ptr_null(X509_VERIFY_PARAM_get0_host(param, 1));
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(test_tls_verify_sni_name)
{
    origin_conf_t o = tls_conf();
    o.tls.sni = (char[]){"cdn.example.com"};
    char err[512] = "";
    SSL_CTX *ctx = edge_tls_origin_new(&o, "https://127.0.0.1:8443", err, sizeof(err));
    ck_assert_msg(ctx != NULL, "%s", err);
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
    ck_assert_msg(strcmp(X509_VERIFY_PARAM_get0_host(param, 0), "cdn.example.com") == 0, "the certificate must name the SNI host");
    char *ip = X509_VERIFY_PARAM_get1_ip_asc(param);
    ck_assert_ptr_null(ip);
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(test_tls_verify_ip_address)
{
    origin_conf_t o = tls_conf();
    char err[512] = "";
    SSL_CTX *ctx = edge_tls_origin_new(&o, "https://127.0.0.1:8443", err, sizeof(err));
    ck_assert_msg(ctx != NULL, "%s", err);
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
    char *ip = X509_VERIFY_PARAM_get1_ip_asc(param);
    ck_assert_msg(ip != NULL && strcmp(ip, "127.0.0.1") == 0, "an IP server is checked as an IP SAN, got %s", ip);
    ck_assert_ptr_null(X509_VERIFY_PARAM_get0_host(param, 0));
    OPENSSL_free(ip);
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(test_tls_no_verify)
{
    origin_conf_t o = tls_conf();
    o.tls.verify = false;
    o.tls.ca_file = (char[]){"/nonexistent/ca.pem"}; /* not read without verification */
    char err[512] = "";
    SSL_CTX *ctx = edge_tls_origin_new(&o, "https://secure.example", err, sizeof(err));
    ck_assert_msg(ctx != NULL, "%s", err);
    ck_assert_int_eq(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
    ck_assert_ptr_null(X509_VERIFY_PARAM_get0_host(SSL_CTX_get0_param(ctx), 0));
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(test_tls_ca_file)
{
    static const char bundle[] = "/etc/ssl/certs/ca-certificates.crt";
    if (access(bundle, R_OK) != 0)
        return; /* no PEM bundle on this machine to load */
    origin_conf_t o = tls_conf();
    o.tls.ca_file = (char *)bundle;
    char err[512] = "";
    SSL_CTX *ctx = edge_tls_origin_new(&o, "https://secure.example", err, sizeof(err));
    ck_assert_msg(ctx != NULL, "%s", err);
    ck_assert_int_eq(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(test_tls_ca_file_missing)
{
    origin_conf_t o = tls_conf();
    o.tls.ca_file = (char[]){"/nonexistent/ca.pem"};
    char err[512] = "";
    static const char prefix[] = "origin o: TLS set-up with /nonexistent/ca.pem: ";
    ck_assert_ptr_null(edge_tls_origin_new(&o, "https://secure.example", err, sizeof(err)));
    ck_assert_msg(strncmp(err, prefix, sizeof(prefix) - 1) == 0 && strlen(err) > sizeof(prefix) - 1, "%s", err);
}
END_TEST

START_TEST(test_tls_bad_server_url)
{
    origin_conf_t o = tls_conf();
    char err[512] = "";
    static const char prefix[] = "origin o: TLS set-up: ";
    ck_assert_ptr_null(edge_tls_origin_new(&o, "https//not-a-url", err, sizeof(err)));
    ck_assert_msg(strncmp(err, prefix, sizeof(prefix) - 1) == 0, "%s", err);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("edge_server");
    TCase *tc = tcase_create("sockaddr");
    tcase_add_test(tc, test_sockaddr_ipv4);
    tcase_add_test(tc, test_sockaddr_ipv6);
    tcase_add_loop_test(tc, test_sockaddr_not_numeric, 0, (int)(sizeof(bad_addresses) / sizeof(bad_addresses[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("listen");
    tcase_add_test(tc, test_listen_port_in_use);
    tcase_add_test(tc, test_listen_probe_sees_reuseport_holder);
    tcase_add_test(tc, test_listen_free_port_then_loops);
    tcase_add_test(tc, test_listen_not_numeric);
    suite_add_tcase(s, tc);

    tc = tcase_create("origin_tls");
    tcase_add_test(tc, test_tls_verify_server_host);
    tcase_add_test(tc, test_tls_verify_sni_name);
    tcase_add_test(tc, test_tls_verify_ip_address);
    tcase_add_test(tc, test_tls_no_verify);
    tcase_add_test(tc, test_tls_ca_file);
    tcase_add_test(tc, test_tls_ca_file_missing);
    tcase_add_test(tc, test_tls_bad_server_url);
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
