/*
 * reports/report.c: collecting stored buckets into one view, and the popular and stats reports.
 *
 * Values arrive in key order (time, kind, run, thread) from a scan, or one by one from a caller. Each is
 * decoded (it comes from the disk: a value that does not decode is skipped and counted, never trusted),
 * then merged at once: objects into one top-K summary (error bounds add up, reports/topk.h), behaviors
 * by path pattern into their time bucket and into the totals. The patterns come from the values, not
 * from a configuration, so buckets written under an older configuration still read right.
 *
 * Invariant: `buckets` stays sorted by start time (values can come in any order through
 * reports_data_add), so the series and the chart are in time order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "reports/json.h"
#include "reports/report_int.h"
#include "reports/stats.h"

static void fmt_pct(char *buf, size_t size, double pct)
{
    if (pct < 0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.1f", pct);
}

static const char *fmt_ms(char *buf, size_t size, uint64_t ms)
{
    if (ms == 0)
        snprintf(buf, size, "-");
    else if (ms == UINT64_MAX)
        snprintf(buf, size, ">%llu", (unsigned long long)reports_latency_bounds_ms[REPORTS_LATENCY_NUM_BOUNDS - 1]);
    else
        snprintf(buf, size, "%llu", (unsigned long long)ms);
    return buf;
}

/* --- parsing the command line's values ---------------------------------------------------------- */

