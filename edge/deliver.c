/*
 * edge/deliver.c: sending a request's answer (see deliver.h).
 *
 * Invariants that are easy to break:
 * - At most one h2o_send is outstanding per request; the next one is issued only from proceed.
 * - Bytes sent straight from an origin fetch's buffer are consumed (and may be freed) only when proceed
 *   says libh2o is done with them, and a request stays subscribed until it is disposed, so a FINAL send
 *   never points at freed memory.
 * - A body is committed to (headers sent) only once its first piece has been read and checked: a body
 *   that is gone or corrupt is reported to the caller, which turns it into a miss.
 * - An encoded variant lends only its body: the headers are its object's, with Content-Encoding added and the
 *   ETag suffixed for the coding, and it is sent only while its stamp names the object stored now
 *   (edge_deliver_choose_coding). Every answer from a compressible object says Vary: Accept-Encoding.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include "cache/checksum.h"
#include "common/log.h"
#include "edge/deliver.h"
#include "edge/https.h"

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

const char *edge_deliver_reason(int status)
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

/* Adds one stored or forwarded header to the response; Age is the server's own, and Date is written by
 * libh2o (see date_swap_begin). */
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

h2o_iovec_t edge_deliver_record_header(const cache_record_t *rec, const char *name, size_t len)
{
    h2o_iovec_t block = rec->headers, n, v;
    while (cache_record_next_header(&block, &n, &v))
        if (h2o_memis(n.base, n.len, name, len))
            return v;
    return h2o_iovec_init(NULL, 0);
}

