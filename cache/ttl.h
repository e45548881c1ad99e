/*
 * cache/ttl.h: freshness — may a response be stored, for how long, and how old is it.
 *
 * Pure functions over parsed response metadata (RFC 9111 with CloudFront's per-behavior TTL rules):
 * - the origin's lifetime is the targeted field's (RFC 9213, parsed by the caller into `cc`), else
 *   s-maxage, else max-age, else Expires − Date; it is clamped to [min_ttl, max_ttl];
 * - without one, only a heuristically cacheable status (RFC 9111 §4.2.2) with a validator is stored:
 *   for default_ttl when the behavior wrote one (CloudFront), else for 10 % of its Last-Modified age
 *   capped at default_ttl, else (an ETag only) for min_ttl. With no validator either, nothing could
 *   ever be reused: not stored, unless min_ttl asks for a floor;
 * - no-store (unless must-understand and a known status), private, Set-Cookie (unless the behavior
 *   says cache_set_cookie) and "Vary: *" are never stored; no-cache is stored with a lifetime of 0, so
 *   that every use revalidates; no-cache="f" and private="f" are stored without the fields named;
 * - the age at storage is the corrected initial age of RFC 9111 §4.2.3.
 * Times are seconds since the epoch.
 */
#ifndef CACHE_TTL_H
#define CACHE_TTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The freshness rules of one behavior (CloudFront's TTLs), filled by the configuration loader and read-only
 * afterwards. Seconds. */
typedef struct st_cache_ttl_rules_t {
    uint64_t min_ttl;                 /* default 0 */
    uint64_t default_ttl;             /* default 86400: used when the origin gives no lifetime */
    uint64_t max_ttl;                 /* default 31536000 */
    bool default_ttl_set;             /* default_ttl was written: it then applies (CloudFront) instead of the Last-Modified
                                       * heuristic */
    bool cache_set_cookie;            /* "cache_set_cookie", default false: a response with Set-Cookie is never shared */
    bool honor_request_cache_control; /* "request_cache_control: honor" (RFC 9111 §5.2.1); default ignore, as
                                       * CloudFront: clients cannot force origin traffic */
} cache_ttl_rules_t;

/* response Cache-Control directives, as bits of cache_cc_t.flags */
#define CACHE_CC_NO_STORE 0x01
#define CACHE_CC_NO_CACHE 0x02
#define CACHE_CC_PRIVATE 0x04
#define CACHE_CC_PUBLIC 0x08
#define CACHE_CC_MUST_REVALIDATE 0x10
#define CACHE_CC_PROXY_REVALIDATE 0x20
#define CACHE_CC_IMMUTABLE 0x40
#define CACHE_CC_NO_TRANSFORM 0x80
#define CACHE_CC_MUST_UNDERSTAND 0x100
#define CACHE_CC_ONLY_IF_CACHED 0x200 /* a request directive (RFC 9111 §5.2.1.7) */

/* The largest delta-seconds (RFC 9111 §1.2.2): bigger values saturate to it. */
#define CACHE_TTL_DELTA_MAX INT64_C(2147483648)

/* At most this many qualified no-cache="…" / private="…" directives are kept; more make the directive
 * count as unqualified, the conservative reading. */
#define CACHE_CC_MAX_OMIT 8

typedef struct st_cache_cc_t {
    unsigned flags;
    int64_t max_age; /* -1 when absent; every numeric directive is -1 when absent */
    int64_t s_maxage;
    int64_t stale_while_revalidate;
    int64_t stale_if_error;
    int64_t max_stale; /* request directives (RFC 9111 §5.2.1.2-3); max-stale without a value is INT64_MAX */
    int64_t min_fresh;
    /* The field-name lists of qualified no-cache="a, b" and private="c" (RFC 9111 §5.2.2.4, §5.2.2.7):
     * those fields are never stored, and the directive does not otherwise apply. They point into the
     * field value given to cache_ttl_parse_cc and are valid as long as it is. */
    struct {
        const char *base;
        size_t len;
    } omit[CACHE_CC_MAX_OMIT];
    size_t num_omit;
} cache_cc_t;

