/*
 * tests/unit/check_reports_merge.c: merging the JSON reports of several edges (reports/merge.c): node ids in every
 * report, the duplicate check, stats and ttl merges that add up to the exact sums, the fleet's TTL advice and the
 * HTML page's per-edge breakdown.
 *
 * Each edge is a reports_acct_t fed a scripted set of events; its report is rendered to JSON as the admin API
 * would (reports_query_t.node_id set), then parsed back by reports_data_add_json.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "reports/accounting.h"
#include "reports/json.h"
#include "reports/report.h"

#define T0 1795000000000ull /* ms */

static const cache_key_rules_t key_none = {.query_string = CACHE_KEY_QS_NONE};
static const cache_ttl_rules_t ttl_images = {.default_ttl = 3600, .max_ttl = 31536000, .default_ttl_set = true};
static const cache_ttl_rules_t ttl_default = {.default_ttl = 86400, .max_ttl = 31536000};
static reports_conf_behavior_t behaviors[] = {
    {.path = "/images/*", .key = &key_none, .ttl = &ttl_images},
    {.path = "*", .key = &key_none, .ttl = &ttl_default},
};
static const reports_conf_t conf = {
    .bucket_s = 10, .capacity = 100, .top = 10, .retention_s = 60, .behaviors = behaviors, .num_behaviors = 2};

static int add_to(void *ctx, h2o_iovec_t key, h2o_iovec_t value)
{
    return reports_data_add(ctx, key, value);
}

static char *render(reports_data_t *d, int (*fn)(const reports_data_t *, reports_format_t, FILE *), reports_format_t fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    ck_assert_int_eq(fn(d, fmt, fp), 0);
    fclose(fp);
    return buf;
}

/* One edge: `hits` hits and `misses` misses on /images/a.png (origin 30 ms), `revalidated` unchanged revalidations of
 * /images/r.png, `others` hits on /other (behavior "*"), all in the bucket of T0; its report `fn` in JSON, as edge `id`. */
static char *edge_report(const char *id, int hits, int misses, int revalidated, int others,
                         int (*fn)(const reports_data_t *, reports_format_t, FILE *))
{
    reports_acct_t *a = reports_acct_new(&conf, NULL, 0);
    reports_event_t e = {.url = h2o_iovec_init("/images/a.png", 13), .behavior = 0, .status = 200, .bytes_sent = 100};
    for (int i = 0; i != hits + misses; ++i) {
        e.outcome = i < hits ? REPORTS_HIT : REPORTS_MISS;
        e.origin_ms = i < hits ? -1 : 30;
        e.origin_bytes = i < hits ? 0 : 100;
        reports_acct_record(a, &e, T0);
    }
    e = (reports_event_t){.url = h2o_iovec_init("/images/r.png", 13), .behavior = 0, .status = 200, .bytes_sent = 10};
    for (int i = 0; i != revalidated; ++i) {
        e.outcome = REPORTS_REVALIDATED;
        e.origin_ms = 3;
        e.expired = true;
        reports_acct_record(a, &e, T0);
    }
    e = (reports_event_t){.url = h2o_iovec_init("/other", 6), .behavior = 1, .status = 200, .bytes_sent = 1, .origin_ms = -1};
    e.outcome = REPORTS_HIT;
    for (int i = 0; i != others; ++i)
        reports_acct_record(a, &e, T0);
    reports_query_t q = {.from_s = T0 / 1000, .to_s = T0 / 1000 + 3600, .top = 10, .node_id = id};
    reports_data_t *d = reports_data_new(&q);
    ck_assert_int_eq(reports_acct_snapshot(a, add_to, d), 0);
    char *json = render(d, fn, REPORTS_FORMAT_JSON);
    reports_data_free(d);
    reports_acct_free(a);
    return json;
}

static reports_data_t *merged(void)
{
    reports_query_t q = {.top = 10};
    return reports_data_new(&q);
}

static void add_ok(reports_data_t *m, const char *source, const char *json)
{
    char err[512];
    ck_assert_msg(reports_data_add_json(m, source, json, strlen(json), err, sizeof(err)) == 0, "%s: %s", source, err);
}

