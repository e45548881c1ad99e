/*
 * edge/account.c: a request's cache outcome, as X-Cache, Cache-Status, the reports and the per-behavior
 * metrics (see account.h).
 *
 * Invariant that is easy to break: the X-Cache and Cache-Status texts are an interface — tests, the warm
 * command and operators' log pipelines match them byte for byte — so the table and the parameter order
 * of the renderer change only on purpose.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include "edge/account.h"
#include "edge/req_fsm_int.h"

static const struct {
    const char *x_cache;
    bool hit;           /* Cache-Status says "hit": the body came from a stored object */
    const char *fwd;    /* a fixed fwd=, or NULL (then the answer's) */
    int fwd_status;     /* a fixed fwd-status=, or 0 (then the answer's) */
    const char *detail; /* a fixed detail=, or NULL (then the answer's) */
    reports_outcome_t report;
} outcomes[EDGE_CACHE_NUM_OUTCOMES] = {
    [EDGE_CACHE_HIT] = {"HIT", true, NULL, 0, NULL, REPORTS_HIT},
    [EDGE_CACHE_HIT_SWR] = {"STALE", true, NULL, 0, "stale-while-revalidate", REPORTS_HIT},
    [EDGE_CACHE_HIT_MAX_STALE] = {"STALE", true, NULL, 0, "max-stale", REPORTS_HIT},
    [EDGE_CACHE_HIT_ERROR_PAGE] = {"ERROR", true, NULL, 0, "error-page", REPORTS_ERROR},
    [EDGE_CACHE_MISS] = {"MISS", false, NULL, 0, NULL, REPORTS_MISS},
    [EDGE_CACHE_REFRESH] = {"MISS", false, NULL, 0, NULL, REPORTS_REFRESHED},
    [EDGE_CACHE_PASS] = {"MISS", false, NULL, 0, NULL, REPORTS_PASS},
    [EDGE_CACHE_REVALIDATED] = {"REVALIDATED", false, "stale", 304, NULL, REPORTS_REVALIDATED},
    [EDGE_CACHE_STALE] = {"STALE", true, "stale", 0, NULL, REPORTS_STALE},
    [EDGE_CACHE_ERROR] = {"ERROR", false, NULL, 0, NULL, REPORTS_ERROR},
};

const char *edge_account_x_cache(edge_cache_outcome_t outcome)
{
    return outcome < EDGE_CACHE_NUM_OUTCOMES ? outcomes[outcome].x_cache : "MISS";
}

reports_outcome_t edge_account_report_outcome(edge_cache_outcome_t outcome)
{
    return outcome < EDGE_CACHE_NUM_OUTCOMES ? outcomes[outcome].report : REPORTS_MISS;
}

h2o_iovec_t edge_account_cache_status(h2o_mem_pool_t *pool, const edge_cache_answer_t *a)
{
    edge_cache_outcome_t o = a->outcome < EDGE_CACHE_NUM_OUTCOMES ? a->outcome : EDGE_CACHE_MISS;
    const char *fwd = outcomes[o].fwd != NULL ? outcomes[o].fwd : a->fwd;
    int fwd_status = outcomes[o].fwd_status != 0 ? outcomes[o].fwd_status : a->fwd_status;
    const char *detail = outcomes[o].detail != NULL ? outcomes[o].detail : a->detail;
    char buf[256];
    size_t len = 0;

#define PUT(...)                                                                                                                   \
    do {                                                                                                                           \
        int n_ = snprintf(buf + len, sizeof(buf) - len, __VA_ARGS__);                                                              \
        if (n_ > 0)                                                                                                                \
            len = len + (size_t)n_ < sizeof(buf) ? len + (size_t)n_ : sizeof(buf) - 1;                                             \
    } while (0)
    PUT("edgecache");
    if (outcomes[o].hit)
        PUT("; hit");
    if (fwd != NULL)
        PUT("; fwd=%s", fwd);
    if (fwd_status != 0)
        PUT("; fwd-status=%d", fwd_status);
    if (a->stored)
        PUT("; stored");
    if (a->has_ttl)
        PUT("; ttl=%" PRId64, a->ttl);
    if (detail != NULL)
        PUT("; detail=%s", detail);
    if (a->collapsed)
        PUT("; collapsed");
#undef PUT
    return h2o_strdup(pool, buf, len);
}

