/*
 * edge/admin_parse.h: the decisions the admin API takes from a request, apart from the server.
 *
 * Which endpoint a method and path name, whether an Authorization header carries the token, what an
 * invalidation asks for (form body or query), which invalidation id a path names and which range and
 * format a report query asks for. edge/admin.c calls these and only sends the answers; nothing here
 * touches a socket, the store or the clock, so each rule can be tested with plain values.
 *
 * Every function may be called from any thread; results that need memory take it from the `pool`
 * given and live as long as it does.
 */
#ifndef EDGE_ADMIN_PARSE_H
#define EDGE_ADMIN_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <h2o.h>
#include "cache/store.h"
#include "edge/config.h"
#include "reports/report.h"

typedef enum en_edge_admin_route_t {
    EDGE_ADMIN_ROUTE_HEALTHZ,        /* GET or HEAD /healthz: the only endpoint without a token */
    EDGE_ADMIN_ROUTE_HEALTHZ_METHOD, /* /healthz with another method: 405, also without a token */
    EDGE_ADMIN_ROUTE_METRICS,        /* GET /metrics */
    EDGE_ADMIN_ROUTE_REPORT_POPULAR, /* GET /reports/popular */
    EDGE_ADMIN_ROUTE_REPORT_STATS,   /* GET /reports/stats */
    EDGE_ADMIN_ROUTE_REPORT_TTL,     /* GET /reports/ttl */
    EDGE_ADMIN_ROUTE_PURGE,          /* POST /purge */
    EDGE_ADMIN_ROUTE_PURGE_METHOD,   /* /purge with another method: 405 */
    EDGE_ADMIN_ROUTE_PURGE_STATUS,   /* GET /purge/<something>: the id is checked by edge_admin_parse_purge_id */
    EDGE_ADMIN_ROUTE_RELOAD,         /* POST /reload */
    EDGE_ADMIN_ROUTE_DRAIN,          /* POST /drain */
    EDGE_ADMIN_ROUTE_UNDRAIN,        /* DELETE /drain */
    EDGE_ADMIN_ROUTE_UPGRADE,        /* POST /upgrade */
    EDGE_ADMIN_ROUTE_NOT_FOUND       /* anything else, including a known path with a method it does not take */
} edge_admin_route_t;

/**
 * The endpoint for `method` and `path` (the normalised path, without the query). HEAD counts as GET.
 * For EDGE_ADMIN_ROUTE_PURGE_STATUS, `*purge_id` is set to the text after "/purge/" (inside `path`);
 * otherwise it is left alone. Only HEALTHZ and HEALTHZ_METHOD are answered before the token check.
 */
edge_admin_route_t edge_admin_parse_route(h2o_iovec_t method, h2o_iovec_t path, h2o_iovec_t *purge_id);

/**
 * Whether `authorization` (the value of the request's first Authorization header; base NULL when there
 * is none) is "Bearer <token>" (the scheme case-insensitive) with exactly `token`. A NULL `token` (none
 * configured) refuses everything. The comparison reads every byte of `token` whatever the first
 * difference, so its duration does not tell how much of a guess was right.
 */
bool edge_admin_parse_authorized(const char *token, h2o_iovec_t authorization);

/**
 * The value of `name` in an application/x-www-form-urlencoded string (a query or a body), decoded and
 * NUL-terminated, in `pool`; {NULL, 0} when absent or when its value has a malformed %-escape. The first
 * occurrence wins.
 */
h2o_iovec_t edge_admin_parse_form_value(h2o_mem_pool_t *pool, h2o_iovec_t form, const char *name);

