/*
 * edge/req_fsm.c: the client request state machine (see req_fsm.h for the graph).
 *
 * Each request gets an edge_req_t in its pool, allocated with a dispose callback so that whatever it
 * holds (a subscription to an origin fetch) is released however the request ends — including an
 * HTTP/2 stream reset, which disposes the request without calling the generator's stop. The steps are
 * functions in one table; each sets the next state and returns NEXT, or returns SUSPEND while it waits
 * for the origin. run() is the only place that calls them.
 *
 * Invariants that are easy to break:
 * - At most one h2o_send is outstanding per request; the next one is issued only from proceed.
 * - Bytes sent straight from an origin fetch's buffer are consumed (and may be freed) only when proceed
 *   says libh2o is done with them, and a request stays subscribed until it is disposed, so a FINAL send
 *   never points at freed memory.
 * - A response that reaches the client is never built from a record that failed to decode: a corrupt
 *   record is a miss, and the fetch that follows replaces it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include "cache/checksum.h"
#include "cache/key.h"
#include "cache/record.h"
#include "cache/store.h"
#include "cache/ttl.h"
#include "edge/admin.h"
#include "common/log.h"
#include "edge/req_fsm.h"
#include "errorpages/errorpages.h"
#include "origin/fetch.h"
#include "reports/accounting.h"

#define EDGE_REQ_MAGIC 0x45524551 /* "EREQ" */
/* Limits on what a client may send, in the spirit of CloudFront's (20 KB of headers, 8 KB of URL):
 * libh2o alone accepts about 400 KB of headers, all of which we would copy and forward. */
#define MAX_REQUEST_HEADER_BYTES (32 * 1024)
#define MAX_URL_BYTES (8 * 1024)

typedef enum en_step_result_t { NEXT, SUSPEND } step_result_t;

typedef enum en_body_source_t { BODY_NONE, BODY_RECORD, BODY_FETCH } body_source_t;

typedef struct st_edge_req_t {
    h2o_generator_t super; /* first: libh2o calls proceed/stop with it */
    unsigned magic;
    edge_req_state_t state;
    h2o_req_t *req;
    edge_thread_t *thread;
    const edge_conf_behavior_t *behavior;
    bool is_head;
    h2o_iovec_t key;
    cache_hash_t hash;
    const char *fwd; /* Cache-Status "fwd" reason once the request goes to the origin */
    /* what LOOKUP found */
    bool have_rec;
    cache_record_t rec;     /* points into req->pool, or into the LMDB map while `pin` is held */
    cache_store_pin_t *pin; /* a read transaction kept open so that an inline body is sent without a copy */
    cache_hash_t rec_hash;  /* the key hash of `rec`: er->hash, or the variant's */
    bool verify;            /* rec's body predates the store's latest start: check it against its checksums */
    int64_t age;
    /* the origin fetch */
    origin_fetch_t *fetch;
    origin_fetch_sub_t sub;
    /* delivery */
    body_source_t body_source;
    /* a stored body is sent as segments: byte ranges of the body, and literal text between them (the
     * part headers of multipart/byteranges) */
    struct st_segment_t *segs;
    size_t num_segs, seg;  /* the segments, and the one being sent */
    uint64_t seg_off;      /* bytes of the current segment already sent */
    uint8_t *chunk_buf;    /* one chunk of a chunked body, read from the store */
    uint32_t chunk_in_buf; /* the index of the chunk in chunk_buf, or UINT32_MAX */
    size_t inflight;       /* bytes of the outstanding send from the fetch */
    bool sending;
    bool stopped;
    bool no_join;
    bool authorized; /* the request carries Authorization */
    bool swr;
    bool max_stale; /* a stale HIT that the client's max-stale accepted (no background refresh) */
    bool honor_cc;  /* the behavior obeys the client's Cache-Control (request_cache_control: honor) */
    cache_cc_t rcc; /* ...which says this */
    /* a HIT served stale while a background fetch revalidates it (RFC 5861 §3) */ /* fetch on our own: the fetch we joined had
                                                                                      a response that may not be shared */
    h2o_iovec_t multipart_type; /* the Content-Type of a multipart/byteranges answer */
    /* for the access log, the metrics and the reports */
    const char *x_cache;       /* what X-Cache said; NULL when the request got no cache answer (PURGE, 431) */
    bool passed;               /* forwarded without the cache (PASS) */
    bool hit;                  /* answered from a stored object */
    uint64_t fetch_started;    /* ms (loop clock) when the current origin fetch was started or joined */
    int64_t origin_ms;         /* time to the origin's response head, -1 when none was awaited */
    uint64_t bytes_sent;       /* body bytes handed to libh2o */
    uint64_t origin_bytes;     /* body bytes the fetch this request started received */
    h2o_timeout_entry_t watch; /* HTTP/1 only: polls for a client that hung up while we wait */
} edge_req_t;

typedef struct st_segment_t {
    h2o_iovec_t literal; /* when base != NULL: this text */
    uint64_t start, end; /* else: body bytes [start, end) */
} segment_t;

static void run(edge_req_t *er);

/* --- small helpers ------------------------------------------------------------------------------- */

const char *edge_req_state_name(edge_req_state_t state)
{
    static const char *const names[] = {
#define EDGE_REQ_STATE_NAME(name) #name,
        EDGE_REQ_STATES(EDGE_REQ_STATE_NAME)
#undef EDGE_REQ_STATE_NAME
    };
    return (size_t)state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 410:
        return "Gone";
    case 414:
        return "URI Too Long";
    case 416:
        return "Range Not Satisfiable";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
    }
}

static bool method_is(h2o_req_t *req, const char *m, size_t len)
{
    return h2o_memis(req->method.base, req->method.len, m, len);
}

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

/* Age, X-Cache and Cache-Status, on every response. */
static void add_cache_headers(edge_req_t *er, int64_t age, const char *x_cache, h2o_iovec_t cache_status)
{
    h2o_req_t *req = er->req;
    h2o_iovec_t a = fmt(&req->pool, "%lld", (long long)(age > 0 ? age : 0));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_AGE, NULL, a.base, a.len);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-cache"), 0, NULL, x_cache, strlen(x_cache));
    *h2o_req_getenv(req, H2O_STRLIT("cache"), 1) = h2o_iovec_init(x_cache, strlen(x_cache)); /* %{cache}e in the access log */
    er->x_cache = x_cache;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("cache-status"), 0, NULL, cache_status.base, cache_status.len);
}

/* Adds one stored or forwarded header to the response; Date and Age are the server's own. */
static void add_response_header(h2o_req_t *req, h2o_iovec_t name, h2o_iovec_t value)
{
    const h2o_token_t *token = h2o_lookup_token(name.base, name.len);
    if (token == H2O_TOKEN_DATE || token == H2O_TOKEN_AGE || token == H2O_TOKEN_CONTENT_LENGTH)
        return;
    if (token != NULL)
        h2o_add_header(&req->pool, &req->res.headers, token, NULL, value.base, value.len);
    else
        h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 0, NULL, value.base, value.len);
}

static h2o_iovec_t record_header(const cache_record_t *rec, const char *name, size_t len)
{
    h2o_iovec_t block = rec->headers, n, v;
    while (cache_record_next_header(&block, &n, &v))
        if (h2o_memis(n.base, n.len, name, len))
            return v;
    return h2o_iovec_init(NULL, 0);
}

/* Whether a stale stored object can be revalidated rather than fetched anew. */
static bool has_validator(const cache_record_t *rec)
{
    return record_header(rec, H2O_STRLIT("etag")).base != NULL || record_header(rec, H2O_STRLIT("last-modified")).base != NULL;
}

