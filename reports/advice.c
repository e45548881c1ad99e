/*
 * reports/advice.c: TTL advice from the recorded figures, per behavior.
 *
 * Each suggestion shows the numbers it rests on and is concrete (a key of the configuration and a
 * value), and none is made on too little data (MIN_EVIDENCE events). The rules:
 * - revalidations mostly unchanged (>= UNCHANGED_PCT % answered 304): the TTL is shorter than the
 *   objects' real lifetime. Suggest default_ttl raised to a day (or 7 x the current one when that is a day
 *   or more), capped at max_ttl; at most every unchanged revalidation would have been saved.
 * - many misses on expired objects and no revalidation at all: the origin sends no validator (ETag,
 *   Last-Modified), so each expiry costs a full body.
 * - misses on objects evicted for room shortly before: the cache is too small for the working set.
 * - misses with a keyed query string over many distinct URLs: the query fragments the cache.
 */
#include <stdlib.h>
#include <string.h>
#include "reports/json.h"
#include "reports/report_int.h"

#define MIN_EVIDENCE 10
#define UNCHANGED_PCT 80.0
#define EXPIRED_PCT 50.0
#define DISTINCT_PCT 50.0
#define DAY 86400

static const char *qs_name(uint8_t qs)
{
    return qs == 0 ? "none" : qs == 1 ? "all" : "[names]";
}

/* The TTL change the figures of `b` support, if any: default_ttl raised to `*to`, which would have saved up to
 * `*saved` origin requests (the revalidations the origin answered 304). */
static bool ttl_change(const reports_beh_t *b, uint64_t *to, uint64_t *saved)
{
    const reports_beh_counts_t *c = &b->c;
    if (c->revalidations < MIN_EVIDENCE || reports_pct(c->unchanged, c->revalidations) < UNCHANGED_PCT)
        return false;
    *to = b->default_ttl < DAY ? DAY : b->default_ttl * 7;
    if (*to > b->max_ttl)
        *to = b->max_ttl;
    *saved = c->unchanged;
    return *to > b->default_ttl;
}

/* The behavior whose TTL change would have saved the most origin requests (NULL: none), with the fleet's origin
 * requests in `*origin`. Over a merge of several edges this is the one rule to change first, and by how much. */
static const reports_beh_t *best_change(const reports_data_t *d, uint64_t *to, uint64_t *saved, uint64_t *origin)
{
    const reports_beh_t *best = NULL;
    *origin = 0;
    for (size_t i = 0; i != d->num_totals; ++i) {
        uint64_t t, sv;
        *origin += d->totals[i].c.origin_requests;
        if (ttl_change(d->totals + i, &t, &sv) && (best == NULL || sv > *saved)) {
            best = d->totals + i;
            *to = t;
            *saved = sv;
        }
    }
    return best;
}

static void text_fleet(FILE *out, const reports_data_t *d)
{
    uint64_t to = 0, saved = 0, origin;
    char n1[32], n2[32];
    const reports_beh_t *b = best_change(d, &to, &saved, &origin);

    fprintf(out, "over %zu edges:", d->num_nodes);
    for (size_t i = 0; i != d->num_nodes; ++i)
        fprintf(out, " %s", d->nodes[i].id != NULL ? d->nodes[i].id : "(no node id)");
    fputc('\n', out);
    if (b == NULL) {
        fputs("fleet advice: no TTL change is supported by these figures\n", out);
        return;
    }
    fprintf(out,
            "fleet advice: change behavior %s: default_ttl %llu -> %llu would have cut up to %s of the fleet's %s origin "
            "requests (%.1f %%)\n",
            b->path, (unsigned long long)b->default_ttl, (unsigned long long)to, reports_thousands(saved, n1),
            reports_thousands(origin, n2), reports_pct(saved, origin));
}

