/*
 * origin/router.h: where a request goes — the shared, cross-loop state of origins and origin groups.
 *
 * For every configured origin: its balancer, the health of its servers, and the TLS context of its
 * https:// servers; for every origin group: its circuit breaker. Built once at start-up and read by every
 * loop (the health tables and breakers are thread-safe). The active health checker runs on one loop and
 * feeds the same health tables that live traffic feeds passively.
 */
#ifndef ORIGIN_ROUTER_H
#define ORIGIN_ROUTER_H

#include <h2o.h>
#include "origin/conf.h"
#include "origin/balancer.h"
#include "origin/health.h"

typedef struct st_origin_router_origin_t {
    const origin_conf_t *conf;
    origin_balancer_t *balancer; /* NULL for a file:// origin */
    origin_health_t *health;     /* NULL for a file:// origin */
    SSL_CTX **ssl_ctxs;          /* per server: client TLS of https:// servers, else NULL; owned by the caller */
} origin_router_origin_t;

typedef struct st_origin_router_t {
    const origin_conf_set_t *conf;
    origin_router_origin_t *origins; /* parallel to conf->upstream.origins */
    origin_breaker_t **breakers;     /* parallel to conf->upstream.groups */
} origin_router_t;

/**
 * Builds the router for `conf`; `ssl_ctxs` (parallel to conf->upstream.origins, each parallel to the origin's
 * servers, entries NULL for http://) are the client TLS contexts, which must outlive the router. NULL
 * when out of memory.
 */
origin_router_t *origin_router_new(const origin_conf_set_t *conf, SSL_CTX ***ssl_ctxs);
void origin_router_free(origin_router_t *r);
/**
 * Carries the health of every server that `prev` also had (the same origin name and server URL) over to
 * `r`, so that a reload does not send traffic to a server the checks found down. Any thread; `prev` may be
 * NULL.
 */
void origin_router_inherit(origin_router_t *r, origin_router_t *prev);

/**
 * Records an outcome for server `server` of origin `origin`, logging a change of state. `passive`
 * outcomes (connection errors and successful exchanges of live traffic) count only for an origin with
 * active checks: a server that live traffic marked DOWN gets no more traffic, so only the checks could
 * ever bring it back.
 */
void origin_router_report(origin_router_t *r, size_t origin, size_t server, bool ok, bool passive, const char *what);

typedef struct st_origin_checker_t origin_checker_t;

/**
 * Starts the active health checks of every origin with a health_check, on the loop of `ctx` (which must
 * outlive the checker). Each server is probed every interval with "GET path"; a 2xx or 3xx answer within
 * the timeout is a success. Returns NULL when no origin has checks.
 */
origin_checker_t *origin_checker_start(origin_router_t *r, h2o_context_t *ctx);
/** Stops the checks; on the checker's loop. */
void origin_checker_stop(origin_checker_t *c);

#endif
