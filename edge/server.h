/*
 * edge/server.h: the running server — listeners, TLS, one event loop per thread, and shutdown.
 *
 * The structs it builds (edge_server_t and each loop's edge_thread_t) are declared in edge/thread.h,
 * which the request state machine includes instead of this header.
 */
#ifndef EDGE_SERVER_H
#define EDGE_SERVER_H

#include "edge/config.h"
#include "edge/thread.h"

/**
 * The socket address of listener `l` (its numeric IPv4 or IPv6 address and its port). Returns 0, or -1
 * when the address is not numeric. Pure; any thread.
 */
int edge_server_sockaddr(const edge_conf_listen_t *l, struct sockaddr_storage *ss, socklen_t *len);

/**
 * Opens, binds and listens on a non-blocking socket for `l`. With `reuseport` false this is the probe
 * that detects a port already served, even by a process that set SO_REUSEPORT (a forgotten edgecache):
 * the bind fails. Returns the descriptor (the caller closes it), or -1 with a message in `err` that
 * names the address (and, for EADDRINUSE, suggests another edgecache).
 */
int edge_server_listen(const edge_conf_listen_t *l, bool reuseport, char *err, size_t errlen);

/**
 * The client TLS context for `server`, an https:// server of origin `o`: TLS 1.2 at least; with
 * tls.verify, peer verification against tls.ca_file (else the system store) and a check of the name
 * (tls.sni, else the server's host; an IP address is checked as one) during the handshake; without, no
 * verification. The caller frees it (SSL_CTX_free). NULL with a message in `err` when it cannot be made
 * (an unreadable ca_file, a server that is not a URL).
 */
SSL_CTX *edge_server_origin_tls_new(const origin_conf_t *o, const char *server, char *err, size_t errlen);

/**
 * Opens the store, the origins and the listeners described by `conf` and runs the loops until SIGTERM
 * or SIGINT, then lets in-flight responses finish (up to a grace period) and tears everything down.
 * Returns 0 after a clean shutdown, or 1 with a message on stderr when something could not be set up
 * (a port in use, a certificate that does not load, a cache directory locked by another process).
 */
int edge_server_run(const edge_conf_t *conf);

#endif
