/*
 * edge/req_fsm.c: the client request state machine (see req_fsm.h for the graph): its states, the step
 * function of each, the transition table and the run loop.
 *
 * Each request gets an edge_req_t in its pool (edge/req_fsm_int.h), allocated with a dispose callback so
 * that whatever it holds (a subscription to an origin fetch) is released however the request ends —
 * including an HTTP/2 stream reset, which disposes the request without calling the generator's stop.
 * A step returns the next state, or its own state to suspend; run() is the only place that calls the
 * steps and the only place that writes er->state, after checking the transition against the table. The
 * helpers the steps call (lookup_record, the decide_* functions, answer_only_if_cached, the client
 * watch) return decisions or raise flags; they never set the state.
 *
 * Invariants that are easy to break:
 * - A response that reaches the client is never built from a record that failed to decode: a corrupt
 *   record is a miss, and the fetch that follows replaces it.
 * - No LMDB read transaction stays open across an origin fetch: a pinned record is copied out unless
 *   the request is a HIT that sends an inline body (settle_pin).
 * Sending the answer is edge/deliver.c's; PURGE and invalidation edge/req_purge.c's; the X-Cache /
 * Cache-Status texts and the reports edge/account.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "common/log.h"
#include "edge/deliver.h"
#include "edge/h2_resets.h"
#include "edge/lifecycle.h"
#include "edge/req_check.h"
#include "edge/req_fsm_int.h"
#include "edge/req_purge.h"
#include "edge/https.h"
#include "edge/site.h"
#include "errorpages/errorpages.h"
#include "origin/request.h"

/* Limits on what a client may send, in the spirit of CloudFront's (20 KB of headers, 8 KB of URL):
 * libh2o alone accepts about 400 KB of headers, all of which we would copy and forward. */
#define MAX_REQUEST_HEADER_BYTES (32 * 1024)
#define MAX_URL_BYTES (8 * 1024)

static void run(edge_req_t *er);

/* --- the graph ------------------------------------------------------------------------------------ */

