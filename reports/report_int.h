/*
 * reports/report_int.h: what the renderers of reports/report.c, advice.c and html.c share. Not a
 * public interface: only the reports/ renderers include it.
 */
#ifndef REPORTS_REPORT_INT_H
#define REPORTS_REPORT_INT_H

#include <stdio.h>
#include "reports/bucket.h"
#include "reports/report.h"
#include "reports/topk.h"

#define REPORTS_MAX_BUCKET_S 86400 /* the largest reports.bucket the configuration accepts */

typedef struct st_reports_series_t {
    uint64_t start, length; /* seconds */
    reports_beh_t *behs;    /* merged by path over threads and runs */
    size_t num_behs;
} reports_series_t;

struct st_reports_data_t {
    reports_query_t q;
    reports_topk_t *objects;   /* merged; NULL until something was added */
    reports_series_t *buckets; /* in time order */
    size_t num_buckets;
    reports_beh_t *totals; /* per behavior path over every bucket */
    size_t num_totals;
    size_t skipped;
    bool from_inputs; /* the query had no range: merged JSON inputs set it */
};

/* The formatters of reports/format.c. */
/* hits / (hits + misses) in percent, or -1 when both are 0 */
double reports_pct(uint64_t part, uint64_t whole);
/* 1234567 → "1,234,567" into `buf` (32 bytes) */
const char *reports_thousands(uint64_t v, char *buf);
/* Unix seconds → "2026-11-26T10:00:00Z" into `buf` (32 bytes) */
const char *reports_iso8601(uint64_t t, char *buf);
/* Writes `s` with HTML's special characters escaped. */
void reports_html_escape(FILE *out, const char *s, size_t len);

/* the one HTML page (reports/html.c), for popular and stats alike */
int reports_render_html(const reports_data_t *d, FILE *out);
/* (reports/format.c) the sorted rows of the popular report: a malloc'd array (caller frees), `*n` rows, `*floor` the bound of
 * every object not listed */
const reports_topk_entry_t **reports_popular_rows(const reports_data_t *d, size_t *n, uint64_t *floor);

#endif