static reports_json_t *parse(const char *json)
{
    char err[128];
    reports_json_t *root = reports_json_parse(json, strlen(json), err, sizeof(err));
    ck_assert_msg(root != NULL, "%s", err);
    return root;
}

static uint64_t num(const reports_json_t *obj, const char *name)
{
    const reports_json_t *v = reports_json_get(obj, name);
    ck_assert_msg(v != NULL && v->is_uint, "no integer %s", name);
    return v->uint;
}

/* The stats row of `bucket` and `behavior`. */
static const reports_json_t *stats_row(const reports_json_t *root, const char *bucket, const char *behavior)
{
    const reports_json_t *rows = reports_json_get(root, "rows");
    for (size_t i = 0; i != rows->num_items; ++i)
        if (strcmp(reports_json_get(rows->items[i], "bucket")->string, bucket) == 0 &&
            strcmp(reports_json_get(rows->items[i], "behavior")->string, behavior) == 0)
            return rows->items[i];
    ck_abort_msg("no row %s %s", bucket, behavior);
    return NULL;
}

START_TEST(test_every_report_names_its_edge)
{
    char *p = edge_report("eu-1", 3, 1, 0, 0, reports_render_popular), *s = edge_report("eu-1", 3, 1, 0, 0, reports_render_stats),
         *t = edge_report("eu-1", 3, 1, 0, 0, reports_render_ttl);
    const char *all[] = {p, s, t};
    for (size_t i = 0; i != 3; ++i) {
        reports_json_t *root = parse(all[i]);
        ck_assert_str_eq(reports_json_get(root, "node_id")->string, "eu-1");
        const reports_json_t *edges = reports_json_get(root, "edges");
        ck_assert_uint_eq(edges->num_items, 1);
        ck_assert_str_eq(reports_json_get(edges->items[0], "node_id")->string, "eu-1");
        ck_assert_uint_eq(num(edges->items[0], "requests"), 4);
        ck_assert_uint_eq(num(edges->items[0], "hits"), 3);
        ck_assert_uint_eq(num(edges->items[0], "misses"), 1);
        reports_json_free(root);
    }
    free(p);
    free(s);
    free(t);
}
END_TEST

START_TEST(test_stats_merge_adds_up)
{
    char *a = edge_report("a", 5, 2, 0, 4, reports_render_stats), *b = edge_report("b", 1, 3, 0, 0, reports_render_stats);
    reports_data_t *m = merged();
    add_ok(m, "a.json", a);
    add_ok(m, "b.json", b);
    ck_assert_uint_eq(reports_data_num_nodes(m), 2);
    char *json = render(m, reports_render_stats, REPORTS_FORMAT_JSON);
    reports_json_t *root = parse(json);
    const reports_json_t *r = stats_row(root, "2026-11-18T11:06:40Z", "/images/*");
    ck_assert_uint_eq(num(r, "requests"), 7 + 4);
    ck_assert_uint_eq(num(r, "hits"), 5 + 1);
    ck_assert_uint_eq(num(r, "misses"), 2 + 3);
    ck_assert_uint_eq(num(r, "origin_requests"), 5);
    ck_assert_uint_eq(num(r, "origin_p50_ms_le"), 50); /* the histogram survived the round trip: 30 ms is in (25, 50] */
    r = stats_row(root, "2026-11-18T11:06:40Z", "*");
    ck_assert_uint_eq(num(r, "requests"), 4);
    ck_assert_uint_eq(num(r, "bucket_s"), 10);
    r = stats_row(root, "total", "*all*");
    ck_assert_uint_eq(num(r, "requests"), 15);
    ck_assert_uint_eq(num(r, "hits"), 10);
    /* the merged report lists both edges with their own totals, and no single node_id */
    ck_assert_ptr_null(reports_json_get(root, "node_id"));
    const reports_json_t *edges = reports_json_get(root, "edges");
    ck_assert_uint_eq(edges->num_items, 2);
    ck_assert_str_eq(reports_json_get(edges->items[0], "node_id")->string, "a");
    ck_assert_uint_eq(num(edges->items[0], "requests"), 11);
    ck_assert_uint_eq(num(edges->items[1], "requests"), 4);
    ck_assert_uint_eq(num(edges->items[1], "misses"), 3);
    reports_json_free(root);

    /* a merged report merges again: with a third edge it adds up; with one of its own edges it is refused */
    char *c = edge_report("c", 2, 0, 0, 0, reports_render_stats), err[512];
    reports_data_t *m2 = merged();
    add_ok(m2, "ab.json", json);
    add_ok(m2, "c.json", c);
    char *json2 = render(m2, reports_render_stats, REPORTS_FORMAT_JSON);
    root = parse(json2);
    ck_assert_uint_eq(num(stats_row(root, "total", "*all*"), "requests"), 17);
    ck_assert_uint_eq(reports_json_get(root, "edges")->num_items, 3);
    reports_json_free(root);
    ck_assert_int_eq(reports_data_add_json(m2, "b-again.json", b, strlen(b), err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "\"b\"") != NULL && strstr(err, "ab.json") != NULL && strstr(err, "b-again.json") != NULL, "%s", err);
    free(json2);
    free(c);
    reports_data_free(m2);
    free(json);
    free(a);
    free(b);
    reports_data_free(m);
}
END_TEST