static bool etag_matches(h2o_iovec_t list, h2o_iovec_t etag)
{
    /* weak comparison (RFC 9110 §8.8.3.2), as If-None-Match requires */
    if (etag.len >= 2 && etag.base[0] == 'W' && etag.base[1] == '/')
        etag.base += 2, etag.len -= 2;
    for (const char *p = list.base, *end = list.base + list.len; p < end;) {
        while (p < end && (*p == ' ' || *p == ','))
            ++p;
        const char *s = p;
        while (p < end && *p != ',')
            ++p;
        h2o_iovec_t tag = h2o_iovec_init(s, (size_t)(p - s));
        while (tag.len != 0 && tag.base[tag.len - 1] == ' ')
            --tag.len;
        if (h2o_memis(tag.base, tag.len, H2O_STRLIT("*")))
            return true;
        if (tag.len >= 2 && tag.base[0] == 'W' && tag.base[1] == '/')
            tag.base += 2, tag.len -= 2;
        if (h2o_memis(tag.base, tag.len, etag.base, etag.len))
            return true;
    }
    return false;
}

/* True when the client's conditional request is satisfied by the stored object: answer 304. */
static bool client_not_modified(edge_req_t *er, const cache_record_t *rec)
{
    h2o_req_t *req = er->req;
    ssize_t i;
    if (rec->status != 200)
        return false;
    if ((i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1)) != -1) {
        h2o_iovec_t etag = record_header(rec, H2O_STRLIT("etag"));
        return etag.base != NULL && etag_matches(req->headers.entries[i].value, etag);
    }
    if ((i = h2o_find_header(&req->headers, H2O_TOKEN_IF_MODIFIED_SINCE, -1)) != -1) {
        h2o_iovec_t lm = record_header(rec, H2O_STRLIT("last-modified"));
        int64_t ims, mtime;
        return lm.base != NULL &&
               cache_ttl_parse_date(req->headers.entries[i].value.base, req->headers.entries[i].value.len, &ims) &&
               cache_ttl_parse_date(lm.base, lm.len, &mtime) && mtime <= ims;
    }
    return false;
}

/* --- delivery of a stored object ------------------------------------------------------------------ */

