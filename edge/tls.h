/*
 * edge/tls.h: the TLS contexts of the edge — the server side of a TLS listener and the client side of an
 * https:// origin server. With cache/key.c (hashing) and edge/tls_profile.c, the only OpenSSL users.
 *
 * A context is built from the configuration when a generation is (edge/gen.h), so a reload re-reads the
 * certificates; OpenSSL counts the references of a context, so a connection that started under the old one
 * keeps it alive after the generation frees it.
 */
#ifndef EDGE_TLS_H
#define EDGE_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>
#include "edge/config.h"
#include "origin/conf.h"
#include "reports/counters.h"

/**
 * The server context of TLS listener `l` of configuration `conf`: its profile (l->tls_profile, edge/tls_profile.h:
 * versions, ciphers, groups; never compression or renegotiation), its default certificate chain and key and those
 * of every site of `conf` with certificates (read now, each checked against its key), chosen by the client's SNI
 * as edge_site_match chooses a site (an unknown or missing SNI: the default, or refused with an unrecognized_name
 * alert under unknown_sni: refuse), ALPN h2 and http/1.1, the process's session ticket keys (edge/tls_tickets.h)
 * and OCSP stapling (edge/tls_ocsp.h) unless conf->tls says not. Nothing it keeps points into `conf`. The caller
 * frees it (SSL_CTX_free). NULL with a message in `err` naming the listener and the file.
 */
SSL_CTX *edge_tls_server_new(const edge_conf_t *conf, const edge_conf_listen_t *l, char *err, size_t errlen);

/**
 * First thing in main(), before anything initialises OpenSSL: turns off OpenSSL's clean-up at exit. The OCSP
 * stapler's thread (edge/tls_ocsp.h) is never joined, since a fetch may take seconds and a stopping edge
 * should not wait for it, so at exit it may be inside OpenSSL; freeing OpenSSL's global state under it would
 * crash the exit. The process's memory goes with it anyway.
 */
void edge_tls_process_init(void);

/**
 * Makes the TLS handshakes of the calling thread's loop count into `counters` (tls_handshakes and the other
 * tls_* counters of reports/counters.h): each loop calls it once, at its start, with its own counters, which
 * then only that loop writes, without a lock. A thread that never calls it counts nothing.
 */
void edge_tls_count_into(reports_counters_t *counters);

/**
 * The client TLS context for `server`, an https:// server of origin `o`: TLS 1.2 at least; with
 * tls.verify, peer verification against tls.ca_file (else the system store) and a check of the name
 * (tls.sni, else the server's host; an IP address is checked as one) during the handshake; without, no
 * verification. The caller frees it (SSL_CTX_free). NULL with a message in `err` when it cannot be made
 * (an unreadable ca_file, a server that is not a URL).
 */
SSL_CTX *edge_tls_origin_new(const origin_conf_t *o, const char *server, char *err, size_t errlen);

#endif
