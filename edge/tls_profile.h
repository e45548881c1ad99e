/*
 * edge/tls_profile.h: the TLS profile of a listener — which versions, ciphers and groups its handshakes accept —
 * as the configuration states it (the loader fills edge_tls_profile_t) and as OpenSSL applies it. A leaf: the
 * configuration loader checks a profile through it, and edge/tls.h builds a listener's context with it.
 * Neither this header nor its users need OpenSSL's headers: the context is only named.
 */
#ifndef EDGE_TLS_PROFILE_H
#define EDGE_TLS_PROFILE_H

#include <stddef.h>
#include <stdint.h>

struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

typedef enum en_edge_tls_profile_kind_t {
    EDGE_TLS_PROFILE_INTERMEDIATE, /* Mozilla's "intermediate" (5.7): TLS 1.2 and 1.3, ECDHE with AES-GCM or
                                    * ChaCha20-Poly1305 only, X25519/P-256/P-384, the client's cipher order */
    EDGE_TLS_PROFILE_MODERN,       /* Mozilla's "modern": TLS 1.3 only */
    EDGE_TLS_PROFILE_CUSTOM        /* the lists below, in the server's order */
} edge_tls_profile_kind_t;

typedef struct st_edge_tls_profile_t {
    edge_tls_profile_kind_t kind; /* key "profile", default intermediate */
    /* custom only (NULL: OpenSSL's own default for that setting) */
    char *ciphers;                     /* key "ciphers": the TLS 1.2 cipher list, OpenSSL syntax */
    char *ciphersuites;                /* key "ciphersuites": the TLS 1.3 suites */
    char *groups;                      /* key "groups": the key exchange groups */
    uint16_t min_version, max_version; /* keys "min_version", "max_version": "1.2" or "1.3" as 0x0303 / 0x0304;
                                        * 0: 1.2 and 1.3 */
} edge_tls_profile_t;

/**
 * Sets profile `p` on server context `ctx`, and in every profile no TLS compression and no renegotiation.
 * Returns NULL when OpenSSL took every setting, else the name of the one it refused ("ciphers", "groups", ...)
 * with OpenSSL's reason on the thread's error queue. Any thread; `ctx` not yet shared.
 */
const char *edge_tls_profile_apply(struct ssl_ctx_st *ctx, const edge_tls_profile_t *p);

/**
 * Applies profile `p` to a throwaway context. 0 when OpenSSL takes every setting, with the weaknesses of the TLS
 * 1.2 cipher list (only when TLS 1.2 can be negotiated) in `warn`: "" when none, otherwise lines separated by
 * '\n' naming the ciphers without forward secrecy, then the CBC ones. -1 with the refused setting and OpenSSL's
 * reason in `msg` (a cipher list that matches nothing, an unknown group). Any thread; reads `p` only.
 */
int edge_tls_profile_check(const edge_tls_profile_t *p, char *msg, size_t msglen, char *warn, size_t warnlen);

#endif