/* The class the metrics label a request with: the reports' hit / miss (accounting.h), else other. */
static reports_class_t metrics_class(const edge_req_t *er)
{
    if (!er->answered || er->behavior == NULL)
        return REPORTS_CLASS_OTHER;
    switch (er->passed ? REPORTS_PASS : edge_account_report_outcome(er->outcome)) {
    case REPORTS_HIT:
    case REPORTS_REVALIDATED:
    case REPORTS_STALE:
        return REPORTS_CLASS_HIT;
    case REPORTS_MISS:
    case REPORTS_REFRESHED:
    case REPORTS_PASS:
        return REPORTS_CLASS_MISS;
    default:
        return REPORTS_CLASS_OTHER;
    }
}

/* The request's time on the client's side: from libh2o's timestamp of its first byte to now, when its
 * response's last byte has been handed to the socket (the request is being disposed). */
static uint64_t client_duration_us(const h2o_req_t *req)
{
    const struct timeval *begin =
        req->timestamps.request_begin_at.tv_sec != 0 ? &req->timestamps.request_begin_at : &req->processed_at.at;
    struct timeval now;
    gettimeofday(&now, NULL);
    int64_t us = ((int64_t)now.tv_sec - (int64_t)begin->tv_sec) * 1000000 + ((int64_t)now.tv_usec - (int64_t)begin->tv_usec);
    return us > 0 ? (uint64_t)us : 0; /* (a wall clock stepped back) */
}

/* The request's line in the reports: what it was, what it cost the origin, and why it missed; and its
 * per-behavior metrics, which count every request (those without a cache answer — refused, PURGE, ended
 * by the client first — under behavior="other"). */
void edge_account_request(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    const edge_conf_t *conf = &er->tgen->gen->conf;

    if (er->fetch != NULL && !er->sub.joined)
        er->origin_bytes = er->fetch->received; /* (still subscribed: the fetch's count so far) */
    /* (a request without an answer counts under behavior="other", whatever behavior it had matched) */
    size_t behavior = er->answered && er->behavior != NULL ? (size_t)(er->behavior - conf->behaviors) : SIZE_MAX;
    reports_by_behavior_record(&er->thread->by_behavior, behavior, metrics_class(er), req->res.status, client_duration_us(req),
                               er->bytes_sent, er->origin_bytes);
    if (!er->answered || er->behavior == NULL)
        return; /* not a cache answer: a refused or PURGE request */
    reports_event_t ev = {.behavior = (size_t)(er->behavior - conf->behaviors),
                          .status = req->res.status,
                          .bytes_sent = er->bytes_sent,
                          .origin_bytes = er->origin_bytes,
                          .origin_ms = er->origin_ms};
    /* a PASS counts as one whatever its answer (an error page, too) */
    ev.outcome = er->passed ? REPORTS_PASS : edge_account_report_outcome(er->outcome);
    ev.url = cache_key_url(er->key);
    ev.has_query = req->query_at != SIZE_MAX;
    ev.query_in_key = memchr(ev.url.base, '?', ev.url.len) != NULL;
    ev.expired = er->have_rec && (ev.outcome == REPORTS_REFRESHED || ev.outcome == REPORTS_REVALIDATED);
    ev.evicted_recently = ev.outcome == REPORTS_MISS && cache_store_recently_evicted(er->thread->server->store, &er->hash, 3600);
    ev.incomplete = er->stopped || (!er->is_head && req->res.status != 304 && req->res.content_length != SIZE_MAX &&
                                    er->bytes_sent < req->res.content_length);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    reports_acct_record(er->tgen->acct, &ev, (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000);
}
