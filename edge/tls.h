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
 * The server context of TLS listener `l`: its profile (l->tls_profile, edge/tls_profile.h: versions, ciphers, groups; never
 * compression or renegotiation), the certificate chain and key read now (and checked to match), ALPN h2 and
 * http/1.1. The caller frees it (SSL_CTX_free). NULL with a message in `err` naming the listener and the files.
 */
SSL_CTX *edge_tls_server_new(const edge_conf_listen_t *l, char *err, size_t errlen);

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
