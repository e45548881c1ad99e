/*
 * edge/tls.c: the TLS contexts (edge/tls.h). The server side offers TLS 1.2 and 1.3 with the server's
 * cipher order; the client side verifies an origin's name while OpenSSL verifies its chain, because libh2o
 * 2.2.5 checks the name itself only when a handshake ends with nothing left to send, which is never the
 * case in TLS 1.3.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <h2o.h>
#include "edge/tls.h"

SSL_CTX *edge_tls_server_new(const edge_conf_listen_t *l, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        goto Fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, l->tls_certificate) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, l->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        goto Fail;
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
Fail : {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    snprintf(err, errlen, "TLS for %s:%u (%s, %s): %s", l->address, l->port, l->tls_certificate, l->tls_key, buf);
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
