/*
 * reports/merge.c: merging JSON reports (popular, stats, ttl) from several edges into one collection, and the
 * node ids that keep a merge honest.
 *
 * Every JSON report names the edges it counts: "node_id" (one edge's report) and "edges" (each edge with its
 * totals: one for a report read from a store, several for a merged one). A merge keeps the edges it has seen
 * per kind of report, and refuses an input that brings one of them again: that is what used to double every
 * count when the same file was given twice. The per-edge totals also feed the HTML page's breakdown.
 *
 * The invariant that is easy to break: an input is parsed whole into a collection of its own and checked
 * (its edges against those already merged) before anything of it reaches the caller's collection, so that a
 * refused input leaves no half of itself behind.
 */
#include <stdlib.h>
#include <string.h>
#include "reports/json.h"
#include "reports/report_int.h"
#include "reports/stats.h"

/* A counter of a JSON object: a non-negative integer, or 0 when absent. -1 when present but not one. */
static int json_uint(const reports_json_t *obj, const char *name, uint64_t *out)
{
    const reports_json_t *v = reports_json_get(obj, name);
    *out = 0;
    if (v == NULL)
        return 0;
    if (v->type != REPORTS_JSON_NUMBER || !v->is_uint)
        return -1;
    *out = v->uint;
    return 0;
}

static const char *json_str(const reports_json_t *obj, const char *name)
{
    const reports_json_t *v = reports_json_get(obj, name);
    return v != NULL && v->type == REPORTS_JSON_STRING ? v->string : NULL;
}

/* --- the edges of a report ------------------------------------------------------------------------------ */

size_t reports_data_num_nodes(const reports_data_t *d)
{
    return d->num_nodes;
}

static void free_node_array(reports_node_t *v, size_t n)
{
    for (size_t i = 0; i != n; ++i) {
        free(v[i].id);
        free(v[i].source);
    }
    free(v);
}

void reports_nodes_free(reports_data_t *d)
{
    free_node_array(d->nodes, d->num_nodes);
    d->nodes = NULL;
    d->num_nodes = 0;
}

void reports_nodes_view_free(reports_node_t *v, size_t n)
{
    free_node_array(v, n);
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? h2o_strdup(NULL, s, SIZE_MAX).base : NULL;
}

/* The totals of the behaviors of `d` into `n`; a report with objects only counts the summary's requests. */
static void totals_of(const reports_data_t *d, reports_node_t *n)
{
    n->requests = n->hits = n->misses = n->origin_requests = 0;
    for (size_t i = 0; i != d->num_totals; ++i) {
        n->requests += d->totals[i].c.requests;
        n->hits += d->totals[i].c.hits;
        n->misses += d->totals[i].c.misses;
        n->origin_requests += d->totals[i].c.origin_requests;
    }
    if (d->num_totals == 0 && d->objects != NULL)
        n->requests = reports_topk_total(d->objects);
    n->has_totals = true;
}

reports_node_t *reports_nodes_view(const reports_data_t *d, size_t *n)
{
    reports_node_t *v;
    if (d->num_nodes != 0) {
        v = h2o_mem_alloc(sizeof(*v) * d->num_nodes);
        for (size_t i = 0; i != d->num_nodes; ++i) {
            v[i] = d->nodes[i];
            v[i].id = dup_or_null(d->nodes[i].id);
            v[i].source = dup_or_null(d->nodes[i].source);
        }
        *n = d->num_nodes;
        return v;
    }
    v = h2o_mem_alloc(sizeof(*v));
    *v = (reports_node_t){.id = dup_or_null(d->q.node_id)};
    totals_of(d, v);
    *n = 1;
    return v;
}

void reports_json_write_nodes(const reports_data_t *d, FILE *out)
{
    size_t n;
    reports_node_t *v = reports_nodes_view(d, &n);
    if (n == 1 && v[0].id != NULL) {
        fputs(",\"node_id\":", out);
        reports_json_write_string(out, v[0].id, strlen(v[0].id));
    }
    fputs(",\"edges\":[", out);
    for (size_t i = 0; i != n; ++i) {
        fprintf(out, "%s{\"node_id\":", i == 0 ? "" : ",");
        if (v[i].id != NULL)
            reports_json_write_string(out, v[i].id, strlen(v[i].id));
        else
            fputs("null", out);
        if (v[i].has_totals)
            fprintf(out, ",\"requests\":%llu,\"hits\":%llu,\"misses\":%llu,\"origin_requests\":%llu",
                    (unsigned long long)v[i].requests, (unsigned long long)v[i].hits, (unsigned long long)v[i].misses,
                    (unsigned long long)v[i].origin_requests);
        fputc('}', out);
    }
    fputc(']', out);
    reports_nodes_view_free(v, n);
}

