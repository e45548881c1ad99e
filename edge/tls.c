/*
 * edge/tls.c: the TLS contexts (edge/tls.h). The server side follows the listener's profile (Mozilla's
 * "intermediate" unless the operator says otherwise: TLS 1.2 and 1.3, ECDHE, AEAD ciphers only, the client's
 * choice of cipher); the client side verifies an origin's name while OpenSSL verifies its chain, because
 * libh2o 2.2.5 checks the name itself only when a handshake ends with nothing left to send, which is never
 * the case in TLS 1.3.
 *
 * The invariant that is easy to break: a profile is applied by one function, apply_profile(), which both the
 * listener's context and `edgecache check` (edge_tls_profile_check) go through, so what check approves is
 * what the listener serves.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <h2o.h>
#include "edge/tls.h"

/* Mozilla's server-side TLS guidelines 5.7, "intermediate", without the DHE suites (ECDHE is enough for every
 * client that profile supports, and DHE would need parameters of our own) */
#define INTERMEDIATE_CIPHERS                                                                                                       \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                                     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define GROUPS "X25519:prime256v1:secp384r1"

/* The counters of the loop this thread runs: a TLS callback learns nothing else about where it runs, and a
 * connection's handshake happens entirely on the loop that accepted it. */
static __thread reports_counters_t *loop_counters;

void edge_tls_count_into(reports_counters_t *counters)
{
    loop_counters = counters;
}

/* Counts the end of a server handshake: completed (by version, resumed or not), or ended by a fatal alert. The
 * reason of a failure is the alert the server sent (protocol_version), or the error OpenSSL queued before
 * sending it (no shared cipher, which goes out as a generic handshake_failure alert); any other fatal alert,
 * sent or received before the handshake finished, is "other". A client that just hangs up is not counted. */
static void on_info(const SSL *ssl, int where, int ret)
{
    reports_counters_t *c = loop_counters;

    if (c == NULL)
        return;
    if (where & SSL_CB_HANDSHAKE_DONE) {
        ++c->tls_handshakes;
        if (SSL_version(ssl) == TLS1_3_VERSION)
            ++c->tls13_handshakes;
        else
            ++c->tls12_handshakes;
        if (SSL_session_reused(ssl))
            ++c->tls_resumed_handshakes;
    } else if ((where & SSL_CB_ALERT) && (ret >> 8) == SSL3_AL_FATAL && !SSL_is_init_finished(ssl)) {
        if ((where & SSL_CB_WRITE) && (ret & 0xff) == SSL_AD_PROTOCOL_VERSION)
            ++c->tls_failures_protocol_version;
        else if ((where & SSL_CB_WRITE) && ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_NO_SHARED_CIPHER)
            ++c->tls_failures_no_shared_cipher;
        else
            ++c->tls_failures_other;
    }
}

/* Sets the versions, ciphers and groups of listener `l`'s profile on `ctx`; no compression and no
 * renegotiation whatever the profile. Returns the name of the setting OpenSSL refused, NULL when all took. */
static const char *apply_profile(SSL_CTX *ctx, const edge_conf_listen_t *l)
{
    const char *ciphers = INTERMEDIATE_CIPHERS, *suites = TLS13_SUITES, *groups = GROUPS;
    int min = TLS1_2_VERSION, max = TLS1_3_VERSION;

    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    switch (l->tls_profile) {
    case EDGE_CONF_TLS_INTERMEDIATE:
        /* Mozilla: every suite offered is strong, so the client's choice (which knows whether it has AES in
         * hardware) is fine */
        SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
        break;
    case EDGE_CONF_TLS_MODERN:
        min = TLS1_3_VERSION;
        SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
        break;
    case EDGE_CONF_TLS_CUSTOM:
        /* the operator wrote the lists in an order: honour it */
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
        ciphers = l->tls_ciphers;
        suites = l->tls_ciphersuites;
        groups = l->tls_groups;
        if (l->tls_min_version != 0)
            min = l->tls_min_version;
        if (l->tls_max_version != 0)
            max = l->tls_max_version;
        break;
    }
    if (SSL_CTX_set_min_proto_version(ctx, min) != 1 || SSL_CTX_set_max_proto_version(ctx, max) != 1)
        return "min_version/max_version";
    if (ciphers != NULL && SSL_CTX_set_cipher_list(ctx, ciphers) != 1)
        return "ciphers";
    if (suites != NULL && SSL_CTX_set_ciphersuites(ctx, suites) != 1)
        return "ciphersuites";
    if (groups != NULL && SSL_CTX_set1_groups_list(ctx, groups) != 1)
        return "groups";
    return NULL;
}

