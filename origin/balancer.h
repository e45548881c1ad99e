/*
 * origin/balancer.h: choosing a server of an origin.
 *
 * Three policies (origin_conf_balance_t): round-robin; least outstanding requests; and a consistent hash
 * of the cache key on a ring of virtual nodes, so that a tier of parent edges each holds its own slice
 * of the objects and adding or removing a server moves only about 1/N of the keys. Servers that are
 * DOWN (origin/health.h) or excluded by the caller (already tried for this request) are skipped; on the
 * ring, a key then goes to the next server clockwise, so only that server's keys move.
 *
 * A balancer is immutable after creation and shared by every loop; the per-loop parts (the round-robin
 * cursor and the outstanding counts) are passed in by the caller.
 */
#ifndef ORIGIN_BALANCER_H
#define ORIGIN_BALANCER_H

#include <stddef.h>
#include <stdint.h>
#include "cache/key.h"
#include "origin/conf.h"
#include "origin/health.h"

#define ORIGIN_BALANCER_VNODES 160 /* ring points per server */
#define ORIGIN_BALANCER_NONE SIZE_MAX

typedef struct st_origin_balancer_t origin_balancer_t;

/**
 * A balancer over `num_servers` servers named `names` (their URLs: a server's ring points derive from
 * its name, so they do not depend on its position in the list). NULL when out of memory or when there
 * are more than 64 servers (the config module refuses more).
 */
origin_balancer_t *origin_balancer_new(origin_conf_balance_t policy, const char *const *names, size_t num_servers);
void origin_balancer_free(origin_balancer_t *b);

/**
 * The server for a request, or ORIGIN_BALANCER_NONE when every server is DOWN or excluded. `health` may
 * be NULL (all UP); `outstanding` (least_outstanding) counts requests in flight per server on the
 * caller's loop; `cursor` (round_robin) is the caller's loop's cursor; `key` (consistent_hash) is the
 * cache key hash; bit i of `exclude` skips server i.
 */
size_t origin_balancer_pick(const origin_balancer_t *b, origin_health_t *health, const uint32_t *outstanding, size_t *cursor,
                            const cache_hash_t *key, uint64_t exclude);

#endif
