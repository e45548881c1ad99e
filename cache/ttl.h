/*
 * cache/ttl.h: freshness — may a response be stored, for how long, and how old is it.
 *
 * Pure functions over parsed response metadata (RFC 9111 with CloudFront's per-behavior TTL rules):
 * - the origin's lifetime is s-maxage, else max-age, else Expires − Date; it is clamped to
 *   [min_ttl, max_ttl]; with no origin lifetime, default_ttl applies (at least min_ttl), and only to the
 *   status codes that are cacheable by default (RFC 9111 §4.2.2);
 * - no-store, private, Set-Cookie and "Vary: *" are never stored; no-cache is stored with a lifetime of
 *   0, so that every use revalidates;
 * - the age at storage is the corrected initial age of RFC 9111 §4.2.3.
 * Times are seconds since the epoch.
 */
#ifndef CACHE_TTL_H
#define CACHE_TTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "edge/config.h"

/* response Cache-Control directives, as bits of cache_cc_t.flags */
#define CACHE_CC_NO_STORE 0x01
#define CACHE_CC_NO_CACHE 0x02
#define CACHE_CC_PRIVATE 0x04
#define CACHE_CC_PUBLIC 0x08
#define CACHE_CC_MUST_REVALIDATE 0x10
#define CACHE_CC_PROXY_REVALIDATE 0x20
#define CACHE_CC_IMMUTABLE 0x40
#define CACHE_CC_NO_TRANSFORM 0x80

typedef struct st_cache_cc_t {
    unsigned flags;
    int64_t max_age; /* -1 when absent; every numeric directive is -1 when absent */
    int64_t s_maxage;
    int64_t stale_while_revalidate;
    int64_t stale_if_error;
} cache_cc_t;

/* flags stored with an object (cache_record_t.flags) */
#define CACHE_TTL_MUST_REVALIDATE 0x01 /* never served stale: must-revalidate, proxy-revalidate or s-maxage */
#define CACHE_TTL_NO_CACHE 0x02        /* stored, but every use is revalidated */
#define CACHE_TTL_ERROR_PAGE 0x04      /* a configured error page cached for error_caching_min_ttl */
#define CACHE_TTL_VARY_INDEX 0x08      /* not an object: its "vary" header names the fields that select a variant */
#define CACHE_TTL_AUTH_OK 0x10         /* public, s-maxage or must-revalidate: may answer requests with Authorization */

typedef struct st_cache_ttl_in_t {
    int status;
    cache_cc_t cc;
    bool has_expires;
    bool expires_valid; /* false: an unparseable Expires, which means "already expired" (RFC 9111 §5.3) */
    int64_t expires;
    bool has_date;
    int64_t date;
    int64_t age;        /* the Age header, -1 when absent or invalid */
    bool has_validator; /* ETag or Last-Modified */
    bool has_set_cookie;
    bool vary_star;
    bool has_authorization; /* the request carried Authorization (RFC 9111 §3.5) */
    int64_t request_time;   /* when the request was sent */
    int64_t response_time;  /* when the response head arrived */
} cache_ttl_in_t;

typedef struct st_cache_ttl_out_t {
    bool store;
    const char *why;                /* when !store: a short reason for logs and Cache-Status detail ("no-store", ...) */
    int64_t lifetime;               /* seconds of freshness from the response's generation, after clamping */
    int64_t initial_age;            /* corrected initial age at response_time */
    unsigned flags;                 /* CACHE_TTL_* */
    int64_t stale_while_revalidate; /* 0 when absent */
    int64_t stale_if_error;
} cache_ttl_out_t;

/** Sets every numeric directive to -1 and clears the flags. */
void cache_ttl_cc_init(cache_cc_t *cc);
/**
 * Adds the directives of one Cache-Control field line to `cc` (call once per line). Directive names are
 * case-insensitive; an invalid max-age or s-maxage counts as 0 (stale: the conservative reading), an
 * invalid stale-while-revalidate or stale-if-error as absent; duplicate numeric directives keep the
 * smaller value, the conservative one.
 */
void cache_ttl_parse_cc(cache_cc_t *cc, const char *value, size_t len);
/**
 * Parses a targeted cache-control field (RFC 9213: CDN-Cache-Control and our own
 * Edgecache-Cache-Control), a Structured Field Dictionary, into `cc` (initialised here). Returns false,
 * leaving `cc` unusable, when the field is empty or is not a valid dictionary: the caller then falls
 * back to the next field, and finally to Cache-Control.
 */
bool cache_ttl_parse_targeted(cache_cc_t *cc, const char *value, size_t len);
/**
 * Parses an HTTP date in any of the three formats of RFC 9110 §5.6.7 (IMF-fixdate, RFC 850, asctime).
 * Returns true and sets `*t`, or false when `s` is not a date.
 */
bool cache_ttl_parse_date(const char *s, size_t len, int64_t *t);
/** Parses an Age value (RFC 9111 §5.1): a non-negative integer, or -1 when invalid. */
int64_t cache_ttl_parse_age(const char *s, size_t len);
/** True when a status code may be stored without explicit freshness (RFC 9111 §4.2.2). */
bool cache_ttl_status_is_heuristic(int status);
/** Decides storage and lifetime for the response `in` under the TTL rules of `behavior`. */
void cache_ttl_decide(const cache_ttl_in_t *in, const edge_conf_behavior_t *behavior, cache_ttl_out_t *out);
/** True when an object stored with `flags` may stand in for an origin error once stale (§4.2.4). */
bool cache_ttl_may_serve_stale(unsigned flags);
/** The age now of an object stored with `initial_age` at `response_time` (RFC 9111 §4.2.3). */
int64_t cache_ttl_current_age(int64_t initial_age, int64_t response_time, int64_t now);

#endif