/* Sends the next piece of the stored body's segments: one h2o_send per call; proceed calls again. */
static void send_next_piece(edge_req_t *er)
{
    const cache_record_t *rec = &er->rec;
    h2o_iovec_t vec;

    while (er->seg < er->num_segs && er->segs[er->seg].literal.base == NULL &&
           er->segs[er->seg].start + er->seg_off == er->segs[er->seg].end) {
        ++er->seg; /* an empty range */
        er->seg_off = 0;
    }
    if (er->seg == er->num_segs) {
        h2o_send(er->req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    segment_t *sg = er->segs + er->seg;
    if (sg->literal.base != NULL) {
        vec = sg->literal;
    } else {
        uint64_t pos = sg->start + er->seg_off;
        if (rec->chunk_size == 0) {
            vec = h2o_iovec_init(rec->body.base + pos, (size_t)(sg->end - pos));
        } else {
            uint32_t idx = (uint32_t)(pos / rec->chunk_size);
            size_t len = 0;
            if (idx != er->chunk_in_buf) {
                int ret =
                    cache_store_read_chunk(er->thread->reader, rec->oid, idx, er->chunk_buf, rec->chunk_size, &len, er->verify);
                if (ret != 0) {
                    /* replaced or evicted while we were sending: the client sees an aborted transfer, never a mix */
                    common_log_warn("store: chunk %u of %.*s: %s", idx, (int)er->key.len, er->key.base, cache_store_strerror(ret));
                    if (ret == CACHE_STORE_ECORRUPT) {
                        ++er->thread->counters.corrupt_records;
                        cache_store_delete(er->thread->server->store, &er->rec_hash);
                    }
                    h2o_send(er->req, NULL, 0, H2O_SEND_STATE_ERROR);
                    return;
                }
                er->chunk_in_buf = idx;
            }
            uint64_t chunk_start = (uint64_t)idx * rec->chunk_size, chunk_end = chunk_start + rec->chunk_size;
            uint64_t stop = sg->end < chunk_end ? sg->end : chunk_end;
            vec = h2o_iovec_init(er->chunk_buf + (pos - chunk_start), (size_t)(stop - pos));
        }
        er->thread->counters.body_bytes_sent += vec.len;
        er->bytes_sent += vec.len;
        if (er->hit)
            er->thread->counters.hit_bytes_sent += vec.len;
    }
    er->seg_off += vec.len;
    bool seg_done = sg->literal.base != NULL ? er->seg_off == sg->literal.len : sg->start + er->seg_off == sg->end;
    if (seg_done) {
        ++er->seg;
        er->seg_off = 0;
    }
    h2o_send(er->req, &vec, 1, er->seg == er->num_segs ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

/* Parses a Range header (RFC 9110 §14.1.2) against a body of `len` bytes into `segs` (at most `max`).
 * Returns the number of ranges; 0 when the header is to be ignored (not bytes, malformed, overlapping or
 * descending ranges, as CloudFront does: the whole body is sent); -1 when no range is satisfiable (416). */
static int parse_range(h2o_iovec_t v, uint64_t len, segment_t *segs, int max)
{
    const char *p = v.base, *end = v.base + v.len;
    int n = 0;
    uint64_t last_end = 0;

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
        uint64_t start, stop; /* [start, stop) */
        if (!has_a) {
            if (!has_b)
                return 0;
            if (b == 0)
                continue; /* "-0" selects nothing */
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
        if (n != 0 && start < last_end)
            return 0; /* overlapping or descending */
        if (n == max)
            return 0;
        segs[n++] = (segment_t){.start = start, .end = stop};
        last_end = stop;
    }
    return n == 0 ? -1 : n;
}

/* True when If-Range (RFC 9110 §13.1.5) lets the Range apply: a strong ETag match, or the exact
 * Last-Modified date. */
static bool if_range_ok(edge_req_t *er, const cache_record_t *rec)
{
    ssize_t i = h2o_find_header(&er->req->headers, H2O_TOKEN_IF_RANGE, -1);
    if (i == -1)
        return true;
    h2o_iovec_t v = er->req->headers.entries[i].value;
    if (v.len != 0 && (v.base[0] == '"' || v.base[0] == 'W')) {
        h2o_iovec_t etag = record_header(rec, H2O_STRLIT("etag"));
        return etag.base != NULL && v.base[0] == '"' && etag.len != 0 && etag.base[0] == '"' &&
               h2o_memis(v.base, v.len, etag.base, etag.len);
    }
    h2o_iovec_t lm = record_header(rec, H2O_STRLIT("last-modified"));
    int64_t a, b;
    return lm.base != NULL && cache_ttl_parse_date(v.base, v.len, &a) && cache_ttl_parse_date(lm.base, lm.len, &b) && a == b;
}

#define MAX_RANGES 32

/* Sets up the segments for `rec`: the whole body, one range (206), several (206 multipart/byteranges),
 * or none (416). Returns the status to answer with. */
static int plan_body(edge_req_t *er, const cache_record_t *rec)
{
    h2o_req_t *req = er->req;
    segment_t ranges[MAX_RANGES];
    ssize_t ri = rec->status == 200 ? h2o_find_header(&req->headers, H2O_TOKEN_RANGE, -1) : -1;
    int n = ri != -1 && if_range_ok(er, rec) ? parse_range(req->headers.entries[ri].value, rec->body_len, ranges, MAX_RANGES) : 0;

    er->seg = 0;
    er->seg_off = 0;
    if (n == 0) {
        er->segs = h2o_mem_alloc_pool(&req->pool, sizeof(*er->segs));
        er->segs[0] = (segment_t){.start = 0, .end = rec->body_len};
        er->num_segs = 1;
        req->res.content_length = rec->body_len;
        return rec->status;
    }
    if (n < 0) {
        h2o_iovec_t cr = fmt(&req->pool, "bytes */%llu", (unsigned long long)rec->body_len);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_RANGE, NULL, cr.base, cr.len);
        er->num_segs = 0;
        req->res.content_length = 0;
        return 416;
    }
    if (n == 1) {
        h2o_iovec_t cr = fmt(&req->pool, "bytes %llu-%llu/%llu", (unsigned long long)ranges[0].start,
                             (unsigned long long)ranges[0].end - 1, (unsigned long long)rec->body_len);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_RANGE, NULL, cr.base, cr.len);
        er->segs = h2o_mem_alloc_pool(&req->pool, sizeof(*er->segs));
        er->segs[0] = ranges[0];
        er->num_segs = 1;
        req->res.content_length = ranges[0].end - ranges[0].start;
        return 206;
    }
    /* multipart/byteranges (RFC 9110 §14.6): each part with its Content-Type and Content-Range */
    h2o_iovec_t ct = record_header(rec, H2O_STRLIT("content-type"));
    h2o_iovec_t boundary =
        fmt(&req->pool, "%016llx%08x", (unsigned long long)h2o_now(req->conn->ctx->loop), (unsigned)((uintptr_t)er >> 4));
    er->segs = h2o_mem_alloc_pool(&req->pool, sizeof(*er->segs) * (2 * (size_t)n + 1));
    er->num_segs = 0;
    uint64_t total = 0;
    for (int i = 0; i != n; ++i) {
        h2o_iovec_t head = fmt(&req->pool, "%s--%s\r\n%s%.*s%sContent-Range: bytes %llu-%llu/%llu\r\n\r\n", i == 0 ? "" : "\r\n",
                               boundary.base, ct.base != NULL ? "Content-Type: " : "", ct.base != NULL ? (int)ct.len : 0,
                               ct.base != NULL ? ct.base : "", ct.base != NULL ? "\r\n" : "", (unsigned long long)ranges[i].start,
                               (unsigned long long)ranges[i].end - 1, (unsigned long long)rec->body_len);
        er->segs[er->num_segs++] = (segment_t){.literal = head};
        er->segs[er->num_segs++] = ranges[i];
        total += head.len + (ranges[i].end - ranges[i].start);
    }
    h2o_iovec_t tail = fmt(&req->pool, "\r\n--%s--\r\n", boundary.base);
    er->segs[er->num_segs++] = (segment_t){.literal = tail};
    total += tail.len;
    req->res.content_length = total;
    er->multipart_type = fmt(&req->pool, "multipart/byteranges; boundary=%s", boundary.base);
    return 206;
}

/* Sends the object `rec` (in req->pool). Returns false, having sent nothing, when its body is gone. */
static bool deliver_record(edge_req_t *er, const cache_record_t *rec, int64_t age, const char *x_cache, h2o_iovec_t cache_status)
{
    h2o_req_t *req = er->req;
    bool not_modified = client_not_modified(er, rec);

    er->chunk_in_buf = UINT32_MAX;
    if (rec->chunk_size != 0) {
        er->chunk_buf = h2o_mem_alloc_pool(&req->pool, rec->chunk_size);
        size_t len;
        /* make sure the body is there before committing to a response */
        if (!er->is_head && !not_modified && rec->body_len != 0) {
            int ret = cache_store_read_chunk(er->thread->reader, rec->oid, 0, er->chunk_buf, rec->chunk_size, &len, er->verify);
            if (ret == CACHE_STORE_ECORRUPT) {
                ++er->thread->counters.corrupt_records;
                common_log_warn("store: chunk 0 of %.*s: %s; treated as a miss and replaced", (int)er->key.len, er->key.base,
                              cache_store_strerror(ret));
            }
            if (ret != 0)
                return false;
            er->chunk_in_buf = 0;
        }
    } else if (er->verify) {
        /* written before the store's latest start (a crash, a bad disk): never sent unless it checks out */
        if (cache_checksum(rec->body.base, rec->body.len) != rec->body_crc) {
            char hex[17];
            ++er->thread->counters.corrupt_records;
            common_log_warn("store: body of %s (%.*s) fails its checksum; treated as a miss and replaced",
                          cache_key_hex(&er->rec_hash, 8, hex), (int)er->key.len, er->key.base);
            return false;
        }
        cache_store_mark_verified(er->thread->reader, &er->rec_hash);
        er->verify = false;
    }
    er->multipart_type = h2o_iovec_init(NULL, 0);
    int status = not_modified ? 304 : plan_body(er, rec);
    req->res.status = status;
    req->res.reason = reason_of(status);
    h2o_iovec_t block = rec->headers, name, value;
    while (cache_record_next_header(&block, &name, &value)) {
        if (er->multipart_type.base != NULL && h2o_memis(name.base, name.len, H2O_STRLIT("content-type")))
            continue;
        add_response_header(req, name, value);
    }
    if (er->multipart_type.base != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, er->multipart_type.base,
                       er->multipart_type.len);
    if (rec->status == 200 && !not_modified)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCEPT_RANGES, NULL, H2O_STRLIT("bytes"));
    add_cache_headers(er, age, x_cache, cache_status);
    if (not_modified)
        req->res.content_length = SIZE_MAX;
    er->body_source = BODY_RECORD;
    h2o_start_response(req, &er->super);

    if (er->is_head || not_modified || status == 416 || rec->body_len == 0)
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        send_next_piece(er);
    return true;
}

/* --- delivery from the origin fetch ------------------------------------------------------------------ */

static void unsubscribe(edge_req_t *er)
{
    if (er->fetch != NULL) {
        if (!er->sub.joined) { /* the bytes its fetch received so far (a fetch that goes on into the cache is not followed) */
            er->origin_bytes = er->fetch->received;
            er->thread->counters.origin_bytes += er->fetch->received;
        }
        origin_fetch_unsubscribe(er->fetch, &er->sub);
        er->fetch = NULL;
    }
}

static void send_from_fetch(edge_req_t *er)
{
    origin_fetch_t *f = er->fetch;
    h2o_iovec_t vec;

    if (er->sending || er->stopped || f == NULL)
        return;
    origin_fetch_state_t next = origin_fetch_peek(f, &er->sub, &vec);
    if (vec.len != 0) {
        er->sending = true;
        er->inflight = vec.len;
        er->thread->counters.body_bytes_sent += vec.len;
        er->bytes_sent += vec.len;
        h2o_send(er->req, &vec, 1, next == ORIGIN_FETCH_DONE ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
    } else if (next == ORIGIN_FETCH_DONE) {
        er->sending = true;
        h2o_send(er->req, NULL, 0, H2O_SEND_STATE_FINAL);
    } else if (next == ORIGIN_FETCH_FAILED) {
        /* the client must see an aborted transfer: a truncated body must never look complete */
        er->sending = true;
        h2o_send(er->req, NULL, 0, H2O_SEND_STATE_ERROR);
    }
}

static void on_generator_proceed(h2o_generator_t *self, h2o_req_t *req)
{
    edge_req_t *er = (edge_req_t *)self;
    assert(er->magic == EDGE_REQ_MAGIC);
    if (er->body_source == BODY_RECORD) {
        send_next_piece(er);
    } else if (er->body_source == BODY_FETCH) {
        er->sending = false;
        if (er->fetch != NULL)
            origin_fetch_consume(er->fetch, &er->sub, er->inflight);
        er->inflight = 0;
        send_from_fetch(er);
    }
}

static void on_generator_stop(h2o_generator_t *self, h2o_req_t *req)
{
    edge_req_t *er = (edge_req_t *)self;
    er->stopped = true;
}

static void on_fetch_head(origin_fetch_sub_t *sub)
{
    edge_req_t *er = H2O_STRUCT_FROM_MEMBER(edge_req_t, sub, sub);
    assert(er->magic == EDGE_REQ_MAGIC);
    if (er->state == EDGE_REQ_WAIT)
        run(er);
    else if (er->body_source == BODY_FETCH)
        send_from_fetch(er); /* WAIT saw the head before this wake-up came: it is news of the body */
}

static void on_fetch_body(origin_fetch_sub_t *sub)
{
    edge_req_t *er = H2O_STRUCT_FROM_MEMBER(edge_req_t, sub, sub);
    if (er->body_source == BODY_FETCH)
        send_from_fetch(er);
}

/* The request headers for the origin: hop-by-hop fields go; Via and X-Forwarded-* come. */
static void origin_request_headers(edge_req_t *er, bool cacheable, h2o_headers_t *out)
{
    static const char *const drop_always[] = {"host", "content-length", "expect", "x-forwarded-for", "x-forwarded-proto", NULL};
    /* a fetch that fills the cache asks for the whole, unconditional object; the client's conditions are
     * answered from the stored copy */
    static const char *const drop_cacheable[] = {"host",
                                                 "content-length",
                                                 "expect",
                                                 "x-forwarded-for",
                                                 "x-forwarded-proto",
                                                 "if-none-match",
                                                 "if-modified-since",
                                                 "if-match",
                                                 "if-unmodified-since",
                                                 "if-range",
                                                 "range",
                                                 NULL};
    h2o_req_t *req = er->req;
    h2o_mem_pool_t *pool = &req->pool;

    origin_fetch_filter_headers(pool, out, req->headers.entries, req->headers.size, cacheable ? drop_cacheable : drop_always);
    if (cacheable && er->behavior->route.forward_headers != NULL) {
        /* the behavior forwards only the headers it lists (and those of its cache key, which the config
         * module adds to the list) */
        size_t kept = 0;
        for (size_t i = 0; i != out->size; ++i) {
            const h2o_iovec_t *n = out->entries[i].name;
            for (size_t j = 0; j != er->behavior->route.num_forward_headers; ++j) {
                if (h2o_lcstris(n->base, n->len, er->behavior->route.forward_headers[j], strlen(er->behavior->route.forward_headers[j]))) {
                    out->entries[kept++] = out->entries[i];
                    break;
                }
            }
        }
        out->size = kept;
    }

    /* X-Forwarded-For: the previous hops, then this client */
    struct sockaddr_storage ss;
    char addr[INET6_ADDRSTRLEN] = "unknown";
    socklen_t sslen = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sslen != 0 && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
    else if (sslen != 0 && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
    ssize_t xff = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, -1);
    h2o_iovec_t v =
        xff != -1 ? fmt(pool, "%.*s, %s", (int)req->headers.entries[xff].value.len, req->headers.entries[xff].value.base, addr)
                  : h2o_strdup(pool, addr, SIZE_MAX);
    h2o_add_header(pool, out, H2O_TOKEN_X_FORWARDED_FOR, NULL, v.base, v.len);
    const char *proto = req->scheme == &H2O_URL_SCHEME_HTTPS ? "https" : "http";
    h2o_add_header_by_str(pool, out, H2O_STRLIT("x-forwarded-proto"), 0, NULL, proto, strlen(proto));
    ssize_t via = h2o_find_header(&req->headers, H2O_TOKEN_VIA, -1);
    v = via != -1 ? fmt(pool, "%.*s, 1.1 edgecache", (int)req->headers.entries[via].value.len, req->headers.entries[via].value.base)
                  : h2o_iovec_init(H2O_STRLIT("1.1 edgecache"));
    for (size_t i = 0; i != out->size; ++i)
        if (out->entries[i].name == &H2O_TOKEN_VIA->buf)
            out->entries[i].value = v, via = -2;
    if (via != -2)
        h2o_add_header(pool, out, H2O_TOKEN_VIA, NULL, v.base, v.len);

    /* revalidation: ask whether the stored object is still good (RFC 9111 §4.3.1) */
    if (cacheable && er->have_rec) {
        h2o_iovec_t etag = record_header(&er->rec, H2O_STRLIT("etag")), lm = record_header(&er->rec, H2O_STRLIT("last-modified"));
        if (etag.base != NULL)
            h2o_add_header(pool, out, H2O_TOKEN_IF_NONE_MATCH, NULL, etag.base, etag.len);
        if (lm.base != NULL)
            h2o_add_header(pool, out, H2O_TOKEN_IF_MODIFIED_SINCE, NULL, lm.base, lm.len);
    }
}

/* libh2o 2.2.5 does not read an HTTP/1 connection while its request is being handled, so a client that
 * hangs up while we wait on the origin goes unnoticed (HTTP/2 streams are reset and disposed at once).
 * While in WAIT, peek at the socket once a second: end-of-file or an error means the client is gone. */
static bool client_gone(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    char c;
    if (sock == NULL)
        return false;
    ssize_t n = recv(h2o_socket_get_fd(sock), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void on_watch(h2o_timeout_entry_t *entry)
{
    edge_req_t *er = H2O_STRUCT_FROM_MEMBER(edge_req_t, watch, entry);
    if (er->state != EDGE_REQ_WAIT)
        return;
    if (!client_gone(er->req)) {
        h2o_timeout_link(er->req->conn->ctx->loop, &er->req->conn->ctx->one_sec_timeout, &er->watch);
        return;
    }
    /* leave the fetch (it is cancelled unless it is filling the cache), and answer into the closed
     * socket: the failed write makes libh2o close the connection and dispose of the request */
    unsubscribe(er);
    er->state = EDGE_REQ_DONE;
    er->req->res.status = 499; /* nginx's "client closed request", for the access log */
    er->req->res.reason = "Client Closed Request";
    er->req->res.content_length = 0;
    h2o_send_inline(er->req, "", 0);
}

static void init_sub(edge_req_t *er)
{
    er->sub.on_head = on_fetch_head;
    er->sub.on_body = on_fetch_body;
    er->sub.receiver = &er->thread->fetch_receiver;
}

static void watch_client(edge_req_t *er)
{
    if (er->req->version < 0x200 && !h2o_timeout_is_linked(&er->watch)) {
        er->watch.cb = on_watch;
        h2o_timeout_link(er->req->conn->ctx->loop, &er->req->conn->ctx->one_sec_timeout, &er->watch);
    }
}

/* Starts the origin fetch for this request: a PASS has one of its own (`cacheable` false); a MISS or a
 * REVALIDATE joins one already in flight for the same object, on any loop, unless `no_join`. */
/* The origin request for this client request: `cacheable` (GET, filling the cache) or passed as is. */
static void fetch_args(edge_req_t *er, bool cacheable, origin_fetch_args_t *out)
{
    h2o_req_t *req = er->req;
    edge_server_t *server = er->thread->server;
    size_t origin = er->behavior->route.origin_index;
    const origin_conf_t *oconf = server->conf->upstream.origins + origin;
    h2o_headers_t headers = {NULL};

    origin_request_headers(er, cacheable, &headers);
    *out = (origin_fetch_args_t){
        .loop = req->conn->ctx->loop,
        .zero_timeout = &req->conn->ctx->zero_timeout,
        .receiver = &er->thread->fetch_receiver,
        .router = server->router,
        .http = er->thread->http,
        .file_roots = server->file_roots,
        .origin_index = origin,
        .group_index = er->behavior->route.group_index,
        /* a HEAD that may fill the cache fetches the whole object */
        .method = cacheable ? h2o_iovec_init(H2O_STRLIT("GET")) : req->method,
        .path = req->path,
        .host = oconf->host_header != NULL ? h2o_iovec_init(oconf->host_header, strlen(oconf->host_header)) : req->authority,
        .headers = headers.entries,
        .num_headers = headers.size,
        .body = cacheable ? h2o_iovec_init(NULL, 0) : req->entity,
        .client_headers = &req->headers,
        .store = cacheable ? server->store : NULL,
        .hash = er->hash,
        .key = er->key,
        .ttl_rules = &er->behavior->ttl,
        .error_pages = server->conf->error_pages,
        .num_error_pages = server->conf->num_error_pages,
        .background_fetch_max = server->conf->cache.background_fetch_max,
        .stale = er->have_rec ? &er->rec : NULL,
    };
}

static void start_fetch(edge_req_t *er, bool cacheable)
{
    origin_fetch_args_t args;

    fetch_args(er, cacheable, &args);
    init_sub(er);
    if (cacheable && !er->no_join) {
        er->fetch = origin_fetch_join_or_start(&args, &er->sub);
    } else {
        er->fetch = origin_fetch_start(&args);
        origin_fetch_subscribe(er->fetch, &er->sub);
    }
    if (er->sub.joined)
        ++er->thread->counters.collapsed;
    else
        ++er->thread->counters.origin_requests;
    er->fetch_started = h2o_now(er->req->conn->ctx->loop);
    er->origin_ms = -1;
    watch_client(er);
}

/* --- the steps ---------------------------------------------------------------------------------------- */

static void parse_request_cc(edge_req_t *er);

/* The PURGE method (Varnish, Fastly): invalidates the request's URL, all its variants, when the client's
 * address is in admin.purge_allow; anyone else gets 403. Answers at once with the invalidation's status. */
static void answer_purge(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    const edge_conf_t *conf = er->thread->server->conf;
    struct sockaddr_storage ss;
    socklen_t sslen = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);

    if (sslen == 0 || !common_cidr_match(conf->admin.purge_allow, conf->admin.num_purge_allow, (struct sockaddr *)&ss)) {
        req->res.status = 403;
        req->res.reason = "Forbidden";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
        h2o_send_inline(req, H2O_STRLIT("PURGE is not allowed from this address (admin.purge_allow)\n"));
        return;
    }
    h2o_iovec_t url = cache_key_url(er->key);
    cache_store_purge_status_t st;
    uint64_t id = cache_store_purge(er->thread->server->store, CACHE_PURGE_URL, url.base, url.len, false);
    ++er->thread->counters.purges;
    cache_store_purge_status(er->thread->server->store, id, &st);
    h2o_iovec_t body = edge_admin_purge_json(&req->pool, &st);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, body.base, body.len);
}

static step_result_t step_RECV(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    const edge_conf_t *conf = er->thread->server->conf;

    ++er->thread->counters.requests;
    size_t header_bytes = 0;
    for (size_t i = 0; i != req->headers.size; ++i)
        header_bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    if (header_bytes > MAX_REQUEST_HEADER_BYTES || req->path.len > MAX_URL_BYTES) {
        ++er->thread->counters.bad_requests;
        int status = req->path.len > MAX_URL_BYTES ? 414 : 431;
        const char *reason = status == 414 ? "URI Too Long" : "Request Header Fields Too Large";
        req->res.status = status;
        req->res.reason = reason;
        req->http1_is_persistent = 0;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
        req->res.content_length = strlen(reason);
        h2o_send_inline(req, reason, strlen(reason));
        er->state = EDGE_REQ_DONE;
        return NEXT;
    }
    er->is_head = method_is(req, H2O_STRLIT("HEAD"));
    er->behavior = edge_behavior_match(conf->behaviors, conf->num_behaviors, req->path_normalized.base, req->path_normalized.len);
    h2o_iovec_t query = req->query_at != SIZE_MAX
                            ? h2o_iovec_init(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1)
                            : h2o_iovec_init(NULL, 0);
    er->key = cache_key_build(&req->pool, req->path_normalized, query, &er->behavior->key);
    er->key = cache_key_add_headers(&req->pool, er->key, &er->behavior->key, &req->headers);
    cache_key_hash(er->key, &er->hash);
    *h2o_req_getenv(req, H2O_STRLIT("behavior"), 1) = h2o_iovec_init(er->behavior->path, strlen(er->behavior->path));

    if (method_is(req, H2O_STRLIT("PURGE"))) {
        answer_purge(er);
        er->state = EDGE_REQ_DONE;
    } else if (!er->is_head && !method_is(req, H2O_STRLIT("GET"))) {
        er->fwd = "bypass"; /* only GET and HEAD are answered from the cache */
        er->state = EDGE_REQ_PASS;
    } else if (h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1) != -1) {
        /* RFC 9111 §3.5: answered from the cache only by a stored response that said public, s-maxage or
         * must-revalidate; never joined to another request's fetch; stored only when the answer says so */
        er->authorized = true;
        er->no_join = true;
        er->state = EDGE_REQ_LOOKUP;
    } else {
        er->state = EDGE_REQ_LOOKUP;
    }
    if (er->state == EDGE_REQ_LOOKUP && er->behavior->ttl.honor_request_cache_control) {
        er->honor_cc = true;
        parse_request_cc(er);
        if (er->rcc.flags & CACHE_CC_NO_STORE) {
            er->fwd = "request"; /* RFC 9111 §5.2.1.5: neither answered from the cache nor stored */
            er->state = EDGE_REQ_PASS;
        }
    }
    return NEXT;
}

/* Whether this response may send an inline body straight from the LMDB map: cleartext HTTP/1.1, where
 * libh2o writes our buffer to the socket as is (with TLS it encrypts into its own buffer, and HTTP/2
 * copies into frames, so a pin would save nothing there and only hold a transaction open). */
static bool may_pin(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    if (req->version >= 0x200 || er->is_head)
        return false;
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    return sock != NULL && sock->ssl == NULL;
}

static void unpin(edge_req_t *er)
{
    if (er->pin != NULL) {
        cache_store_unpin(er->thread->reader, er->pin);
        er->pin = NULL;
    }
}

/* The record stays in the map only for a HIT with an inline body; anything else copies it out, so that no
 * transaction stays open across an origin fetch or a long chunked transfer. */
static void settle_pin(edge_req_t *er, h2o_iovec_t raw)
{
    if (er->pin == NULL || (er->state == EDGE_REQ_HIT && er->rec.chunk_size == 0 && !(er->rec.flags & CACHE_TTL_VARY_INDEX)))
        return;
    h2o_iovec_t copy = h2o_strdup(&er->req->pool, raw.base, raw.len);
    unpin(er);
    cache_record_decode(&er->rec, (const uint8_t *)copy.base, copy.len); /* it decoded already */
}

static step_result_t lookup_record(edge_req_t *er, h2o_iovec_t raw);

/* The client's Cache-Control (RFC 9111 §5.2.1), for a behavior that honours it, applied to what LOOKUP
 * decided about the stored object: no-cache, max-age and min-fresh can refuse a fresh object (a fresh
 * immutable one survives no-cache, RFC 8246), max-stale can accept a stale one. */
static void apply_request_cc(edge_req_t *er)
{
    const cache_cc_t *c = &er->rcc;
    const cache_record_t *rec = &er->rec;
    int64_t lifetime = (int64_t)rec->lifetime, age = er->age;
    bool fresh = er->state == EDGE_REQ_HIT && !er->swr;

    if (er->state == EDGE_REQ_HIT) {
        bool refuse = ((c->flags & CACHE_CC_NO_CACHE) && !(fresh && (rec->flags & CACHE_TTL_IMMUTABLE))) ||
                      (c->max_age >= 0 && age > c->max_age) || (c->min_fresh >= 0 && lifetime - age < c->min_fresh);
        if (refuse) {
            er->fwd = "request";
            er->swr = false;
            er->state = has_validator(rec) ? EDGE_REQ_REVALIDATE : EDGE_REQ_MISS;
        }
    } else if (c->max_stale >= 0 && !(c->flags & CACHE_CC_NO_CACHE) && !(rec->flags & CACHE_TTL_NO_CACHE) &&
               cache_ttl_may_serve_stale(rec->flags) && age - lifetime <= c->max_stale && (c->max_age < 0 || age <= c->max_age)) {
        er->max_stale = true;
        er->state = EDGE_REQ_HIT;
    }
}

/* Reads the client's Cache-Control, or Pragma: no-cache when there is none (RFC 9111 §5.4). */
static void parse_request_cc(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    bool any = false;

    cache_ttl_cc_init(&er->rcc);
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_CACHE_CONTROL, i)) != -1; any = true)
        cache_ttl_parse_cc(&er->rcc, req->headers.entries[i].value.base, req->headers.entries[i].value.len);
    if (any)
        return;
    for (ssize_t i = -1; (i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("pragma"), i)) != -1;) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (h2o_contains_token(v.base, v.len, H2O_STRLIT("no-cache"), ','))
            er->rcc.flags |= CACHE_CC_NO_CACHE;
    }
}

