/*
 * edge/range.h: Range requests on a stored body (RFC 9110 §14): parsing Range, judging If-Range, and
 * planning the answer — the whole body, one range (206), several as multipart/byteranges (206), or none
 * (416).
 *
 * Pure functions of their arguments: they read no clock and no request, so the unit tests drive them
 * directly. Strings they build come from the pool they are given.
 */
#ifndef EDGE_RANGE_H
#define EDGE_RANGE_H

#include <stdbool.h>
#include <stdint.h>
#include <h2o.h>

#define EDGE_RANGE_MAX 16 /* more range-specs than this and the Range header is ignored (the whole body is sent) */

/* A piece of a response body: literal text (the part headers of multipart/byteranges) when
 * literal.base != NULL, else the stored body's bytes [start, end). */
typedef struct st_edge_range_seg_t {
    h2o_iovec_t literal;
    uint64_t start, end;
} edge_range_seg_t;

/* The answer to a request for a body of `body_len` bytes. */
typedef struct st_edge_range_plan_t {
    int status;                /* 0: the whole body (the stored status applies); 206; or 416 */
    edge_range_seg_t *segs;    /* what to send, in order */
    size_t num_segs;           /* 0 for a 416 */
    uint64_t content_length;   /* the sum of the segments */
    h2o_iovec_t content_range; /* the Content-Range field of a single range or a 416, else base NULL */
    h2o_iovec_t content_type;  /* "multipart/byteranges; boundary=..." for several ranges, else base NULL */
} edge_range_plan_t;

/**
 * Parses a Range field value against a body of `len` bytes into `out` (room for `max` ranges, each
 * [start, end)), sorted by start, with overlapping and adjacent ranges merged into one. Returns the number
 * of ranges; 0 when the field is to be ignored (not bytes, malformed, more than `max` range-specs, counted
 * before merging: CloudFront then sends the whole body); -1 when no range is satisfiable (416).
 */
int edge_range_parse(h2o_iovec_t value, uint64_t len, edge_range_seg_t *out, int max);

/**
 * Whether an If-Range field value (RFC 9110 §13.1.5) lets the Range apply to the stored object with
 * these validators (base NULL when it has none): a strong ETag that matches exactly, or a date equal to
 * Last-Modified.
 */
bool edge_range_if_range_ok(h2o_iovec_t if_range, h2o_iovec_t etag, h2o_iovec_t last_modified);

/**
 * Plans the body of the answer. `range` is the client's Range value (base NULL: none, or one that does
 * not apply); `content_type` the stored Content-Type (base NULL: none), repeated in each part of a
 * multipart answer; `boundary` the multipart boundary (NUL-terminated, used only for several ranges).
 * Everything in `out` is allocated from `pool`.
 */
void edge_range_plan(h2o_mem_pool_t *pool, h2o_iovec_t range, uint64_t body_len, h2o_iovec_t content_type, const char *boundary,
                     edge_range_plan_t *out);

#endif