void reports_json_write_latency(FILE *out, const reports_latency_t *l)
{
    fputs(",\"origin_latency_buckets\":[", out);
    for (size_t i = 0; i != REPORTS_LATENCY_NUM_BOUNDS + 1; ++i)
        fprintf(out, "%s%llu", i == 0 ? "" : ",", (unsigned long long)l->buckets[i]);
    fprintf(out, "],\"origin_latency_sum_ms\":%llu", (unsigned long long)l->sum_ms);
}

/* --- reading a report back ------------------------------------------------------------------------------ */

static int load_side(reports_topk_t *t, const reports_json_t *arr, const char *keyname)
{
    uint64_t total = 0;
    if (arr == NULL)
        return 0;
    if (arr->type != REPORTS_JSON_ARRAY)
        return -1;
    for (size_t i = 0; i != arr->num_items; ++i) {
        const reports_json_t *k = reports_json_get(arr->items[i], keyname);
        reports_obj_counts_t c = {0};
        uint64_t error;
        if (k == NULL || k->type != REPORTS_JSON_STRING || json_uint(arr->items[i], "count", &c.requests) != 0 ||
            json_uint(arr->items[i], "error", &error) != 0 || reports_topk_load(t, k->string, k->string_len, error, &c) != 0)
            return -1;
        total += c.requests;
    }
    reports_topk_set_bounds(t, total, 0);
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One behavior of a stats row or a ttl report into `b` (initialised here; dispose it whatever the result). */
static int load_beh(const reports_json_t *o, const char *path_member, reports_beh_t *b)
{
    const reports_json_t *path = reports_json_get(o, path_member), *lat = reports_json_get(o, "origin_latency_buckets");
    const char *qs = json_str(o, "query_string"), *hll = json_str(o, "distinct_keyed_hll");

    reports_beh_init(b, path != NULL && path->type == REPORTS_JSON_STRING ? path->string : "",
                     path != NULL && path->type == REPORTS_JSON_STRING ? path->string_len : 0);
    if (path == NULL || path->type != REPORTS_JSON_STRING)
        return -1;
    for (size_t f = 0; f != reports_beh_counter_count; ++f)
        if (json_uint(o, reports_beh_counter_table[f].name, (uint64_t *)((char *)&b->c + reports_beh_counter_table[f].offset)) != 0)
            return -1;
    if (json_uint(o, "min_ttl", &b->min_ttl) != 0 || json_uint(o, "default_ttl", &b->default_ttl) != 0 ||
        json_uint(o, "max_ttl", &b->max_ttl) != 0 || json_uint(o, "origin_latency_sum_ms", &b->latency.sum_ms) != 0)
        return -1;
    b->query_string = qs == NULL || strcmp(qs, "none") == 0 ? 0 : strcmp(qs, "all") == 0 ? 1 : 2;
    if (lat != NULL) {
        if (lat->type != REPORTS_JSON_ARRAY || lat->num_items != REPORTS_LATENCY_NUM_BOUNDS + 1)
            return -1;
        for (size_t i = 0; i != lat->num_items; ++i) {
            if (lat->items[i]->type != REPORTS_JSON_NUMBER || !lat->items[i]->is_uint)
                return -1;
            b->latency.buckets[i] = lat->items[i]->uint;
            b->latency.count += lat->items[i]->uint;
        }
    }
    if (hll != NULL) {
        if (strlen(hll) != 2 * REPORTS_HLL_REGISTERS)
            return -1;
        for (size_t i = 0; i != REPORTS_HLL_REGISTERS; ++i) {
            int hi = hexval(hll[2 * i]), lo = hexval(hll[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            b->distinct_keyed[i] = (uint8_t)(hi << 4 | lo);
        }
    }
    if (load_side(b->refetched, reports_json_get(o, "refetched"), "url") != 0 ||
        load_side(b->fragmented, reports_json_get(o, "fragmented"), "path") != 0)
        return -1;
    return 0;
}

static int add_popular(reports_data_t *tmp, const reports_json_t *root, char *err, size_t errlen)
{
    const reports_json_t *objects = reports_json_get(root, "objects");
    uint64_t total, floor, capacity;
    reports_topk_t *t = NULL;

    if (objects == NULL || objects->type != REPORTS_JSON_ARRAY || json_uint(root, "total_requests", &total) != 0 ||
        json_uint(root, "floor", &floor) != 0 || json_uint(root, "capacity", &capacity) != 0) {
        snprintf(err, errlen, "not a popular report of version 1 (version, total_requests, floor, capacity, objects)");
        return -1;
    }
    if (capacity < objects->num_items)
        capacity = objects->num_items;
    if (capacity == 0)
        capacity = 1;
    if ((t = reports_topk_new(capacity > REPORTS_TOPK_MAX_CAPACITY ? REPORTS_TOPK_MAX_CAPACITY : (unsigned)capacity)) == NULL ||
        objects->num_items > reports_topk_capacity(t)) {
        snprintf(err, errlen, "too many objects");
        reports_topk_free(t);
        return -1;
    }
    for (size_t i = 0; i != objects->num_items; ++i) {
        const reports_json_t *o = objects->items[i], *url = reports_json_get(o, "url");
        reports_obj_counts_t c;
        uint64_t error;
        bool ok = url != NULL && url->type == REPORTS_JSON_STRING && json_uint(o, "error", &error) == 0;
        for (size_t f = 0; ok && f != reports_obj_counter_count; ++f)
            ok = json_uint(o, reports_obj_counter_table[f].name, (uint64_t *)((char *)&c + reports_obj_counter_table[f].offset)) ==
                 0;
        if (!ok || reports_topk_load(t, url->string, url->string_len, error, &c) != 0) {
            snprintf(err, errlen, "objects[%zu]: needs a url, non-negative integer counters, error <= requests, no duplicate url",
                     i);
            reports_topk_free(t);
            return -1;
        }
    }
    reports_topk_set_bounds(t, total, floor);
    reports_data_merge_objects(tmp, t);
    return 0;
}

/* The rows of each time bucket (the "total" rows are derived, not read: the merge recomputes them). */
static int add_stats(reports_data_t *tmp, const reports_json_t *root, char *err, size_t errlen)
{
    const reports_json_t *rows = reports_json_get(root, "rows");
    if (rows == NULL || rows->type != REPORTS_JSON_ARRAY) {
        snprintf(err, errlen, "not a stats report of version 1 (version, rows)");
        return -1;
    }
    for (size_t i = 0; i != rows->num_items; ++i) {
        const char *bucket = json_str(rows->items[i], "bucket");
        uint64_t start, length;
        reports_beh_t b;
        if (bucket != NULL && strcmp(bucket, "total") == 0)
            continue;
        int bad = bucket == NULL || reports_parse_time(bucket, &start) != 0 ||
                  json_uint(rows->items[i], "bucket_s", &length) != 0 || length > REPORTS_MAX_BUCKET_S;
        if (load_beh(rows->items[i], "behavior", &b) != 0 || bad) {
            reports_beh_dispose(&b);
            snprintf(err, errlen, "rows[%zu]: needs a bucket time, a behavior and non-negative integer counters", i);
            return -1;
        }
        reports_series_t *s = reports_data_series_at(tmp, start, length);
        reports_beh_merge_into(&s->behs, &s->num_behs, &b);
        reports_beh_merge_into(&tmp->totals, &tmp->num_totals, &b);
        reports_beh_dispose(&b);
    }
    return 0;
}

static int add_ttl(reports_data_t *tmp, const reports_json_t *root, char *err, size_t errlen)
{
    const reports_json_t *behs = reports_json_get(root, "behaviors");
    if (behs == NULL || behs->type != REPORTS_JSON_ARRAY) {
        snprintf(err, errlen, "not a ttl report of version 1 (version, behaviors)");
        return -1;
    }
    for (size_t i = 0; i != behs->num_items; ++i) {
        reports_beh_t b;
        if (load_beh(behs->items[i], "path", &b) != 0) {
            reports_beh_dispose(&b);
            snprintf(err, errlen, "behaviors[%zu]: needs a path and non-negative integer counters", i);
            return -1;
        }
        reports_beh_merge_into(&tmp->totals, &tmp->num_totals, &b);
        reports_beh_dispose(&b);
    }
    return 0;
}

/* The edges an input names, into `*out` (malloc'd, `*n`): its "edges", else its "node_id", else one without id. */
static int input_nodes(const reports_json_t *root, const reports_data_t *tmp, const char *source, reports_node_t **out, size_t *n,
                       char *err, size_t errlen)
{
    const reports_json_t *edges = reports_json_get(root, "edges"), *id = reports_json_get(root, "node_id");

    if (edges == NULL || edges->type != REPORTS_JSON_ARRAY || edges->num_items == 0) {
        if (id != NULL && id->type != REPORTS_JSON_STRING && id->type != REPORTS_JSON_NULL) {
            snprintf(err, errlen, "node_id: not a string");
            return -1;
        }
        *out = h2o_mem_alloc(sizeof(**out));
        **out = (reports_node_t){.id = id != NULL && id->type == REPORTS_JSON_STRING ? dup_or_null(id->string) : NULL,
                                 .source = dup_or_null(source)};
        totals_of(tmp, *out);
        *n = 1;
        return 0;
    }
    *out = h2o_mem_alloc(sizeof(**out) * edges->num_items);
    for (*n = 0; *n != edges->num_items; ++*n) {
        const reports_json_t *e = edges->items[*n], *eid = reports_json_get(e, "node_id");
        reports_node_t *node = *out + *n;
        *node = (reports_node_t){.source = dup_or_null(source), .has_totals = reports_json_get(e, "requests") != NULL};
        if ((eid != NULL && eid->type != REPORTS_JSON_STRING && eid->type != REPORTS_JSON_NULL) ||
            json_uint(e, "requests", &node->requests) != 0 || json_uint(e, "hits", &node->hits) != 0 ||
            json_uint(e, "misses", &node->misses) != 0 || json_uint(e, "origin_requests", &node->origin_requests) != 0) {
            free(node->source);
            snprintf(err, errlen, "edges[%zu]: needs a node_id (string or null) and non-negative integer totals", *n);
            return -1;
        }
        node->id = eid != NULL && eid->type == REPORTS_JSON_STRING ? dup_or_null(eid->string) : NULL;
    }
    return 0;
}

static bool same_id(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

static int dup_error(const reports_node_t *earlier, const char *source, const char *kind, char *err, size_t errlen)
{
    if (earlier->id != NULL)
        snprintf(err, errlen,
                 "edge \"%s\" is in both %s and %s (%s): merging it twice would double its counts; give each edge's report once",
                 earlier->id, earlier->source, source, kind);
    else
        snprintf(err, errlen,
                 "%s and %s both have no node id (%s reports written before node ids): such inputs cannot be told from one "
                 "file given twice, so at most one is merged",
                 earlier->source, source, kind);
    return -1;
}

/* Everything `tmp` collected, into `d` (tmp keeps its buckets and totals, gives up its objects). */
static void absorb(reports_data_t *d, reports_data_t *tmp)
{
    if (tmp->objects != NULL) {
        reports_data_merge_objects(d, tmp->objects);
        tmp->objects = NULL;
    }
    for (size_t i = 0; i != tmp->num_buckets; ++i) {
        reports_series_t *s = reports_data_series_at(d, tmp->buckets[i].start, tmp->buckets[i].length);
        for (size_t j = 0; j != tmp->buckets[i].num_behs; ++j)
            reports_beh_merge_into(&s->behs, &s->num_behs, tmp->buckets[i].behs + j);
    }
    for (size_t j = 0; j != tmp->num_totals; ++j)
        reports_beh_merge_into(&d->totals, &d->num_totals, tmp->totals + j);
}

int reports_data_add_json(reports_data_t *d, const char *source, const char *text, size_t len, char *err, size_t errlen)
{
    char perr[128];
    reports_json_t *root = reports_json_parse(text, len, perr, sizeof(perr));
    reports_query_t tq = {.to_s = 0};
    reports_data_t *tmp = NULL;
    reports_node_t *in = NULL;
    size_t num_in = 0;
    uint64_t version;
    unsigned kind;
    int ret = -1;

    if (root == NULL) {
        snprintf(err, errlen, "not JSON: %s", perr);
        return -1;
    }
    const char *report = json_str(root, "report");
    if (json_uint(root, "version", &version) != 0 || version != 1 || root->type != REPORTS_JSON_OBJECT) {
        snprintf(err, errlen, "not a report of version 1");
        goto Exit;
    }
    /* (a popular report of the first format may lack "report": its objects say what it is) */
    kind = report == NULL || strcmp(report, "popular") == 0 ? REPORTS_NODE_KIND_POPULAR
           : strcmp(report, "stats") == 0                   ? REPORTS_NODE_KIND_STATS
           : strcmp(report, "ttl") == 0                     ? REPORTS_NODE_KIND_TTL
                                                            : 0;
    const char *kind_name = kind == REPORTS_NODE_KIND_POPULAR ? "popular" : kind == REPORTS_NODE_KIND_STATS ? "stats" : "ttl";
    if (kind == 0) {
        snprintf(err, errlen, "report \"%s\": not popular, stats or ttl", report);
        goto Exit;
    }
    if ((kind | d->kinds) & REPORTS_NODE_KIND_STATS && (kind | d->kinds) & REPORTS_NODE_KIND_TTL) {
        snprintf(err, errlen,
                 "stats and ttl reports cannot be merged together: both carry the behaviors' totals, which "
                 "would count twice");
        goto Exit;
    }
    tmp = reports_data_new(&tq);
    if ((kind == REPORTS_NODE_KIND_POPULAR ? add_popular(tmp, root, err, errlen)
         : kind == REPORTS_NODE_KIND_STATS ? add_stats(tmp, root, err, errlen)
                                           : add_ttl(tmp, root, err, errlen)) != 0)
        goto Exit;
    if (input_nodes(root, tmp, source, &in, &num_in, err, errlen) != 0)
        goto Exit;
    /* the duplicate check, against the edges merged so far and within the input itself */
    for (size_t i = 0; i != num_in; ++i) {
        for (size_t j = 0; j != d->num_nodes; ++j)
            if ((d->nodes[j].kinds & kind) != 0 && same_id(d->nodes[j].id, in[i].id)) {
                dup_error(d->nodes + j, source, kind_name, err, errlen);
                goto Exit;
            }
        for (size_t j = 0; j != i; ++j)
            if (same_id(in[j].id, in[i].id)) {
                dup_error(in + j, source, kind_name, err, errlen);
                goto Exit;
            }
    }

    /* accepted: from here on nothing fails */
    absorb(d, tmp);
    d->kinds |= kind;
    for (size_t i = 0; i != num_in; ++i) {
        size_t j;
        for (j = 0; j != d->num_nodes; ++j)
            if (same_id(d->nodes[j].id, in[i].id))
                break;
        if (j == d->num_nodes) {
            d->nodes = h2o_mem_realloc(d->nodes, sizeof(*d->nodes) * (d->num_nodes + 1));
            d->nodes[d->num_nodes++] = in[i];
            in[i] = (reports_node_t){NULL};
        } else if (!d->nodes[j].has_totals && in[i].has_totals) {
            unsigned kinds = d->nodes[j].kinds;
            free(d->nodes[j].id);
            free(d->nodes[j].source);
            d->nodes[j] = in[i];
            d->nodes[j].kinds = kinds;
            in[i] = (reports_node_t){NULL};
        }
        d->nodes[j].kinds |= kind;
    }
    uint64_t from, to;
    if (d->from_inputs && json_uint(root, "from_unix", &from) == 0 && json_uint(root, "to_unix", &to) == 0 && from < to) {
        /* the merged report covers the union of its inputs' ranges */
        if (d->q.to_s == 0 || from < d->q.from_s)
            d->q.from_s = from;
        if (to > d->q.to_s)
            d->q.to_s = to;
    }
    ret = 0;
Exit:
    free_node_array(in, num_in);
    reports_data_free(tmp);
    reports_json_free(root);
    return ret;
}
