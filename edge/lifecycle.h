/*
 * edge/lifecycle.h: what an operator does to a running edge — reload its configuration, put it in drain —
 * and what a health checker asks of it.
 *
 * A reload reads the file again (with the command line's overrides), builds a generation (edge/gen.h)
 * beside the running one and publishes it; requests that started before finish under the old one. A file
 * that does not validate, or a certificate that does not load, is refused with the same message `edgecache
 * check` prints, and the running configuration stays. SIGHUP and POST /reload both come here, one at a time.
 *
 * Health is what a load balancer or a DNS health check needs to know: whether to send this edge clients.
 */
#ifndef EDGE_LIFECYCLE_H
#define EDGE_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>
#include "edge/gen.h"

/**
 * Reloads. Returns the new generation's id, or -1 with the reason in `err` ("file:line:col: message" for a
 * file that does not validate). Takes the server's reload lock; blocks for as long as building the
 * generation takes (reading files, opening new listeners): any thread, including the admin loop.
 */
int64_t edge_lifecycle_reload(edge_server_t *s, char *err, size_t errlen);

typedef enum en_edge_health_t {
    EDGE_HEALTH_OK,
    EDGE_HEALTH_DRAINING,     /* POST /drain, SIGTERM, or an upgrade's old process */
    EDGE_HEALTH_STORE,        /* the cache directory cannot be used: every request would go to the origin */
    EDGE_HEALTH_ORIGINS_DOWN, /* every server of every origin is down (by the health checks) */
} edge_health_t;

/** The health of the edge under generation `g`. Any thread. */
edge_health_t edge_lifecycle_health(edge_server_t *s, const edge_gen_t *g);
/** "ok\n", or why not, as the body of /healthz. */
const char *edge_lifecycle_health_text(edge_health_t h);
/**
 * Answers `req` when it is a GET or HEAD of admin.healthz_path on a client listener (200 "ok", or 503 and
 * why; never cached), for load balancers and DNS checks that have no admin token. Returns true when it
 * answered. On the request's loop.
 */
bool edge_lifecycle_answer_healthz(edge_thread_t *t, h2o_req_t *req);

#endif