START_TEST(test_duplicate_refused_and_nothing_merged)
{
    char *a = edge_report("a", 5, 2, 0, 0, reports_render_popular), err[512];
    reports_data_t *m = merged();
    add_ok(m, "a.json", a);
    char *before = render(m, reports_render_popular, REPORTS_FORMAT_JSON);
    ck_assert_int_eq(reports_data_add_json(m, "copy-of-a.json", a, strlen(a), err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "edge \"a\" is in both a.json and copy-of-a.json") != NULL, "%s", err);
    char *after = render(m, reports_render_popular, REPORTS_FORMAT_JSON);
    ck_assert_str_eq(before, after); /* the refused input left nothing behind */
    /* the same edge in another kind of report is not a duplicate: popular and stats go on one page */
    char *s = edge_report("a", 5, 2, 0, 0, reports_render_stats);
    add_ok(m, "a-stats.json", s);
    ck_assert_uint_eq(reports_data_num_nodes(m), 1);
    /* stats and ttl do not mix: both carry the totals */
    char *t = edge_report("b", 1, 1, 0, 0, reports_render_ttl);
    ck_assert_int_eq(reports_data_add_json(m, "b-ttl.json", t, strlen(t), err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "stats and ttl") != NULL, "%s", err);
    free(t);
    free(s);
    free(before);
    free(after);
    free(a);
    reports_data_free(m);
}
END_TEST

START_TEST(test_inputs_without_node_id)
{
    /* a report of the format before node ids: no node_id, no edges */
    static const char old[] = "{\"version\":1,\"report\":\"popular\",\"from_unix\":1795000000,\"to_unix\":1795003600,"
                              "\"total_requests\":3,\"floor\":0,\"capacity\":10,\"objects\":[{\"url\":\"/o\",\"requests\":3,"
                              "\"error\":0,\"hits\":2,\"misses\":1}]}";
    char *a = edge_report("a", 1, 0, 0, 0, reports_render_popular), err[512];
    reports_data_t *m = merged();
    add_ok(m, "old1.json", old);
    add_ok(m, "a.json", a);
    ck_assert_int_eq(reports_data_add_json(m, "old2.json", old, strlen(old), err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "old1.json and old2.json both have no node id") != NULL, "%s", err);
    char *json = render(m, reports_render_popular, REPORTS_FORMAT_JSON);
    reports_json_t *root = parse(json);
    ck_assert_uint_eq(num(root, "total_requests"), 4);
    const reports_json_t *edges = reports_json_get(root, "edges");
    ck_assert_uint_eq(edges->num_items, 2);
    ck_assert_int_eq(reports_json_get(edges->items[0], "node_id")->type, REPORTS_JSON_NULL);
    reports_json_free(root);
    free(json);
    free(a);
    reports_data_free(m);
}
END_TEST

