/*
 * edge/req_fsm.h: the client request state machine, edgecache's one request handler.
 *
 *   RECV ─▶ LOOKUP ─▶ HIT ──────────────────────────────▶ DONE
 *     │        ├────▶ MISS ───────┐
 *     │        └────▶ REVALIDATE ─┼─▶ WAIT ─▶ DELIVER ───▶ DONE
 *     └──────────────▶ PASS ──────┘     ├──▶ REFRESHED ──▶ DONE
 *                                       └──▶ ERROR ──────▶ DONE
 *
 * Every transition is in edge/req_fsm.c, in the step functions of one table; WAIT is the only state in
 * which a request is suspended (on its origin fetch). The response headers always carry Age, X-Cache
 * (HIT, MISS, REVALIDATED, STALE or ERROR) and Cache-Status (RFC 9211).
 */
#ifndef EDGE_REQ_FSM_H
#define EDGE_REQ_FSM_H

#include <h2o.h>
#include "edge/server.h"

#define EDGE_REQ_STATES(X)                                                                                                         \
    X(RECV)                                                                                                                        \
    X(LOOKUP)                                                                                                                      \
    X(HIT)                                                                                                                         \
    X(MISS)                                                                                                                        \
    X(REVALIDATE)                                                                                                                  \
    X(PASS)                                                                                                                        \
    X(WAIT)                                                                                                                        \
    X(DELIVER)                                                                                                                     \
    X(REFRESHED)                                                                                                                   \
    X(ERROR)                                                                                                                       \
    X(DONE)

typedef enum en_edge_req_state_t {
#define EDGE_REQ_STATE_ENUM(name) EDGE_REQ_##name,
    EDGE_REQ_STATES(EDGE_REQ_STATE_ENUM)
#undef EDGE_REQ_STATE_ENUM
} edge_req_state_t;

/** Registers the request handler on `pathconf`; requests then run the state machine. */
void edge_req_fsm_register(h2o_pathconf_t *pathconf);

/** The name of a state ("HIT"), for logs and tests. */
const char *edge_req_state_name(edge_req_state_t state);

#endif
