/*
 * edge/tls_profile.c: a TLS listener's profile (edge/tls_profile.h) — the versions, ciphers and groups its
 * handshakes accept: Mozilla's "intermediate" unless the operator says otherwise (TLS 1.2 and 1.3, ECDHE, AEAD
 * ciphers only, the client's choice of cipher), "modern" (TLS 1.3 only) or the operator's own lists.
 *
 * The invariant that is easy to break: a profile is applied by one function, edge_tls_profile_apply(), which
 * both the listener's context (edge/tls.c) and the configuration's check go through, so what `edgecache
 * check` approves is what the listener serves.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "edge/tls_profile.h"

/* Mozilla's server-side TLS guidelines 5.7, "intermediate", without the DHE suites (ECDHE is enough for every
 * client that profile supports, and DHE would need parameters of our own) */
#define INTERMEDIATE_CIPHERS                                                                                                       \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                                     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define GROUPS "X25519:prime256v1:secp384r1"

const char *edge_tls_profile_apply(SSL_CTX *ctx, const edge_tls_profile_t *p)
{
    const char *ciphers = INTERMEDIATE_CIPHERS, *suites = TLS13_SUITES, *groups = GROUPS;
    int min = TLS1_2_VERSION, max = TLS1_3_VERSION;

    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    switch (p->kind) {
    case EDGE_TLS_PROFILE_INTERMEDIATE:
        /* Mozilla: every suite offered is strong, so the client's choice (which knows whether it has AES in
         * hardware) is fine */
        SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
        break;
    case EDGE_TLS_PROFILE_MODERN:
        min = TLS1_3_VERSION;
        SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
        break;
    case EDGE_TLS_PROFILE_CUSTOM:
        /* the operator wrote the lists in an order: honour it */
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
        ciphers = p->ciphers;
        suites = p->ciphersuites;
        groups = p->groups;
        if (p->min_version != 0)
            min = p->min_version;
        if (p->max_version != 0)
            max = p->max_version;
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

/* Appends ", name" (or "name" first) to `out`, truncating quietly: a warning is for a human. */
static void append_name(char *out, size_t outlen, const char *name)
{
    size_t len = strlen(out);
    if (len + 1 < outlen)
        snprintf(out + len, outlen - len, "%s%s", len != 0 ? ", " : "", name);
}

int edge_tls_profile_check(const edge_tls_profile_t *p, char *msg, size_t msglen, char *warn, size_t warnlen)
{
    char no_fs[512] = "", not_aead[512] = "";
    const char *refused;
    SSL_CTX *ctx;

    warn[0] = '\0';
    if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
        snprintf(msg, msglen, "cannot create a TLS context");
        return -1;
    }
    if ((refused = edge_tls_profile_apply(ctx, p)) != NULL) {
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