static step_result_t step_LOOKUP(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    h2o_iovec_t raw;
    int ret;

    er->fwd = "uri-miss";
    er->state = EDGE_REQ_MISS;
    ret = may_pin(er) ? cache_store_get_pinned(er->thread->reader, &er->hash, &raw, &er->pin) : CACHE_STORE_EBUSY;
    if (ret == CACHE_STORE_EBUSY)
        ret = cache_store_get(er->thread->reader, &er->hash, &req->pool, &raw);
    if (ret != 0)
        return NEXT;
    ret = lookup_record(er, raw);
    if (er->honor_cc && er->have_rec)
        apply_request_cc(er);
    settle_pin(er, raw);
    return ret;
}

/* The rest of LOOKUP, on the record found under the URL's key. */
static step_result_t lookup_record(edge_req_t *er, h2o_iovec_t raw)
{
    h2o_req_t *req = er->req;
    int ret;

    if ((ret = cache_record_decode(&er->rec, (const uint8_t *)raw.base, raw.len)) != 0) {
        char hex[17];
        ++er->thread->counters.corrupt_records;
        common_log_warn("store: record %s for %.*s: %s; treated as a miss and replaced", cache_key_hex(&er->hash, 8, hex),
                      (int)er->key.len, er->key.base, cache_record_strerror(ret));
        return NEXT;
    }
    if (!h2o_memis(er->rec.key.base, er->rec.key.len, er->key.base, er->key.len))
        return NEXT; /* a hash collision: not our object */
    er->rec_hash = er->hash;
    cache_store_touch(er->thread->reader, &er->hash); /* (a Vary index is used as long as any variant is) */
    if (er->rec.flags & CACHE_TTL_VARY_INDEX) {
        /* the URL has variants (RFC 9111 §4.1): look up the one this request selects */
        h2o_iovec_t vkey = cache_key_variant(&req->pool, er->key, record_header(&er->rec, H2O_STRLIT("vary")), &req->headers);
        cache_hash_t vhash;
        cache_key_hash(vkey, &vhash);
        unpin(er); /* the index is read; the variant is copied */
        er->fwd = "vary-miss";
        if (cache_store_get(er->thread->reader, &vhash, &req->pool, &raw) != 0)
            return NEXT;
        if ((ret = cache_record_decode(&er->rec, (const uint8_t *)raw.base, raw.len)) != 0) {
            ++er->thread->counters.corrupt_records;
            common_log_warn("store: variant record for %.*s: %s; treated as a miss and replaced", (int)er->key.len, er->key.base,
                          cache_record_strerror(ret));
            return NEXT;
        }
        if (!h2o_memis(er->rec.key.base, er->rec.key.len, vkey.base, vkey.len) || (er->rec.flags & CACHE_TTL_VARY_INDEX))
            return NEXT;
        er->rec_hash = vhash;
        cache_store_touch(er->thread->reader, &vhash);
    }
    er->verify = cache_store_needs_verify(er->thread->reader, &er->rec_hash, er->rec.epoch);
    if (er->authorized && (er->rec.flags & CACHE_TTL_AUTH_OK) == 0) {
        er->fwd = "request"; /* a stored response that may not answer a request with credentials */
        return NEXT;
    }
    er->have_rec = true;
    er->age = cache_ttl_current_age(er->rec.initial_age, er->rec.response_time, (int64_t)(h2o_now(req->conn->ctx->loop) / 1000));
    if (er->age < (int64_t)er->rec.lifetime && (er->rec.flags & CACHE_TTL_NO_CACHE) == 0) {
        er->state = EDGE_REQ_HIT;
        return NEXT;
    }
    er->fwd = "stale";
    if ((er->rec.flags & CACHE_TTL_NO_CACHE) == 0 && cache_ttl_may_serve_stale(er->rec.flags) &&
        er->age < (int64_t)er->rec.lifetime + (int64_t)er->rec.stale_while_revalidate) {
        /* RFC 5861 §3: serve it stale now, and refresh it in the background */
        er->swr = true;
        er->state = EDGE_REQ_HIT;
        return NEXT;
    }
    er->state = has_validator(&er->rec) ? EDGE_REQ_REVALIDATE : EDGE_REQ_MISS;
    return NEXT;
}