int reports_format_parse(const char *s)
{
    static const char *const names[] = {[REPORTS_FORMAT_TABLE] = "table",
                                        [REPORTS_FORMAT_CSV] = "csv",
                                        [REPORTS_FORMAT_JSON] = "json",
                                        [REPORTS_FORMAT_HTML] = "html"};
    for (size_t i = 0; i != sizeof(names) / sizeof(names[0]); ++i)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

int reports_parse_time(const char *s, uint64_t *out)
{
    char *end;
    if (*s >= '0' && *s <= '9' && strspn(s, "0123456789") == strlen(s)) {
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0)
            return -1;
        *out = v;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    static const char *const forms[] = {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ", "%Y-%m-%d"};
    for (size_t i = 0; i != sizeof(forms) / sizeof(forms[0]); ++i) {
        memset(&tm, 0, sizeof(tm));
        if ((end = strptime(s, forms[i], &tm)) != NULL && *end == '\0') {
            time_t t = timegm(&tm);
            if (t < 0)
                return -1;
            *out = (uint64_t)t;
            return 0;
        }
    }
    return -1;
}

int reports_parse_duration(const char *s, uint64_t *out_s)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t unit;
    if (errno != 0)
        return -1;
    if (*end == '\0' || strcmp(end, "s") == 0)
        unit = 1;
    else if (strcmp(end, "m") == 0)
        unit = 60;
    else if (strcmp(end, "h") == 0)
        unit = 3600;
    else if (strcmp(end, "d") == 0)
        unit = 86400;
    else
        return -1;
    if (v == 0 || v > UINT64_MAX / unit)
        return -1;
    *out_s = v * unit;
    return 0;
}

/* --- collecting -------------------------------------------------------------------------------- */

reports_data_t *reports_data_new(const reports_query_t *q)
{
    reports_data_t *d = h2o_mem_alloc(sizeof(*d));
    *d = (reports_data_t){.q = *q, .from_inputs = q->to_s == 0};
    return d;
}

static void free_behs(reports_beh_t *behs, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        reports_beh_dispose(behs + i);
    free(behs);
}

void reports_data_free(reports_data_t *d)
{
    if (d == NULL)
        return;
    reports_topk_free(d->objects);
    for (size_t i = 0; i != d->num_buckets; ++i)
        free_behs(d->buckets[i].behs, d->buckets[i].num_behs);
    free(d->buckets);
    free_behs(d->totals, d->num_totals);
    reports_nodes_free(d);
    free(d);
}

size_t reports_data_skipped(const reports_data_t *d)
{
    return d->skipped;
}

/* Merges `src` into the behavior of the same path in `*arr` (appended when new). */
void reports_beh_merge_into(reports_beh_t **arr, size_t *n, const reports_beh_t *src)
{
    size_t i;
    for (i = 0; i != *n; ++i)
        if (strcmp((*arr)[i].path, src->path) == 0)
            break;
    if (i == *n) {
        *arr = h2o_mem_realloc(*arr, sizeof(**arr) * (*n + 1));
        reports_beh_t *b = *arr + (*n)++;
        reports_beh_init(b, src->path, strlen(src->path));
        b->query_string = src->query_string;
    }
    /* the TTL settings of the latest value win: they are what an advice should start from */
    (*arr)[i].min_ttl = src->min_ttl;
    (*arr)[i].default_ttl = src->default_ttl;
    (*arr)[i].max_ttl = src->max_ttl;
    (*arr)[i].query_string = src->query_string;
    reports_beh_merge(*arr + i, src);
}

reports_series_t *reports_data_series_at(reports_data_t *d, uint64_t start, uint64_t length)
{
    size_t i = d->num_buckets;
    while (i != 0 && d->buckets[i - 1].start > start)
        --i;
    if (i != 0 && d->buckets[i - 1].start == start) {
        if (length > d->buckets[i - 1].length)
            d->buckets[i - 1].length = length;
        return d->buckets + i - 1;
    }
    d->buckets = h2o_mem_realloc(d->buckets, sizeof(*d->buckets) * (d->num_buckets + 1));
    memmove(d->buckets + i + 1, d->buckets + i, sizeof(*d->buckets) * (d->num_buckets - i));
    ++d->num_buckets;
    d->buckets[i] = (reports_series_t){.start = start, .length = length};
    return d->buckets + i;
}

void reports_data_merge_objects(reports_data_t *d, reports_topk_t *t)
{
    if (d->objects == NULL) {
        d->objects = t;
        return;
    }
    if (reports_topk_capacity(t) > reports_topk_capacity(d->objects)) { /* keep the larger capacity */
        reports_topk_t *swap = d->objects;
        d->objects = t;
        t = swap;
    }
    reports_topk_merge(d->objects, t);
    reports_topk_free(t);
}

static bool in_range(const reports_data_t *d, uint64_t start, uint64_t length)
{
    return start < d->q.to_s && start + length > d->q.from_s;
}

int reports_data_add(void *ctx, h2o_iovec_t key, h2o_iovec_t value)
{
    reports_data_t *d = ctx;
    reports_key_t k;
    uint64_t bucket_s;

    if (reports_key_decode(&k, key.base, key.len) != 0 || k.bucket_start >= d->q.to_s)
        return 0;
    if (k.kind == REPORTS_KIND_OBJECTS) {
        reports_topk_t *t = reports_objects_decode(value.base, value.len, &bucket_s);
        if (t == NULL || bucket_s > REPORTS_MAX_BUCKET_S) {
            reports_topk_free(t);
            ++d->skipped;
        } else if (!in_range(d, k.bucket_start, bucket_s)) {
            reports_topk_free(t);
        } else {
            reports_data_merge_objects(d, t);
        }
    } else {
        reports_beh_t *behs;
        size_t n;
        if (reports_behs_decode(value.base, value.len, &bucket_s, &behs, &n) != 0) {
            ++d->skipped;
            return 0;
        }
        if (bucket_s <= REPORTS_MAX_BUCKET_S && in_range(d, k.bucket_start, bucket_s)) {
            reports_series_t *s = reports_data_series_at(d, k.bucket_start, bucket_s);
            for (size_t i = 0; i != n; ++i) {
                if (behs[i].c.requests == 0)
                    continue; /* a behavior that served nothing in this bucket has no row */
                if (d->q.site != NULL &&
                    (strncmp(behs[i].path, d->q.site, strlen(d->q.site)) != 0 || behs[i].path[strlen(d->q.site)] != ':'))
                    continue; /* another site's ("SITE:PATH") */
                reports_beh_merge_into(&s->behs, &s->num_behs, behs + i);
                reports_beh_merge_into(&d->totals, &d->num_totals, behs + i);
            }
        } else if (bucket_s > REPORTS_MAX_BUCKET_S) {
            ++d->skipped;
        }
        reports_behs_free(behs, n);
    }
    return 0;
}

int reports_data_load(reports_data_t *d, cache_store_t *store)
{
    uint8_t from[REPORTS_KEY_BOUND_LEN], to[REPORTS_KEY_BOUND_LEN];
    /* a bucket that started up to one maximal bucket length before `from` may still overlap it */
    reports_key_bound(from, d->q.from_s > REPORTS_MAX_BUCKET_S ? d->q.from_s - REPORTS_MAX_BUCKET_S : 0);
    reports_key_bound(to, d->q.to_s);
    return cache_store_scan_aux(store, h2o_iovec_init(from, sizeof(from)), h2o_iovec_init(to, sizeof(to)), reports_data_add, d);
}

static void json_pct(FILE *out, const char *name, double pct)
{
    if (pct >= 0)
        fprintf(out, ",\"%s\":%.1f", name, pct);
    else
        fprintf(out, ",\"%s\":null", name);
}

static void json_ms(FILE *out, const char *name, uint64_t ms)
{
    if (ms != 0 && ms != UINT64_MAX)
        fprintf(out, ",\"%s\":%llu", name, (unsigned long long)ms);
    else
        fprintf(out, ",\"%s\":null", name);
}

/* --- popular ----------------------------------------------------------------------------------- */

static const char *const popular_heads[] = {"url",         "requests",   "error", "hits", "misses", "hit_pct", "bytes_from_misses",
                                            "bytes_total", "incomplete", "s2xx",  "s3xx", "s4xx",   "s5xx"};
#define POPULAR_COLS (sizeof(popular_heads) / sizeof(popular_heads[0]))

/* The cells of one row, as text, into `cells` (each 32 bytes; the url is not copied). */
static void popular_cells(const reports_topk_entry_t *e, char cells[POPULAR_COLS][32])
{
    const reports_obj_counts_t *c = &e->c;
    const uint64_t v[] = {c->requests,    e->error,      c->hits, c->misses, 0,       c->bytes_from_misses,
                          c->bytes_total, c->incomplete, c->s2xx, c->s3xx,   c->s4xx, c->s5xx};
    for (size_t i = 1; i != POPULAR_COLS; ++i)
        snprintf(cells[i], 32, "%llu", (unsigned long long)v[i - 1]);
    fmt_pct(cells[5], 32, reports_pct(c->hits, c->hits + c->misses));
}

static void csv_field(FILE *out, const char *s, size_t len)
{
    if (strcspn(s, ",\"\r\n") >= len) {
        fwrite(s, 1, len, out);
        return;
    }
    fputc('"', out);
    for (size_t i = 0; i != len; ++i) {
        if (s[i] == '"')
            fputc('"', out);
        fputc(s[i], out);
    }
    fputc('"', out);
}

#define TABLE_URL_MAX 80 /* wider URLs are cut in the table (csv and json keep them whole) */

int reports_render_popular(const reports_data_t *d, reports_format_t fmt, FILE *out)
{
    size_t n;
    uint64_t floor;
    const reports_topk_entry_t **rows;
    char cells[POPULAR_COLS][32], from[32], to[32], buf[32];

    if (fmt == REPORTS_FORMAT_HTML)
        return reports_render_html(d, out);
    rows = reports_popular_rows(d, &n, &floor);
    uint64_t total = d->objects != NULL ? reports_topk_total(d->objects) : 0;
    unsigned capacity = d->objects != NULL ? reports_topk_capacity(d->objects) : 0;

    switch (fmt) {
    case REPORTS_FORMAT_TABLE: {
        size_t width[POPULAR_COLS];
        for (size_t i = 0; i != POPULAR_COLS; ++i)
            width[i] = strlen(popular_heads[i]);
        for (size_t r = 0; r != n; ++r) {
            popular_cells(rows[r], cells);
            if (rows[r]->key_len > width[0])
                width[0] = rows[r]->key_len < TABLE_URL_MAX ? rows[r]->key_len : TABLE_URL_MAX;
            for (size_t i = 1; i != POPULAR_COLS; ++i)
                if (strlen(cells[i]) > width[i])
                    width[i] = strlen(cells[i]);
        }
        fprintf(out, "popular objects %s .. %s: %s requests counted", reports_iso8601(d->q.from_s, from),
                reports_iso8601(d->q.to_s, to), reports_thousands(total, buf));
        fprintf(out, "; requests are overestimated by at most `error`; objects not listed had at most %llu requests\n",
                (unsigned long long)floor);
        for (size_t i = 0; i != POPULAR_COLS; ++i)
            fprintf(out, i == 0 ? "%-*s" : "  %*s", (int)width[i], popular_heads[i]);
        fputc('\n', out);
        for (size_t r = 0; r != n; ++r) {
            popular_cells(rows[r], cells);
            if (rows[r]->key_len > TABLE_URL_MAX)
                fprintf(out, "%.*s...", TABLE_URL_MAX - 3, rows[r]->key);
            else
                fprintf(out, "%-*s", (int)width[0], rows[r]->key);
            for (size_t i = 1; i != POPULAR_COLS; ++i)
                fprintf(out, "  %*s", (int)width[i], cells[i]);
            fputc('\n', out);
        }
        break;
    }
    case REPORTS_FORMAT_CSV:
        for (size_t i = 0; i != POPULAR_COLS; ++i)
            fprintf(out, "%s%s", i == 0 ? "" : ",", popular_heads[i]);
        fputc('\n', out);
        for (size_t r = 0; r != n; ++r) {
            popular_cells(rows[r], cells);
            csv_field(out, rows[r]->key, rows[r]->key_len);
            for (size_t i = 1; i != POPULAR_COLS; ++i)
                fprintf(out, ",%s", cells[i]);
            fputc('\n', out);
        }
        break;
    default: /* JSON: also the input of a merge (reports_data_add_json) */
        fprintf(out, "{\"version\":1,\"report\":\"popular\",\"from\":\"%s\",\"to\":\"%s\",\"from_unix\":%llu,\"to_unix\":%llu",
                reports_iso8601(d->q.from_s, from), reports_iso8601(d->q.to_s, to), (unsigned long long)d->q.from_s,
                (unsigned long long)d->q.to_s);
        reports_json_write_nodes(d, out);
        fprintf(out, ",\"total_requests\":%llu,\"floor\":%llu,\"capacity\":%u,\"objects\":[", (unsigned long long)total,
                (unsigned long long)floor, capacity);
        for (size_t r = 0; r != n; ++r) {
            const reports_topk_entry_t *e = rows[r];
            fprintf(out, "%s{\"url\":", r == 0 ? "" : ",");
            reports_json_write_string(out, e->key, e->key_len);
            fprintf(out, ",\"error\":%llu", (unsigned long long)e->error);
            for (size_t f = 0; f != reports_obj_counter_count; ++f)
                fprintf(out, ",\"%s\":%llu", reports_obj_counter_table[f].name,
                        (unsigned long long)*(const uint64_t *)((const char *)&e->c + reports_obj_counter_table[f].offset));
            json_pct(out, "hit_pct", reports_pct(e->c.hits, e->c.hits + e->c.misses));
            fputc('}', out);
        }
        fputs("]}\n", out);
        break;
    }
    free(rows);
    return ferror(out) ? -1 : 0;
}

/* --- stats ------------------------------------------------------------------------------------- */

static const char *const stats_heads[] = {"bucket",          "behavior",     "requests",      "hits",
                                          "misses",          "errors",       "hit_pct",       "byte_hit_pct",
                                          "origin_requests", "origin_bytes", "origin_p50_ms", "origin_p99_ms"};
#define STATS_COLS (sizeof(stats_heads) / sizeof(stats_heads[0]))

static void stats_cells(const char *bucket, const reports_beh_t *b, char cells[STATS_COLS][48])
{
    const reports_beh_counts_t *c = &b->c;
    snprintf(cells[0], 48, "%s", bucket);
    snprintf(cells[1], 48, "%.47s", b->path);
    const uint64_t v[] = {c->requests, c->hits, c->misses, c->errors};
    for (size_t i = 0; i != 4; ++i)
        snprintf(cells[2 + i], 48, "%llu", (unsigned long long)v[i]);
    fmt_pct(cells[6], 48, reports_pct(c->hits, c->hits + c->misses));
    fmt_pct(cells[7], 48, reports_pct(c->bytes_from_cache, c->bytes_sent));
    snprintf(cells[8], 48, "%llu", (unsigned long long)c->origin_requests);
    snprintf(cells[9], 48, "%llu", (unsigned long long)c->origin_bytes);
    fmt_ms(cells[10], 48, reports_latency_quantile(&b->latency, 0.5));
    fmt_ms(cells[11], 48, reports_latency_quantile(&b->latency, 0.99));
}

/* Every row of the stats report: each bucket's behaviors, then each behavior's total, then "*all*". */
typedef void (*stats_row_cb)(void *ctx, const char *bucket, uint64_t bucket_s, const reports_beh_t *b);

static void each_stats_row(const reports_data_t *d, stats_row_cb cb, void *ctx)
{
    char when[32];
    reports_beh_t all;
    reports_beh_init(&all, "*all*", 5);
    for (size_t i = 0; i != d->num_buckets; ++i)
        for (size_t j = 0; j != d->buckets[i].num_behs; ++j)
            cb(ctx, reports_iso8601(d->buckets[i].start, when), d->buckets[i].length, d->buckets[i].behs + j);
    for (size_t j = 0; j != d->num_totals; ++j) {
        cb(ctx, "total", 0, d->totals + j);
        reports_beh_merge(&all, d->totals + j);
    }
    cb(ctx, "total", 0, &all);
    reports_beh_dispose(&all);
}

typedef struct st_stats_ctx_t {
    FILE *out;
    reports_format_t fmt;
    size_t width[STATS_COLS];
    size_t rows;
} stats_ctx_t;

static void stats_measure(void *ctx, const char *bucket, uint64_t bucket_s, const reports_beh_t *b)
{
    stats_ctx_t *s = ctx;
    char cells[STATS_COLS][48];
    stats_cells(bucket, b, cells);
    for (size_t i = 0; i != STATS_COLS; ++i)
        if (strlen(cells[i]) > s->width[i])
            s->width[i] = strlen(cells[i]);
}

static void stats_row(void *ctx, const char *bucket, uint64_t bucket_s, const reports_beh_t *b)
{
    stats_ctx_t *s = ctx;
    char cells[STATS_COLS][48];
    stats_cells(bucket, b, cells);
    for (size_t i = 0; i != STATS_COLS; ++i) {
        switch (s->fmt) {
        case REPORTS_FORMAT_TABLE:
            fprintf(s->out, i < 2 ? "%s%-*s" : "%s%*s", i == 0 ? "" : "  ", (int)s->width[i], cells[i]);
            break;
        case REPORTS_FORMAT_CSV:
            if (i != 0)
                fputc(',', s->out);
            csv_field(s->out, cells[i], strlen(cells[i]));
            break;
        default:
            break;
        }
    }
    if (s->fmt == REPORTS_FORMAT_JSON) {
        fprintf(s->out, "%s{\"bucket\":\"%s\",\"behavior\":", s->rows == 0 ? "" : ",", bucket);
        reports_json_write_string(s->out, b->path, strlen(b->path));
        for (size_t f = 0; f != reports_beh_counter_count; ++f)
            fprintf(s->out, ",\"%s\":%llu", reports_beh_counter_table[f].name,
                    (unsigned long long)*(const uint64_t *)((const char *)&b->c + reports_beh_counter_table[f].offset));
        double hit = reports_pct(b->c.hits, b->c.hits + b->c.misses), bytehit = reports_pct(b->c.bytes_from_cache, b->c.bytes_sent);
        uint64_t p50 = reports_latency_quantile(&b->latency, 0.5), p99 = reports_latency_quantile(&b->latency, 0.99);
        json_pct(s->out, "hit_pct", hit);
        json_pct(s->out, "byte_hit_pct", bytehit);
        /* the upper bounds of the histogram buckets holding the quantiles; null: no origin request, or
         * above the last finite bound */
        json_ms(s->out, "origin_p50_ms_le", p50);
        json_ms(s->out, "origin_p99_ms_le", p99);
        reports_json_write_latency(s->out, &b->latency);
        fprintf(s->out, ",\"bucket_s\":%llu}", (unsigned long long)bucket_s);
    } else {
        fputc('\n', s->out);
    }
    ++s->rows;
}

int reports_render_stats(const reports_data_t *d, reports_format_t fmt, FILE *out)
{
    stats_ctx_t s = {.out = out, .fmt = fmt};
    char from[32], to[32];

    switch (fmt) {
    case REPORTS_FORMAT_HTML:
        return reports_render_html(d, out);
    case REPORTS_FORMAT_TABLE:
        for (size_t i = 0; i != STATS_COLS; ++i)
            s.width[i] = strlen(stats_heads[i]);
        each_stats_row(d, stats_measure, &s);
        fprintf(out, "statistics %s .. %s; hit_pct = hits / (hits + misses); origin_pNN_ms: upper bound of the latency bucket\n",
                reports_iso8601(d->q.from_s, from), reports_iso8601(d->q.to_s, to));
        for (size_t i = 0; i != STATS_COLS; ++i)
            fprintf(out, i < 2 ? "%s%-*s" : "%s%*s", i == 0 ? "" : "  ", (int)s.width[i], stats_heads[i]);
        fputc('\n', out);
        break;
    case REPORTS_FORMAT_CSV:
        for (size_t i = 0; i != STATS_COLS; ++i)
            fprintf(out, "%s%s", i == 0 ? "" : ",", stats_heads[i]);
        fputc('\n', out);
        break;
    case REPORTS_FORMAT_JSON:
        fprintf(out, "{\"version\":1,\"report\":\"stats\",\"from\":\"%s\",\"to\":\"%s\",\"from_unix\":%llu,\"to_unix\":%llu",
                reports_iso8601(d->q.from_s, from), reports_iso8601(d->q.to_s, to), (unsigned long long)d->q.from_s,
                (unsigned long long)d->q.to_s);
        reports_json_write_nodes(d, out);
        fprintf(out, ",\"skipped_values\":%zu,\"rows\":[", d->skipped);
        break;
    }
    each_stats_row(d, stats_row, &s);
    if (fmt == REPORTS_FORMAT_JSON)
        fputs("]}\n", out);
    return ferror(out) ? -1 : 0;
}

/* --- for the admin API ------------------------------------------------------------------------- */

int reports_render_to_buffer(cache_store_t *store, const char *name, const reports_query_t *q, reports_format_t fmt, char **out,
                             size_t *outlen)
{
    int (*render)(const reports_data_t *, reports_format_t, FILE *) = strcmp(name, "popular") == 0 ? reports_render_popular
                                                                      : strcmp(name, "stats") == 0 ? reports_render_stats
                                                                      : strcmp(name, "ttl") == 0   ? reports_render_ttl
                                                                                                   : NULL;
    reports_data_t *d;
    FILE *fp;
    int ret;

    if (render == NULL)
        return -1;
    d = reports_data_new(q);
    if ((ret = reports_data_load(d, store)) != 0) {
        reports_data_free(d);
        return ret;
    }
    *out = NULL;
    *outlen = 0;
    if ((fp = open_memstream(out, outlen)) == NULL)
        h2o_fatal("open_memstream");
    render(d, fmt, fp);
    fclose(fp); /* (a memstream write fails only when memory does, which h2o_mem_alloc treats as fatal too) */
    reports_data_free(d);
    return 0;
}