/* One behavior's suggestions, as sentences, into `out` (at most 4, each 512 bytes). Returns the count. */
static size_t suggest(const reports_beh_t *b, char out[4][512])
{
    const reports_beh_counts_t *c = &b->c;
    char n1[32], n2[32], n3[32];
    size_t n = 0;

    if (c->revalidations >= MIN_EVIDENCE && reports_pct(c->unchanged, c->revalidations) >= UNCHANGED_PCT) {
        uint64_t to, saved;
        if (ttl_change(b, &to, &saved))
            snprintf(out[n++], 512,
                     "%s: %.0f %% of %s revalidations unchanged; default_ttl %llu -> %llu would have saved up to %s origin "
                     "requests (if the origin sends no max-age: otherwise raise its max-age)",
                     b->path, reports_pct(c->unchanged, c->revalidations), reports_thousands(c->revalidations, n1),
                     (unsigned long long)b->default_ttl, (unsigned long long)to, reports_thousands(saved, n2));
        else
            snprintf(out[n++], 512,
                     "%s: %.0f %% of %s revalidations unchanged, but default_ttl %llu is already max_ttl: raise max_ttl", b->path,
                     reports_pct(c->unchanged, c->revalidations), reports_thousands(c->revalidations, n1),
                     (unsigned long long)b->default_ttl);
    }
    uint64_t misses = c->misses - c->passes;
    if (c->expired_misses >= MIN_EVIDENCE && c->revalidations == 0 && reports_pct(c->expired_misses, misses) >= EXPIRED_PCT)
        snprintf(out[n++], 512,
                 "%s: %s of %s misses (%.0f %%) refetched expired objects in full and none was revalidated: have the "
                 "origin send ETag or Last-Modified (a 304 carries no body), or raise default_ttl above %llu",
                 b->path, reports_thousands(c->expired_misses, n1), reports_thousands(misses, n2),
                 reports_pct(c->expired_misses, misses), (unsigned long long)b->default_ttl);
    if (c->evicted_refetches != 0) {
        const reports_topk_entry_t *top[REPORTS_SIDE_TOPK];
        size_t k = reports_topk_sorted(b->refetched, top);
        snprintf(out[n++], 512,
                 "%s: %s misses refetched objects evicted for room shortly before (most: %.200s, %s times): raise "
                 "cache.max_size",
                 b->path, reports_thousands(c->evicted_refetches, n1), k != 0 ? top[0]->key : "?",
                 reports_thousands(k != 0 ? top[0]->c.requests : 0, n2));
    }
    double distinct = reports_hll_estimate(b->distinct_keyed);
    if (c->keyed_query_misses >= MIN_EVIDENCE && 100.0 * distinct / (double)c->keyed_query_misses >= DISTINCT_PCT) {
        const reports_topk_entry_t *top[REPORTS_SIDE_TOPK];
        size_t k = reports_topk_sorted(b->fragmented, top);
        snprintf(out[n++], 512,
                 "%s: %s misses had a query string in the cache key, about %s distinct URLs (most on %.200s: %s misses): "
                 "if the answer does not depend on every parameter, query_string: none or a list of names (now: %s) "
                 "would share one cached object",
                 b->path, reports_thousands(c->keyed_query_misses, n1), reports_thousands((uint64_t)(distinct + 0.5), n2),
                 k != 0 ? top[0]->key : "?", reports_thousands(k != 0 ? top[0]->c.requests : 0, n3), qs_name(b->query_string));
    }
    return n;
}

static void text_behavior(FILE *out, const reports_beh_t *b)
{
    const reports_beh_counts_t *c = &b->c;
    char n1[32], n2[32], n3[32], s[4][512];
    const reports_topk_entry_t *top[REPORTS_SIDE_TOPK];
    size_t k;

    fprintf(out, "behavior %s (min_ttl %llu, default_ttl %llu, max_ttl %llu, query_string %s)\n", b->path,
            (unsigned long long)b->min_ttl, (unsigned long long)b->default_ttl, (unsigned long long)b->max_ttl,
            qs_name(b->query_string));
    fprintf(out, "  requests %s, hits %s, misses %s, origin requests %s\n", reports_thousands(c->requests, n1),
            reports_thousands(c->hits, n2), reports_thousands(c->misses, n3), reports_thousands(c->origin_requests, s[0]));
    double pct = reports_pct(c->unchanged, c->revalidations);
    fprintf(out, "  revalidations %s, unchanged (304) %s", reports_thousands(c->revalidations, n1),
            reports_thousands(c->unchanged, n2));
    if (pct >= 0)
        fprintf(out, " (%.1f %%)", pct);
    fprintf(out, "\n  misses from expiry %s, refetches after eviction %s\n", reports_thousands(c->expired_misses, n1),
            reports_thousands(c->evicted_refetches, n2));
    if ((k = reports_topk_sorted(b->refetched, top)) != 0) {
        fputs("    refetched after eviction:", out);
        for (size_t i = 0; i != k && i != 5; ++i)
            fprintf(out, " %s (%llu)", top[i]->key, (unsigned long long)top[i]->c.requests);
        fputc('\n', out);
    }
    fprintf(out, "  misses with a keyed query %s, about %.0f distinct URLs\n", reports_thousands(c->keyed_query_misses, n1),
            reports_hll_estimate(b->distinct_keyed));
    if ((k = reports_topk_sorted(b->fragmented, top)) != 0) {
        fputs("    by path:", out);
        for (size_t i = 0; i != k && i != 5; ++i)
            fprintf(out, " %s (%llu)", top[i]->key, (unsigned long long)top[i]->c.requests);
        fputc('\n', out);
    }
    size_t ns = suggest(b, s);
    for (size_t i = 0; i != ns; ++i)
        fprintf(out, "  suggestion: %s\n", s[i]);
    if (ns == 0)
        fputs("  no suggestion: nothing in these figures calls for a change\n", out);
}

static void json_side(FILE *out, const char *name, const char *keyname, const reports_topk_t *t)
{
    const reports_topk_entry_t *top[REPORTS_SIDE_TOPK];
    size_t k = reports_topk_sorted(t, top);
    fprintf(out, ",\"%s\":[", name);
    for (size_t i = 0; i != k; ++i) {
        fprintf(out, "%s{\"%s\":", i == 0 ? "" : ",", keyname);
        reports_json_write_string(out, top[i]->key, top[i]->key_len);
        fprintf(out, ",\"count\":%llu,\"error\":%llu}", (unsigned long long)top[i]->c.requests, (unsigned long long)top[i]->error);
    }
    fputc(']', out);
}

