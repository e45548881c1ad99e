/*
 * edge/tls.c: the TLS contexts (edge/tls.h). The server side follows the listener's profile (Mozilla's
 * "intermediate" unless the operator says otherwise: TLS 1.2 and 1.3, ECDHE, AEAD ciphers only, the client's
 * choice of cipher); the client side verifies an origin's name while OpenSSL verifies its chain, because
 * libh2o 2.2.5 checks the name itself only when a handshake ends with nothing left to send, which is never
 * the case in TLS 1.3.
 *
 * The profile itself (versions, ciphers, groups) is edge/tls_profile.c's, which `edgecache check` goes
 * through as well, so what check approves is what the listener serves. Handshakes are counted here, per loop.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <h2o.h>
#include "edge/tls.h"

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

SSL_CTX *edge_tls_server_new(const edge_conf_listen_t *l, char *err, size_t errlen)
{
    const char *refused = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        goto Fail;
    if ((refused = edge_tls_profile_apply(ctx, &l->tls_profile)) != NULL)
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