START_TEST(test_ttl_fleet_advice)
{
    /* 6 unchanged revalidations on each edge: too little evidence on one edge (10), enough over the fleet */
    char *a = edge_report("a", 4, 2, 6, 0, reports_render_ttl), *b = edge_report("b", 0, 1, 6, 0, reports_render_ttl);
    reports_data_t *one = merged();
    add_ok(one, "a.json", a);
    char *text = render(one, reports_render_ttl, REPORTS_FORMAT_TABLE);
    ck_assert_msg(strstr(text, "fleet advice: no TTL change is supported by these figures") != NULL, "%s", text);
    free(text);
    reports_data_t *m = merged();
    add_ok(m, "a.json", a);
    add_ok(m, "b.json", b);
    text = render(m, reports_render_ttl, REPORTS_FORMAT_TABLE);
    /* origin requests: 2 + 6 on a, 1 + 6 on b */
    ck_assert_msg(strstr(text, "over 2 edges: a b\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "fleet advice: change behavior /images/*: default_ttl 3600 -> 86400 would have cut up to 12 of "
                               "the fleet's 15 origin requests (80.0 %)") != NULL,
                  "%s", text);
    free(text);
    char *json = render(m, reports_render_ttl, REPORTS_FORMAT_JSON);
    reports_json_t *root = parse(json);
    const reports_json_t *best = reports_json_get(root, "best_change");
    ck_assert_str_eq(reports_json_get(best, "behavior")->string, "/images/*");
    ck_assert_uint_eq(num(best, "to"), 86400);
    ck_assert_uint_eq(num(best, "origin_requests_saved_max"), 12);
    ck_assert_uint_eq(num(best, "origin_requests"), 15);
    const reports_json_t *img = reports_json_get(root, "behaviors")->items[0];
    ck_assert_uint_eq(num(img, "revalidations"), 12);
    ck_assert_uint_eq(num(img, "default_ttl"), 3600);
    reports_json_free(root);
    free(json);
    free(a);
    free(b);
    reports_data_free(one);
    reports_data_free(m);
}
END_TEST

START_TEST(test_html_per_edge_breakdown)
{
    char *ap = edge_report("eu-1", 6, 2, 0, 0, reports_render_popular), *as = edge_report("eu-1", 6, 2, 0, 0, reports_render_stats),
         *bp = edge_report("us-1", 1, 3, 0, 0, reports_render_popular), *bs = edge_report("us-1", 1, 3, 0, 0, reports_render_stats);
    reports_data_t *m = merged();
    add_ok(m, "eu-1 popular", ap);
    add_ok(m, "eu-1 stats", as);
    add_ok(m, "us-1 popular", bp);
    add_ok(m, "us-1 stats", bs);
    char *html = render(m, reports_render_stats, REPORTS_FORMAT_HTML);
    ck_assert_msg(strstr(html, "<tr class=\"edge\" data-edge=\"eu-1\"><td class=\"url\">eu-1</td><td>8</td><td>6</td><td>2</td>"
                               "<td>75.0</td><td>2</td></tr>") != NULL,
                  "%s", html);
    ck_assert_msg(strstr(html, "<tr class=\"edge\" data-edge=\"us-1\"><td class=\"url\">us-1</td><td>4</td><td>1</td><td>3</td>"
                               "<td>25.0</td><td>3</td></tr>") != NULL,
                  "%s", html);
    ck_assert_msg(strstr(html, "<tr id=\"fleet-total\"><th class=\"url\">fleet</th><td>12</td><td>7</td><td>5</td><td>58.3</td>"
                               "<td>5</td></tr>") != NULL,
                  "%s", html);
    ck_assert_ptr_nonnull(strstr(html, "<table id=\"popular\""));
    free(html);
    free(ap);
    free(as);
    free(bp);
    free(bs);
    reports_data_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("reports_merge");
    TCase *tc = tcase_create("merge");
    tcase_add_test(tc, test_every_report_names_its_edge);
    tcase_add_test(tc, test_stats_merge_adds_up);
    tcase_add_test(tc, test_duplicate_refused_and_nothing_merged);
    tcase_add_test(tc, test_inputs_without_node_id);
    tcase_add_test(tc, test_ttl_fleet_advice);
    tcase_add_test(tc, test_html_per_edge_breakdown);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    common_log_level = COMMON_LOG_ERROR;
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