static step_result_t step_HIT(edge_req_t *er)
{
    bool error_page = (er->rec.flags & CACHE_TTL_ERROR_PAGE) != 0;
    int64_t ttl = (int64_t)er->rec.lifetime - er->age;
    h2o_iovec_t cs = error_page ? fmt(&er->req->pool, "edgecache; hit; ttl=%lld; detail=error-page", (long long)ttl)
                     : er->swr  ? fmt(&er->req->pool, "edgecache; hit; ttl=%lld; detail=stale-while-revalidate", (long long)ttl)
                     : er->max_stale ? fmt(&er->req->pool, "edgecache; hit; ttl=%lld; detail=max-stale", (long long)ttl)
                                     : fmt(&er->req->pool, "edgecache; hit; ttl=%lld", (long long)ttl);

    if (er->swr) {
        /* one background revalidation: a fetch with no subscriber goes on into the cache, and one already
         * in flight for this object is enough */
        origin_fetch_args_t args;
        fetch_args(er, true, &args);
        if (origin_fetch_background(&args))
            ++er->thread->counters.origin_requests;
    }
    er->hit = true;
    if (!deliver_record(er, &er->rec, er->age, error_page ? "ERROR" : er->swr || er->max_stale ? "STALE" : "HIT", cs)) {
        /* the record's body is gone (evicted or corrupt): drop the record and fetch anew */
        er->hit = false;
        cache_store_delete(er->thread->server->store, &er->rec_hash);
        er->have_rec = false;
        er->fwd = "miss";
        er->state = EDGE_REQ_MISS;
        return NEXT;
    }
    ++er->thread->counters.hits;
    if (error_page)
        ++er->thread->counters.errors;
    er->state = EDGE_REQ_DONE;
    return NEXT;
}