bool edge_deliver_has_validator(const cache_record_t *rec)
{
    return edge_deliver_record_header(rec, H2O_STRLIT("etag")).base != NULL ||
           edge_deliver_record_header(rec, H2O_STRLIT("last-modified")).base != NULL;
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

/* As edge_deliver_not_modified, for the representation whose ETag is `etag` (base NULL: none). */
static bool not_modified(const h2o_headers_t *headers, const cache_record_t *rec, h2o_iovec_t etag)
{
    ssize_t i;
    if (rec->status != 200)
        return false;
    if ((i = h2o_find_header(headers, H2O_TOKEN_IF_NONE_MATCH, -1)) != -1)
        return etag.base != NULL && etag_matches(headers->entries[i].value, etag);
    if ((i = h2o_find_header(headers, H2O_TOKEN_IF_MODIFIED_SINCE, -1)) != -1) {
        h2o_iovec_t lm = edge_deliver_record_header(rec, H2O_STRLIT("last-modified"));
        int64_t ims, mtime;
        return lm.base != NULL && cache_ttl_parse_date(headers->entries[i].value.base, headers->entries[i].value.len, &ims) &&
               cache_ttl_parse_date(lm.base, lm.len, &mtime) && mtime <= ims;
    }
    return false;
}

bool edge_deliver_not_modified(const h2o_headers_t *headers, const cache_record_t *rec)
{
    return not_modified(headers, rec, edge_deliver_record_header(rec, H2O_STRLIT("etag")));
}

/* --- compression: the headers of an encoded answer -------------------------------------------------- */

/* The ETag of rec's body as sent with `coding`: a stored ETag names the identity bytes, so an encoded body
 * gets its own, suffixed inside the quotes ("abc" → "abc-gzip", W/"abc" → W/"abc-gzip"), which keeps it
 * strong where it was (Range and If-Range stay usable on the encoded bytes) and never matches the identity's. */
static h2o_iovec_t coded_etag(h2o_mem_pool_t *pool, h2o_iovec_t etag, cache_coding_t coding)
{
    if (etag.base == NULL || coding == CACHE_CODING_IDENTITY)
        return etag;
    const char *name = cache_compress_coding_name(coding);
    size_t nlen = strlen(name), body = etag.len;
    if (body != 0 && etag.base[body - 1] == '"')
        --body;
    char *buf = h2o_mem_alloc_pool(pool, etag.len + nlen + 2);
    memcpy(buf, etag.base, body);
    buf[body] = '-';
    memcpy(buf + body + 1, name, nlen);
    memcpy(buf + body + 1 + nlen, etag.base + body, etag.len - body);
    return h2o_iovec_init(buf, etag.len + nlen + 1);
}

/* Vary with Accept-Encoding added to `value` (base NULL: no Vary yet), unless it names it or "*" already. */
static h2o_iovec_t vary_with_ae(h2o_mem_pool_t *pool, h2o_iovec_t value)
{
    if (value.base == NULL)
        return h2o_iovec_init(H2O_STRLIT("Accept-Encoding"));
    if (h2o_contains_token(value.base, value.len, H2O_STRLIT("accept-encoding"), ',') ||
        h2o_contains_token(value.base, value.len, H2O_STRLIT("*"), ','))
        return value;
    return h2o_concat(pool, value, h2o_iovec_init(H2O_STRLIT(", Accept-Encoding")));
}

/* Whether the stored object is compressible under the request's behavior: then whatever coding the client
 * gets, the answer varies on Accept-Encoding (identity included), so a shared cache downstream keeps them apart. */
static bool record_varies_on_ae(const edge_req_t *er, const cache_record_t *rec)
{
    return (rec->flags & CACHE_TTL_COMPRESSIBLE) != 0 && rec->status == 200 && er->behavior != NULL &&
           er->behavior->compress.enabled;
}

/* (see deliver.h) Tries the codings the client accepts, best first, until one has a variant that matches. */
void edge_deliver_choose_coding(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    unsigned available = 1u << CACHE_CODING_GZIP | 1u << CACHE_CODING_BR;
    char stamp[48];
    size_t slen;

    if ((er->rec.flags & CACHE_TTL_COMPRESSIBLE) == 0 || er->rec.status != 200 || !er->behavior->compress.enabled)
        return;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT_ENCODING, -1);
    if (i == -1)
        return;
    slen = cache_compress_stamp(&er->rec, stamp);
    for (;;) {
        cache_coding_t coding = cache_compress_choose(req->headers.entries[i].value, available);
        if (coding == CACHE_CODING_IDENTITY)
            return;
        available &= ~(1u << coding);
        h2o_iovec_t vkey = cache_key_encoded(&req->pool, er->rec.key, cache_compress_coding_name(coding)), raw, vstamp;
        cache_hash_t vhash;
        cache_record_t v;
        cache_key_hash(vkey, &vhash);
        if (cache_store_get(er->thread->reader, &vhash, &req->pool, &raw) != 0 ||
            cache_record_decode(&v, (const uint8_t *)raw.base, raw.len) != 0 || (v.flags & CACHE_TTL_ENCODED) == 0 ||
            !h2o_memis(v.key.base, v.key.len, vkey.base, vkey.len))
            continue;
        vstamp = cache_compress_variant_stamp(&v);
        if (!h2o_memis(vstamp.base, vstamp.len, stamp, slen))
            continue; /* made from an object that was replaced since: its replacement's variant is on its way */
        er->coding = coding;
        er->rec.oid = v.oid;
        er->rec.body_len = v.body_len;
        er->rec.chunk_size = v.chunk_size;
        er->rec.body = v.body;
        er->rec.body_crc = v.body_crc;
        er->rec.epoch = v.epoch;
        er->rec_hash = vhash; /* (a variant whose body is bad is the one deleted) */
        er->verify = cache_store_needs_verify(er->thread->reader, &vhash, v.epoch);
        cache_store_touch(er->thread->reader, &vhash);
        return;
    }
}

/* Age, X-Cache and Cache-Status, on every response; the site's HSTS on those over TLS. */
void edge_deliver_cache_headers(edge_req_t *er, int64_t age, const edge_cache_answer_t *answer)
{
    h2o_req_t *req = er->req;
    const char *x_cache = edge_account_x_cache(answer->outcome);
    h2o_iovec_t cache_status = edge_account_cache_status(&req->pool, answer);
    h2o_iovec_t a = fmt(&req->pool, "%lld", (long long)(age > 0 ? age : 0));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_AGE, NULL, a.base, a.len);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-cache"), 0, NULL, x_cache, strlen(x_cache));
    *h2o_req_getenv(req, H2O_STRLIT("cache"), 1) = h2o_iovec_init(x_cache, strlen(x_cache)); /* %{cache}e in the access log */
    er->answered = true;
    er->outcome = answer->outcome;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("cache-status"), 0, NULL, cache_status.base, cache_status.len);
    edge_https_add_hsts(req, er->site);
}

/* --- the Date of a forwarded or stored response --------------------------------------------------- */

