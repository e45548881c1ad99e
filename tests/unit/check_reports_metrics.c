/*
 * tests/unit/check_reports_metrics.c: the Prometheus exposition of reports/metrics.c, and docs/metrics.md.
 *
 * The exposition is parsed line by line as a scraper would: every sample belongs to a family whose HELP
 * and TYPE came first, no family is declared twice, names and label sets are well-formed, histogram
 * buckets are cumulative and end with +Inf equal to _count. docs/metrics.md must list exactly the families
 * the code exports, with their help text: the counter table is the one source (STYLE rule 12). After
 * adding a counter, regenerate it with EDGECACHE_WRITE_METRICS_DOC=1 tests/unit/check_reports_metrics.
 */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "reports/metrics.h"

static char *render(const reports_counters_t *c, const reports_latency_t *l, const cache_store_stats_t *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    reports_metrics_write(fp, c, l, st);
    fclose(fp);
    return buf;
}

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
        return false;
    for (size_t i = 1; i != n; ++i)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
            return false;
    return true;
}

/* The family a sample name belongs to: histograms add _bucket, _sum and _count. */
static size_t family_len(const char *name, size_t n, const char *declared)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    if (strlen(declared) == n && memcmp(name, declared, n) == 0)
        return n;
    for (size_t i = 0; i != 3; ++i) {
        size_t sl = strlen(suffixes[i]);
        if (n > sl && memcmp(name + n - sl, suffixes[i], sl) == 0 && strlen(declared) == n - sl &&
            memcmp(name, declared, n - sl) == 0)
            return n - sl;
    }
    return 0;
}

/* Parses `text`; returns the number of samples, failing the test on any malformed line. */
static size_t parse(char *text, char families[][96], size_t *num_families)
{
    char current[96] = "", type[32] = "";
    size_t samples = 0;
    bool help_seen = false;
    double last_bucket = -1;

    *num_families = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char name[96], kind[32];
        if (strncmp(line, "# HELP ", 7) == 0) {
            ck_assert_msg(sscanf(line + 7, "%95s", name) == 1 && valid_name(name, strlen(name)), "bad HELP: %s", line);
            for (size_t i = 0; i != *num_families; ++i)
                ck_assert_msg(strcmp(families[i], name) != 0, "family %s declared twice", name);
            strcpy(families[(*num_families)++], name);
            strcpy(current, name);
            help_seen = true;
            type[0] = '\0';
            last_bucket = -1;
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            ck_assert_msg(sscanf(line + 7, "%95s %31s", name, kind) == 2, "bad TYPE: %s", line);
            ck_assert_msg(help_seen && strcmp(name, current) == 0, "TYPE of %s without its HELP first", name);
            ck_assert_msg(strcmp(kind, "counter") == 0 || strcmp(kind, "gauge") == 0 || strcmp(kind, "histogram") == 0,
                          "unknown type %s", kind);
            strcpy(type, kind);
            continue;
        }
        ck_assert_msg(line[0] != '#', "unexpected comment: %s", line);
        size_t n = strcspn(line, "{ ");
        ck_assert_msg(valid_name(line, n), "bad sample name: %s", line);
        ck_assert_msg(type[0] != '\0' && family_len(line, n, current) != 0, "sample outside its family %s: %s", current, line);
        const char *p = line + n;
        if (*p == '{') {
            const char *end = strchr(p, '}');
            ck_assert_msg(end != NULL, "unterminated labels: %s", line);
            for (const char *q = p + 1; q < end;) { /* name="value"(,name="value")* */
                size_t ln = strcspn(q, "=");
                ck_assert_msg(valid_name(q, ln) && q[ln] == '=' && q[ln + 1] == '"', "bad label: %s", line);
                q += ln + 2;
                while (*q != '"') {
                    ck_assert_msg(*q != '\0', "unterminated label value: %s", line);
                    q += *q == '\\' ? 2 : 1;
                }
                ++q;
                ck_assert_msg(*q == ',' || *q == '}', "bad label separator: %s", line);
                if (*q == ',')
                    ++q;
                if (q == end)
                    break;
            }
            p = end + 1;
        }
        ck_assert_msg(*p == ' ', "no value: %s", line);
        char *endp;
        double v = strtod(p + 1, &endp);
        ck_assert_msg(endp != p + 1 && *endp == '\0', "bad value: %s", line);
        if (strcmp(type, "histogram") == 0 && strstr(line, "_bucket{") != NULL) {
            ck_assert_msg(v >= last_bucket, "histogram buckets not cumulative: %s", line);
            last_bucket = v;
        }
        if (strcmp(type, "histogram") == 0 && strstr(line, "_count ") != NULL)
            ck_assert_msg(v == last_bucket, "+Inf bucket (%g) differs from _count: %s", last_bucket, line);
        ++samples;
    }
    return samples;
}

