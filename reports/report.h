/*
 * reports/report.h: reading the stored buckets back, merging them, and rendering the reports.
 *
 * A report is built in two steps: a reports_data_t collects values (from a store with
 * reports_data_load, from anything else through reports_data_add, or from other edges' JSON reports
 * with reports_data_add_json) and merges threads, runs and buckets as they come; then a renderer
 * writes one report from it to a FILE (a terminal, a file, or an open_memstream buffer for an HTTP
 * answer).
 *
 * Reports:
 * - popular: the most requested objects (CloudFront's columns) with Space-Saving's error bound per row
 *   and the bound for every object not listed (reports/topk.h);
 * - stats: per time bucket and per behavior, requests, hits, misses, errors, hit and byte-hit ratios,
 *   origin bytes, origin latency p50 / p99 (upper bounds of the histogram buckets holding them);
 * - ttl: per behavior, the figures TTL advice rests on, and the suggestions they support.
 *
 * Threads: none of this touches an event loop's state. reports_data_load scans the store (a read
 * transaction over the whole range): call it from the admin thread or the CLI, never from a loop.
 */
#ifndef REPORTS_REPORT_H
#define REPORTS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <h2o.h>
#include "cache/store.h"

typedef enum en_reports_format_t {
    REPORTS_FORMAT_TABLE, /* aligned columns for a terminal */
    REPORTS_FORMAT_CSV,   /* RFC 4180, a header line first */
    REPORTS_FORMAT_JSON,  /* one object; every report's JSON is also the input of a merge */
    REPORTS_FORMAT_HTML   /* one self-contained page: an inline SVG chart and the tables, no external asset */
} reports_format_t;

typedef struct st_reports_query_t {
    uint64_t from_s, to_s; /* buckets overlapping [from_s, to_s), Unix seconds */
    unsigned top;          /* rows of the popular report (0: all the summary holds) */
    const char *site;      /* NULL: every site; else stats and ttl keep the behaviors named "SITE:..." only */
    const char *hosts;     /* NULL: every object; else popular keeps the objects of these hosts (cache_key_host_in) */
    const char *node_id;   /* the edge whose store is read (its node_id): written into every JSON report; NULL: none */
} reports_query_t;

typedef struct st_reports_data_t reports_data_t;

/**
 * An empty collection for the buckets that overlap the query's range. A query with to_s 0 (for merging
 * JSON reports) takes its range from the inputs: the union of theirs.
 */
reports_data_t *reports_data_new(const reports_query_t *q);
void reports_data_free(reports_data_t *d);
/**
 * Adds one stored key and value (the signature of cache_store_scan_aux's callback, `ctx` being the
 * reports_data_t). Keys of other modules, buckets outside the range and values that do not decode are
 * skipped (the latter are counted: reports_data_skipped). Always returns 0.
 */
int reports_data_add(void *ctx, h2o_iovec_t key, h2o_iovec_t value);
/**
 * Scans `store` (opened read-write by the running edge, or with cache_store_open_readonly) for the
 * query's range and adds what it finds. Returns 0 or CACHE_STORE_EIO. Not on an event loop.
 */
int reports_data_load(reports_data_t *d, cache_store_t *store);
/**
 * Adds a JSON report (this module's output, from another edge, or an earlier merge) named `source` (a file name,
 * "edge eu-1": it appears in the errors and the per-edge breakdown) to `d`:
 * - popular: the objects go into the summary of `d` (counts and error bounds add up, reports/topk.h);
 * - stats: each bucket's behaviors into that bucket's series, and into the totals;
 * - ttl: the behaviors into the totals (only the totals: a ttl report has no buckets).
 * stats and ttl inputs cannot be mixed in one `d` (both carry the totals: they would count twice); popular goes with
 * either (the HTML page shows the objects beside the behaviors).
 *
 * Every report names its edges ("node_id", "edges"). An edge that an earlier input of the same report already
 * brought is refused, naming both inputs: merging it twice would double its counts. An input without a node id
 * (written before node ids existed) is accepted once per report; a second one is refused, since two such
 * inputs cannot be told from the same file given twice.
 *
 * Returns 0, or -1 with a message in `err`; on error `d` is unchanged.
 */
int reports_data_add_json(reports_data_t *d, const char *source, const char *text, size_t len, char *err, size_t errlen);
/** The number of edges merged from JSON inputs so far (0 for a report read from a store). */
size_t reports_data_num_nodes(const reports_data_t *d);
/** Values skipped because they did not decode. */
size_t reports_data_skipped(const reports_data_t *d);

/** Writes the popular-objects report of `d`. Returns 0, or -1 on an output error. */
int reports_render_popular(const reports_data_t *d, reports_format_t fmt, FILE *out);
/** Writes the per-bucket, per-behavior statistics (REPORTS_FORMAT_HTML: the same page as popular). */
int reports_render_stats(const reports_data_t *d, reports_format_t fmt, FILE *out);
/** Writes the TTL advice (TABLE: readable text; CSV: one line per suggestion; JSON; HTML: as TABLE in <pre>). */
int reports_render_ttl(const reports_data_t *d, reports_format_t fmt, FILE *out);

/**
 * For the admin API: loads the query's range from `store` (the running edge's) and renders the report
 * `name` ("popular", "stats" or "ttl") into a buffer from malloc (`*out`, `*outlen`; the caller frees).
 * Returns 0, CACHE_STORE_EIO, or -1 for an unknown name. Blocks for the scan: call it from a thread of
 * its own (or accept the pause), never in the middle of an event loop's hit path.
 */
int reports_render_to_buffer(cache_store_t *store, const char *name, const reports_query_t *q, reports_format_t fmt, char **out,
                             size_t *outlen);

/** "table", "csv", "json", "html" → the format; -1 when unknown. */
int reports_format_parse(const char *s);
/** ISO-8601 UTC ("2026-11-26T10:00:00Z", "2026-11-26T10:00Z", "2026-11-26") or Unix seconds. 0 or -1. */
int reports_parse_time(const char *s, uint64_t *out);
/** A duration: seconds, or a number with s, m, h, d ("30m", "24h", "7d"). 0 or -1 (also for 0). */
int reports_parse_duration(const char *s, uint64_t *out_s);

#endif
