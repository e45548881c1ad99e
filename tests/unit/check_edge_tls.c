/*
 * tests/unit/check_edge_tls.c: a listener's TLS as a client meets it, without a socket — handshakes between an
 * OpenSSL client and the context edge_tls_server_new builds, over a BIO pair. The certificate of each site by
 * SNI (edge/tls.c), RSA or ECDSA as the client supports, the default or a refusal for an unknown name; session
 * tickets that one context issues and another (a reload's) accepts, the keys of a file and those handed over
 * (edge/tls_tickets.c); and `edgecache check`'s look at certificates (edge/tls_cert.c). The certificates are
 * made here, by a test CA, in a temporary directory.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "edge/config.h"
#include "edge/tls.h"
#include "edge/tls_cert.h"
#include "edge/tls_tickets.h"

static char dir[64];

/* (the certificates are made before the suite runs, where ck_assert cannot report) */
#define NEED(x)                                                                                                                    \
    do {                                                                                                                           \
        if (!(x)) {                                                                                                                \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #x);                                                                \
            exit(2);                                                                                                               \
        }                                                                                                                          \
    } while (0)
static X509 *ca;
static EVP_PKEY *ca_key;

/* --- certificates ------------------------------------------------------------------------------------------ */

static X509 *cert_new(EVP_PKEY *key, const char *cn, const char *san, long days)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), days * 86400);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, ca != NULL ? X509_get_subject_name(ca) : X509_get_subject_name(x));
    if (san != NULL) {
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, ca != NULL ? ca : x, x, NULL, NULL, 0);
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
        NEED(e != NULL);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    NEED(X509_sign(x, ca_key != NULL ? ca_key : key, EVP_sha256()) > 0);
    return x;
}

/* NAME.pem (the certificate, then the CA) and NAME.key in `dir`. */
static void write_pair(const char *name, bool ec, const char *cn, const char *san, long days)
{
    EVP_PKEY *key = ec ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256") : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    X509 *x = cert_new(key, cn, san, days);
    char path[128];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    NEED((fp = fopen(path, "w")) != NULL);
    PEM_write_X509(fp, x);
    PEM_write_X509(fp, ca);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    NEED((fp = fopen(path, "w")) != NULL);
    PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL);
    fclose(fp);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void path_of(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* --- handshakes -------------------------------------------------------------------------------------------- */

typedef struct st_result_t {
    bool ok;
    char cn[64];
    bool reused;
    SSL_SESSION *session; /* the client's, tickets received */
} result_t;

/* A handshake of a client (SNI `sni` or none, signature algorithms `sigalgs` or OpenSSL's, offering `session`)
 * with `server`, then one byte each way so that TLS 1.3 tickets reach the client. */
static result_t handshake(SSL_CTX *server, const char *sni, const char *sigalgs, SSL_SESSION *session)
{
    result_t r = {0};
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL *c = SSL_new(cctx), *s = SSL_new(server);
    BIO *cb, *sb;
    char byte;

    BIO_new_bio_pair(&cb, 0, &sb, 0);
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    if (sni != NULL)
        SSL_set_tlsext_host_name(c, sni);
    if (sigalgs != NULL)
        SSL_set1_sigalgs_list(c, sigalgs);
    if (session != NULL)
        SSL_set_session(c, session);
    for (int i = 0; i != 20 && !r.ok; ++i) {
        int rc = SSL_do_handshake(c), rs = SSL_do_handshake(s);
        if (rc == 1 && rs == 1)
            r.ok = true;
        else if ((rc <= 0 && SSL_get_error(c, rc) == SSL_ERROR_SSL) || (rs <= 0 && SSL_get_error(s, rs) == SSL_ERROR_SSL))
            break;
    }
    if (r.ok) {
        X509 *peer = SSL_get0_peer_certificate(c);
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, r.cn, sizeof(r.cn));
        r.reused = SSL_session_reused(c);
        ck_assert_int_eq(SSL_write(s, "x", 1), 1);
        ck_assert_int_eq(SSL_read(c, &byte, 1), 1);
        r.session = SSL_get1_session(c);
        /* (an SSL freed without a close_notify sent marks its session not resumable) */
        SSL_shutdown(c);
        SSL_shutdown(s);
    }
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cctx);
    return r;
}