/* Errors of the parsers below: negative, one per reason; edge_admin_parse_strerror gives the 400's text. */
#define EDGE_ADMIN_PARSE_ENOT_ONE (-1) /* not exactly one of url=, prefix=, tag= */
#define EDGE_ADMIN_PARSE_EBAD_URL (-2) /* url= is neither a path nor an absolute URL */
#define EDGE_ADMIN_PARSE_EEMPTY_TAG (-3)
#define EDGE_ADMIN_PARSE_ESINCE (-4)     /* since= is not a duration */
#define EDGE_ADMIN_PARSE_EFROM_TO (-5)   /* from= or to= is not a time, or the range is empty */
#define EDGE_ADMIN_PARSE_ETOP (-6)       /* top= is not 1..100000 */
#define EDGE_ADMIN_PARSE_EFORMAT (-7)    /* format= is not json, csv, html or table */
#define EDGE_ADMIN_PARSE_ESITE (-8)      /* site= names no site, or a URL's host is no site's or another site's */
#define EDGE_ADMIN_PARSE_EAMBIGUOUS (-9) /* a url= without host nor site= that the sites key differently */

/** The text of a 400 for `err` (one line, ending in "\n"); a static string. */
const char *edge_admin_parse_strerror(int err);

/**
 * The URL part of the cache key that `url` names, as an invalidation target (cache/store.h): for an absolute
 * URL, its normalised host and the key its requests make under the rules of that host's site (which must be
 * `site` when `site` is not NULL); for a path (with an optional query), `site`'s hosts ("a.com,*.a.com") and the
 * key under its rules, or, without `site`, the key with no host (every host), which every site must make alike.
 * Normalised as client requests are. In `pool`. Returns 0, or EDGE_ADMIN_PARSE_EBAD_URL (not a URL or a path),
 * _ESITE (a host no site answers, or another site's) or _EAMBIGUOUS (sites that key the query differently).
 */
int edge_admin_parse_purge_key(const edge_conf_t *conf, h2o_mem_pool_t *pool, h2o_iovec_t url, const edge_conf_site_t *site,
                               h2o_iovec_t *key);

typedef struct st_edge_admin_purge_t {
    cache_purge_kind_t kind;
    h2o_iovec_t target; /* as cache_store_purge takes it: [HOSTS] then url: the key's URL part; prefix: as given (so
                         * "/img/" on every host, "shop.example.com/img/" on that host), or the host and path of an
                         * absolute URL; tag: as given (HOSTS "\n" before it) */
    bool soft;          /* soft=1 or soft=true */
} edge_admin_purge_t;

/**
 * What a POST /purge asks for: `form` is the body when there is one, else the query. Exactly one of
 * url=, prefix= and tag= must be given (other fields are ignored); site=NAME scopes it to that site's hosts. A
 * url= with a host applies to that host; without a host or a site, url= and prefix= apply on every host. Returns
 * 0 with `*out` set (in `pool`), or EDGE_ADMIN_PARSE_ENOT_ONE, _EBAD_URL, _EEMPTY_TAG, _ESITE or _EAMBIGUOUS.
 */
int edge_admin_parse_purge(const edge_conf_t *conf, h2o_mem_pool_t *pool, h2o_iovec_t form, edge_admin_purge_t *out);

/** The invalidation id in `text` (decimal digits only, no sign, fits 64 bits). False when it is not one. */
bool edge_admin_parse_purge_id(h2o_iovec_t text, uint64_t *id);

/**
 * The range and format of a GET /reports/<name>: ?since=DURATION (default 24h before `now_s`) or
 * ?from=T&to=T (either overrides its end of the default), ?top=N (default `default_top`),
 * ?format=json|csv|html|table (default json). Returns 0, or EDGE_ADMIN_PARSE_ESINCE, _EFROM_TO, _ETOP or
 * _EFORMAT.
 */
int edge_admin_parse_report_query(h2o_mem_pool_t *pool, h2o_iovec_t query, uint64_t now_s, unsigned default_top, reports_query_t *q,
                                  reports_format_t *fmt);

/**
 * ?site=NAME of a GET /reports/<name>: that site's behaviors (q->site) and hosts (q->hosts, in `pool`); nothing
 * when absent, or for the site of a file without sites (every host). Returns 0 or EDGE_ADMIN_PARSE_ESITE.
 */
int edge_admin_parse_report_site(const edge_conf_t *conf, h2o_mem_pool_t *pool, h2o_iovec_t query, reports_query_t *q);

#endif
