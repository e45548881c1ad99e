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
 * Opens the store, the origins and the listeners described by `conf` and runs the loops until SIGTERM
 * or SIGINT, then lets in-flight responses finish (up to a grace period) and tears everything down.
 * Returns 0 after a clean shutdown, or 1 with a message on stderr when something could not be set up
 * (a port in use, a certificate that does not load, a cache directory locked by another process).
 */
int edge_server_run(const edge_conf_t *conf);

#endif