/* libh2o 2.2.5 reads no Date from res.headers: the HTTP/1 and HTTP/2 writers both put in the context's
 * cached clock string (h2o_get_timestamp) when the first h2o_send writes the head. A cache must send the
 * Date of the origin's response instead (RFC 9110 §6.6.1; Age says how old it has become since). So
 * around a send that may write the head, the context's cached string is swapped for one that holds
 * `date`, and swapped back after. h2o_get_timestamp is called first so that the cache is current for
 * this loop turn: libh2o then reads it without refreshing it (a refresh would release our string). */
typedef struct st_date_swap_t {
    h2o_context_t *ctx;
    h2o_timestamp_string_t *saved, *ours;
} date_swap_t;

static void date_swap_begin(date_swap_t *sw, h2o_req_t *req, int64_t date)
{
    time_t t = (time_t)date;
    struct tm gmt;
    sw->ctx = req->conn->ctx;
    sw->ours = NULL;
    if (gmtime_r(&t, &gmt) == NULL)
        return; /* out of range for the system: libh2o's own clock it is */
    h2o_get_timestamp(sw->ctx, NULL, NULL);
    sw->saved = sw->ctx->_timestamp_cache.value;
    sw->ours = h2o_mem_alloc_shared(NULL, sizeof(*sw->ours), NULL);
    h2o_time2str_rfc1123(sw->ours->rfc1123, &gmt);
    memcpy(sw->ours->log, sw->saved->log, sizeof(sw->ours->log)); /* a logger wants now, not the Date */
    sw->ctx->_timestamp_cache.value = sw->ours;
}

static void date_swap_end(date_swap_t *sw)
{
    if (sw->ours == NULL)
        return;
    sw->ctx->_timestamp_cache.value = sw->saved;
    h2o_mem_release_shared(sw->ours); /* a head that was written holds its own reference in the request's pool */
}

/* The Date of a stored object: its own Date field when that is a date, else the time it was received
 * (RFC 9110 §6.6.1 lets a recipient with a clock add one). */
static int64_t record_date(const cache_record_t *rec)
{
    h2o_iovec_t v = edge_deliver_record_header(rec, H2O_STRLIT("date"));
    int64_t t;
    return v.base != NULL && cache_ttl_parse_date(v.base, v.len, &t) ? t : rec->response_time;
}

/* The Date of the origin's response; false when it sent none that parses (libh2o's clock, the time
 * the response is forwarded, then stands for it). */
static bool fetch_date(const origin_fetch_t *f, int64_t *t)
{
    ssize_t i = h2o_find_header(&f->headers, H2O_TOKEN_DATE, -1);
    return i != -1 && cache_ttl_parse_date(f->headers.entries[i].value.base, f->headers.entries[i].value.len, t);
}

/* --- a stored object ------------------------------------------------------------------------------ */

/* --- a client that stops reading ------------------------------------------------------------------- */

/* An HTTP/1 response whose client takes nothing for limits.send_timeout has its connection closed, as nginx's
 * send_timeout does. It bounds what such a client holds: the connection, a fetch's blocks, and a pin on the map
 * — a read transaction, behind which LMDB reuses no page freed since, however much the writer stores.
 * libh2o 2.2.5 runs no timer while it writes a response (see may_pin_chunk), so the edge keeps its own, linked
 * while a send is in flight (from h2o_send to proceed or dispose) and polled on the loop's one-second list.
 * Progress is the client taking bytes: a piece handed to libh2o waits for room in the socket's kernel buffer,
 * which holds megabytes and wakes the writer only when a good part of it has drained, so a client reading
 * steadily can leave a piece waiting for seconds. Each tick therefore also reads the kernel's unsent and
 * unacknowledged bytes (SIOCOUTQ): a smaller count than at the previous tick is progress.
 * Closing is shutdown(2) on the descriptor, as in edge/h2_resets.c: libh2o's pending write then fails, and its
 * own error path closes the connection and disposes of the request (and the pin with it).
 * HTTP/2 is left alone: a stream the peer's window holds back may be paused on purpose (a media player) while
 * the connection carries others; that is why chunks are pinned on HTTP/1 only. */
