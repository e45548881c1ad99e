/*
 * edge/req_fsm.h: the client request state machine, edgecache's one request handler.
 *
 * The graph: every transition a request can make, one "FROM -> TO  when" line each (FROM is left out
 * when it is the line above's). It is the transition table of edge/req_fsm.c, which the run loop checks
 * every transition against, and tests/unit/check_edge_req_fsm.c checks that the two agree.
 *
 *   RECV        -> LOOKUP       GET or HEAD
 *               -> PASS         another method, or the client's no-store (request_cache_control: honor)
 *               -> DONE         PURGE answered; URL or header fields too large (414, 431); cleartext
 *                               redirected (301, 308) or refused (403) by the viewer protocol policy
 *   LOOKUP      -> HIT          fresh; stale within stale-while-revalidate or the client's max-stale
 *               -> MISS         nothing stored (or not usable: corrupt, a collision, credentials)
 *               -> REVALIDATE   stale, or refused by the client's Cache-Control, and with a validator
 *   HIT         -> DONE         delivered from the store
 *               -> MISS         the stored body is gone (evicted or corrupt): fetch it anew
 *   MISS        -> WAIT         fetch started or joined
 *               -> DONE         only-if-cached: 504 at once
 *   REVALIDATE  -> WAIT         conditional fetch started or joined
 *               -> DONE         only-if-cached: 504 at once
 *   PASS        -> WAIT         fetch of its own started
 *   WAIT        -> DELIVER      the origin's response head is here
 *               -> REFRESHED    the origin said 304: the stored object is still good
 *               -> ERROR        the origin failed, or answered an error a stale copy or page stands in for
 *               -> DONE         the HTTP/1 client hung up while waiting (499 in the access log)
 *   DELIVER     -> DONE         streaming the origin's response
 *   REFRESHED   -> DONE         delivered from the refreshed record
 *   ERROR       -> DONE         a stale copy, the configured error page or the built-in one
 *
 * Every transition is made by run() in edge/req_fsm.c, from the next state that a step function returns;
 * the helpers a step calls return decisions and never set the state. WAIT is the only state in which a
 * request is suspended (on its origin fetch, or on the client watch). The response headers always carry
 * Age, X-Cache (HIT, MISS, REVALIDATED, STALE or ERROR) and Cache-Status (RFC 9211), rendered from one
 * table (edge/account.h).
 */
#ifndef EDGE_REQ_FSM_H
#define EDGE_REQ_FSM_H

#include <stdbool.h>
#include <stdint.h>
#include <h2o.h>
#include "cache/ttl.h"

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
        EDGE_REQ_NUM_STATES
} edge_req_state_t;

/** Registers the request handler on `pathconf`; requests then run the state machine. */
void edge_req_fsm_register(h2o_pathconf_t *pathconf);

/** The name of a state ("HIT"), for logs and tests; "?" for a value that is not a state. */
const char *edge_req_state_name(edge_req_state_t state);

/** Whether the transition table allows `from` -> `to` (the graph above). */
bool edge_req_transition_allowed(edge_req_state_t from, edge_req_state_t to);

/* --- LOOKUP's decisions, pure functions of what they are given (exported for the unit tests) ---------- */

/* What a stored object can do for a request. */
typedef enum en_edge_req_found_t {
    EDGE_REQ_FOUND_NONE,      /* nothing usable stored: MISS */
    EDGE_REQ_FOUND_FRESH,     /* fresh: HIT */
    EDGE_REQ_FOUND_SWR,       /* stale within stale-while-revalidate: HIT, refreshed in the background */
    EDGE_REQ_FOUND_MAX_STALE, /* stale, and the client's max-stale accepts it: HIT */
    EDGE_REQ_FOUND_STALE,     /* stale: REVALIDATE with a validator, else MISS */
    EDGE_REQ_FOUND_REFUSED    /* usable, but the client's Cache-Control refuses it: as STALE */
} edge_req_found_t;

/**
 * The stored object's freshness (RFC 9111 §4.2, RFC 5861 §3): FRESH, SWR or STALE, from its flags
 * (CACHE_TTL_*), its lifetime and stale-while-revalidate window (seconds) and its current age.
 */
edge_req_found_t edge_req_decide_freshness(uint32_t flags, int64_t lifetime, int64_t swr, int64_t age);

/**
 * The client's Cache-Control `cc` (RFC 9111 §5.2.1) applied to `found` (FRESH, SWR or STALE): no-cache,
 * max-age and min-fresh refuse a fresh or SWR object (a fresh immutable one survives no-cache, RFC 8246:
 * REFUSED), max-stale accepts a stale one (MAX_STALE); anything else is returned as it came.
 */
edge_req_found_t edge_req_decide_request_cc(const cache_cc_t *cc, uint32_t flags, int64_t lifetime, int64_t age,
                                            edge_req_found_t found);

#endif
