/*
 * edge/tls_ocsp.h: OCSP stapling — each listener certificate's OCSP response, fetched off the event loops by a
 * thread of its own, kept on disk across restarts, refreshed before its nextUpdate and stapled to a handshake
 * only while it is valid (never a stale one: a client that requires a staple, for a must-staple certificate,
 * refuses a stale one anyway, and every other client does without).
 *
 * A certificate is asked about at the URL of its Authority Information Access (or at tls.ocsp.responder), about
 * itself and the issuer that follows it in its chain file; a certificate without either is not stapled.
 * Responses are checked as a client would: signed by the issuer or a responder it delegated to, about this
 * certificate, and current (OCSP_check_validity).
 */
#ifndef EDGE_TLS_OCSP_H
#define EDGE_TLS_OCSP_H

#include <stdbool.h>
#include <openssl/ssl.h>

/**
 * The settings of the stapler, at start and at every reload: `enabled` (false: nothing new is fetched or
 * stapled), `responder` (NULL: each certificate's own URL; an http:// URL) and `cache_dir` (made when first
 * written). Copies what it keeps. Main thread (or the reload's).
 */
void edge_tls_ocsp_configure(bool enabled, const char *responder, const char *cache_dir);

/**
 * Staples OCSP responses on the handshakes of `ctx` for every certificate loaded into it, each asked about from
 * now on (its response on disk, if valid, is used at once; the stapler thread starts at the first call). A
 * certificate without an issuer in its chain, or without a responder, is skipped (and said so in the debug
 * log). The certificate keeps its response for as long as it lives; a renewed one is a new certificate. Main
 * thread (or the reload's); `ctx` not yet shared.
 */
void edge_tls_ocsp_staple(SSL_CTX *ctx);

#endif