/* only-if-cached (RFC 9111 §5.2.1.7) that the cache cannot satisfy: 504 at once, the origin untouched. */
static step_result_t answer_only_if_cached(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    static const char msg[] = "not in the cache, and the request said only-if-cached\n";
    req->res.status = 504;
    req->res.reason = "Gateway Timeout";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
    add_cache_headers(er, 0, "MISS", fmt(&req->pool, "edgecache; fwd=%s; detail=only-if-cached", er->fwd));
    req->res.content_length = sizeof(msg) - 1;
    h2o_send_inline(req, msg, sizeof(msg) - 1);
    er->state = EDGE_REQ_DONE;
    return NEXT;
}

static step_result_t step_MISS(edge_req_t *er)
{
    if (er->honor_cc && (er->rcc.flags & CACHE_CC_ONLY_IF_CACHED))
        return answer_only_if_cached(er);
    start_fetch(er, true); /* (counted as a miss when it is answered as one: it may end STALE or ERROR) */
    er->state = EDGE_REQ_WAIT;
    return NEXT;
}

static step_result_t step_REVALIDATE(edge_req_t *er)
{
    if (er->honor_cc && (er->rcc.flags & CACHE_CC_ONLY_IF_CACHED))
        return answer_only_if_cached(er);
    start_fetch(er, true);
    er->state = EDGE_REQ_WAIT;
    return NEXT;
}