/* "best_change": the one TTL change the figures support that saves the most origin requests, or null. */
static void json_best(FILE *out, const reports_data_t *d)
{
    uint64_t to = 0, saved = 0, origin;
    const reports_beh_t *b = best_change(d, &to, &saved, &origin);
    if (b == NULL) {
        fputs(",\"best_change\":null", out);
        return;
    }
    fputs(",\"best_change\":{\"behavior\":", out);
    reports_json_write_string(out, b->path, strlen(b->path));
    fprintf(out, ",\"key\":\"default_ttl\",\"from\":%llu,\"to\":%llu,\"origin_requests_saved_max\":%llu,\"origin_requests\":%llu}",
            (unsigned long long)b->default_ttl, (unsigned long long)to, (unsigned long long)saved, (unsigned long long)origin);
}

int reports_render_ttl(const reports_data_t *d, reports_format_t fmt, FILE *out)
{
    char from[32], to[32], s[4][512];

    switch (fmt) {
    case REPORTS_FORMAT_JSON:
        fprintf(out, "{\"version\":1,\"report\":\"ttl\",\"from\":\"%s\",\"to\":\"%s\",\"from_unix\":%llu,\"to_unix\":%llu",
                reports_iso8601(d->q.from_s, from), reports_iso8601(d->q.to_s, to), (unsigned long long)d->q.from_s,
                (unsigned long long)d->q.to_s);
        reports_json_write_nodes(d, out);
        json_best(out, d);
        fputs(",\"behaviors\":[", out);
        for (size_t i = 0; i != d->num_totals; ++i) {
            const reports_beh_t *b = d->totals + i;
            fprintf(out, "%s{\"path\":", i == 0 ? "" : ",");
            reports_json_write_string(out, b->path, strlen(b->path));
            fprintf(out, ",\"min_ttl\":%llu,\"default_ttl\":%llu,\"max_ttl\":%llu,\"query_string\":\"%s\"",
                    (unsigned long long)b->min_ttl, (unsigned long long)b->default_ttl, (unsigned long long)b->max_ttl,
                    qs_name(b->query_string));
            for (size_t f = 0; f != reports_beh_counter_count; ++f)
                fprintf(out, ",\"%s\":%llu", reports_beh_counter_table[f].name,
                        (unsigned long long)*(const uint64_t *)((const char *)&b->c + reports_beh_counter_table[f].offset));
            fprintf(out, ",\"distinct_keyed_urls_est\":%.0f,\"distinct_keyed_hll\":\"", reports_hll_estimate(b->distinct_keyed));
            for (size_t r = 0; r != REPORTS_HLL_REGISTERS; ++r)
                fprintf(out, "%02x", b->distinct_keyed[r]);
            fputc('"', out);
            reports_json_write_latency(out, &b->latency);
            json_side(out, "refetched", "url", b->refetched);
            json_side(out, "fragmented", "path", b->fragmented);
            fputs(",\"suggestions\":[", out);
            size_t ns = suggest(b, s);
            for (size_t j = 0; j != ns; ++j) {
                if (j != 0)
                    fputc(',', out);
                reports_json_write_string(out, s[j], strlen(s[j]));
            }
            fputs("]}", out);
        }
        fputs("]}\n", out);
        break;
    case REPORTS_FORMAT_CSV:
        fputs("behavior,suggestion\n", out);
        for (size_t i = 0; i != d->num_totals; ++i) {
            size_t ns = suggest(d->totals + i, s);
            for (size_t j = 0; j != ns; ++j) {
                fprintf(out, "\"%s\",\"", d->totals[i].path);
                for (const char *p = s[j]; *p != '\0'; ++p) {
                    if (*p == '"')
                        fputc('"', out);
                    fputc(*p, out);
                }
                fputs("\"\n", out);
            }
        }
        break;
    case REPORTS_FORMAT_HTML:
    case REPORTS_FORMAT_TABLE: {
        FILE *text = out;
        char *buf = NULL;
        size_t len = 0;
        if (fmt == REPORTS_FORMAT_HTML && (text = open_memstream(&buf, &len)) == NULL)
            return -1;
        fprintf(text, "TTL advice %s .. %s\n", reports_iso8601(d->q.from_s, from), reports_iso8601(d->q.to_s, to));
        if (d->num_nodes != 0)
            text_fleet(text, d);
        for (size_t i = 0; i != d->num_totals; ++i)
            text_behavior(text, d->totals + i);
        if (d->num_totals == 0)
            fputs("no data in this range\n", text);
        if (fmt == REPORTS_FORMAT_HTML) {
            fclose(text);
            fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>edgecache TTL advice</title></head><body><pre>",
                  out);
            reports_html_escape(out, buf, len);
            fputs("</pre></body></html>\n", out);
            free(buf);
        }
        break;
    }
    }
    return ferror(out) ? -1 : 0;
}
