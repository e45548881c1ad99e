/*
 * edge/admin.h: the admin API — health, metrics, reports and invalidation — on a listener of its own.
 *
 *   GET  /healthz            200 "ok", or 503 and why: draining, cache unusable, every origin down (no token
 *                            needed: for load balancers; also on the client listeners at admin.healthz_path)
 *   GET  /metrics            Prometheus text format
 *   GET  /reports/popular    JSON; query: since=24h | from=T&to=T, top=N, format=json|csv|html|table
 *   GET  /reports/stats      the same, for the statistics per bucket and behavior
 *   GET  /reports/ttl        the same, for the TTL advice
 *   POST /purge              form or query: url=U | prefix=P | tag=T, optional soft=1 → 202 + JSON status
 *   GET  /purge/<id>         200 + JSON status ("pending" or "done", objects touched), 404 when unknown
 *   POST /reload             the configuration read again: 200 "reloaded: generation N", or 400 and why
 *   POST /drain              /healthz answers 503 from now on (traffic is still served); DELETE /drain ends it
 *   POST /upgrade            202: a new process takes the sockets and the store over (as SIGUSR2)
 *
 * Everything but /healthz needs "Authorization: Bearer <token>", the content of admin.token_file,
 * compared in constant time; without a configured token every such request is refused (401). The admin
 * handler lives in an h2o_globalconf_t of its own, so no Host header sent to a client listener can reach it.
 * The rules that read a request (route, token, invalidation form, report query) are in edge/admin_parse.h.
 */
#ifndef EDGE_ADMIN_H
#define EDGE_ADMIN_H

#include <stdbool.h>
#include <h2o.h>
#include "cache/store.h"
#include "edge/config.h"

struct st_edge_server_t;

/** Registers the admin handler in `globalconf` (initialised by the caller, used for the admin listener only). */
void edge_admin_register(h2o_globalconf_t *globalconf, struct st_edge_server_t *server);

/** The JSON status of an invalidation, in `pool`. */
h2o_iovec_t edge_admin_purge_json(h2o_mem_pool_t *pool, const cache_store_purge_status_t *st);

#endif
