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

/* One edge whose report went into a merge (reports/merge.c): the duplicate check and the per-edge breakdown. */
typedef struct st_reports_node_t {
    char *id;       /* NULL: an input of the format before node ids (at most one per kind is accepted) */
    char *source;   /* the input it came from, as the caller named it (a file, "edge eu-1") */
    unsigned kinds; /* REPORTS_NODE_KIND_* bits: the reports of this node merged so far */
    bool has_totals;
    uint64_t requests, hits, misses, origin_requests;
} reports_node_t;

#define REPORTS_NODE_KIND_POPULAR 1u
#define REPORTS_NODE_KIND_STATS 2u
#define REPORTS_NODE_KIND_TTL 4u

struct st_reports_data_t {
    reports_query_t q;
    reports_topk_t *objects;   /* merged; NULL until something was added */
    reports_series_t *buckets; /* in time order */
    size_t num_buckets;
    reports_beh_t *totals; /* per behavior path over every bucket */
    size_t num_totals;
    size_t skipped;
    bool from_inputs;      /* the query had no range: merged JSON inputs set it */
    reports_node_t *nodes; /* the edges merged from JSON inputs, in input order; none for a report read from a store */
    size_t num_nodes;
    unsigned kinds; /* REPORTS_NODE_KIND_* of the inputs merged so far */
};

/* (reports/report.c) merging into a collection: a behavior into `*arr` by path; the series of the bucket that starts at
 * `start` (created, in time order, when new); a summary of objects (consumed). */
void reports_beh_merge_into(reports_beh_t **arr, size_t *n, const reports_beh_t *src);
reports_series_t *reports_data_series_at(reports_data_t *d, uint64_t start, uint64_t length);
void reports_data_merge_objects(reports_data_t *d, reports_topk_t *t);

/* (reports/merge.c) the edges of a report: `d`'s merged nodes, or else the one edge a store's report describes (its
 * q.node_id, with the totals of its behaviors). A malloc'd array (free with reports_nodes_view_free) of `*n`. */
reports_node_t *reports_nodes_view(const reports_data_t *d, size_t *n);
void reports_nodes_view_free(reports_node_t *v, size_t n);
void reports_nodes_free(reports_data_t *d);
/* Writes `,"node_id":ID,"edges":[{"node_id":..,"requests":..,"hits":..,"misses":..,"origin_requests":..}]`: the
 * node_id member only when the report is one edge's. Every JSON report carries it; merges read it back. */
void reports_json_write_nodes(const reports_data_t *d, FILE *out);
/* Writes `,"origin_latency_buckets":[..],"origin_latency_sum_ms":N`: the histogram, so that a merge keeps the
 * quantiles exact. */
void reports_json_write_latency(FILE *out, const reports_latency_t *l);

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
