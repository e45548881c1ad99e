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
#include "reports/accounting.h"
#include "reports/metrics.h"

/* Two behaviors, as the configuration would name them (the metrics label slots with their paths). */
static reports_conf_behavior_t behaviors[] = {{.path = "/images/*"}, {.path = "*"}};
static const reports_conf_t conf = {.behaviors = behaviors, .num_behaviors = 2};

/* Everything /metrics has but the origins' health, in the admin API's order. */
static char *render(const reports_counters_t *c, const reports_hist_t *l, const cache_store_stats_t *st,
                    const reports_by_behavior_t *b, const reports_process_t *p)
{
    reports_label_t build[] = {{"version", "0.0.0"}, {"libh2o", "2.2.5"}, {"openssl", "3"}, {"lmdb", "0.9"}};
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    reports_metrics_write(fp, c, l, st);
    cache_compress_stats_t cs = {0};
    reports_metrics_write_compress(fp, &cs);
    reports_metrics_write_behaviors(fp, b, &conf);
    reports_metrics_write_top(fp, NULL);
    reports_metrics_write_loop_lag(fp, l, 1);
    reports_metrics_write_build_info(fp, build, 4);
    reports_metrics_write_process(fp, p);
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
    char current[96] = "", type[32] = "", series[512] = "";
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
            series[0] = '\0';
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
            /* each label set (all labels but le) is a series of its own */
            const char *le = strstr(line, "le=\"");
            ck_assert_msg(le != NULL && (size_t)(le - line) < sizeof(series), "bucket without le: %s", line);
            if (strncmp(series, line, (size_t)(le - line)) != 0 || series[le - line] != '\0') {
                memcpy(series, line, (size_t)(le - line));
                series[le - line] = '\0';
                last_bucket = -1;
            }
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
    reports_hist_t l;
    cache_store_stats_t st = {.objects = 7, .bytes_used = 4096, .map_size = 1 << 20, .evictions = 2, .writer_busy_ns = 1500000000};
    reports_by_behavior_t *b = calloc(1, sizeof(*b));
    reports_process_t p = {.cpu_seconds = 1.5, .resident_bytes = 1 << 24, .max_fds = UINT64_MAX, .start_time_seconds = 1.7e9};
    char families[128][96];
    size_t nf;

    memset(&c, 0, sizeof(c));
    memset(&l, 0, sizeof(l));
    c.requests = 10;
    c.hits = 6;
    c.misses = 3;
    c.errors = 1;
    reports_hist_observe(&l, 0);
    reports_hist_observe(&l, 7000);
    reports_hist_observe(&l, 7123);
    reports_hist_observe(&l, 999999999);
    reports_by_behavior_record(b, 0, REPORTS_CLASS_HIT, 200, 150, 100, 0);
    reports_by_behavior_record(b, 0, REPORTS_CLASS_MISS, 502, 2000, 50, 60);
    reports_by_behavior_record(b, SIZE_MAX, REPORTS_CLASS_OTHER, 0, 10, 0, 0);
    reports_by_behavior_record(b, 200, REPORTS_CLASS_HIT, 200, 10, 1, 0); /* beyond the cap: "other" */
    char *text = render(&c, &l, &st, b, &p);
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_requests_total 10\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_responses_total{cache=\"hit\"} 6\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_responses_total{cache=\"miss\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_origin_latency_seconds_bucket{le=\"0.0001\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_origin_latency_seconds_bucket{le=\"0.001\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_origin_latency_seconds_bucket{le=\"0.01\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_origin_latency_seconds_bucket{le=\"60\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_origin_latency_seconds_bucket{le=\"+Inf\"} 4\n"));
    /* the sum in seconds, to the microsecond */
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_origin_latency_seconds_sum 1000.014122\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_store_objects 7\n"));
    /* (the loop lag is given the same histogram here) */
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_loop_lag_seconds_bucket{loop=\"0\",le=\"0.01\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_loop_lag_seconds_count{loop=\"0\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_store_evictions_total 2\n"));
    /* per behavior, with "other" last */
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_behavior_requests_total{site=\"default\",behavior=\"/images/*\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_behavior_requests_total{site=\"default\",behavior=\"*\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_behavior_requests_total{site=\"other\",behavior=\"other\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_behavior_hits_total{site=\"default\",behavior=\"/images/*\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_behavior_hit_bytes_sent_total{site=\"default\",behavior=\"/images/*\"} 100\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "\nedgecache_behavior_body_bytes_sent_total{site=\"default\",behavior=\"/images/*\"} 150\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_behavior_origin_bytes_total{site=\"default\",behavior=\"/images/*\"} 60\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_behavior_status_5xx_total{site=\"default\",behavior=\"/images/*\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_behavior_status_5xx_total{site=\"other\",behavior=\"other\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(
        text,
        "\nedgecache_request_duration_seconds_bucket{site=\"default\",behavior=\"/images/*\",cache=\"hit\",le=\"0.00025\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(
        text,
        "\nedgecache_request_duration_seconds_bucket{site=\"default\",behavior=\"/images/*\",cache=\"miss\",le=\"0.001\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(
        text,
        "\nedgecache_request_duration_seconds_bucket{site=\"default\",behavior=\"/images/*\",cache=\"miss\",le=\"0.0025\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(
        text, "\nedgecache_request_duration_seconds_sum{site=\"default\",behavior=\"/images/*\",cache=\"miss\"} 0.002000\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "\nedgecache_request_duration_seconds_count{site=\"other\",behavior=\"other\",cache=\"hit\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "\nedgecache_request_duration_seconds_count{site=\"other\",behavior=\"other\",cache=\"other\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "\nedgecache_build_info{version=\"0.0.0\",libh2o=\"2.2.5\",openssl=\"3\",lmdb=\"0.9\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nedgecache_store_writer_busy_seconds_total 1.500000\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nprocess_resident_memory_bytes 16777216\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nprocess_max_fds +Inf\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nprocess_cpu_seconds_total 1.50\n"));
    size_t samples = parse(text, families, &nf);
    ck_assert_uint_eq(nf, reports_counter_count + 1 /* responses */ + 1 /* latency */ + 11 /* store */ + 6 /* compressor */ +
                              7 /* per behavior */ + 1 /* request duration */ + 1 /* top objects */ + 1 /* loop lag */ +
                              1 /* build info */ + 6 /* process */);
    ck_assert_uint_ge(samples, nf);
    free(text);
    free(b);
}
END_TEST

/* Label values are escaped as the text format requires: a backslash, a double quote and a newline. */
START_TEST(test_label_escapes)
{
    reports_label_t l[] = {{"a", "x\\y\"z\nw"}, {"b", ""}};
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    reports_metrics_labels(fp, l, 2);
    reports_metrics_labels(fp, l, 0);
    fclose(fp);
    ck_assert_str_eq(buf, "{a=\"x\\\\y\\\"z\\nw\",b=\"\"}");
    free(buf);
}
END_TEST

/* Beyond REPORTS_METRICS_MAX_BEHAVIORS behaviors, the rest share behavior="other": the label count is bounded. */
START_TEST(test_behaviors_capped)
{
    static reports_conf_behavior_t many[100];
    static char names[100][16];
    reports_conf_t big = {.behaviors = many, .num_behaviors = 100};
    reports_by_behavior_t *b = calloc(1, sizeof(*b));
    for (size_t i = 0; i != 100; ++i) {
        snprintf(names[i], sizeof(names[i]), "/b%zu/*", i);
        many[i].path = names[i];
        reports_by_behavior_record(b, i, REPORTS_CLASS_MISS, 200, 1000, 1, 1);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    reports_metrics_write_behaviors(fp, b, &big);
    fclose(fp);
    ck_assert_ptr_nonnull(strstr(buf, "\nedgecache_behavior_requests_total{site=\"default\",behavior=\"/b63/*\"} 1\n"));
    ck_assert_ptr_null(strstr(buf, "/b64/*"));
    ck_assert_ptr_nonnull(strstr(buf, "\nedgecache_behavior_requests_total{site=\"other\",behavior=\"other\"} 36\n"));
    size_t series = 0;
    for (const char *p = buf; (p = strstr(p, "\nedgecache_behavior_requests_total{")) != NULL; ++p)
        ++series;
    ck_assert_uint_eq(series, REPORTS_METRICS_MAX_BEHAVIORS + 1);
    free(buf);
    free(b);
}
END_TEST

static int add_to(void *ctx, h2o_iovec_t key, h2o_iovec_t value)
{
    return reports_data_add(ctx, key, value);
}

/* The top objects' gauge: the popular report's first rows, most requested first, and no more than its top;
 * a label value that needs escaping is escaped. */
START_TEST(test_top_objects)
{
    static const cache_key_rules_t key = {.query_string = CACHE_KEY_QS_ALL};
    static const cache_ttl_rules_t ttl = {.default_ttl = 60, .max_ttl = 3600};
    reports_conf_behavior_t beh[] = {{.path = "*", .key = &key, .ttl = &ttl}};
    reports_conf_t rconf = {.bucket_s = 600, .capacity = 100, .top = 2, .retention_s = 3600, .behaviors = beh, .num_behaviors = 1};
    reports_acct_t *a = reports_acct_new(&rconf, NULL, 0);
    const uint64_t now_ms = 1700000000000ull;
    static const char *const urls[] = {"a.example/x", "a.example/y?q=\"1\"", "a.example/y?q=\"1\"",
                                       "a.example/z", "a.example/z",         "a.example/z"};
    for (size_t i = 0; i != sizeof(urls) / sizeof(urls[0]); ++i) {
        reports_event_t e = {
            .url = h2o_iovec_init(urls[i], strlen(urls[i])), .outcome = REPORTS_HIT, .status = 200, .origin_ms = -1};
        reports_acct_record(a, &e, now_ms);
    }
    reports_query_t q = {.from_s = now_ms / 1000 - 3600, .to_s = now_ms / 1000 + 1, .top = 2};
    reports_data_t *d = reports_data_new(&q);
    ck_assert_int_eq(reports_acct_snapshot(a, add_to, d), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    reports_metrics_write_top(fp, d);
    fclose(fp);
    const char *want = "edgecache_top_object_requests{object=\"a.example/z\"} 3\n"
                       "edgecache_top_object_requests{object=\"a.example/y?q=\\\"1\\\"\"} 2\n";
    const char *samples = strstr(buf, "\nedgecache_top_object_requests{");
    ck_assert_ptr_nonnull(samples);
    ck_assert_str_eq(samples + 1, want);
    free(buf);
    reports_data_free(d);
    reports_acct_free(a);
}
END_TEST

/* docs/metrics.md: one table row per family, "| `name` | type | help |", in the order of the exposition. */
static char *expected_doc(void)
{
    reports_counters_t c;
    reports_hist_t l;
    cache_store_stats_t st;
    reports_process_t p;
    reports_by_behavior_t *b = calloc(1, sizeof(*b));
    memset(&c, 0, sizeof(c));
    memset(&l, 0, sizeof(l));
    memset(&st, 0, sizeof(st));
    memset(&p, 0, sizeof(p));
    char *text = render(&c, &l, &st, b, &p), *doc = NULL;
    size_t len = 0;
    free(b);
    FILE *fp = open_memstream(&doc, &len);
    fputs("# Metrics\n\n"
          "`GET /metrics` on the admin listener (Prometheus text format 0.0.4). Generated from the counter table\n"
          "(`reports/counters.h`) and `reports/metrics.c`; `tests/unit/check_reports_metrics` fails when this file\n"
          "differs (regenerate: `EDGECACHE_WRITE_METRICS_DOC=1 tests/unit/check_reports_metrics`). The origins'\n"
          "health is added by the admin API: `edgecache_origin_server_up{origin,server}` (gauge, 1 when healthy),\n"
          "and so are the origin groups' circuit breakers: `edgecache_origin_group_breaker_open{group}` (gauge, 1\n"
          "while the breaker skips the group's primary).\n\n"
          "Latencies are histograms in seconds; their `_sum` has microsecond resolution. The `edgecache_behavior_*`\n"
          "families and `edgecache_request_duration_seconds` carry a `site` label (the site's name, `default` in a\n"
          "file without sites) and a `behavior` label (the behavior's path pattern): the first 64 behaviors of the\n"
          "configuration have their own; the rest, and the requests without a cache answer (refused as malformed,\n"
          "PURGE, ended by the client first) share `site=\"other\",behavior=\"other\"`. The request\n"
          "histogram adds `cache`: `hit` (the body came from the cache: fresh, stale or revalidated), `miss`\n"
          "(from the origin: miss, refresh, pass) or `other` (error pages, requests without an answer). So at most\n"
          "65 x 3 series of 21 samples.\n"
          "`edgecache_build_info` has the labels `version`, `libh2o`, `openssl` and `lmdb`; the `process_*`\n"
          "families are those of the Prometheus client libraries.\n"
          "`edgecache_top_object_requests` has one `object` label (`host/path?query`, as the popular report names\n"
          "it) and at most 10 series: the most requested objects of the stored reports of the last hour (each loop\n"
          "stores its current bucket every minute), read from the store at most once a minute. The event-loop lag\n"
          "`edgecache_loop_lag_seconds{loop}` is how late each loop runs a timer due every 100 ms.\n\n"
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
    tcase_add_test(tc, test_label_escapes);
    tcase_add_test(tc, test_behaviors_capped);
    tcase_add_test(tc, test_top_objects);
    tcase_add_test(tc, test_docs_list_every_metric);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