static SSL_CTX *server_new(edge_conf_t *conf, const char *unknown_sni)
{
    char yaml[2048], err[EDGE_CONF_ERRLEN];
    snprintf(yaml, sizeof(yaml),
             "listen: [{address: 127.0.0.1, port: 443, tls: {certificate: default.pem, key: default.key, unknown_sni: %s}}]\n"
             "sites:\n"
             "  - {name: a, hosts: [a.example], origin: http://o,\n"
             "     tls: {certificates: [{certificate: a-rsa.pem, key: a-rsa.key}, {certificate: a-ec.pem, key: a-ec.key}]}}\n"
             "  - {name: b, hosts: [\"*.b.example\"], origin: http://o, tls: {certificates: [{certificate: b.pem, key: b.key}]}}\n"
             "  - {name: c, hosts: [c.example], origin: http://o}\n",
             unknown_sni);
    ck_assert_msg(edge_config_parse(conf, "t.yaml", dir, yaml, strlen(yaml), err) == 0, "%s", err);
    SSL_CTX *ctx = edge_tls_server_new(conf, &conf->listens[0], err, sizeof(err));
    ck_assert_msg(ctx != NULL, "%s", err);
    return ctx;
}

START_TEST(test_sni_chooses_the_site_certificate)
{
    edge_conf_t conf;
    SSL_CTX *ctx = server_new(&conf, "default");
    static const struct {
        const char *sni, *sigalgs, *cn;
    } cases[] = {
        {"a.example", "rsa_pss_rsae_sha256:rsa_pkcs1_sha256", "a-rsa"},
        {"a.example", "ecdsa_secp256r1_sha256", "a-ec"},
        {"A.Example.", "ecdsa_secp256r1_sha256", "a-ec"},
        {"x.b.example", NULL, "b"},
        {"x.y.b.example", NULL, "b"},
        {"b.example", NULL, "default"}, /* (a wildcard does not cover its own suffix) */
        {"c.example", NULL, "default"}, /* a site without certificates */
        {"unknown.example", NULL, "default"},
        {NULL, NULL, "default"},
    };

    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        result_t r = handshake(ctx, cases[i].sni, cases[i].sigalgs, NULL);
        ck_assert_msg(r.ok, "case %zu: the handshake failed", i);
        ck_assert_msg(strcmp(r.cn, cases[i].cn) == 0, "case %zu (%s): got %s, expected %s", i,
                      cases[i].sni != NULL ? cases[i].sni : "no SNI", r.cn, cases[i].cn);
        SSL_SESSION_free(r.session);
    }
    /* the context no longer needs the configuration: a reload frees it while handshakes go on */
    edge_config_dispose(&conf);
    result_t r = handshake(ctx, "x.b.example", NULL, NULL);
    ck_assert(r.ok);
    ck_assert_str_eq(r.cn, "b");
    SSL_SESSION_free(r.session);
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(test_unknown_sni_refused)
{
    edge_conf_t conf;
    SSL_CTX *ctx = server_new(&conf, "refuse");
    result_t r;

    ck_assert(!handshake(ctx, "unknown.example", NULL, NULL).ok);
    ck_assert(!handshake(ctx, NULL, NULL, NULL).ok);
    r = handshake(ctx, "c.example", NULL, NULL); /* a site's host, without certificates of its own */
    ck_assert(r.ok);
    ck_assert_str_eq(r.cn, "default");
    SSL_SESSION_free(r.session);
    r = handshake(ctx, "a.example", NULL, NULL);
    ck_assert(r.ok);
    SSL_SESSION_free(r.session);
    SSL_CTX_free(ctx);
    edge_config_dispose(&conf);
}
END_TEST