/* flags stored with an object (cache_record_t.flags) */
#define CACHE_TTL_MUST_REVALIDATE 0x01 /* never served stale: must-revalidate, proxy-revalidate or s-maxage */
#define CACHE_TTL_NO_CACHE 0x02        /* stored, but every use is revalidated */
#define CACHE_TTL_ERROR_PAGE 0x04      /* a configured error page cached for error_caching_min_ttl */
#define CACHE_TTL_VARY_INDEX 0x08      /* not an object: its "vary" header names the fields that select a variant */
#define CACHE_TTL_AUTH_OK 0x10         /* public, s-maxage or must-revalidate: may answer requests with Authorization */
#define CACHE_TTL_IMMUTABLE 0x20       /* immutable: while fresh, a client's reload does not revalidate it (RFC 8246) */
#define CACHE_TTL_COMPRESSIBLE 0x40    /* an identity object with gzip/br variants (cache/compress.h), made or to be made */
#define CACHE_TTL_ENCODED 0x80         /* not an object: an encoded variant's body, served only with its identity object */

typedef struct st_cache_ttl_in_t {
    int status;
    cache_cc_t cc;
    bool has_expires;
    bool expires_valid; /* false: an unparseable Expires, which means "already expired" (RFC 9111 §5.3) */
    int64_t expires;
    bool has_date;
    int64_t date;
    int64_t age;            /* the Age header (see cache_ttl_parse_age), -1 when absent */
    bool has_validator;     /* ETag or Last-Modified */
    bool has_last_modified; /* a Last-Modified that parsed: the base of the heuristic lifetime */
    int64_t last_modified;
    bool has_cache_control; /* a Cache-Control field, or a valid targeted field that replaced it */
    bool pragma_no_cache;   /* Pragma: no-cache, which counts as Cache-Control: no-cache when there is none */
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
 * case-insensitive. An invalid max-age or s-maxage — not digits, and that includes the quoted form
 * max-age="60" — counts as 0 (stale: the conservative reading), an invalid stale-while-revalidate or
 * stale-if-error as absent; duplicate numeric directives keep the smaller value, the conservative one.
 * A no-cache or private with a field-name list is recorded in cc->omit (pointing into `value`).
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
/**
 * Parses one Age field line (RFC 9111 §5.1): a non-negative integer, saturating at CACHE_TTL_DELTA_MAX.
 * A list ("10, 20") yields its first member, the others discarded, as the RFC asks. Returns -1, "no Age",
 * when that value is not a delta-seconds (negative, a fraction, text, empty): the RFC says to ignore
 * an invalid Age, so such a response is stored and reused as if it had none. Of several Age lines,
 * which together form one list, the caller uses the first.
 */
int64_t cache_ttl_parse_age(const char *s, size_t len);
/** True when `name` (lower-case) is in a field-name list of a qualified no-cache or private in `cc`. */
bool cache_ttl_cc_omits(const cache_cc_t *cc, const char *name, size_t len);
/** True when a status code may be stored without explicit freshness (RFC 9111 §4.2.2). */
bool cache_ttl_status_is_heuristic(int status);
/**
 * True for the status codes whose caching rules this cache implements: those defined by RFC 9110 §15,
 * but 206 (partial responses are never stored) and 304. A response with must-understand is stored only
 * with one of these (RFC 9111 §5.2.2.3).
 */
bool cache_ttl_status_is_known(int status);
/** Decides storage and lifetime for the response `in` under `rules`. */
void cache_ttl_decide(const cache_ttl_in_t *in, const cache_ttl_rules_t *rules, cache_ttl_out_t *out);
/** True when an object stored with `flags` may stand in for an origin error once stale (§4.2.4). */
bool cache_ttl_may_serve_stale(unsigned flags);
/** The age now of an object stored with `initial_age` at `response_time` (RFC 9111 §4.2.3). */
int64_t cache_ttl_current_age(int64_t initial_age, int64_t response_time, int64_t now);

#endif
