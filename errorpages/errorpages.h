/*
 * errorpages/errorpages.h: the static error pages shipped in errorpages/NNN.html, embedded into the
 * binary at build time so that an error page can always be served, whatever the disk holds.
 */
#ifndef ERRORPAGES_ERRORPAGES_H
#define ERRORPAGES_ERRORPAGES_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_errorpages_page_t {
    const char *name; /* the file name, e.g. "502.html" */
    const char *body;
    size_t len;
} errorpages_page_t;

/* Origin failures that are not an HTTP status, as bits of errorpages_rule_t.failures. */
#define ERRORPAGES_FAIL_CONNECT 0x1 /* connection refused / unreachable / connect timeout */
#define ERRORPAGES_FAIL_TIMEOUT 0x2 /* read timeout: no first byte, or too long a gap */
#define ERRORPAGES_FAIL_RESET 0x4   /* connection reset or closed mid-response, malformed response */

/* One entry of the "error_pages" configuration (CloudFront's custom error responses), filled by the
 * configuration loader and read-only afterwards. */
typedef struct st_errorpages_rule_t {
    int *statuses; /* origin statuses (400..599) this entry applies to */
    size_t num_statuses;
    unsigned failures; /* ERRORPAGES_FAIL_* bits, from the names connect_error, timeout, reset */
    char *page;        /* the file name as written */
    char *body;        /* the page's content, loaded at parse time (a built-in page or a file) */
    size_t body_len;
    int response_code;              /* status sent to the client; 0 = the origin's status (502 / 504 for failures) */
    uint64_t error_caching_min_ttl; /* seconds, default 10 */
} errorpages_rule_t;

/**
 * The first of `rules` that applies to an origin answer of `status` (when `failure` is 0) or to a
 * `failure` (an ERRORPAGES_FAIL_* bit), or NULL. Pure; any thread.
 */
const errorpages_rule_t *errorpages_rule_find(const errorpages_rule_t *rules, size_t num, int status, unsigned failure);

/** The built-in page for `status` (404, 500, 502, 503, 504), or for the nearest class (5xx → 500), or NULL. */
const errorpages_page_t *errorpages_for_status(int status);
/** The built-in page named `name` ("502.html"), or NULL. */
const errorpages_page_t *errorpages_by_name(const char *name);

#endif