START_TEST(test_tickets_shared_by_contexts_and_handed_over)
{
    edge_conf_t conf1, conf2;
    char err[256], path[128];
    unsigned char keys[EDGE_TLS_TICKET_KEY_LEN * EDGE_TLS_TICKETS_MAX];

    ck_assert_int_eq(edge_tls_tickets_configure(NULL, 3600 * 1000, err, sizeof(err)), 0);
    SSL_CTX *a = server_new(&conf1, "default"), *b = server_new(&conf2, "default");
    result_t first = handshake(a, "a.example", NULL, NULL);
    ck_assert(first.ok && !first.reused);
    ck_assert_ptr_nonnull(first.session);
    result_t again = handshake(a, "a.example", NULL, first.session);
    ck_assert_msg(again.ok && again.reused, "on the same context: ok %d reused %d resumable %d", again.ok, again.reused,
                  SSL_SESSION_is_resumable(first.session));
    SSL_SESSION_free(again.session);
    /* another context (another loop's view, or a reload's) resumes it; so does a site's */
    again = handshake(b, "a.example", NULL, first.session);
    ck_assert(again.ok && again.reused);
    SSL_SESSION_free(again.session);

    /* a handover: the keys exported and imported are the same set */
    size_t n = edge_tls_tickets_export(keys, sizeof(keys));
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(edge_tls_tickets_configure(NULL, 3600 * 1000, err, sizeof(err)), 0); /* (own keys stay) */
    again = handshake(b, "a.example", NULL, first.session);
    ck_assert(again.reused);
    SSL_SESSION_free(again.session);

    /* a key file replaces them: the session is not resumed, a new one is, and own keys do not come back on import */
    path_of(path, sizeof(path), "tickets.key");
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    for (int i = 0; i != 160; ++i)
        fputc(i, fp);
    fclose(fp);
    ck_assert_int_eq(edge_tls_tickets_configure(path, 0, err, sizeof(err)), 0);
    again = handshake(b, "a.example", NULL, first.session);
    ck_assert(again.ok && !again.reused);
    edge_tls_tickets_import(keys, n);
    result_t fromfile = handshake(a, "a.example", NULL, again.session);
    ck_assert(fromfile.reused);
    SSL_SESSION_free(fromfile.session);
    SSL_SESSION_free(again.session);

    /* back to own keys, then the handed-over ones: the first session resumes again */
    ck_assert_int_eq(edge_tls_tickets_configure(NULL, 3600 * 1000, err, sizeof(err)), 0);
    edge_tls_tickets_import(keys, n);
    again = handshake(a, "a.example", NULL, first.session);
    ck_assert(again.reused);
    SSL_SESSION_free(again.session);

    /* a key file of the wrong size is refused, the keys unchanged */
    fp = fopen(path, "w");
    fputs("short", fp);
    fclose(fp);
    ck_assert_int_eq(edge_tls_tickets_configure(path, 0, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "expected 1 to 16 keys of 80 bytes, found 5 bytes") != NULL, "%s", err);
    again = handshake(a, "a.example", NULL, first.session);
    ck_assert(again.reused);
    SSL_SESSION_free(again.session);

    SSL_SESSION_free(first.session);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    edge_config_dispose(&conf1);
    edge_config_dispose(&conf2);
}
END_TEST

START_TEST(test_tickets_rotate)
{
    edge_conf_t conf;
    char err[256];
    unsigned char keys[EDGE_TLS_TICKET_KEY_LEN * EDGE_TLS_TICKETS_MAX];

    /* a period of 1 s (the configuration's minimum is a minute: the function takes any): a sleep of more than
     * the period is what makes the next ticket rotate the key, whatever the machine's load; a handshake is far
     * shorter than the period, so none sees two rotations */
    ck_assert_int_eq(edge_tls_tickets_configure(NULL, 1000, err, sizeof(err)), 0);
    SSL_CTX *ctx = server_new(&conf, "default");
    result_t first = handshake(ctx, NULL, NULL, NULL);
    usleep(1100000);
    result_t second = handshake(ctx, NULL, NULL, NULL); /* its tickets are made with a new key */
    ck_assert_uint_eq(edge_tls_tickets_export(keys, sizeof(keys)), 2);
    result_t again = handshake(ctx, NULL, NULL, first.session); /* the previous key still decrypts */
    ck_assert(again.reused);
    SSL_SESSION_free(again.session);
    usleep(1100000);
    SSL_SESSION_free(handshake(ctx, NULL, NULL, NULL).session); /* a second rotation: the first key is gone */
    again = handshake(ctx, NULL, NULL, first.session);
    ck_assert(again.ok && !again.reused);
    SSL_SESSION_free(again.session);
    SSL_SESSION_free(first.session);
    SSL_SESSION_free(second.session);
    SSL_CTX_free(ctx);
    edge_config_dispose(&conf);
}
END_TEST

/* --- check's findings -------------------------------------------------------------------------------------- */

