/*
 * edge/account.h: what a request's answer was — its cache outcome — and the three things said about it:
 * the X-Cache field, the Cache-Status field (RFC 9211), and the request's line in the reports.
 *
 * One table, indexed by edge_cache_outcome_t, holds the fixed part of each (the X-Cache text, whether
 * Cache-Status says "hit", fixed fwd / fwd-status / detail parameters, the reports outcome); the few
 * variable parameters come with the answer. Nothing turns the texts back into an outcome.
 */
#ifndef EDGE_ACCOUNT_H
#define EDGE_ACCOUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <h2o.h>
#include "reports/accounting.h"

typedef enum en_edge_cache_outcome_t {
    EDGE_CACHE_HIT,            /* a fresh stored object: X-Cache HIT */
    EDGE_CACHE_HIT_SWR,        /* a stale one within stale-while-revalidate, refreshed in the background: STALE */
    EDGE_CACHE_HIT_MAX_STALE,  /* a stale one the client's max-stale accepted: STALE */
    EDGE_CACHE_HIT_ERROR_PAGE, /* a stored error response (error_caching_min_ttl): ERROR */
    EDGE_CACHE_MISS,           /* from the origin, nothing usable was stored: MISS */
    EDGE_CACHE_REFRESH,        /* from the origin, replacing a stored object that could not be used: MISS */
    EDGE_CACHE_PASS,           /* from the origin, not cacheable by method or request: MISS */
    EDGE_CACHE_REVALIDATED,    /* a stored object the origin confirmed with 304: REVALIDATED */
    EDGE_CACHE_STALE,          /* a stale stored object standing in for an origin failure: STALE */
    EDGE_CACHE_ERROR,          /* an error page, configured or built in: ERROR */
    EDGE_CACHE_NUM_OUTCOMES
} edge_cache_outcome_t;

/* One answer: its outcome and the Cache-Status parameters that vary (the table's fixed ones win). */
typedef struct st_edge_cache_answer_t {
    edge_cache_outcome_t outcome;
    const char *fwd;    /* fwd=: why the origin was asked ("uri-miss", "stale", "request", ...), or NULL */
    int fwd_status;     /* fwd-status=: the origin's status, or 0 for none */
    bool stored;        /* the origin's response is being stored */
    bool has_ttl;       /* ttl= is given: */
    int64_t ttl;        /* ...seconds of freshness left (negative when stale) */
    const char *detail; /* detail=, or NULL */
    bool collapsed;     /* the request joined another's origin fetch */
} edge_cache_answer_t;

/** The X-Cache text of an outcome ("HIT", "MISS", "REVALIDATED", "STALE" or "ERROR"); static storage. */
const char *edge_account_x_cache(edge_cache_outcome_t outcome);

/**
 * The Cache-Status value of an answer, from `pool`: "edgecache" then, in this order and each only when
 * present, hit, fwd, fwd-status, stored, ttl, detail, collapsed. Never fails.
 */
h2o_iovec_t edge_account_cache_status(h2o_mem_pool_t *pool, const edge_cache_answer_t *answer);

/** The outcome the reports count for a request answered with `outcome` (a PASS request counts as
 * REPORTS_PASS whatever its answer: the caller decides that). */
reports_outcome_t edge_account_report_outcome(edge_cache_outcome_t outcome);

#endif
