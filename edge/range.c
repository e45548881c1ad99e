/*
 * edge/range.c: Range requests on a stored body (see range.h).
 *
 * Invariants that are easy to break: ranges are half-open [start, end) here and inclusive in the
 * protocol's text ("bytes 0-99/1000"); a Range that is not understood is ignored (the whole body), never
 * answered with a 400; and the Content-Length of a multipart answer counts every literal part header.
 * A request costs at most EDGE_RANGE_MAX parts, none overlapping another: more range-specs and the field is
 * ignored, overlapping or adjacent ones are merged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "cache/ttl.h"
#include "edge/range.h"

static h2o_iovec_t fmt(h2o_mem_pool_t *pool, const char *f, ...) __attribute__((format(printf, 2, 3)));
static h2o_iovec_t fmt(h2o_mem_pool_t *pool, const char *f, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(buf, sizeof(buf), f, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    return h2o_strdup(pool, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Sorts the ranges by start and merges those that overlap or touch (RFC 9110 §14.6 lets a server coalesce
 * them whatever their order in the request), so that no byte is sent twice. Returns the new count. */
static int coalesce(edge_range_seg_t *segs, int n)
{
    for (int i = 1; i < n; ++i) { /* insertion sort: n <= EDGE_RANGE_MAX */
        edge_range_seg_t r = segs[i];
        int j = i;
        for (; j > 0 && segs[j - 1].start > r.start; --j)
            segs[j] = segs[j - 1];
        segs[j] = r;
    }
    int out = 0;
    for (int i = 0; i < n; ++i) {
        if (out != 0 && segs[i].start <= segs[out - 1].end) {
            if (segs[i].end > segs[out - 1].end)
                segs[out - 1].end = segs[i].end;
        } else {
            segs[out++] = segs[i];
        }
    }
    return out;
}

int edge_range_parse(h2o_iovec_t v, uint64_t len, edge_range_seg_t *segs, int max)
{
    const char *p = v.base, *end = v.base + v.len;
    int n = 0, specs = 0;

    if (end - p < 6 || strncasecmp(p, "bytes=", 6) != 0)
        return 0;
    p += 6;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ','))
            ++p;
        if (p == end)
            break;
        uint64_t a = 0, b = 0;
        bool has_a = false, has_b = false;
        while (p < end && *p >= '0' && *p <= '9' && a < UINT64_MAX / 10) {
            a = a * 10 + (uint64_t)(*p++ - '0');
            has_a = true;
        }
        if (p == end || *p++ != '-')
            return 0;
        while (p < end && *p >= '0' && *p <= '9' && b < UINT64_MAX / 10) {
            b = b * 10 + (uint64_t)(*p++ - '0');
            has_b = true;
        }
        while (p < end && *p == ' ')
            ++p;
        if (p < end && *p != ',')
            return 0;
        if (++specs > max)
            return 0;         /* too many: each costs a part header and a seek, so the field is ignored (RFC 9110 §14.2) */
        uint64_t start, stop; /* [start, stop) */
        if (!has_a) {
            if (!has_b)
                return 0;
            if (b == 0 || len == 0)
                continue; /* "-0" selects nothing, nor does any suffix of an empty body (RFC 9110 §14.1.1) */
            start = b >= len ? 0 : len - b;
            stop = len;
        } else {
            if (has_b && b < a)
                return 0;
            if (a >= len)
                continue; /* unsatisfiable; the others may still be */
            start = a;
            stop = has_b && b + 1 < len ? b + 1 : len;
        }
        segs[n++] = (edge_range_seg_t){.start = start, .end = stop};
    }
    return n == 0 ? -1 : coalesce(segs, n);
}

bool edge_range_if_range_ok(h2o_iovec_t v, h2o_iovec_t etag, h2o_iovec_t lm)
{
    if (v.len != 0 && (v.base[0] == '"' || v.base[0] == 'W')) {
        /* an entity tag: only a strong one, compared strongly */
        return etag.base != NULL && v.base[0] == '"' && etag.len != 0 && etag.base[0] == '"' &&
               h2o_memis(v.base, v.len, etag.base, etag.len);
    }
    int64_t a, b;
    return lm.base != NULL && cache_ttl_parse_date(v.base, v.len, &a) && cache_ttl_parse_date(lm.base, lm.len, &b) && a == b;
}

void edge_range_plan(h2o_mem_pool_t *pool, h2o_iovec_t range, uint64_t body_len, h2o_iovec_t ct, const char *boundary,
                     edge_range_plan_t *out)
{
    edge_range_seg_t ranges[EDGE_RANGE_MAX];
    int n = range.base != NULL ? edge_range_parse(range, body_len, ranges, EDGE_RANGE_MAX) : 0;

    *out = (edge_range_plan_t){.status = 0};
    if (n == 0) {
        out->segs = h2o_mem_alloc_pool(pool, sizeof(*out->segs));
        out->segs[0] = (edge_range_seg_t){.start = 0, .end = body_len};
        out->num_segs = 1;
        out->content_length = body_len;
        return;
    }
    if (n < 0) {
        out->status = 416;
        out->content_range = fmt(pool, "bytes */%llu", (unsigned long long)body_len);
        return;
    }
    out->status = 206;
    if (n == 1) {
        out->content_range = fmt(pool, "bytes %llu-%llu/%llu", (unsigned long long)ranges[0].start,
                                 (unsigned long long)ranges[0].end - 1, (unsigned long long)body_len);
        out->segs = h2o_mem_alloc_pool(pool, sizeof(*out->segs));
        out->segs[0] = ranges[0];
        out->num_segs = 1;
        out->content_length = ranges[0].end - ranges[0].start;
        return;
    }
    /* multipart/byteranges (RFC 9110 §14.6): each part with its Content-Type and Content-Range */
    out->segs = h2o_mem_alloc_pool(pool, sizeof(*out->segs) * (2 * (size_t)n + 1));
    for (int i = 0; i != n; ++i) {
        h2o_iovec_t head = fmt(pool, "%s--%s\r\n%s%.*s%sContent-Range: bytes %llu-%llu/%llu\r\n\r\n", i == 0 ? "" : "\r\n",
                               boundary, ct.base != NULL ? "Content-Type: " : "", ct.base != NULL ? (int)ct.len : 0,
                               ct.base != NULL ? ct.base : "", ct.base != NULL ? "\r\n" : "", (unsigned long long)ranges[i].start,
                               (unsigned long long)ranges[i].end - 1, (unsigned long long)body_len);
        out->segs[out->num_segs++] = (edge_range_seg_t){.literal = head};
        out->segs[out->num_segs++] = ranges[i];
        out->content_length += head.len + (ranges[i].end - ranges[i].start);
    }
    h2o_iovec_t tail = fmt(pool, "\r\n--%s--\r\n", boundary);
    out->segs[out->num_segs++] = (edge_range_seg_t){.literal = tail};
    out->content_length += tail.len;
    out->content_type = fmt(pool, "multipart/byteranges; boundary=%s", boundary);
}