START_TEST(test_cert_check)
{
    char cert[128], key[128], other[128], msg[512];
    time_t not_after;
    char *exact[] = {(char[]){"a.example"}}, *wild[] = {(char[]){"*.b.example"}};
    char *sub[] = {(char[]){"x.b.example"}, (char[]){"y.b.example"}}, *ip[] = {(char[]){"[::1]"}};

    path_of(cert, sizeof(cert), "a-ec.pem");
    path_of(key, sizeof(key), "a-ec.key");
    path_of(other, sizeof(other), "b.key");
    ck_assert_int_eq(edge_tls_cert_check(cert, key, exact, 1, &not_after, msg, sizeof(msg)), 0);
    ck_assert(not_after > time(NULL) + 3600 && not_after <= time(NULL) + 86400 + 60);
    ck_assert_int_eq(edge_tls_cert_check(cert, other, NULL, 0, &not_after, msg, sizeof(msg)), -1);
    ck_assert_msg(strstr(msg, "does not match key") != NULL, "%s", msg);
    ck_assert_int_eq(edge_tls_cert_check(cert, key, wild, 1, &not_after, msg, sizeof(msg)), -1);
    ck_assert_msg(strstr(msg, "does not cover host *.b.example") != NULL, "%s", msg);

    path_of(cert, sizeof(cert), "b.pem");
    path_of(key, sizeof(key), "b.key");
    ck_assert_int_eq(edge_tls_cert_check(cert, key, wild, 1, &not_after, msg, sizeof(msg)), 0);
    ck_assert_int_eq(edge_tls_cert_check(cert, key, sub, 2, &not_after, msg, sizeof(msg)), 0);
    ck_assert_int_eq(edge_tls_cert_check(cert, key, exact, 1, &not_after, msg, sizeof(msg)), -1);
    ck_assert_int_eq(edge_tls_cert_check(cert, key, ip, 1, &not_after, msg, sizeof(msg)), -1);

    /* the subject's CN alone covers nothing */
    path_of(cert, sizeof(cert), "cn-only.pem");
    path_of(key, sizeof(key), "cn-only.key");
    ck_assert_int_eq(edge_tls_cert_check(cert, key, exact, 1, &not_after, msg, sizeof(msg)), -1);
    path_of(cert, sizeof(cert), "nope.pem");
    ck_assert_int_eq(edge_tls_cert_check(cert, key, NULL, 0, &not_after, msg, sizeof(msg)), -1);
    ck_assert_msg(strstr(msg, "not a PEM certificate") != NULL, "%s", msg);
}
END_TEST

START_TEST(test_cert_check_all)
{
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN], out[2048];
    size_t warnings;
    static const char yaml[] =
        "listen: [{address: 127.0.0.1, port: 443, tls: {certificate: default.pem, key: default.key}}]\n"
        "sites:\n"
        "  - {name: a, hosts: [a.example], origin: http://o,\n"
        "     tls: {certificates: [{certificate: long.pem, key: long.key}]}}\n"
        "  - {name: b, hosts: [b.example], origin: http://o, tls: {certificates: [{certificate: b.pem, key: b.key}]}}\n";

    ck_assert_msg(edge_config_parse(&conf, "t.yaml", dir, yaml, strlen(yaml), err) == 0, "%s", err);
    /* default.pem and b.pem end within a day: warned about; long.pem has a year; b.pem does not cover b.example */
    ck_assert_uint_eq(edge_tls_cert_check_all(&conf, time(NULL), out, sizeof(out), &warnings), 1);
    ck_assert_uint_eq(warnings, 1);
    ck_assert_msg(strstr(out, "t.yaml: warning: listen 127.0.0.1 port 443: tls: certificate ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "default.pem expires in ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "t.yaml: error: site \"b\": tls: certificate ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "b.pem does not cover host b.example") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "long.pem") == NULL, "%s", out);
    /* in three days, the short ones have expired: errors */
    ck_assert_uint_eq(edge_tls_cert_check_all(&conf, time(NULL) + 3 * 86400, out, sizeof(out), &warnings), 2);
    ck_assert_msg(strstr(out, "default.pem has expired") != NULL, "%s", out);
    edge_config_dispose(&conf);
}
END_TEST

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(void)
{
    Suite *s = suite_create("edge_tls");
    TCase *tc = tcase_create("tls");
    SRunner *sr;
    int failed;

    strcpy(dir, "/tmp/check_edge_tls.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return 2;
    ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ca = cert_new(ca_key, "test CA", NULL, 2); /* (self-signed: ca is still NULL) */
    write_pair("default", true, "default", "DNS:default.example", 1);
    write_pair("a-rsa", false, "a-rsa", "DNS:a.example", 1);
    write_pair("a-ec", true, "a-ec", "DNS:a.example", 1);
    write_pair("b", true, "b", "DNS:*.b.example", 1);
    write_pair("long", true, "long", "DNS:a.example", 365);
    write_pair("cn-only", true, "a.example", NULL, 1);

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sni_chooses_the_site_certificate);
    tcase_add_test(tc, test_unknown_sni_refused);
    tcase_add_test(tc, test_tickets_shared_by_contexts_and_handed_over);
    tcase_add_test(tc, test_tickets_rotate);
    tcase_add_test(tc, test_cert_check);
    tcase_add_test(tc, test_cert_check_all);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed == 0 ? 0 : 1;
}