const char *edge_req_state_name(edge_req_state_t state)
{
    static const char *const names[] = {
#define EDGE_REQ_STATE_NAME(name) #name,
        EDGE_REQ_STATES(EDGE_REQ_STATE_NAME)
#undef EDGE_REQ_STATE_NAME
    };
    return (size_t)state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

/* Every transition a request may make; req_fsm.h draws the same graph (a unit test compares them). */
static const struct {
    edge_req_state_t from, to;
} transitions[] = {
    {EDGE_REQ_RECV, EDGE_REQ_LOOKUP},    {EDGE_REQ_RECV, EDGE_REQ_PASS},       {EDGE_REQ_RECV, EDGE_REQ_DONE},
    {EDGE_REQ_LOOKUP, EDGE_REQ_HIT},     {EDGE_REQ_LOOKUP, EDGE_REQ_MISS},     {EDGE_REQ_LOOKUP, EDGE_REQ_REVALIDATE},
    {EDGE_REQ_HIT, EDGE_REQ_DONE},       {EDGE_REQ_HIT, EDGE_REQ_MISS},        {EDGE_REQ_MISS, EDGE_REQ_WAIT},
    {EDGE_REQ_MISS, EDGE_REQ_DONE},      {EDGE_REQ_REVALIDATE, EDGE_REQ_WAIT}, {EDGE_REQ_REVALIDATE, EDGE_REQ_DONE},
    {EDGE_REQ_PASS, EDGE_REQ_WAIT},      {EDGE_REQ_WAIT, EDGE_REQ_DELIVER},    {EDGE_REQ_WAIT, EDGE_REQ_REFRESHED},
    {EDGE_REQ_WAIT, EDGE_REQ_ERROR},     {EDGE_REQ_WAIT, EDGE_REQ_DONE},       {EDGE_REQ_DELIVER, EDGE_REQ_DONE},
    {EDGE_REQ_REFRESHED, EDGE_REQ_DONE}, {EDGE_REQ_ERROR, EDGE_REQ_DONE},
};

bool edge_req_transition_allowed(edge_req_state_t from, edge_req_state_t to)
{
    for (size_t i = 0; i != sizeof(transitions) / sizeof(transitions[0]); ++i)
        if (transitions[i].from == from && transitions[i].to == to)
            return true;
    return false;
}

/* --- LOOKUP's decisions ---------------------------------------------------------------------------- */

edge_req_found_t edge_req_decide_freshness(uint32_t flags, int64_t lifetime, int64_t swr, int64_t age)
{
    if (age < lifetime && (flags & CACHE_TTL_NO_CACHE) == 0)
        return EDGE_REQ_FOUND_FRESH;
    if ((flags & CACHE_TTL_NO_CACHE) == 0 && cache_ttl_may_serve_stale(flags) && age < lifetime + swr)
        return EDGE_REQ_FOUND_SWR; /* RFC 5861 §3: serve it stale now, and refresh it in the background */
    return EDGE_REQ_FOUND_STALE;
}

edge_req_found_t edge_req_decide_request_cc(const cache_cc_t *c, uint32_t flags, int64_t lifetime, int64_t age,
                                            edge_req_found_t found)
{
    if (found == EDGE_REQ_FOUND_FRESH || found == EDGE_REQ_FOUND_SWR) {
        bool fresh = found == EDGE_REQ_FOUND_FRESH;
        bool refuse = ((c->flags & CACHE_CC_NO_CACHE) && !(fresh && (flags & CACHE_TTL_IMMUTABLE))) ||
                      (c->max_age >= 0 && age > c->max_age) || (c->min_fresh >= 0 && lifetime - age < c->min_fresh);
        return refuse ? EDGE_REQ_FOUND_REFUSED : found;
    }
    if (found == EDGE_REQ_FOUND_STALE && c->max_stale >= 0 && !(c->flags & CACHE_CC_NO_CACHE) && !(flags & CACHE_TTL_NO_CACHE) &&
        cache_ttl_may_serve_stale(flags) && age - lifetime <= c->max_stale && (c->max_age < 0 || age <= c->max_age))
        return EDGE_REQ_FOUND_MAX_STALE;
    return found;
}

/* --- small helpers --------------------------------------------------------------------------------- */

static bool method_is(h2o_req_t *req, const char *m, size_t len)
{
    return h2o_memis(req->method.base, req->method.len, m, len);
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

/* --- the origin fetch ------------------------------------------------------------------------------ */

void edge_req_unsubscribe(edge_req_t *er)
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

static void on_fetch_head(origin_fetch_sub_t *sub)
{
    edge_req_t *er = H2O_STRUCT_FROM_MEMBER(edge_req_t, sub, sub);
    assert(er->magic == EDGE_REQ_MAGIC);
    if (er->state == EDGE_REQ_WAIT)
        run(er);
    else
        edge_deliver_fetch_news(er); /* WAIT saw the head before this wake-up came: it is news of the body */
}

static void on_fetch_body(origin_fetch_sub_t *sub)
{
    edge_req_t *er = H2O_STRUCT_FROM_MEMBER(edge_req_t, sub, sub);
    edge_deliver_fetch_news(er);
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

/* The watch only raises a flag and runs the machine: WAIT decides what a gone client means. */
static void on_watch(h2o_timeout_entry_t *entry)
{
    edge_req_t *er = H2O_STRUCT_FROM_MEMBER(edge_req_t, watch, entry);
    if (er->state != EDGE_REQ_WAIT)
        return;
    if (!client_gone(er->req)) {
        h2o_timeout_link(er->req->conn->ctx->loop, &er->req->conn->ctx->one_sec_timeout, &er->watch);
        return;
    }
    er->client_gone = true;
    run(er);
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
static void start_fetch(edge_req_t *er, bool cacheable)
{
    origin_fetch_args_t args;

    edge_req_fetch_args(er, cacheable, &args);
    er->sub.on_head = on_fetch_head;
    er->sub.on_body = on_fetch_body;
    er->sub.receiver = &er->thread->fetch_receiver;
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
    er->fetch_started_us = reports_clock_us();
    er->origin_ms = -1;
    watch_client(er);
}

/* --- the store ------------------------------------------------------------------------------------- */

/* Whether this response may send an inline body straight from the LMDB map: cleartext HTTP/1.1, where
 * libh2o writes our buffer to the socket as is. With TLS it encrypts into its own buffer, and HTTP/2 copies
 * into frames; a pin still saves our copy of the record there, which pays for chunks over TLS (edge/deliver.c
 * pins them on HTTP/1, where limits.send_timeout bounds a stalled client; bench/NOTES.md "Large objects") but
 * was not measured for inline bodies. */
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
static void settle_pin(edge_req_t *er, h2o_iovec_t raw, bool hit)
{
    if (er->pin == NULL || (hit && er->rec.chunk_size == 0 && !(er->rec.flags & CACHE_TTL_VARY_INDEX)))
        return;
    h2o_iovec_t copy = h2o_strdup(&er->req->pool, raw.base, raw.len);
    unpin(er);
    cache_record_decode(&er->rec, (const uint8_t *)copy.base, copy.len); /* it decoded already */
}

/* The rest of LOOKUP, on the record found under the URL's key: decodes it (and the variant the request
 * selects), and says what it can do for the request. Sets fwd when a stored object is there but cannot
 * be used as it is, and have_rec and age when it can be used. */
static edge_req_found_t lookup_record(edge_req_t *er, h2o_iovec_t raw)
{
    h2o_req_t *req = er->req;
    int ret;

    if ((ret = cache_record_decode(&er->rec, (const uint8_t *)raw.base, raw.len)) != 0) {
        char hex[17];
        ++er->thread->counters.corrupt_records;
        common_log_warn("store: record %s for %.*s: %s; treated as a miss and replaced", cache_key_hex(&er->hash, 8, hex),
                        (int)er->key.len, er->key.base, cache_record_strerror(ret));
        return EDGE_REQ_FOUND_NONE;
    }
    if (!h2o_memis(er->rec.key.base, er->rec.key.len, er->key.base, er->key.len))
        return EDGE_REQ_FOUND_NONE; /* a hash collision: not our object */
    er->rec_hash = er->hash;
    cache_store_touch(er->thread->reader, &er->hash); /* (a Vary index is used as long as any variant is) */
    if (er->rec.flags & CACHE_TTL_VARY_INDEX) {
        /* the URL has variants (RFC 9111 §4.1): look up the one this request selects */
        h2o_iovec_t vkey =
            cache_key_variant(&req->pool, er->key, edge_deliver_record_header(&er->rec, H2O_STRLIT("vary")), &req->headers);
        cache_hash_t vhash;
        cache_key_hash(vkey, &vhash);
        unpin(er); /* the index is read; the variant is copied */
        er->fwd = "vary-miss";
        if (cache_store_get(er->thread->reader, &vhash, &req->pool, &raw) != 0)
            return EDGE_REQ_FOUND_NONE;
        if ((ret = cache_record_decode(&er->rec, (const uint8_t *)raw.base, raw.len)) != 0) {
            ++er->thread->counters.corrupt_records;
            common_log_warn("store: variant record for %.*s: %s; treated as a miss and replaced", (int)er->key.len, er->key.base,
                            cache_record_strerror(ret));
            return EDGE_REQ_FOUND_NONE;
        }
        if (!h2o_memis(er->rec.key.base, er->rec.key.len, vkey.base, vkey.len) || (er->rec.flags & CACHE_TTL_VARY_INDEX))
            return EDGE_REQ_FOUND_NONE;
        er->rec_hash = vhash;
        cache_store_touch(er->thread->reader, &vhash);
    }
    er->verify = cache_store_needs_verify(er->thread->reader, &er->rec_hash, er->rec.epoch);
    if (er->authorized && (er->rec.flags & CACHE_TTL_AUTH_OK) == 0) {
        er->fwd = "request"; /* a stored response that may not answer a request with credentials */
        return EDGE_REQ_FOUND_NONE;
    }
    er->have_rec = true;
    er->age = cache_ttl_current_age(er->rec.initial_age, er->rec.response_time, (int64_t)(h2o_now(req->conn->ctx->loop) / 1000));
    edge_req_found_t found =
        edge_req_decide_freshness(er->rec.flags, (int64_t)er->rec.lifetime, (int64_t)er->rec.stale_while_revalidate, er->age);
    if (found != EDGE_REQ_FOUND_FRESH)
        er->fwd = "stale";
    return found;
}

/* only-if-cached (RFC 9111 §5.2.1.7) that the cache cannot satisfy: 504 at once, the origin untouched. */
static void answer_only_if_cached(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    static const char msg[] = "not in the cache, and the request said only-if-cached\n";
    req->res.status = 504;
    req->res.reason = "Gateway Timeout";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
    edge_deliver_cache_headers(er, 0,
                               &(edge_cache_answer_t){.outcome = er->have_rec ? EDGE_CACHE_REFRESH : EDGE_CACHE_MISS,
                                                      .fwd = er->fwd,
                                                      .detail = "only-if-cached"});
    req->res.content_length = sizeof(msg) - 1;
    h2o_send_inline(req, msg, sizeof(msg) - 1);
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

/* --- the steps: each returns the next state, or its own to suspend ---------------------------------- */

/* Answers `status` with `reason` as a text body and closes the connection: for a request that is refused
 * before anything is keyed or forwarded. */
static void refuse(edge_req_t *er, int status, const char *reason, const char *body)
{
    h2o_req_t *req = er->req;
    ++er->thread->counters.bad_requests;
    req->res.status = status;
    req->res.reason = reason;
    req->http1_is_persistent = 0;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
    req->res.content_length = strlen(body);
    h2o_send_inline(req, body, strlen(body));
}

static edge_req_state_t step_RECV(edge_req_t *er)
{
    h2o_req_t *req = er->req;
    const edge_conf_t *conf = &er->tgen->gen->conf;
    edge_req_state_t next;

    ++er->thread->counters.requests;
    size_t header_bytes = 0;
    for (size_t i = 0; i != req->headers.size; ++i)
        header_bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    if (header_bytes > MAX_REQUEST_HEADER_BYTES || req->path.len > MAX_URL_BYTES) {
        int status = req->path.len > MAX_URL_BYTES ? 414 : 431;
        const char *reason = status == 414 ? "URI Too Long" : "Request Header Fields Too Large";
        refuse(er, status, reason, reason);
        return EDGE_REQ_DONE;
    }
    /* framing (RFC 9112) before anything is keyed or forwarded, then the one normal form of the target: the
     * cache key's path and the path the origin is sent are that same string, and every later step reads it
     * from req->path (req->input.path keeps what the client sent, for the access log) */
    h2o_iovec_t target, path, query;
    edge_req_check_t verdict = edge_req_check(req, &target);
    if (verdict == EDGE_REQ_CHECK_OK && cache_key_normalize_target(&req->pool, target, &path, &query) != 0)
        verdict = EDGE_REQ_CHECK_BAD_TARGET;
    if (verdict != EDGE_REQ_CHECK_OK) {
        common_log_debug("req %p: refused: %s", (void *)er, edge_req_check_reason(verdict));
        refuse(er, 400, "Bad Request", edge_req_check_reason(verdict));
        return EDGE_REQ_DONE;
    }
    req->path_normalized = path;
    if (query.base != NULL) {
        req->path = h2o_concat(&req->pool, path, h2o_iovec_init(H2O_STRLIT("?")), query);
        req->query_at = path.len;
    } else {
        req->path = path;
        req->query_at = SIZE_MAX;
    }

    /* the site, from the normalised host, which also starts the key; then the site's behavior */
    h2o_iovec_t host;
    if (cache_key_normalize_host(&req->pool, edge_req_check_host(req), req->scheme == &H2O_URL_SCHEME_HTTPS, &host) != 0) {
        refuse(er, 400, "Bad Request", edge_req_check_reason(EDGE_REQ_CHECK_BAD_HOST));
        return EDGE_REQ_DONE;
    }
    if ((er->site = edge_site_match(conf, host.base, host.len)) == NULL) {
        edge_deliver_unknown_host(er, conf);
        return EDGE_REQ_DONE;
    }
    *h2o_req_getenv(req, H2O_STRLIT("site"), 1) = h2o_iovec_init(er->site->name, strlen(er->site->name));
    er->is_head = method_is(req, H2O_STRLIT("HEAD"));
    er->behavior = edge_site_behavior(conf, er->site, req->path_normalized.base, req->path_normalized.len);
    er->host = host;
    er->key = cache_key_build_for_host(&req->pool, host, req->path_normalized, query, &er->behavior->key);
    er->key = cache_key_add_headers(&req->pool, er->key, &er->behavior->key, &req->headers);
    er->key = edge_req_forwarded_key(er, er->key);
    cache_key_hash(er->key, &er->hash);
    *h2o_req_getenv(req, H2O_STRLIT("behavior"), 1) = h2o_iovec_init(er->behavior->path, strlen(er->behavior->path));

    if (method_is(req, H2O_STRLIT("PURGE"))) {
        edge_req_purge_answer(er);
        return EDGE_REQ_DONE;
    }
    if (edge_https_enforce(req, conf, er->behavior, host, &er->thread->counters)) /* before any lookup or fetch */
        return EDGE_REQ_DONE;
    if (!er->is_head && !method_is(req, H2O_STRLIT("GET"))) {
        er->fwd = "bypass"; /* only GET and HEAD are answered from the cache */
        return EDGE_REQ_PASS;
    }
    next = EDGE_REQ_LOOKUP;
    if (h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1) != -1) {
        /* RFC 9111 §3.5: answered from the cache only by a stored response that said public, s-maxage or
         * must-revalidate; never joined to another request's fetch; stored only when the answer says so */
        er->authorized = true;
        er->no_join = true;
    }
    if (er->behavior->ttl.honor_request_cache_control) {
        er->honor_cc = true;
        parse_request_cc(er);
        if (er->rcc.flags & CACHE_CC_NO_STORE) {
            er->fwd = "request"; /* RFC 9111 §5.2.1.5: neither answered from the cache nor stored */
            next = EDGE_REQ_PASS;
        }
    }
    return next;
}

static edge_req_state_t step_LOOKUP(edge_req_t *er)
{
    h2o_iovec_t raw;
    int ret;
    edge_req_found_t found = EDGE_REQ_FOUND_NONE;

    er->fwd = "uri-miss";
    ret = may_pin(er) ? cache_store_get_pinned(er->thread->reader, &er->hash, &raw, &er->pin) : CACHE_STORE_EBUSY;
    if (ret == CACHE_STORE_EBUSY)
        ret = cache_store_get(er->thread->reader, &er->hash, &er->req->pool, &raw);
    if (ret != 0)
        return EDGE_REQ_MISS;
    found = lookup_record(er, raw);
    if (er->honor_cc && er->have_rec)
        found = edge_req_decide_request_cc(&er->rcc, er->rec.flags, (int64_t)er->rec.lifetime, er->age, found);

    edge_req_state_t next;
    switch (found) {
    case EDGE_REQ_FOUND_FRESH:
        next = EDGE_REQ_HIT;
        break;
    case EDGE_REQ_FOUND_SWR:
        er->swr = true;
        next = EDGE_REQ_HIT;
        break;
    case EDGE_REQ_FOUND_MAX_STALE:
        er->max_stale = true;
        next = EDGE_REQ_HIT;
        break;
    case EDGE_REQ_FOUND_REFUSED:
        er->fwd = "request";
        /* fallthrough */
    case EDGE_REQ_FOUND_STALE:
        next = edge_deliver_has_validator(&er->rec) ? EDGE_REQ_REVALIDATE : EDGE_REQ_MISS;
        break;
    default:
        next = EDGE_REQ_MISS;
        break;
    }
    settle_pin(er, raw, next == EDGE_REQ_HIT);
    return next;
}

static edge_req_state_t step_HIT(edge_req_t *er)
{
    bool error_page = (er->rec.flags & CACHE_TTL_ERROR_PAGE) != 0;
    edge_cache_answer_t answer = {.outcome = error_page      ? EDGE_CACHE_HIT_ERROR_PAGE
                                             : er->swr       ? EDGE_CACHE_HIT_SWR
                                             : er->max_stale ? EDGE_CACHE_HIT_MAX_STALE
                                                             : EDGE_CACHE_HIT,
                                  .has_ttl = true,
                                  .ttl = (int64_t)er->rec.lifetime - er->age};

    if (er->swr) {
        /* one background revalidation: a fetch with no subscriber goes on into the cache, and one already
         * in flight for this object is enough */
        origin_fetch_args_t args;
        edge_req_fetch_args(er, true, &args);
        if (origin_fetch_background(&args))
            ++er->thread->counters.origin_requests;
    }
    er->hit = true;
    cache_record_t identity = er->rec;
    cache_hash_t identity_hash = er->rec_hash;
    bool identity_verify = er->verify;
    edge_deliver_choose_coding(er);
    if (er->coding != CACHE_CODING_IDENTITY && !edge_deliver_record(er, &er->rec, er->age, &answer)) {
        /* the variant's body is gone (evicted, or corrupt): drop the variant, and send the object as it is */
        cache_store_delete(er->thread->server->store, &er->rec_hash);
        er->rec = identity;
        er->rec_hash = identity_hash;
        er->verify = identity_verify;
        er->coding = CACHE_CODING_IDENTITY;
    }
    if (er->coding == CACHE_CODING_IDENTITY && !edge_deliver_record(er, &er->rec, er->age, &answer)) {
        /* the record's body is gone (evicted or corrupt): drop the record and fetch anew */
        er->hit = false;
        cache_store_delete(er->thread->server->store, &er->rec_hash);
        er->have_rec = false;
        er->fwd = "miss";
        return EDGE_REQ_MISS;
    }
    ++er->thread->counters.hits;
    if (error_page)
        ++er->thread->counters.errors;
    return EDGE_REQ_DONE;
}

static edge_req_state_t step_MISS(edge_req_t *er)
{
    if (er->honor_cc && (er->rcc.flags & CACHE_CC_ONLY_IF_CACHED)) {
        answer_only_if_cached(er);
        return EDGE_REQ_DONE;
    }
    start_fetch(er, true); /* (counted as a miss when it is answered as one: it may end STALE or ERROR) */
    return EDGE_REQ_WAIT;
}

static edge_req_state_t step_REVALIDATE(edge_req_t *er)
{
    if (er->honor_cc && (er->rcc.flags & CACHE_CC_ONLY_IF_CACHED)) {
        answer_only_if_cached(er);
        return EDGE_REQ_DONE;
    }
    start_fetch(er, true);
    return EDGE_REQ_WAIT;
}

static edge_req_state_t step_PASS(edge_req_t *er)
{
    ++er->thread->counters.passes;
    er->passed = true;
    start_fetch(er, false);
    return EDGE_REQ_WAIT;
}

static edge_req_state_t step_WAIT(edge_req_t *er)
{
    origin_fetch_t *f = er->fetch;

    if (er->client_gone) {
        /* leave the fetch (it is cancelled unless it is filling the cache), and answer into the closed
         * socket: the failed write makes libh2o close the connection and dispose of the request */
        edge_req_unsubscribe(er);
        er->req->res.status = 499; /* nginx's "client closed request", for the access log */
        er->req->res.reason = "Client Closed Request";
        er->req->res.content_length = 0;
        h2o_send_inline(er->req, "", 0);
        return EDGE_REQ_DONE;
    }
    if (!origin_fetch_head_ready(f))
        return EDGE_REQ_WAIT; /* suspended: on_fetch_head resumes */
    if (h2o_timeout_is_linked(&er->watch))
        h2o_timeout_unlink(&er->watch);
    if (er->origin_ms < 0) {
        char ms[24];
        er->origin_ms = (int64_t)(h2o_now(er->req->conn->ctx->loop) - er->fetch_started);
        if (!er->sub.joined && f->failure == 0)
            reports_hist_observe(&er->thread->origin_latency, reports_clock_us() - er->fetch_started_us);
        int n = snprintf(ms, sizeof(ms), "%lld", (long long)er->origin_ms);
        *h2o_req_getenv(er->req, H2O_STRLIT("origin-ms"), 1) = h2o_strdup(&er->req->pool, ms, (size_t)n);
    }
    if (er->sub.joined && f->variant_key.base != NULL) {
        /* a response with Vary is shared only with the requests that select the same variant */
        const h2o_iovec_t *vary = NULL;
        for (size_t i = 0; i != f->headers.size && vary == NULL; ++i)
            if (f->headers.entries[i].name == &H2O_TOKEN_VARY->buf)
                vary = &f->headers.entries[i].value;
        h2o_iovec_t mine = cache_key_variant(&er->req->pool, er->key, *vary, &er->req->headers);
        if (!h2o_memis(mine.base, mine.len, f->variant_key.base, f->variant_key.len)) {
            edge_req_unsubscribe(er);
            er->no_join = true;
            er->fwd = "vary-miss";
            start_fetch(er, true);
            return EDGE_REQ_WAIT;
        }
    }
    if (er->sub.joined && f->not_modified &&
        !(er->have_rec && h2o_memis(er->rec.key.base, er->rec.key.len, f->record.key.base, f->record.key.len))) {
        /* a 304 refreshes the object that fetch revalidated — another Vary variant, or an object this
         * request did not have: not ours to serve; revalidate (or fetch) our own, at once */
        edge_req_unsubscribe(er);
        er->no_join = true;
        start_fetch(er, true);
        return EDGE_REQ_WAIT;
    }
    if (er->sub.joined && !origin_fetch_shared(f)) {
        /* the response turned out not to be storable: it is not ours to share; fetch on our own, at once */
        edge_req_unsubscribe(er);
        er->no_join = true;
        start_fetch(er, true);
        return EDGE_REQ_WAIT;
    }
    if (f->failure != 0 || f->error_page != NULL)
        return EDGE_REQ_ERROR;
    if (f->not_modified)
        return EDGE_REQ_REFRESHED;
    if (f->status >= 500 && stale_on_error(er))
        return EDGE_REQ_ERROR; /* the stale copy is better than the origin's error (CloudFront) */
    return EDGE_REQ_DELIVER;
}

static edge_req_state_t step_DELIVER(edge_req_t *er)
{
    origin_fetch_t *f = er->fetch;
    edge_cache_answer_t answer = {.outcome = er->passed     ? EDGE_CACHE_PASS
                                             : er->have_rec ? EDGE_CACHE_REFRESH
                                                            : EDGE_CACHE_MISS,
                                  .fwd = er->fwd,
                                  .fwd_status = f->status};

    edge_req_purge_after_unsafe(er, f);
    if (f->stored) {
        answer.stored = true;
        answer.has_ttl = true;
        answer.ttl = (int64_t)(f->ttl.lifetime - f->ttl.initial_age);
        answer.collapsed = er->sub.joined;
    } else {
        answer.detail = f->ttl.why;
    }
    edge_deliver_fetch(er, &answer);
    if (!er->passed)
        ++er->thread->counters.misses;
    if (f->stored)
        ++er->thread->counters.stored_objects;
    if (er->is_head)
        edge_req_unsubscribe(er); /* a fetch that stores goes on without us */
    return EDGE_REQ_DONE;
}

static edge_req_state_t step_REFRESHED(edge_req_t *er)
{
    origin_fetch_t *f = er->fetch;
    h2o_req_t *req = er->req;

    /* copy the refreshed record out of the fetch, which we then leave */
    er->rec = f->record;
    er->rec.key = h2o_strdup(&req->pool, f->record.key.base, f->record.key.len);
    er->rec.headers = h2o_strdup(&req->pool, f->record.headers.base, f->record.headers.len);
    er->rec.vary = h2o_iovec_init(NULL, 0);
    er->rec.body = h2o_strdup(&req->pool, f->record.body.base, f->record.body.len);
    edge_req_unsubscribe(er);
    ++er->thread->counters.revalidated;
    edge_cache_answer_t answer = {.outcome = EDGE_CACHE_REVALIDATED, .has_ttl = true, .ttl = (int64_t)er->rec.lifetime};
    if (!edge_deliver_record(er, &er->rec, er->rec.initial_age, &answer))
        h2o_send_error_502(req, "Bad Gateway", "stored body unavailable", 0);
    return EDGE_REQ_DONE;
}

static edge_req_state_t step_ERROR(edge_req_t *er)
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
    if (f->error == ORIGIN_FETCH_ERR_POOL_FULL)
        ++er->thread->counters.origin_pool_full;

    if (f->failure != 0)
        ++er->thread->counters.origin_failures;

    /* the ladder: a stale copy, then the configured page, then the built-in page */
    if (stale_on_error(er)) {
        edge_cache_answer_t answer = {.outcome = EDGE_CACHE_STALE,
                                      .fwd_status = what != NULL ? 0 : origin_status,
                                      .has_ttl = true,
                                      .ttl = (int64_t)er->rec.lifetime - er->age,
                                      .detail = what != NULL ? what : "origin-error"};
        edge_req_unsubscribe(er);
        if (edge_deliver_record(er, &er->rec, er->age, &answer)) {
            ++er->thread->counters.stale_served;
            return EDGE_REQ_DONE;
        }
        req->res.headers = (h2o_headers_t){NULL}; /* deliver_record added nothing, but be sure */
    }
    edge_req_unsubscribe(er);
    ++er->thread->counters.errors;
    int status;
    h2o_iovec_t body;
    if (page != NULL) {
        status = page->response_code != 0 ? page->response_code : origin_status;
        body = h2o_iovec_init(page->body, page->body_len);
    } else {
        const errorpages_page_t *builtin = errorpages_for_status(origin_status);
        status = origin_status;
        body = builtin != NULL ? h2o_iovec_init(builtin->body, builtin->len) : h2o_iovec_init(H2O_STRLIT("origin error\n"));
    }
    edge_cache_answer_t answer = {.outcome = EDGE_CACHE_ERROR,
                                  .fwd = er->fwd,
                                  .fwd_status = what != NULL ? 0 : origin_status,
                                  .detail = what != NULL ? what : "error-page"};
    edge_deliver_error_page(er, status, body, &answer);
    return EDGE_REQ_DONE;
}

static edge_req_state_t step_DONE(edge_req_t *er)
{
    return EDGE_REQ_DONE; /* nothing left: stays suspended until the request is disposed */
}

static edge_req_state_t (*const steps[])(edge_req_t *) = {
#define EDGE_REQ_STEP_FN(name) step_##name,
    EDGE_REQ_STATES(EDGE_REQ_STEP_FN)
#undef EDGE_REQ_STEP_FN
};

/* Runs steps until one suspends (returns its own state); every transition is checked against the table
 * first, so a step that returns a state the graph does not have is caught here, not downstream. */
static void run(edge_req_t *er)
{
    for (;;) {
        assert(er->magic == EDGE_REQ_MAGIC);
        common_log_debug("req %p %.*s: %s", (void *)er, (int)er->req->path.len, er->req->path.base, edge_req_state_name(er->state));
        edge_req_state_t next = steps[er->state](er);
        if (next == er->state)
            return;
        if (!edge_req_transition_allowed(er->state, next)) {
            common_log_error("req %p: transition %s -> %s is not in the graph", (void *)er, edge_req_state_name(er->state),
                             edge_req_state_name(next));
            assert(!"a step returned a transition the graph does not have");
        }
        er->state = next;
    }
}

/* --- the handler ------------------------------------------------------------------------------------- */

static void on_dispose(void *p)
{
    edge_req_t *er = p;
    const edge_conf_t *conf = &er->tgen->gen->conf;
    /* not answered yet, or the answer not complete (libh2o clears _generator with the final send): on HTTP/2,
     * the client reset the stream — counted per connection, and too many close it (edge/h2_resets.c) */
    edge_h2_resets_note(er->req, er->state != EDGE_REQ_DONE || er->req->_generator != NULL, conf->limits.h2_reset_limit,
                        conf->limits.h2_reset_window_ms, &er->thread->counters);
    edge_account_request(er);
    unpin(er); /* libh2o has written everything that pointed into the map */
    edge_deliver_release(er);
    if (h2o_timeout_is_linked(&er->watch))
        h2o_timeout_unlink(&er->watch);
    edge_req_unsubscribe(er);
    edge_tgen_release(er->tgen);
    er->magic = 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    if (edge_h2_resets_closing(req)) {
        /* the rest of an abusive connection's last read: no fetch for it, the connection is going away */
        h2o_send_error_503(req, "Service Unavailable", "connection closing\n", H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
        return 0;
    }
    edge_gen_adopt(edge_thread_of(req));
    if (edge_lifecycle_answer_healthz(edge_thread_of(req), req))
        return 0;
    edge_req_t *er = h2o_mem_alloc_shared(&req->pool, sizeof(*er), on_dispose);

    memset(er, 0, sizeof(*er));
    edge_deliver_init(er);
    er->magic = EDGE_REQ_MAGIC;
    er->state = EDGE_REQ_RECV;
    er->req = req;
    er->thread = edge_thread_of(req);
    er->tgen = edge_tgen_hold(er->thread);
    er->origin_ms = -1; /* (no origin exchange until start_fetch) */
    run(er);
    return 0;
}

void edge_req_fsm_register(h2o_pathconf_t *pathconf)
{
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req;
}
