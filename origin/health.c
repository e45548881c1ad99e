/*
 * origin/health.c: server health and circuit breakers (see health.h for the state machines).
 *
 * One mutex per object: outcomes arrive from every loop, at most once per origin exchange, so the lock
 * is never hot. The invariant that is easy to break: a HALF_OPEN breaker lets exactly one probe through;
 * a second allow() before the probe's report must say no, or a dead primary gets a burst of requests
 * each time its cool-down ends.
 */
#include <pthread.h>
#include <stdlib.h>
#include "origin/health.h"

typedef struct st_server_t {
    bool up;
    unsigned run; /* consecutive outcomes against the current state: failures while UP, successes while DOWN */
} server_t;

struct st_origin_health_t {
    pthread_mutex_t mutex;
    unsigned unhealthy_threshold, healthy_threshold;
    size_t num_servers;
    server_t servers[];
};

origin_health_t *origin_health_new(size_t num_servers, unsigned unhealthy_threshold, unsigned healthy_threshold)
{
    origin_health_t *h = calloc(1, sizeof(*h) + num_servers * sizeof(h->servers[0]));
    if (h == NULL)
        return NULL;
    pthread_mutex_init(&h->mutex, NULL);
    h->unhealthy_threshold = unhealthy_threshold != 0 ? unhealthy_threshold : 1;
    h->healthy_threshold = healthy_threshold != 0 ? healthy_threshold : 1;
    h->num_servers = num_servers;
    for (size_t i = 0; i != num_servers; ++i)
        h->servers[i].up = true;
    return h;
}

void origin_health_free(origin_health_t *h)
{
    if (h == NULL)
        return;
    pthread_mutex_destroy(&h->mutex);
    free(h);
}

size_t origin_health_num_servers(const origin_health_t *h)
{
    return h->num_servers;
}

bool origin_health_is_up(origin_health_t *h, size_t server)
{
    pthread_mutex_lock(&h->mutex);
    bool up = server < h->num_servers && h->servers[server].up;
    pthread_mutex_unlock(&h->mutex);
    return up;
}

void origin_health_set(origin_health_t *h, size_t server, bool up)
{
    if (server >= h->num_servers)
        return;
    pthread_mutex_lock(&h->mutex);
    h->servers[server].up = up;
    h->servers[server].run = 0;
    pthread_mutex_unlock(&h->mutex);
}

bool origin_health_report(origin_health_t *h, size_t server, bool ok)
{
    bool changed = false;
    if (server >= h->num_servers)
        return false;
    pthread_mutex_lock(&h->mutex);
    server_t *s = h->servers + server;
    if (ok == s->up) {
        s->run = 0; /* an outcome that agrees with the state breaks the opposite run */
    } else if (++s->run >= (s->up ? h->unhealthy_threshold : h->healthy_threshold)) {
        s->up = !s->up;
        s->run = 0;
        changed = true;
    }
    pthread_mutex_unlock(&h->mutex);
    return changed;
}

struct st_origin_breaker_t {
    pthread_mutex_t mutex;
    unsigned threshold;
    uint64_t cooldown_ms;
    origin_breaker_state_t state;
    unsigned failures;
    uint64_t opened_at;
};

origin_breaker_t *origin_breaker_new(unsigned failures, uint64_t cooldown_ms)
{
    origin_breaker_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    pthread_mutex_init(&b->mutex, NULL);
    b->threshold = failures;
    b->cooldown_ms = cooldown_ms;
    b->state = ORIGIN_BREAKER_CLOSED;
    return b;
}

void origin_breaker_free(origin_breaker_t *b)
{
    if (b == NULL)
        return;
    pthread_mutex_destroy(&b->mutex);
    free(b);
}

bool origin_breaker_allow(origin_breaker_t *b, uint64_t now_ms)
{
    bool allow;
    pthread_mutex_lock(&b->mutex);
    switch (b->state) {
    case ORIGIN_BREAKER_CLOSED:
        allow = true;
        break;
    case ORIGIN_BREAKER_OPEN:
        /* loops keep their own clocks: one slightly behind the loop that opened the breaker must not
         * see a wrapped-around, endless cool-down as already over */
        allow = now_ms >= b->opened_at && now_ms - b->opened_at >= b->cooldown_ms;
        if (allow)
            b->state = ORIGIN_BREAKER_HALF_OPEN; /* this caller is the probe */
        break;
    default:
        allow = false; /* the probe is out */
        break;
    }
    pthread_mutex_unlock(&b->mutex);
    return allow;
}

bool origin_breaker_report(origin_breaker_t *b, bool ok, uint64_t now_ms)
{
    pthread_mutex_lock(&b->mutex);
    origin_breaker_state_t before = b->state;
    if (ok) {
        b->failures = 0;
        b->state = ORIGIN_BREAKER_CLOSED;
    } else if (b->state == ORIGIN_BREAKER_HALF_OPEN || (b->threshold != 0 && ++b->failures >= b->threshold)) {
        b->state = ORIGIN_BREAKER_OPEN;
        b->opened_at = now_ms;
        b->failures = 0;
    }
    bool changed = before != b->state;
    pthread_mutex_unlock(&b->mutex);
    return changed;
}

origin_breaker_state_t origin_breaker_state(origin_breaker_t *b)
{
    pthread_mutex_lock(&b->mutex);
    origin_breaker_state_t s = b->state;
    pthread_mutex_unlock(&b->mutex);
    return s;
}