static void on_send_watch(h2o_timeout_entry_t *entry)
{
    edge_req_t *er = H2O_STRUCT_FROM_MEMBER(edge_req_t, send_watch, entry);
    h2o_conn_t *conn = er->req->conn;
    uint64_t now = h2o_now(conn->ctx->loop);
    h2o_socket_t *sock = conn->callbacks->get_socket != NULL ? conn->callbacks->get_socket(conn) : NULL;
    int queued;

    if (sock == NULL)
        return;
    if (ioctl(h2o_socket_get_fd(sock), SIOCOUTQ, &queued) == 0) {
        if (er->send_queued >= 0 && queued < er->send_queued)
            er->send_since = now; /* the client took bytes since the last tick */
        er->send_queued = queued;
    }
    if (now - er->send_since < er->tgen->gen->conf.limits.send_timeout_ms) {
        h2o_timeout_link(conn->ctx->loop, &conn->ctx->one_sec_timeout, entry);
        return;
    }
    ++er->thread->counters.send_timeouts;
    common_log_info("client took nothing of %.*s for %" PRIu64 " ms (limits.send_timeout): connection closed", (int)er->key.len,
                    er->key.base, now - er->send_since);
    shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
}

/* h2o_send, with the send watch started for it (HTTP/1) unless it ends the response in error. */
static void deliver_send(edge_req_t *er, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    if (state != H2O_SEND_STATE_ERROR && er->req->version < 0x200) {
        er->send_since = h2o_now(er->req->conn->ctx->loop);
        er->send_queued = -1;
        if (!h2o_timeout_is_linked(&er->send_watch)) {
            er->send_watch.cb = on_send_watch;
            h2o_timeout_link(er->req->conn->ctx->loop, &er->req->conn->ctx->one_sec_timeout, &er->send_watch);
        }
    }
    h2o_send(er->req, bufs, bufcnt, state);
}

static void send_watch_stop(edge_req_t *er)
{
    if (h2o_timeout_is_linked(&er->send_watch))
        h2o_timeout_unlink(&er->send_watch);
}

/* --- a chunked body's chunks, straight from the map ------------------------------------------------ */

/* Whether the next chunk may be sent straight from the LMDB map under a pin (a read transaction) rather than
 * copied into chunk_buf. libh2o keeps the buffers of an h2o_send until it calls proceed (or disposes of the
 * request) on every protocol, so a pin released there is safe on cleartext HTTP/1.1, TLS and HTTP/2 alike; it
 * is taken on HTTP/1 only, where the send watch above bounds how long a stalled client keeps it (on HTTP/2 the
 * pin measured no gain: libh2o copies into frames anyway).
 *
 * What bounds a pin: their number (CACHE_STORE_MAX_PINS per loop, shared with inline bodies: none free means
 * a copy), and the time a client takes to read a piece. libh2o 2.2.5 cannot give back a buffer once it has
 * it: HTTP/1 keeps our iovecs in the socket's write request until the kernel has taken every byte, and runs
 * no timer while it writes a response (lib/http1.c: the request-read timeout is unlinked once the request is
 * read); HTTP/2 keeps them in the stream until the peer's window lets them out, and its idle timeout runs only
 * with no stream open (lib/http2/connection.c, update_idle_timeout). So the bound is taken before the send:
 * once a piece took the client longer than EDGE_DELIVER_PIN_MAX_MS, the rest of the response is copied. A
 * client that stalls holds one pin until limits.send_timeout closes its connection; one that reads slowly
 * holds none. */
#define EDGE_DELIVER_PIN_MAX_MS 500

static bool may_pin_chunk(const edge_req_t *er)
{
    return !er->copy_chunks && er->req->version < 0x200;
}

static void release_chunk(edge_req_t *er)
{
    if (er->chunk_pin != NULL) {
        cache_store_unpin(er->thread->reader, er->chunk_pin);
        er->chunk_pin = NULL;
        er->chunk_in_buf = UINT32_MAX;
    }
}

void edge_deliver_release(edge_req_t *er)
{
    send_watch_stop(er);
    release_chunk(er);
}

/* Makes chunk `idx` of the body the current one (er->chunk), checked against its checksum when er->verify.
 * Returns 0 or a store error. */