SSL_CTX *edge_tls_server_new(const edge_conf_listen_t *l, char *err, size_t errlen)
{
    const char *refused = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        goto Fail;
    if ((refused = apply_profile(ctx, l)) != NULL)
        goto Fail;
    if (SSL_CTX_use_certificate_chain_file(ctx, l->tls_certificate) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, l->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        goto Fail;
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    SSL_CTX_set_info_callback(ctx, on_info);
    return ctx;
Fail : {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    snprintf(err, errlen, "TLS for %s:%u (%s, %s): %s%s%s", l->address, l->port, l->tls_certificate, l->tls_key,
             refused != NULL ? refused : "", refused != NULL ? ": " : "", buf);
    if (ctx != NULL)
        SSL_CTX_free(ctx);
    return NULL;
}
}

/* Appends ", name" (or "name" first) to `out`, truncating quietly: a warning is for a human. */
static void append_name(char *out, size_t outlen, const char *name)
{
    size_t len = strlen(out);
    if (len + 1 < outlen)
        snprintf(out + len, outlen - len, "%s%s", len != 0 ? ", " : "", name);
}

int edge_tls_profile_check(const edge_conf_listen_t *l, char *msg, size_t msglen, char *warn, size_t warnlen)
{
    char no_fs[512] = "", not_aead[512] = "";
    const char *refused;
    SSL_CTX *ctx;

    warn[0] = '\0';
    if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
        snprintf(msg, msglen, "cannot create a TLS context");
        return -1;
    }
    if ((refused = apply_profile(ctx, l)) != NULL) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
        snprintf(msg, msglen, "%s: refused by OpenSSL (%s)", refused, buf);
        SSL_CTX_free(ctx);
        return -1;
    }
    /* the TLS 1.2 ciphers matter only when TLS 1.2 can be negotiated; TLS 1.3 suites are all AEAD with (EC)DHE */
    if (SSL_CTX_get_min_proto_version(ctx) <= TLS1_2_VERSION) {
        STACK_OF(SSL_CIPHER) *list = SSL_CTX_get_ciphers(ctx);
        for (int i = 0; i != sk_SSL_CIPHER_num(list); ++i) {
            const SSL_CIPHER *c = sk_SSL_CIPHER_value(list, i);
            int kx = SSL_CIPHER_get_kx_nid(c);
            if (kx == NID_kx_any) /* a TLS 1.3 suite: the key exchange is not part of it */
                continue;
            if (kx != NID_kx_ecdhe && kx != NID_kx_dhe)
                append_name(no_fs, sizeof(no_fs), SSL_CIPHER_get_name(c));
            if (!SSL_CIPHER_is_aead(c))
                append_name(not_aead, sizeof(not_aead), SSL_CIPHER_get_name(c));
        }
    }
    SSL_CTX_free(ctx);
    snprintf(warn, warnlen, "%s%s%s%s%s", no_fs[0] != '\0' ? "ciphers without forward secrecy: " : "", no_fs,
             no_fs[0] != '\0' && not_aead[0] != '\0' ? "\n" : "", not_aead[0] != '\0' ? "CBC ciphers (not AEAD): " : "", not_aead);
    return 0;
}

/* The client TLS context of one https:// server: the system CA store or tls.ca_file, and peer
 * verification unless tls.verify is false. The name (tls.sni, else the server's host) is checked by
 * OpenSSL while it verifies the chain: libh2o 2.2.5 checks it itself only when the handshake ends with
 * nothing left to send, which is never the case in TLS 1.3, so any certificate a trusted CA issued to
 * any host would pass. Hence one context per server. */
SSL_CTX *edge_tls_origin_new(const origin_conf_t *o, const char *server, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        goto Fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (o->tls.verify) {
        h2o_url_t url;
        char host[256];
        if (h2o_url_parse(server, strlen(server), &url) != 0)
            goto Fail;
        if (o->tls.sni != NULL)
            snprintf(host, sizeof(host), "%s", o->tls.sni);
        else
            snprintf(host, sizeof(host), "%.*s", (int)url.host.len, url.host.base);
        X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
        struct in6_addr a6;
        struct in_addr a4;
        bool is_ip = inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
        if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host) : X509_VERIFY_PARAM_set1_host(param, host, 0)) != 1)
            goto Fail;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if ((o->tls.ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, o->tls.ca_file, NULL)
                                    : SSL_CTX_set_default_verify_paths(ctx)) != 1)
            goto Fail;
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
Fail : {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    snprintf(err, errlen, "origin %s: TLS set-up%s%s: %s", o->name, o->tls.ca_file != NULL ? " with " : "",
             o->tls.ca_file != NULL ? o->tls.ca_file : "", buf);
    if (ctx != NULL)
        SSL_CTX_free(ctx);
    return NULL;
}
}
