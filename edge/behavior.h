/*
 * edge/behavior.h: cache behaviors (CloudFront's), and the choice of one for a request's path.
 *
 * A behavior is a path pattern and what applies to the requests it matches; the list is tried in order and
 * the first match wins. The configuration loader (edge/config*.c) builds the list and guarantees that its last
 * behavior is "*"; this module only reads it, so it is safe from any thread once the configuration is built.
 */
#ifndef EDGE_BEHAVIOR_H
#define EDGE_BEHAVIOR_H

#include <stddef.h>
#include <stdint.h>
#include "cache/compress.h"
#include "cache/key.h"
#include "cache/ttl.h"
#include "origin/conf.h"

/* CloudFront's viewer protocol policy: what a request that came over cleartext gets (edge/https.h applies it). */
typedef enum en_edge_viewer_policy_t {
    EDGE_VIEWER_ALLOW_ALL,         /* served over either */
    EDGE_VIEWER_REDIRECT_TO_HTTPS, /* 301 (GET, HEAD) or 308 (other methods) to the https:// URL */
    EDGE_VIEWER_HTTPS_ONLY         /* 403 */
} edge_viewer_policy_t;

/* Each module's part is declared by that module; the loader only fills them. */
typedef struct st_edge_conf_behavior_t {
    char *path;                         /* pattern: '*' any run of characters (crosses '/'), '?' exactly one; case-sensitive */
    origin_conf_route_t route;          /* "origin", "forward_headers" (origin/conf.h) */
    cache_key_rules_t key;              /* "query_string", "cache_key_headers" (cache/key.h) */
    cache_ttl_rules_t ttl;              /* "min_ttl", "default_ttl", "max_ttl", "cache_set_cookie",
                                         * "request_cache_control" (cache/ttl.h) */
    edge_viewer_policy_t viewer_policy; /* "viewer_protocol_policy", default allow_all */
    uint16_t https_port;                /* "https_port": the port of a redirect's https:// URL; 0: the first TLS
                                         * listener's, or 443 without one */
    cache_compress_rules_t compress;    /* "compress" (default true), "compress_types" (cache/compress.h) */
    size_t site;                        /* the index of its site in edge_conf_t.sites */
    char *label;                        /* "SITE:PATH", how the reports name it in a file with "sites"; NULL without */
} edge_conf_behavior_t;

/**
 * The first of the `num` behaviors whose pattern matches `path` (`len` bytes, the normalized path without its
 * query; need not be NUL-terminated), or NULL when none does. Never NULL for the behaviors of a validated
 * configuration, whose last one is "*". The result points into `behaviors`. Pure; any thread.
 */
const edge_conf_behavior_t *edge_behavior_match(const edge_conf_behavior_t *behaviors, size_t num, const char *path, size_t len);

#endif