static step_result_t step_PASS(edge_req_t *er)
{
    ++er->thread->counters.passes;
    er->passed = true;
    start_fetch(er, false);
    er->state = EDGE_REQ_WAIT;
    return NEXT;
}

/* May the stale stored object stand in for an origin error? Not when it forbids it (must-revalidate,
 * proxy-revalidate, s-maxage, no-cache: RFC 9111 §4.2.4), nor past its stale-if-error window (RFC 5861
 * §4); without a stale-if-error it may, as CloudFront serves expired objects when the origin fails. */
static bool stale_on_error(edge_req_t *er)
{
    if (!er->have_rec || !cache_ttl_may_serve_stale(er->rec.flags))
        return false;
    return er->rec.stale_if_error == 0 || er->age < (int64_t)er->rec.lifetime + (int64_t)er->rec.stale_if_error;
}

static step_result_t step_WAIT(edge_req_t *er)
{
    origin_fetch_t *f = er->fetch;

    if (!origin_fetch_head_ready(f))
        return SUSPEND; /* on_fetch_head resumes */
    if (h2o_timeout_is_linked(&er->watch))
        h2o_timeout_unlink(&er->watch);
    if (er->origin_ms < 0) {
        er->origin_ms = (int64_t)(h2o_now(er->req->conn->ctx->loop) - er->fetch_started);
        if (!er->sub.joined && f->failure == 0)
            reports_latency_observe(&er->thread->origin_latency, (uint64_t)er->origin_ms);
        *h2o_req_getenv(er->req, H2O_STRLIT("origin-ms"), 1) = fmt(&er->req->pool, "%lld", (long long)er->origin_ms);
    }
    if (er->sub.joined && f->variant_key.base != NULL) {
        /* a response with Vary is shared only with the requests that select the same variant */
        const h2o_iovec_t *vary = NULL;
        for (size_t i = 0; i != f->headers.size && vary == NULL; ++i)
            if (f->headers.entries[i].name == &H2O_TOKEN_VARY->buf)
                vary = &f->headers.entries[i].value;
        h2o_iovec_t mine = cache_key_variant(&er->req->pool, er->key, *vary, &er->req->headers);
        if (!h2o_memis(mine.base, mine.len, f->variant_key.base, f->variant_key.len)) {
            unsubscribe(er);
            er->no_join = true;
            er->fwd = "vary-miss";
            start_fetch(er, true);
            return SUSPEND;
        }
    }
    if (er->sub.joined && !origin_fetch_shared(f)) {
        /* the response turned out not to be storable: it is not ours to share; fetch on our own, at once */
        unsubscribe(er);
        er->no_join = true;
        start_fetch(er, true);
        return SUSPEND;
    }
    if (f->failure != 0 || f->error_page != NULL)
        er->state = EDGE_REQ_ERROR;
    else if (f->not_modified)
        er->state = EDGE_REQ_REFRESHED;
    else if (f->status >= 500 && stale_on_error(er))
        er->state = EDGE_REQ_ERROR; /* the stale copy is better than the origin's error (CloudFront) */
    else
        er->state = EDGE_REQ_DELIVER;
    return NEXT;
}

/* The key of a URI named by Location or Content-Location, when it is on this site (RFC 9111 §4.4:
 * only same-origin URIs may be invalidated, so a response cannot purge another site's objects). */
static bool same_origin_key(edge_req_t *er, h2o_iovec_t uri, h2o_iovec_t *key)
{
    h2o_req_t *req = er->req;
    h2o_url_t base, target;
    if (h2o_url_init(&base, req->scheme, req->authority, h2o_iovec_init(H2O_STRLIT("/"))) != 0)
        return false;
    if (h2o_url_parse_relative(uri.base, uri.len, &target) != 0)
        return false;
    if (target.authority.base != NULL &&
        !h2o_lcstris(target.authority.base, target.authority.len, base.authority.base, base.authority.len))
        return false;
    if (target.path.len == 0 || target.path.base[0] != '/')
        return false; /* a path relative to the request's: rare, and not worth guessing */
    size_t query_at = SIZE_MAX;
    size_t *norm_indexes;
    h2o_iovec_t path = h2o_url_normalize_path(&req->pool, target.path.base, target.path.len, &query_at, &norm_indexes);
    h2o_iovec_t query = query_at != SIZE_MAX ? h2o_iovec_init(target.path.base + query_at + 1, target.path.len - query_at - 1)
                                             : h2o_iovec_init(NULL, 0);
    const edge_conf_behavior_t *b =
        edge_behavior_match(er->thread->server->conf->behaviors, er->thread->server->conf->num_behaviors, path.base, path.len);
    *key = cache_key_build(&req->pool, path, query, &b->key);
    return true;
}

/* RFC 9111 §4.4: a non-error response to an unsafe method invalidates the stored responses for the
 * target URI, and for the same-origin URIs in Location and Content-Location. */
static void invalidate_after_unsafe(edge_req_t *er, const origin_fetch_t *f)
{
    static const char *const safe[] = {"GET", "HEAD", "OPTIONS", "TRACE", NULL};
    h2o_req_t *req = er->req;
    if (f->status < 200 || f->status >= 400)
        return;
    for (const char *const *m = safe; *m != NULL; ++m)
        if (method_is(req, *m, strlen(*m)))
            return;
    cache_store_delete(er->thread->server->store, &er->hash);
    for (size_t i = 0; i != f->headers.size; ++i) {
        const h2o_iovec_t *n = f->headers.entries[i].name;
        h2o_iovec_t key;
        cache_hash_t hash;
        if ((n == &H2O_TOKEN_LOCATION->buf || n == &H2O_TOKEN_CONTENT_LOCATION->buf) &&
            same_origin_key(er, f->headers.entries[i].value, &key)) {
            cache_key_hash(key, &hash);
            cache_store_delete(er->thread->server->store, &hash);
        }
    }
}

static step_result_t step_DELIVER(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    origin_fetch_t *f = er->fetch;

    invalidate_after_unsafe(er, f);
    req->res.status = f->status;
    req->res.reason = reason_of(f->status);
    for (size_t i = 0; i != f->headers.size; ++i) {
        /* the fetch may end before this response does: the values must live in the request's pool */
        h2o_iovec_t name = *f->headers.entries[i].name;
        if (!h2o_iovec_is_token(f->headers.entries[i].name))
            name = h2o_strdup(&req->pool, name.base, name.len);
        add_response_header(req, name, h2o_strdup(&req->pool, f->headers.entries[i].value.base, f->headers.entries[i].value.len));
    }
    h2o_iovec_t cs;
    if (f->stored)
        cs = fmt(&req->pool, "edgecache; fwd=%s; fwd-status=%d; stored; ttl=%lld%s", er->fwd, f->status,
                 (long long)(f->ttl.lifetime - f->ttl.initial_age), er->sub.joined ? "; collapsed" : "");
    else if (f->ttl.why != NULL)
        cs = fmt(&req->pool, "edgecache; fwd=%s; fwd-status=%d; detail=%s", er->fwd, f->status, f->ttl.why);
    else
        cs = fmt(&req->pool, "edgecache; fwd=%s; fwd-status=%d", er->fwd, f->status);
    add_cache_headers(er, f->initial_age, "MISS", cs);
    if (!er->passed)
        ++er->thread->counters.misses;
    if (f->stored)
        ++er->thread->counters.stored_objects;
    req->res.content_length = f->content_length >= 0 ? (size_t)f->content_length : SIZE_MAX;
    er->body_source = BODY_FETCH;
    h2o_start_response(req, &er->super);
    if (er->is_head) {
        er->sending = true;
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        unsubscribe(er); /* a fetch that stores goes on without us */
    } else {
        send_from_fetch(er);
    }
    er->state = EDGE_REQ_DONE;
    return NEXT;
}

