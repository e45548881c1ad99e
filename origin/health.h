/*
 * origin/health.h: the health of origin servers (ELB's model) and the circuit breaker of origin groups.
 *
 * Both are small state machines fed with outcomes and, for the breaker, the time, so they can be tested
 * with a fake clock. They are shared by every loop, and every function here is thread-safe.
 *
 * Health, per server: UP until `unhealthy_threshold` consecutive failures mark it DOWN; DOWN until
 * `healthy_threshold` consecutive successes mark it UP again. Failures come from the active checks and
 * from connection errors and timeouts seen by live traffic; successes from either. A server that is
 * DOWN gets no live traffic, so only its checks can bring it back.
 *
 * Breaker, per origin group (CloudFront retries a failing primary on every request; we do not):
 * CLOSED until `failures` consecutive primary failures open it; OPEN (the primary is skipped) for
 * `cooldown_ms`; then HALF_OPEN, where exactly one request probes the primary: its success closes the
 * breaker, its failure opens it again for another cool-down.
 */
#ifndef ORIGIN_HEALTH_H
#define ORIGIN_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct st_origin_health_t origin_health_t;

/** Health for `num_servers` servers, all UP (a threshold of 0 counts as 1). NULL only when out of memory. */
origin_health_t *origin_health_new(size_t num_servers, unsigned unhealthy_threshold, unsigned healthy_threshold);
void origin_health_free(origin_health_t *h);
size_t origin_health_num_servers(const origin_health_t *h);
bool origin_health_is_up(origin_health_t *h, size_t server);
/** Sets the state of `server` (a reload carrying what the checks learnt over to a new table), with no run. */
void origin_health_set(origin_health_t *h, size_t server, bool up);
/** Records one outcome for `server`; returns true when it changed the server's state (for logging). */
bool origin_health_report(origin_health_t *h, size_t server, bool ok);

typedef enum en_origin_breaker_state_t {
    ORIGIN_BREAKER_CLOSED,
    ORIGIN_BREAKER_OPEN,
    ORIGIN_BREAKER_HALF_OPEN
} origin_breaker_state_t;

typedef struct st_origin_breaker_t origin_breaker_t;

/** A closed breaker; `failures` == 0 makes one that never opens. */
origin_breaker_t *origin_breaker_new(unsigned failures, uint64_t cooldown_ms);
void origin_breaker_free(origin_breaker_t *b);
/**
 * May a request go to the protected origin at `now_ms`? CLOSED: yes. OPEN: no, until the cool-down has
 * passed; then the breaker turns HALF_OPEN and this call (only this one) says yes: the probe. HALF_OPEN:
 * no, while the probe is out.
 */
bool origin_breaker_allow(origin_breaker_t *b, uint64_t now_ms);
/** The outcome of a request that allow() let through. Returns true when it changed the state. */
bool origin_breaker_report(origin_breaker_t *b, bool ok, uint64_t now_ms);
origin_breaker_state_t origin_breaker_state(origin_breaker_t *b);

#endif
