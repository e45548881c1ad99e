/*
 * origin/balancer.c: server choice (see balancer.h).
 *
 * The ring: each server contributes ORIGIN_BALANCER_VNODES points, the first 8 bytes of
 * SHA-256("<name>#<i>"), sorted. A key's point is the first 8 bytes of its cache-key hash (already
 * SHA-256, so uniformly spread); it belongs to the first ring point at or after it, wrapping around.
 * The invariant that is easy to break: a point must depend only on the server's name, never on its
 * index, or adding a server would reshuffle every key.
 */
#include <stdlib.h>
#include <string.h>
#include "origin/balancer.h"

typedef struct st_point_t {
    uint64_t hash;
    uint32_t server;
} point_t;

struct st_origin_balancer_t {
    origin_conf_balance_t policy;
    size_t num_servers;
    size_t num_points;
    point_t points[];
};

static uint64_t first64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i != 8; ++i)
        v = v << 8 | b[i];
    return v;
}

static int cmp_point(const void *_a, const void *_b)
{
    const point_t *a = _a, *b = _b;
    return a->hash < b->hash ? -1 : a->hash > b->hash ? 1 : (int)a->server - (int)b->server;
}

origin_balancer_t *origin_balancer_new(origin_conf_balance_t policy, const char *const *names, size_t num_servers)
{
    size_t num_points = policy == ORIGIN_CONF_BALANCE_CONSISTENT_HASH ? num_servers * ORIGIN_BALANCER_VNODES : 0;
    origin_balancer_t *b = malloc(sizeof(*b) + num_points * sizeof(b->points[0]));
    if (b == NULL || num_servers > 64) {
        free(b);
        return NULL;
    }
    b->policy = policy;
    b->num_servers = num_servers;
    b->num_points = num_points;
    for (size_t s = 0; s != num_servers && num_points != 0; ++s) {
        for (size_t i = 0; i != ORIGIN_BALANCER_VNODES; ++i) {
            char buf[2048];
            cache_hash_t h;
            int n = snprintf(buf, sizeof(buf), "%s#%zu", names[s], i);
            cache_key_hash(h2o_iovec_init(buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0), &h);
            b->points[s * ORIGIN_BALANCER_VNODES + i] = (point_t){first64(h.bytes), (uint32_t)s};
        }
    }
    qsort(b->points, num_points, sizeof(b->points[0]), cmp_point);
    return b;
}

void origin_balancer_free(origin_balancer_t *b)
{
    free(b);
}

static bool usable(origin_health_t *health, size_t server, uint64_t exclude)
{
    return (exclude & ((uint64_t)1 << server)) == 0 && (health == NULL || origin_health_is_up(health, server));
}

size_t origin_balancer_pick(const origin_balancer_t *b, origin_health_t *health, const uint32_t *outstanding, size_t *cursor,
                            const cache_hash_t *key, uint64_t exclude)
{
    size_t n = b->num_servers, best = ORIGIN_BALANCER_NONE;

    switch (b->policy) {
    case ORIGIN_CONF_BALANCE_CONSISTENT_HASH: {
        if (key == NULL || b->num_points == 0)
            break;
        uint64_t point = first64(key->bytes);
        size_t lo = 0, hi = b->num_points;
        while (lo < hi) { /* the first ring point at or after the key's */
            size_t mid = (lo + hi) / 2;
            if (b->points[mid].hash < point)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t i = 0; i != b->num_points; ++i) {
            const point_t *p = b->points + (lo + i) % b->num_points;
            if (usable(health, p->server, exclude))
                return p->server;
        }
        return ORIGIN_BALANCER_NONE;
    }
    case ORIGIN_CONF_BALANCE_LEAST_OUTSTANDING:
        /* the fewest in flight; ties go round-robin so that an idle origin's servers all get used */
        for (size_t i = 0; i != n; ++i) {
            size_t s = (*cursor + i) % n;
            if (usable(health, s, exclude) && (best == ORIGIN_BALANCER_NONE || outstanding[s] < outstanding[best]))
                best = s;
        }
        ++*cursor;
        return best;
    case ORIGIN_CONF_BALANCE_ROUND_ROBIN:
        break;
    }
    for (size_t i = 0; i != n; ++i) {
        size_t s = (*cursor + i) % n;
        if (usable(health, s, exclude)) {
            *cursor = s + 1;
            return s;
        }
    }
    return ORIGIN_BALANCER_NONE;
}