static step_result_t step_REFRESHED(edge_req_t *er)
{
    origin_fetch_t *f = er->fetch;
    h2o_req_t *req = er->req;

    /* copy the refreshed record out of the fetch, which we then leave */
    er->rec = f->record;
    er->rec.key = h2o_strdup(&req->pool, f->record.key.base, f->record.key.len);
    er->rec.headers = h2o_strdup(&req->pool, f->record.headers.base, f->record.headers.len);
    er->rec.vary = h2o_iovec_init(NULL, 0);
    er->rec.body = h2o_strdup(&req->pool, f->record.body.base, f->record.body.len);
    unsubscribe(er);
    ++er->thread->counters.revalidated;
    h2o_iovec_t cs = fmt(&req->pool, "edgecache; fwd=stale; fwd-status=304; ttl=%lld", (long long)er->rec.lifetime);
    if (!deliver_record(er, &er->rec, er->rec.initial_age, "REVALIDATED", cs)) {
        h2o_send_error_502(req, "Bad Gateway", "stored body unavailable", 0);
    }
    er->state = EDGE_REQ_DONE;
    return NEXT;
}

static step_result_t step_ERROR(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    origin_fetch_t *f = er->fetch;
    const char *what = f->failure == ERRORPAGES_FAIL_CONNECT   ? "connect-error"
                       : f->failure == ERRORPAGES_FAIL_TIMEOUT ? "timeout"
                       : f->failure == ERRORPAGES_FAIL_RESET   ? "reset"
                                                              : NULL;
    int origin_status = f->failure == ERRORPAGES_FAIL_TIMEOUT ? 504 : f->failure != 0 ? 502 : f->status;
    if (f->failure != 0 && er->have_rec && !stale_on_error(er))
        origin_status = 504; /* RFC 9111 §5.2.2.2: the stored response may not be used, and the origin is unreachable */
    const errorpages_rule_t *page = f->error_page;

    er->state = EDGE_REQ_DONE;
    if (f->failure != 0)
        ++er->thread->counters.origin_failures;

    /* the ladder: a stale copy, then the configured page, then the built-in page */
    if (stale_on_error(er)) {
        h2o_iovec_t cs = what != NULL ? fmt(&req->pool, "edgecache; hit; fwd=stale; ttl=%lld; detail=%s",
                                            (long long)((int64_t)er->rec.lifetime - er->age), what)
                                      : fmt(&req->pool, "edgecache; hit; fwd=stale; fwd-status=%d; ttl=%lld; detail=origin-error",
                                            origin_status, (long long)((int64_t)er->rec.lifetime - er->age));
        unsubscribe(er);
        if (deliver_record(er, &er->rec, er->age, "STALE", cs)) {
            ++er->thread->counters.stale_served;
            return NEXT;
        }
        req->res.headers = (h2o_headers_t){NULL}; /* deliver_record added nothing, but be sure */
    }
    unsubscribe(er);
    ++er->thread->counters.errors;
    h2o_iovec_t body;
    if (page != NULL) {
        req->res.status = page->response_code != 0 ? page->response_code : origin_status;
        body = h2o_iovec_init(page->body, page->body_len);
    } else {
        const errorpages_page_t *builtin = errorpages_for_status(origin_status);
        req->res.status = origin_status;
        body = builtin != NULL ? h2o_iovec_init(builtin->body, builtin->len) : h2o_iovec_init(H2O_STRLIT("origin error\n"));
    }
    req->res.reason = reason_of(req->res.status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/html; charset=utf-8"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_iovec_t cs = what != NULL ? fmt(&req->pool, "edgecache; fwd=%s; detail=%s", er->fwd, what)
                                  : fmt(&req->pool, "edgecache; fwd=%s; fwd-status=%d; detail=error-page", er->fwd, origin_status);
    add_cache_headers(er, 0, "ERROR", cs);
    req->res.content_length = body.len;
    er->body_source = BODY_NONE;
    h2o_start_response(req, &er->super);
    h2o_send(req, &body, er->is_head ? 0 : 1, H2O_SEND_STATE_FINAL);
    return NEXT;
}

static step_result_t step_DONE(edge_req_t *er)
{
    return SUSPEND;
}

static step_result_t (*const steps[])(edge_req_t *) = {
#define EDGE_REQ_STEP_FN(name) step_##name,
    EDGE_REQ_STATES(EDGE_REQ_STEP_FN)
#undef EDGE_REQ_STEP_FN
};

static void run(edge_req_t *er)
{
    assert(er->magic == EDGE_REQ_MAGIC);
    do {
        assert(er->magic == EDGE_REQ_MAGIC);
        common_log_debug("req %p %.*s: %s", (void *)er, (int)er->req->path.len, er->req->path.base, edge_req_state_name(er->state));
    } while (steps[er->state](er) == NEXT);
}

/* --- the handler ------------------------------------------------------------------------------------- */

/* The request's line in the reports: what it was, what it cost the origin, and why it missed. */
static void account(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    const char *xc = er->x_cache;

    if (xc == NULL || er->behavior == NULL)
        return; /* not a cache answer: a refused or PURGE request */
    if (er->fetch != NULL && !er->sub.joined)
        er->origin_bytes = er->fetch->received; /* (still subscribed: the fetch's count so far) */
    reports_event_t ev = {.behavior = (size_t)(er->behavior - er->thread->server->conf->behaviors),
                          .status = req->res.status,
                          .bytes_sent = er->bytes_sent,
                          .origin_bytes = er->origin_bytes,
                          .origin_ms = er->origin_ms};
    if (er->passed)
        ev.outcome = REPORTS_PASS;
    else if (er->hit)
        ev.outcome = strcmp(xc, "ERROR") == 0 ? REPORTS_ERROR : REPORTS_HIT;
    else if (strcmp(xc, "REVALIDATED") == 0)
        ev.outcome = REPORTS_REVALIDATED;
    else if (strcmp(xc, "STALE") == 0)
        ev.outcome = REPORTS_STALE;
    else if (strcmp(xc, "ERROR") == 0)
        ev.outcome = REPORTS_ERROR;
    else
        ev.outcome = er->have_rec ? REPORTS_REFRESHED : REPORTS_MISS;
    ev.url = cache_key_url(er->key);
    ev.has_query = req->query_at != SIZE_MAX;
    ev.query_in_key = memchr(ev.url.base, '?', ev.url.len) != NULL;
    ev.expired = er->have_rec && (ev.outcome == REPORTS_REFRESHED || ev.outcome == REPORTS_REVALIDATED);
    ev.evicted_recently = ev.outcome == REPORTS_MISS && cache_store_recently_evicted(er->thread->server->store, &er->hash, 3600);
    ev.incomplete = er->stopped || (!er->is_head && req->res.status != 304 && req->res.content_length != SIZE_MAX &&
                                    er->bytes_sent < req->res.content_length);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    reports_acct_record(er->thread->acct, &ev, (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000);
}

static void on_dispose(void *p)
{
    edge_req_t *er = p;
    account(er);
    unpin(er); /* libh2o has written everything that pointed into the map */
    if (h2o_timeout_is_linked(&er->watch))
        h2o_timeout_unlink(&er->watch);
    unsubscribe(er);
    er->magic = 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    edge_req_t *er = h2o_mem_alloc_shared(&req->pool, sizeof(*er), on_dispose);

    memset(er, 0, sizeof(*er));
    er->super.proceed = on_generator_proceed;
    er->super.stop = on_generator_stop;
    er->magic = EDGE_REQ_MAGIC;
    er->state = EDGE_REQ_RECV;
    er->req = req;
    er->thread = edge_thread_of(req);
    er->origin_ms = -1; /* (no origin exchange until start_fetch) */
    run(er);
    return 0;
}

void edge_req_fsm_register(h2o_pathconf_t *pathconf)
{
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;
}