static int load_chunk(edge_req_t *er, uint32_t idx)
{
    const cache_record_t *rec = &er->rec;
    size_t len;
    int ret;

    release_chunk(er);
    er->chunk_in_buf = UINT32_MAX;
    if (may_pin_chunk(er)) {
        ret = cache_store_read_chunk_pinned(er->thread->reader, rec->oid, idx, er->verify, &er->chunk, &er->chunk_pin);
        if (ret == 0)
            er->chunk_in_buf = idx;
        if (ret != CACHE_STORE_EBUSY)
            return ret;
    }
    if (er->chunk_buf == NULL)
        er->chunk_buf = h2o_mem_alloc_pool(&er->req->pool, rec->chunk_size);
    if ((ret = cache_store_read_chunk(er->thread->reader, rec->oid, idx, er->chunk_buf, rec->chunk_size, &len, er->verify)) != 0)
        return ret;
    er->chunk = h2o_iovec_init(er->chunk_buf, len);
    er->chunk_in_buf = idx;
    return 0;
}

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
        release_chunk(er); /* libh2o is done with the last piece: it called proceed */
        deliver_send(er, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    edge_range_seg_t *sg = er->segs + er->seg;
    if (sg->literal.base != NULL) {
        release_chunk(er);
        vec = sg->literal;
    } else {
        uint64_t pos = sg->start + er->seg_off;
        if (rec->chunk_size == 0) {
            vec = h2o_iovec_init(rec->body.base + pos, (size_t)(sg->end - pos));
        } else {
            uint32_t idx = (uint32_t)(pos / rec->chunk_size);
            uint64_t chunk_start = (uint64_t)idx * rec->chunk_size, chunk_end = chunk_start + rec->chunk_size;
            uint64_t stop = sg->end < chunk_end ? sg->end : chunk_end;
            int ret = idx != er->chunk_in_buf ? load_chunk(er, idx) : 0;
            if (ret == 0 && stop - chunk_start > er->chunk.len)
                ret = CACHE_STORE_ECORRUPT; /* shorter than the record says: never send past its end */
            if (ret != 0) {
                /* replaced or evicted while we were sending: the client sees an aborted transfer, never a mix */
                common_log_warn("store: chunk %u of %.*s: %s", idx, (int)er->key.len, er->key.base, cache_store_strerror(ret));
                if (ret == CACHE_STORE_ECORRUPT) {
                    ++er->thread->counters.corrupt_records;
                    cache_store_delete(er->thread->server->store, &er->rec_hash);
                }
                release_chunk(er);
                deliver_send(er, NULL, 0, H2O_SEND_STATE_ERROR);
                return;
            }
            vec = h2o_iovec_init(er->chunk.base + (pos - chunk_start), (size_t)(stop - pos));
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
    er->piece_sent_at = h2o_now(er->req->conn->ctx->loop);
    deliver_send(er, &vec, 1, er->seg == er->num_segs ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

/* Sets up the segments for `rec`: the whole body, one range (206), several (206 multipart/byteranges),
 * or none (416), with Content-Range and Content-Length. Returns the status to answer with, and the
 * multipart Content-Type (base NULL for none) in *multipart_type. */
static int plan_body(edge_req_t *er, const cache_record_t *rec, h2o_iovec_t *multipart_type)
{
    h2o_req_t *req = er->req;
    h2o_iovec_t range = h2o_iovec_init(NULL, 0);
    ssize_t ri = rec->status == 200 ? h2o_find_header(&req->headers, H2O_TOKEN_RANGE, -1) : -1;
    if (ri != -1) {
        ssize_t ii = h2o_find_header(&req->headers, H2O_TOKEN_IF_RANGE, -1);
        h2o_iovec_t etag = coded_etag(&req->pool, edge_deliver_record_header(rec, H2O_STRLIT("etag")), er->coding);
        if (ii == -1 || edge_range_if_range_ok(req->headers.entries[ii].value, etag,
                                               edge_deliver_record_header(rec, H2O_STRLIT("last-modified"))))
            range = req->headers.entries[ri].value;
    }
    /* the boundary only has to be unlikely in the body: the loop's clock and the request's address */
    h2o_iovec_t boundary = range.base != NULL ? fmt(&req->pool, "%016llx%08x", (unsigned long long)h2o_now(req->conn->ctx->loop),
                                                    (unsigned)((uintptr_t)er >> 4))
                                              : h2o_iovec_init(NULL, 0);
    edge_range_plan_t plan;
    edge_range_plan(&req->pool, range, rec->body_len, edge_deliver_record_header(rec, H2O_STRLIT("content-type")), boundary.base,
                    &plan);

    er->seg = 0;
    er->seg_off = 0;
    er->segs = plan.segs;
    er->num_segs = plan.num_segs;
    req->res.content_length = plan.content_length;
    if (plan.content_range.base != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_RANGE, NULL, plan.content_range.base,
                       plan.content_range.len);
    *multipart_type = plan.content_type;
    return plan.status != 0 ? plan.status : rec->status;
}

bool edge_deliver_record(edge_req_t *er, const cache_record_t *rec, int64_t age, const edge_cache_answer_t *answer)
{
    h2o_req_t *req = er->req;
    h2o_iovec_t etag = coded_etag(&req->pool, edge_deliver_record_header(rec, H2O_STRLIT("etag")), er->coding);
    bool is_304 = not_modified(&req->headers, rec, etag), varies = record_varies_on_ae(er, rec);

    er->chunk_in_buf = UINT32_MAX;
    if (rec->chunk_size != 0) {
        /* make sure the body is there before committing to a response */
        if (!er->is_head && !is_304 && rec->body_len != 0) {
            int ret = load_chunk(er, 0);
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
    h2o_iovec_t multipart_type = h2o_iovec_init(NULL, 0);
    int status = is_304 ? 304 : plan_body(er, rec, &multipart_type);
    req->res.status = status;
    req->res.reason = edge_deliver_reason(status);
    h2o_iovec_t block = rec->headers, name, value, vary = h2o_iovec_init(NULL, 0);
    while (cache_record_next_header(&block, &name, &value)) {
        if (multipart_type.base != NULL && h2o_memis(name.base, name.len, H2O_STRLIT("content-type")))
            continue;
        if (h2o_memis(name.base, name.len, H2O_STRLIT("etag"))) {
            value = etag;
        } else if (h2o_memis(name.base, name.len, H2O_STRLIT("content-encoding"))) {
            if (er->coding != CACHE_CODING_IDENTITY)
                continue; /* ("identity": the one that is sent is added below) */
        } else if (varies && h2o_memis(name.base, name.len, H2O_STRLIT("vary"))) {
            vary = value = vary_with_ae(&req->pool, value);
        }
        add_response_header(req, name, value);
    }
    if (varies && vary.base == NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Accept-Encoding"));
    if (er->coding != CACHE_CODING_IDENTITY) {
        const char *coding = cache_compress_coding_name(er->coding);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_ENCODING, NULL, coding, strlen(coding));
    }
    if (multipart_type.base != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, multipart_type.base, multipart_type.len);
    if (rec->status == 200 && !is_304)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCEPT_RANGES, NULL, H2O_STRLIT("bytes"));
    edge_deliver_cache_headers(er, age, answer);
    if (is_304)
        req->res.content_length = SIZE_MAX;
    er->body_source = EDGE_REQ_BODY_RECORD;
    h2o_start_response(req, &er->super);

    date_swap_t sw;
    date_swap_begin(&sw, req, record_date(rec));
    if (er->is_head || is_304 || status == 416 || rec->body_len == 0)
        deliver_send(er, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        send_next_piece(er);
    date_swap_end(&sw);
    return true;
}

/* --- the origin fetch's response ------------------------------------------------------------------ */

static void send_from_fetch(edge_req_t *er)
{
    origin_fetch_t *f = er->fetch;
    h2o_iovec_t vec;

    if (er->sending || er->stopped || f == NULL)
        return;
    origin_fetch_state_t next = origin_fetch_peek(f, &er->sub, &vec);
    /* nothing sent yet: this send writes the head, with the origin's Date */
    date_swap_t sw = {.ours = NULL};
    int64_t date;
    if (er->bytes_sent == 0 && (vec.len != 0 || next == ORIGIN_FETCH_DONE || next == ORIGIN_FETCH_FAILED) && fetch_date(f, &date))
        date_swap_begin(&sw, er->req, date);
    if (vec.len != 0) {
        er->sending = true;
        er->inflight = vec.len;
        er->thread->counters.body_bytes_sent += vec.len;
        er->bytes_sent += vec.len;
        deliver_send(er, &vec, 1, next == ORIGIN_FETCH_DONE ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
    } else if (next == ORIGIN_FETCH_DONE) {
        er->sending = true;
        deliver_send(er, NULL, 0, H2O_SEND_STATE_FINAL);
    } else if (next == ORIGIN_FETCH_FAILED) {
        /* the client must see an aborted transfer: a truncated body must never look complete */
        er->sending = true;
        deliver_send(er, NULL, 0, H2O_SEND_STATE_ERROR);
    }
    date_swap_end(&sw);
}

static void on_generator_proceed(h2o_generator_t *self, h2o_req_t *req)
{
    edge_req_t *er = (edge_req_t *)self;
    assert(er->magic == EDGE_REQ_MAGIC);
    send_watch_stop(er); /* the client took the piece */
    if (er->body_source == EDGE_REQ_BODY_RECORD) {
        if (h2o_now(req->conn->ctx->loop) - er->piece_sent_at > EDGE_DELIVER_PIN_MAX_MS)
            er->copy_chunks = true; /* a slow reader: see may_pin_chunk */
        send_next_piece(er);
    } else if (er->body_source == EDGE_REQ_BODY_FETCH) {
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

void edge_deliver_fetch_news(edge_req_t *er)
{
    if (er->body_source == EDGE_REQ_BODY_FETCH)
        send_from_fetch(er);
}

void edge_deliver_fetch(edge_req_t *er, const edge_cache_answer_t *answer)
{
    h2o_req_t *req = er->req;
    origin_fetch_t *f = er->fetch;

    /* a response the cache will also hold encoded varies on Accept-Encoding from its first answer on */
    bool varies = f->compressible && er->behavior != NULL && er->behavior->compress.enabled && !er->passed, vary_done = false;

    req->res.status = f->status;
    req->res.reason = edge_deliver_reason(f->status);
    for (size_t i = 0; i != f->headers.size; ++i) {
        /* the fetch may end before this response does: the values must live in the request's pool */
        h2o_iovec_t name = *f->headers.entries[i].name;
        h2o_iovec_t value = h2o_strdup(&req->pool, f->headers.entries[i].value.base, f->headers.entries[i].value.len);
        if (!h2o_iovec_is_token(f->headers.entries[i].name))
            name = h2o_strdup(&req->pool, name.base, name.len);
        if (varies && f->headers.entries[i].name == &H2O_TOKEN_VARY->buf && !vary_done) {
            value = vary_with_ae(&req->pool, value);
            vary_done = true;
        }
        add_response_header(req, name, value);
    }
    if (varies && !vary_done)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Accept-Encoding"));
    edge_deliver_cache_headers(er, f->initial_age, answer);
    req->res.content_length = f->content_length >= 0 ? (size_t)f->content_length : SIZE_MAX;
    er->body_source = EDGE_REQ_BODY_FETCH;
    h2o_start_response(req, &er->super);
    if (er->is_head) {
        date_swap_t sw = {.ours = NULL};
        int64_t date;
        if (fetch_date(f, &date))
            date_swap_begin(&sw, req, date);
        er->sending = true;
        deliver_send(er, NULL, 0, H2O_SEND_STATE_FINAL);
        date_swap_end(&sw);
    } else {
        send_from_fetch(er);
    }
}

void edge_deliver_error_page(edge_req_t *er, int status, h2o_iovec_t body, const edge_cache_answer_t *answer)
{
    h2o_req_t *req = er->req;

    req->res.status = status;
    req->res.reason = edge_deliver_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/html; charset=utf-8"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    edge_deliver_cache_headers(er, 0, answer);
    req->res.content_length = body.len;
    er->body_source = EDGE_REQ_BODY_NONE;
    h2o_start_response(req, &er->super);
    deliver_send(er, &body, er->is_head ? 0 : 1, H2O_SEND_STATE_FINAL);
}

void edge_deliver_init(edge_req_t *er)
{
    er->super.proceed = on_generator_proceed;
    er->super.stop = on_generator_stop;
}

/* A host that no site claims, with unknown_host answering a status: 421 (RFC 9110 §15.5.20: this server does
 * not answer for that authority) or 404, with the configured page. Not a framing fault: the connection stays. */
void edge_deliver_unknown_host(edge_req_t *er, const edge_conf_t *conf)
{
    h2o_req_t *req = er->req;
    static const char text[] = "no site on this edge answers for this host\n";
    bool page = conf->unknown_host.body != NULL;

    req->res.status = conf->unknown_host.status;
    req->res.reason = conf->unknown_host.status == 404 ? "Not Found" : "Misdirected Request";
    const char *type = page ? "text/html; charset=utf-8" : "text/plain; charset=utf-8";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    req->res.content_length = page ? conf->unknown_host.body_len : sizeof(text) - 1;
    h2o_send_inline(req, page ? conf->unknown_host.body : text, req->res.content_length);
}
