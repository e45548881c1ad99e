/*
 * origin/conf.h: the configuration the origin layer consumes — origins (servers, timeouts, balancing,
 * health checks, TLS), origin groups (failover and circuit breaker) and a behavior's route to them.
 *
 * edge/config.c fills these structs from YAML before any thread starts; the origin layer reads them
 * afterwards without locks and never writes them. Indexes (origin_index, primary, secondary) refer to
 * the origin_conf_set_t the struct belongs to and are validated by the loader, so the origin layer
 * does not range-check them again.
 */
#ifndef ORIGIN_CONF_H
#define ORIGIN_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum en_origin_conf_balance_t {
    ORIGIN_CONF_BALANCE_ROUND_ROBIN,       /* default */
    ORIGIN_CONF_BALANCE_LEAST_OUTSTANDING, /* the server with the fewest requests in flight (per loop) */
    ORIGIN_CONF_BALANCE_CONSISTENT_HASH    /* by cache key, on a ring: adding a server moves about 1/N of the keys */
} origin_conf_balance_t;

/* Active health checks, with ELB's knobs. */
typedef struct st_origin_conf_health_t {
    char *path;                   /* NULL: no active checks (passive marking still applies) */
    uint64_t interval_ms;         /* default 10000 */
    uint64_t timeout_ms;          /* default 5000; must be below interval */
    unsigned unhealthy_threshold; /* default 2: consecutive failures before a server is marked down (1..100) */
    unsigned healthy_threshold;   /* default 3: consecutive successes before it is marked up again (1..100) */
} origin_conf_health_t;

typedef struct st_origin_conf_t {
    char *name;
    char **servers; /* "http://host[:port]" or "https://host[:port]" (no trailing '/'; all of one scheme; https
                     * defaults to port 443), or "file:///absolute/dir"; "file:relative/dir" only when parsed without
                     * a basedir (a file origin has exactly one server) */
    size_t num_servers;
    uint64_t connect_timeout_ms;   /* default 10000 */
    unsigned connect_attempts;     /* default 3, 1..10 */
    uint64_t read_timeout_ms;      /* default 30000: time to the first byte, and the longest gap between reads */
    uint64_t keepalive_timeout_ms; /* default 5000: idle pooled connections are closed after this */
    char *host_header;             /* NULL: forward the client's Host */
    origin_conf_balance_t balance; /* key "balance": round_robin | least_outstanding | consistent_hash */
    origin_conf_health_t health;   /* key "health_check" */
    struct {                       /* key "tls", for https:// servers */
        char *ca_file;             /* NULL: the system CA store */
        char *sni;                 /* NULL: the server's host name */
        bool verify;               /* default true; false only when written explicitly ("verify: false") */
    } tls;
} origin_conf_t;

/* An origin group (CloudFront): requests go to the primary and fail over to the secondary. */
typedef struct st_origin_conf_group_t {
    char *name;     /* shares the namespace of origins: a behavior's "origin" may name either */
    size_t primary; /* indexes into origin_conf_set_t.origins */
    size_t secondary;
    int *failover_on; /* statuses that fail over, sorted; default 500, 502, 503, 504; allowed: 400, 403, 404,
                       * 416, 500, 502, 503, 504 */
    size_t num_failover_on;
    unsigned breaker_failures;    /* circuit breaker: consecutive primary failures that open it; default 5, 0 = off */
    uint64_t breaker_cooldown_ms; /* how long the primary is skipped before a probe; default 30000 */
} origin_conf_group_t;

/* Every origin and group of a configuration. */
typedef struct st_origin_conf_set_t {
    origin_conf_t *origins;
    size_t num_origins;
    origin_conf_group_t *groups; /* key "origin_groups" */
    size_t num_groups;
} origin_conf_set_t;

/* Where one behavior's requests go, and which of the client's headers go with them. */
typedef struct st_origin_conf_route_t {
    size_t origin_index;        /* index into origin_conf_set_t.origins (a group: its primary) */
    size_t group_index;         /* index into origin_conf_set_t.groups, or SIZE_MAX for a plain origin */
    char **forward_headers;     /* key "forward_headers": request headers sent to the origin, lower-case, without
                                 * duplicates; NULL = all; non-NULL with 0 names ("forward_headers: []") = none */
    size_t num_forward_headers; /* (hop-by-hop headers are never forwarded; Host, Via, X-Forwarded-* always are) */
} origin_conf_route_t;

#endif
