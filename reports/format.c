/*
 * reports/format.c: the small formatters every report renderer shares (percentages, thousands
 * separators, ISO 8601 times, HTML escaping) and the sorted rows of the popular report.
 *
 * They live apart from report.c (collecting) and html.c (the page) so that neither renderer depends on
 * the other: report.c calls the HTML renderer, and the HTML renderer only needs these. The invariant that
 * is easy to break: reports_html_escape is the only way text from the cache (URLs, paths) reaches an
 * HTML page, so every character that can open markup or end an attribute must stay in its table.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cache/key.h"
#include "reports/report_int.h"

double reports_pct(uint64_t part, uint64_t whole)
{
    return whole == 0 ? -1 : 100.0 * (double)part / (double)whole;
}

const char *reports_thousands(uint64_t v, char *buf)
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v), o = 0;
    for (int i = 0; i != n; ++i) {
        if (i != 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

const char *reports_iso8601(uint64_t t, char *buf)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void reports_html_escape(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i != len; ++i) {
        switch (s[i]) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            fputc(s[i], out);
        }
    }
}

const reports_topk_entry_t **reports_popular_rows(const reports_data_t *d, size_t *n, uint64_t *floor)
{
    size_t size = d->objects != NULL ? reports_topk_size(d->objects) : 0;
    const reports_topk_entry_t **rows = h2o_mem_alloc(sizeof(*rows) * (size != 0 ? size : 1));
    *n = d->objects != NULL ? reports_topk_sorted(d->objects, rows) : 0;
    *floor = d->objects != NULL ? reports_topk_floor(d->objects) : 0;
    if (d->q.hosts != NULL) { /* one site's objects: the URL starts with the host */
        size_t kept = 0;
        for (size_t i = 0; i != *n; ++i)
            if (cache_key_host_in(h2o_iovec_init(d->q.hosts, strlen(d->q.hosts)),
                                  cache_key_url_host(h2o_iovec_init(rows[i]->key, rows[i]->key_len))))
                rows[kept++] = rows[i];
        *n = kept;
    }
    if (d->q.top != 0 && *n > d->q.top) {
        /* an object cut from the listing has at most its (over)estimated count */
        if (rows[d->q.top]->c.requests > *floor)
            *floor = rows[d->q.top]->c.requests;
        *n = d->q.top;
    }
    return rows;
}
