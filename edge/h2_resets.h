/*
 * edge/h2_resets.h: streams an HTTP/2 client resets before their response is complete, counted per
 * connection, and the connections that reset too many closed (CVE-2023-44487, "rapid reset": HEADERS then
 * RST_STREAM, over and over, costs the client nothing and the edge a request and an origin fetch each).
 *
 * Both calls run on the loop that serves `req`, from the request handler (edge/req_fsm.c). The state of a
 * connection is a small block that exists only once the connection has reset a stream early, and is freed
 * when libh2o closes the connection's socket; nothing else holds it.
 */
#ifndef EDGE_H2_RESETS_H
#define EDGE_H2_RESETS_H

#include <stdbool.h>
#include <stdint.h>
#include <h2o.h>
#include "reports/counters.h"

/**
 * Notes that `req` is being disposed; `early` says its response was not complete (the client reset the
 * stream, or closed the connection). Does nothing for a request that is not HTTP/2. Counts an early one in counters->h2_resets;
 * when the connection has now reset more than `limit` streams within `window_ms` (limit 0: no limit), shuts its socket down —
 * libh2o's read path then sees the end of the stream and closes the connection cleanly — and counts counters->h2_abusive_closes.
 */
void edge_h2_resets_note(h2o_req_t *req, bool early, unsigned limit, uint64_t window_ms, reports_counters_t *counters);

/** True when `req` came on an HTTP/2 connection that edge_h2_resets_note is closing: serve it nothing. */
bool edge_h2_resets_closing(h2o_req_t *req);

#endif
