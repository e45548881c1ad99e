/*
 * edge/server.h: the running server — the event-loop threads, their signals, reload, upgrade and
 * shutdown.
 *
 * The structs it builds (edge_server_t and each loop's edge_thread_t) are declared in edge/thread.h,
 * which the request state machine includes instead of this header.
 */
#ifndef EDGE_SERVER_H
#define EDGE_SERVER_H

#include "edge/config.h"
#include "edge/thread.h"

/**
 * Runs the edge described by `conf` (which it takes over, and disposes of when it returns) until SIGTERM
 * or SIGINT, then lets in-flight responses finish (up to a grace period) and tears everything down.
 * SIGHUP reloads the configuration (and reopens the access log); SIGUSR2 hands the listening sockets and
 * the store over to a new process running the binary again (edge/upgrade.h), then drains. Returns 0 after
 * a clean shutdown or handover, or 1 with a message on stderr when something could not be set up (a port
 * in use, a certificate that does not load, a cache directory locked by another process).
 */
int edge_server_run(edge_conf_t *conf, const edge_server_opts_t *opts);

#endif
