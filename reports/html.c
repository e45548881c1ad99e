/*
 * reports/html.c: the HTML report, one self-contained page: inline CSS, an inline SVG chart of requests
 * (bars) and hit ratio (a line) per time bucket, the behaviors' totals and the top objects.
 *
 * Nothing is fetched from anywhere: the page must open from a mail attachment or a file:// URL. Every
 * string that came from the store (URLs, patterns) is escaped for HTML, and for JSON inside <script>
 * (reports_json_write_string escapes '<'), since URLs are chosen by clients.
 *
 * A short script fills in the summary line (id "summary") from the embedded data and makes the tables
 * sortable; the page is complete without it, except for that line.
 */
#include <stdlib.h>
#include <string.h>
#include "reports/json.h"
#include "reports/report_int.h"
#include "reports/stats.h"

#define CHART_W 1100
#define CHART_H 320
#define PAD_L 70 /* room for the request axis labels */
#define PAD_R 60 /* ... and the hit-ratio axis */
#define PAD_T 20
#define PAD_B 50
#define MAX_X_LABELS 8

static const char style[] = "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px;color:#222}"
                            "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}"
                            ".muted{color:#666;font-size:13px}#summary{font-size:15px;font-weight:bold}"
                            "table{border-collapse:collapse;font-size:13px}"
                            "th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:right}"
                            "th{background:#f3f5f8;cursor:pointer;user-select:none}"
                            "td.url,th.url{text-align:left;max-width:480px;overflow-wrap:anywhere}"
                            ".bar{fill:#4a7fc1}.hit{fill:none;stroke:#e07b1f;stroke-width:2.5}.axis{stroke:#888}"
                            ".lbl{font-size:11px;fill:#444}.legend{font-size:12px}";

/* The totals of every behavior of bucket `s`. */
static void bucket_totals(const reports_series_t *s, reports_beh_counts_t *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t j = 0; j != s->num_behs; ++j) {
        c->requests += s->behs[j].c.requests;
        c->hits += s->behs[j].c.hits;
        c->misses += s->behs[j].c.misses;
        c->errors += s->behs[j].c.errors;
        c->bytes_sent += s->behs[j].c.bytes_sent;
        c->bytes_from_cache += s->behs[j].c.bytes_from_cache;
    }
}

static void chart(const reports_data_t *d, FILE *out)
{
    const double plot_w = CHART_W - PAD_L - PAD_R, plot_h = CHART_H - PAD_T - PAD_B;
    uint64_t max = 0;
    reports_beh_counts_t c;
    char when[32];

    for (size_t i = 0; i != d->num_buckets; ++i) {
        bucket_totals(d->buckets + i, &c);
        if (c.requests > max)
            max = c.requests;
    }
    fprintf(out,
            "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
            "aria-label=\"requests and hit ratio per time bucket\">\n",
            CHART_W, CHART_H, CHART_W, CHART_H);
    /* axes and their scales: requests on the left, hit ratio (0..100 %) on the right */
    fprintf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", PAD_L, PAD_T, PAD_L, CHART_H - PAD_B);
    fprintf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", PAD_L, CHART_H - PAD_B, CHART_W - PAD_R,
            CHART_H - PAD_B);
    fprintf(out, "<text class=\"lbl\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%llu</text>", PAD_L - 6, PAD_T + 4,
            (unsigned long long)max);
    fprintf(out, "<text class=\"lbl\" x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>", PAD_L - 6, CHART_H - PAD_B + 4);
    fprintf(out, "<text class=\"lbl\" x=\"%d\" y=\"%d\">100 %%</text>", CHART_W - PAD_R + 6, PAD_T + 4);
    fprintf(out, "<text class=\"lbl\" x=\"%d\" y=\"%d\">0 %%</text>\n", CHART_W - PAD_R + 6, CHART_H - PAD_B + 4);
    if (d->num_buckets == 0) {
        fprintf(out, "<text id=\"nodata\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">no data in this range</text></svg>\n",
                CHART_W / 2, CHART_H / 2);
        return;
    }
    double slot = plot_w / (double)d->num_buckets;
    for (size_t i = 0; i != d->num_buckets; ++i) {
        bucket_totals(d->buckets + i, &c);
        double h = max == 0 ? 0 : plot_h * (double)c.requests / (double)max;
        fprintf(out,
                "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" data-requests=\"%llu\">"
                "<title>%s: %llu requests</title></rect>\n",
                PAD_L + slot * (double)i + slot * 0.1, CHART_H - PAD_B - h, slot * 0.8, h, (unsigned long long)c.requests,
                reports_iso8601(d->buckets[i].start, when), (unsigned long long)c.requests);
    }
    fputs("<polyline class=\"hit\" id=\"hitline\" points=\"", out);
    for (size_t i = 0; i != d->num_buckets; ++i) {
        bucket_totals(d->buckets + i, &c);
        double pct = reports_pct(c.hits, c.hits + c.misses);
        fprintf(out, "%s%.1f,%.1f", i == 0 ? "" : " ", PAD_L + slot * ((double)i + 0.5),
                CHART_H - PAD_B - plot_h * (pct < 0 ? 0 : pct) / 100.0);
    }
    fputs("\"/>\n", out);
    size_t step = (d->num_buckets + MAX_X_LABELS - 1) / MAX_X_LABELS;
    for (size_t i = 0; i < d->num_buckets; i += step)
        fprintf(out, "<text class=\"lbl\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", PAD_L + slot * ((double)i + 0.5),
                CHART_H - PAD_B + 18, reports_iso8601(d->buckets[i].start, when) + 5);
    fprintf(
        out,
        "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" class=\"bar\"/><text class=\"legend\" x=\"%d\" y=\"%d\">requests</text>"
        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"hit\"/><text class=\"legend\" x=\"%d\" y=\"%d\">hit ratio</text>\n",
        PAD_L, CHART_H - 18, PAD_L + 16, CHART_H - 8, PAD_L + 100, CHART_H - 12, PAD_L + 120, CHART_H - 12, PAD_L + 126,
        CHART_H - 8);
    fputs("</svg>\n", out);
}

