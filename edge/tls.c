/*
 * edge/tls.c: the TLS contexts (edge/tls.h). The server side follows the listener's profile (Mozilla's
 * "intermediate" unless the operator says otherwise: TLS 1.2 and 1.3, ECDHE, AEAD ciphers only, the client's
 * choice of cipher); the client side verifies an origin's name while OpenSSL verifies its chain, because
 * libh2o 2.2.5 checks the name itself only when a handshake ends with nothing left to send, which is never
 * the case in TLS 1.3.
 *
 * The profile itself (versions, ciphers, groups) is edge/tls_profile.c's, which `edgecache check` goes
 * through as well, so what check approves is what the listener serves. Handshakes are counted here, per loop.
 *
 * A listener's context holds its default certificate and, through a map it owns, one context per site with
 * certificates, each with the listener's profile; the servername callback moves a handshake to its site's
 * context. The invariant that is easy to break: every one of those contexts counts, issues tickets and staples
 * alike, since OpenSSL takes the ALPN, info and status callbacks from the context a handshake ends on, and the
 * ticket callback from the one it started on.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <h2o.h>
#include "edge/site.h"
#include "edge/tls.h"
#include "edge/tls_ocsp.h"
#include "edge/tls_tickets.h"

/* The counters of the loop this thread runs: a TLS callback learns nothing else about where it runs, and a
 * connection's handshake happens entirely on the loop that accepted it. */
static __thread reports_counters_t *loop_counters;

void edge_tls_process_init(void)
{
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
}

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
        else if ((where & SSL_CB_WRITE) && (ret & 0xff) == SSL_AD_UNRECOGNIZED_NAME)
            ++c->tls_failures_unknown_sni;
        else if ((where & SSL_CB_WRITE) && ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_NO_SHARED_CIPHER)
            ++c->tls_failures_no_shared_cipher;
        else
            ++c->tls_failures_other;
    }
}

/* --- the choice of a certificate by SNI --------------------------------------------------------------------- */

/* What a listener's context knows of the sites, owned by the context (ex_data, freed with it): a handshake may
 * still be running on a context after the generation that built it is gone. */
typedef struct st_sni_map_t {
    bool any_host; /* a file without sites: every name is the one site's */
    bool refuse;   /* unknown_sni: refuse */
    size_t num;
    struct {
        char *host;   /* a site's pattern */
        SSL_CTX *ctx; /* its site's context; NULL: the listener's (a site without certificates) */
    } * hosts;
    size_t num_ctxs;
    SSL_CTX **ctxs; /* the references */
} sni_map_t;

static int sni_index = -1;
static pthread_once_t sni_once = PTHREAD_ONCE_INIT;

static void sni_map_free(sni_map_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i != m->num; ++i)
        free(m->hosts[i].host);
    free(m->hosts);
    for (size_t i = 0; i != m->num_ctxs; ++i)
        SSL_CTX_free(m->ctxs[i]);
    free(m->ctxs);
    free(m);
}

static void on_ctx_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    sni_map_free(ptr);
}

static void sni_init(void)
{
    sni_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, on_ctx_free);
}

/* The servername callback (called for every client hello, with SNI or without): moves the handshake to the
 * context of the site the name belongs to, as edge_site_match would choose it (exact, then the longest
 * wildcard); a name no site claims, or none, keeps the listener's default certificate, or is refused. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    const sni_map_t *m = arg;
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    char name[256];
    size_t len = 0, best = 0;
    SSL_CTX *ctx = NULL;
    bool known = m->any_host && sni != NULL;

    if (sni != NULL && !m->any_host) {
        for (; sni[len] != '\0' && len < sizeof(name) - 1; ++len)
            name[len] = (char)(sni[len] >= 'A' && sni[len] <= 'Z' ? sni[len] - 'A' + 'a' : sni[len]);
        if (len != 0 && name[len - 1] == '.')
            --len;
        for (size_t i = 0; i != m->num; ++i) {
            size_t score = edge_site_host_score(m->hosts[i].host, name, len);
            if (score > best) {
                best = score;
                ctx = m->hosts[i].ctx;
                known = true;
            }
        }
    }
    if (!known && m->refuse) {
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (ctx != NULL && SSL_set_SSL_CTX(ssl, ctx) == NULL) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* --- the contexts ------------------------------------------------------------------------------------------ */

/* A server context with the listener's profile, its certificate/key pairs (RSA and ECDSA side by side: OpenSSL
 * keeps one of each key type and serves what the client supports), ALPN, the counting, the process's ticket
 * keys and OCSP stapling. NULL with the refused setting in *refused or OpenSSL's reason on the error queue. */
static SSL_CTX *ctx_new(const edge_conf_t *conf, const edge_conf_listen_t *l, const edge_conf_cert_t *certs, size_t num_certs,
                        const char **refused, const edge_conf_cert_t **failed)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return NULL;
    if ((*refused = edge_tls_profile_apply(ctx, &l->tls_profile)) != NULL)
        goto Fail;
    for (size_t i = 0; i != num_certs; ++i) {
        *failed = &certs[i];
        if (SSL_CTX_use_certificate_chain_file(ctx, certs[i].certificate) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, certs[i].key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
            goto Fail;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    SSL_CTX_set_info_callback(ctx, on_info);
    edge_tls_tickets_attach(ctx);
    if (conf->tls.ocsp_stapling)
        edge_tls_ocsp_staple(ctx);
    return ctx;
Fail:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *edge_tls_server_new(const edge_conf_t *conf, const edge_conf_listen_t *l, char *err, size_t errlen)
{
    const char *refused = NULL;
    const edge_conf_cert_t dflt = {.certificate = l->tls_certificate, .key = l->tls_key}, *failed = &dflt;
    sni_map_t *m = calloc(1, sizeof(*m));
    SSL_CTX *ctx = NULL;
    size_t num_hosts = 0;

    pthread_once(&sni_once, sni_init);
    if (m == NULL)
        goto Fail;
    for (size_t i = 0; i != conf->num_sites; ++i)
        num_hosts += conf->sites[i].num_hosts;
    m->any_host = conf->num_sites == 1 && conf->sites[0].any_host;
    m->refuse = l->tls_refuse_unknown_sni;
    if ((m->hosts = calloc(num_hosts + 1, sizeof(*m->hosts))) == NULL ||
        (m->ctxs = calloc(conf->num_sites + 1, sizeof(*m->ctxs))) == NULL)
        goto Fail;
    /* each site with certificates: a context of its own, with the listener's profile */
    for (size_t i = 0; i != conf->num_sites; ++i) {
        const edge_conf_site_t *s = &conf->sites[i];
        SSL_CTX *site_ctx = NULL;
        if (s->num_certs != 0) {
            if ((site_ctx = ctx_new(conf, l, s->certs, s->num_certs, &refused, &failed)) == NULL)
                goto Fail;
            m->ctxs[m->num_ctxs++] = site_ctx;
        }
        for (size_t j = 0; j != s->num_hosts; ++j) {
            if ((m->hosts[m->num].host = strdup(s->hosts[j])) == NULL)
                goto Fail;
            m->hosts[m->num++].ctx = site_ctx;
        }
    }
    if ((ctx = ctx_new(conf, l, &dflt, 1, &refused, &failed)) == NULL)
        goto Fail;
    SSL_CTX_set_ex_data(ctx, sni_index, m);
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx, m);
    return ctx;
Fail : {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    snprintf(err, errlen, "TLS for %s:%u (%s, %s): %s%s%s", l->address, l->port, failed->certificate, failed->key,
             refused != NULL ? refused : "", refused != NULL ? ": " : "", buf);
    sni_map_free(m);
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
