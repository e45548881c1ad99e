/*
 * errorpages/errorpages.h: the static error pages shipped in errorpages/NNN.html, embedded into the
 * binary at build time so that an error page can always be served, whatever the disk holds.
 */
#ifndef ERRORPAGES_ERRORPAGES_H
#define ERRORPAGES_ERRORPAGES_H

#include <stddef.h>

typedef struct st_errorpages_page_t {
    const char *name; /* the file name, e.g. "502.html" */
    const char *body;
    size_t len;
} errorpages_page_t;

/** The built-in page for `status` (404, 500, 502, 503, 504), or for the nearest class (5xx → 500), or NULL. */
const errorpages_page_t *errorpages_for_status(int status);
/** The built-in page named `name` ("502.html"), or NULL. */
const errorpages_page_t *errorpages_by_name(const char *name);

#endif