START_TEST(test_exposition_is_well_formed)
{
    reports_counters_t c;
    reports_latency_t l;
    cache_store_stats_t st = {.objects = 7, .bytes_used = 4096, .map_size = 1 << 20, .evictions = 2};
    char families[128][96];
    size_t nf;

    memset(&c, 0, sizeof(c));
    memset(&l, 0, sizeof(l));
    c.requests = 10;
    c.hits = 6;
    c.misses = 3;
    c.errors = 1;
    reports_latency_observe(&l, 0);
    reports_latency_observe(&l, 7);
    reports_latency_observe(&l, 7);
    reports_latency_observe(&l, 999999);
    char *text = render(&c, &l, &st);
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_requests_total 10\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_responses_total{cache=\"hit\"} 6\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_responses_total{cache=\"miss\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_origin_latency_seconds_bucket{le=\"0.001\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_origin_latency_seconds_bucket{le=\"0.01\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_origin_latency_seconds_bucket{le=\"30\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_origin_latency_seconds_bucket{le=\"+Inf\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_store_objects 7\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_store_evictions_total 2\n"));
    size_t samples = parse(text, families, &nf);
    ck_assert_uint_eq(nf, reports_counter_count + 1 /* responses */ + 1 /* latency */ + 10 /* store */);
    ck_assert_uint_ge(samples, nf);
    free(text);
}
END_TEST

/* docs/metrics.md: one table row per family, "| `name` | type | help |", in the order of the exposition. */
static char *expected_doc(void)
{
    reports_counters_t c;
    reports_latency_t l;
    cache_store_stats_t st;
    memset(&c, 0, sizeof(c));
    memset(&l, 0, sizeof(l));
    memset(&st, 0, sizeof(st));
    char *text = render(&c, &l, &st), *doc = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&doc, &len);
    fputs("# Metrics\n\n"
          "`GET /metrics` on the admin listener (Prometheus text format 0.0.4). Generated from the counter table\n"
          "(`reports/counters.h`) and `reports/metrics.c`; `tests/unit/check_reports_metrics` fails when this file\n"
          "differs (regenerate: `EDGECACHE_WRITE_METRICS_DOC=1 tests/unit/check_reports_metrics`). The origins'\n"
          "health is added by the admin API: `edgecache_origin_server_up{origin,server}` (gauge, 1 when healthy).\n\n"
          "| metric | type | meaning |\n|---|---|---|\n",
          fp);
    char help[512] = "";
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char name[96], kind[32];
        if (strncmp(line, "# HELP ", 7) == 0) {
            sscanf(line + 7, "%95s", name);
            snprintf(help, sizeof(help), "%s", line + 7 + strlen(name) + 1);
        } else if (strncmp(line, "# TYPE ", 7) == 0 && sscanf(line + 7, "%95s %31s", name, kind) == 2) {
            fprintf(fp, "| `%s` | %s | %s |\n", name, kind, help);
        }
    }
    fclose(fp);
    free(text);
    return doc;
}

START_TEST(test_docs_list_every_metric)
{
    const char *top = getenv("TOP_SRCDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/docs/metrics.md", top != NULL ? top : ".");
    char *want = expected_doc();
    if (getenv("EDGECACHE_WRITE_METRICS_DOC") != NULL) {
        FILE *fp = fopen(path, "w");
        ck_assert_ptr_nonnull(fp);
        fputs(want, fp);
        fclose(fp);
    }
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot read %s", path);
    char got[65536];
    size_t n = fread(got, 1, sizeof(got) - 1, fp);
    fclose(fp);
    got[n] = '\0';
    ck_assert_msg(strcmp(got, want) == 0, "%s is out of date: regenerate it with EDGECACHE_WRITE_METRICS_DOC=1", path);
    free(want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reports_metrics");
    TCase *tc = tcase_create("exposition");
    tcase_add_test(tc, test_exposition_is_well_formed);
    tcase_add_test(tc, test_docs_list_every_metric);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