static void behaviors_table(const reports_data_t *d, FILE *out)
{
    fputs("<table id=\"behaviors\" class=\"sortable\"><thead><tr><th class=\"url\">behavior</th><th>requests</th><th>hits</th>"
          "<th>misses</th><th>errors</th><th>hit %</th><th>byte hit %</th><th>origin bytes</th><th>origin p50 ms &le;</th>"
          "<th>origin p99 ms &le;</th></tr></thead><tbody>\n",
          out);
    for (size_t i = 0; i != d->num_totals; ++i) {
        const reports_beh_t *b = d->totals + i;
        double hit = reports_pct(b->c.hits, b->c.hits + b->c.misses), bytehit = reports_pct(b->c.bytes_from_cache, b->c.bytes_sent);
        uint64_t p50 = reports_latency_quantile(&b->latency, 0.5), p99 = reports_latency_quantile(&b->latency, 0.99);
        fputs("<tr><td class=\"url\">", out);
        reports_html_escape(out, b->path, strlen(b->path));
        fprintf(out, "</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td>", (unsigned long long)b->c.requests,
                (unsigned long long)b->c.hits, (unsigned long long)b->c.misses, (unsigned long long)b->c.errors);
        if (hit >= 0)
            fprintf(out, "<td>%.1f</td>", hit);
        else
            fputs("<td>-</td>", out);
        if (bytehit >= 0)
            fprintf(out, "<td>%.1f</td>", bytehit);
        else
            fputs("<td>-</td>", out);
        fprintf(out, "<td>%llu</td>", (unsigned long long)b->c.origin_bytes);
        for (int q = 0; q != 2; ++q) {
            uint64_t v = q == 0 ? p50 : p99;
            if (v == 0)
                fputs("<td>-</td>", out);
            else if (v == UINT64_MAX)
                fprintf(out, "<td>&gt;%llu</td>", (unsigned long long)reports_latency_bounds_ms[REPORTS_LATENCY_NUM_BOUNDS - 1]);
            else
                fprintf(out, "<td>%llu</td>", (unsigned long long)v);
        }
        fputs("</tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
}

static void objects_table(const reports_data_t *d, FILE *out, size_t *listed)
{
    size_t n;
    uint64_t floor;
    const reports_topk_entry_t **rows = reports_popular_rows(d, &n, &floor);

    fprintf(out,
            "<p class=\"muted\">Counted with Space-Saving: each row's requests exceed the true count by at most its "
            "error (&plusmn;); an object not listed had at most %llu requests.</p>\n",
            (unsigned long long)floor);
    fputs("<table id=\"popular\" class=\"sortable\"><thead><tr><th class=\"url\">object URL</th><th>requests</th><th>&plusmn;</th>"
          "<th>hits</th><th>misses</th><th>hit %</th><th>bytes from misses</th><th>total bytes</th><th>incomplete</th>"
          "<th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th></tr></thead><tbody>\n",
          out);
    for (size_t r = 0; r != n; ++r) {
        const reports_topk_entry_t *e = rows[r];
        double hit = reports_pct(e->c.hits, e->c.hits + e->c.misses);
        fputs("<tr><td class=\"url\">", out);
        reports_html_escape(out, e->key, e->key_len);
        fprintf(out, "</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td>", (unsigned long long)e->c.requests,
                (unsigned long long)e->error, (unsigned long long)e->c.hits, (unsigned long long)e->c.misses);
        if (hit >= 0)
            fprintf(out, "<td>%.1f</td>", hit);
        else
            fputs("<td>-</td>", out);
        fprintf(out, "<td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td></tr>\n",
                (unsigned long long)e->c.bytes_from_misses, (unsigned long long)e->c.bytes_total,
                (unsigned long long)e->c.incomplete, (unsigned long long)e->c.s2xx, (unsigned long long)e->c.s3xx,
                (unsigned long long)e->c.s4xx, (unsigned long long)e->c.s5xx);
    }
    fputs("</tbody></table>\n", out);
    *listed = n;
    free(rows);
}

static void edge_cells(FILE *out, uint64_t requests, uint64_t hits, uint64_t misses, uint64_t origin)
{
    double hit = reports_pct(hits, hits + misses);
    fprintf(out, "<td>%llu</td><td>%llu</td><td>%llu</td>", (unsigned long long)requests, (unsigned long long)hits,
            (unsigned long long)misses);
    if (hit >= 0)
        fprintf(out, "<td>%.1f</td>", hit);
    else
        fputs("<td>-</td>", out);
    fprintf(out, "<td>%llu</td>", (unsigned long long)origin);
}

/* The per-edge breakdown of a merged report, and the fleet's totals (the sum of the rows). */
static void edges_table(const reports_data_t *d, FILE *out)
{
    uint64_t r = 0, h = 0, m = 0, o = 0;
    fputs("<h2>Edges</h2>\n<table id=\"edges\" class=\"sortable\"><thead><tr><th class=\"url\">edge</th><th>requests</th>"
          "<th>hits</th><th>misses</th><th>hit %</th><th>origin requests</th></tr></thead><tbody>\n",
          out);
    for (size_t i = 0; i != d->num_nodes; ++i) {
        const reports_node_t *n = d->nodes + i;
        const char *id = n->id != NULL ? n->id : "(no node id)";
        fputs("<tr class=\"edge\" data-edge=\"", out);
        reports_html_escape(out, id, strlen(id));
        fputs("\"><td class=\"url\">", out);
        reports_html_escape(out, id, strlen(id));
        fputs("</td>", out);
        if (n->has_totals) {
            edge_cells(out, n->requests, n->hits, n->misses, n->origin_requests);
            r += n->requests, h += n->hits, m += n->misses, o += n->origin_requests;
        } else {
            fputs("<td>-</td><td>-</td><td>-</td><td>-</td><td>-</td>", out);
        }
        fputs("</tr>\n", out);
    }
    fputs("</tbody><tfoot><tr id=\"fleet-total\"><th class=\"url\">fleet</th>", out);
    edge_cells(out, r, h, m, o);
    fputs("</tr></tfoot></table>\n", out);
}

static const char script[] =
    "(function(){\n"
    "var d=JSON.parse(document.getElementById('report-data').textContent);\n"
    "var s=document.getElementById('summary');\n"
    "var pct=d.hits+d.misses>0?(100*d.hits/(d.hits+d.misses)).toFixed(1)+' %':'-';\n"
    "s.textContent=d.requests.toLocaleString('en-US')+' requests in '+d.buckets+' time buckets, hit ratio '+pct+', '+"
    "d.objects+' top objects listed';\n"
    "s.setAttribute('data-rendered','yes');\n"
    "document.querySelectorAll('table.sortable').forEach(function(t){\n"
    " t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){\n"
    "  var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows),asc=th.getAttribute('data-sort')!=='asc';\n"
    "  rows.sort(function(x,y){var p=x.cells[i].textContent,q=y.cells[i].textContent,a=parseFloat(p),c=parseFloat(q);\n"
    "   var r=isNaN(a)||isNaN(c)?p.localeCompare(q):a-c;return asc?r:-r;});\n"
    "  rows.forEach(function(r){b.appendChild(r);});th.setAttribute('data-sort',asc?'asc':'desc');});});});\n"
    "})();\n";

int reports_render_html(const reports_data_t *d, FILE *out)
{
    char from[32], to[32];
    reports_beh_counts_t all = {0}, c;
    size_t listed;

    for (size_t i = 0; i != d->num_buckets; ++i) {
        bucket_totals(d->buckets + i, &c);
        all.requests += c.requests;
        all.hits += c.hits;
        all.misses += c.misses;
    }
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>edgecache report %s .. %s</title>\n",
            reports_iso8601(d->q.from_s, from), reports_iso8601(d->q.to_s, to));
    fprintf(out, "<style>%s</style></head><body>\n<h1>edgecache report</h1>\n", style);
    fprintf(out, "<p class=\"muted\">%s .. %s (UTC)</p>\n<p id=\"summary\">(summary: needs JavaScript)</p>\n", from, to);
    if (d->num_nodes != 0)
        edges_table(d, out);
    fputs("<h2>Requests and hit ratio over time</h2>\n", out);
    chart(d, out);
    fputs("<h2>Behaviors</h2>\n", out);
    behaviors_table(d, out);
    fputs("<h2>Top objects</h2>\n", out);
    objects_table(d, out, &listed);
    fprintf(out,
            "<script type=\"application/json\" id=\"report-data\">{\"requests\":%llu,\"hits\":%llu,\"misses\":%llu,"
            "\"buckets\":%zu,\"objects\":%zu}</script>\n",
            (unsigned long long)all.requests, (unsigned long long)all.hits, (unsigned long long)all.misses, d->num_buckets, listed);
    fprintf(out, "<script>%s</script>\n</body></html>\n", script);
    return ferror(out) ? -1 : 0;
}
