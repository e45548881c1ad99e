/*
 * origin/fetch.c: the origin fetch state machine (see fetch.h for the states and their graph).
 *
 * The states and the transitions allowed between them are one table (`transitions` below), and the
 * state changes only through fetch_goto, which checks the table: a transition it does not list is a
 * bug and stops the process. The callbacks (the origin client's head, body and done, the zero timeout)
 * check the fetch's magic on entry, decide what happened — an event and, when it is an error, its
 * identity (origin_fetch_error_t) — and go to the next state; they never recognise an error by its text.
 *
 * Ownership. A fetch is reference-counted (atomically): one reference for the origin exchange while it
 * runs, one per subscriber, one per control message queued to the owner, and one held around every loop
 * over the subscribers (a callback may unsubscribe, even the last one). It is freed when the count
 * reaches zero, on whichever loop that happens; by then the exchange is over and no timer is linked.
 *
 * Threads. Everything the owner's origin exchange touches runs on the owner's loop. What subscribers on
 * other loops may read or change — the subscriber list, the blocks, `received`, `state` and the head —
 * is guarded by `mutex` (recursive: callbacks of subscribers on the owner's loop run with it held and
 * call back into peek/consume). The head fields are written before the state reaches BODY (or FAILED)
 * and never after, so once origin_fetch_head_ready() has said true they may be read without the lock.
 * Lock order: a fetch's mutex, then the in-flight table's, then a libh2o message queue's.
 *
 * Invariants that are easy to break:
 * - The exchange with an http(s) origin is an origin_client (origin/client.h): its on_head, on_body and
 *   on_done are the HEAD and BODY states' events, and its error values are mapped to ours in one place
 *   (error_of). A cancel requested while we are inside a client callback (a subscriber on this loop
 *   leaving during fetch_notify) is recorded, and the callback cancels its client when the subscribers'
 *   calls have returned; `f->client` is NULL from the moment the client is cancelled or ends.
 * - The record of a chunked body is queued after its last chunk, and only when the body is complete.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/log.h"
#include "errorpages/errorpages.h"
#include "origin/fetch_int.h"

/* --- the states and the transition table ------------------------------------------------------- */

static const char *const state_names[ORIGIN_FETCH_NUM_STATES] = {
    [ORIGIN_FETCH_ROUTE] = "ROUTE", [ORIGIN_FETCH_CONNECT] = "CONNECT", [ORIGIN_FETCH_HEAD] = "HEAD",
    [ORIGIN_FETCH_BODY] = "BODY",   [ORIGIN_FETCH_DONE] = "DONE",       [ORIGIN_FETCH_FAILED] = "FAILED"};

/* transitions[from][to]: the graph drawn in fetch.h */
static const bool transitions[ORIGIN_FETCH_NUM_STATES][ORIGIN_FETCH_NUM_STATES] = {
    /* ROUTE → ROUTE: a failover decided before any connection (no server of the primary is up) */
    [ORIGIN_FETCH_ROUTE] = {[ORIGIN_FETCH_ROUTE] = true,
                            [ORIGIN_FETCH_CONNECT] = true,
                            [ORIGIN_FETCH_BODY] = true, /* file:// */
                            [ORIGIN_FETCH_FAILED] = true},
    [ORIGIN_FETCH_CONNECT] = {[ORIGIN_FETCH_ROUTE] = true, [ORIGIN_FETCH_HEAD] = true, [ORIGIN_FETCH_FAILED] = true},
    [ORIGIN_FETCH_HEAD] = {[ORIGIN_FETCH_ROUTE] = true, [ORIGIN_FETCH_BODY] = true, [ORIGIN_FETCH_FAILED] = true},
    [ORIGIN_FETCH_BODY] = {[ORIGIN_FETCH_DONE] = true, [ORIGIN_FETCH_FAILED] = true},
};

static const char *const error_names[ORIGIN_FETCH_NUM_ERRORS] = {
    [ORIGIN_FETCH_OK] = "ok",
    [ORIGIN_FETCH_ERR_CONNECT] = "connect",
    [ORIGIN_FETCH_ERR_TIMEOUT_CONNECT] = "timeout-connect",
    [ORIGIN_FETCH_ERR_NO_SERVER] = "no-server",
    [ORIGIN_FETCH_ERR_TIMEOUT_READ] = "timeout-read",
    [ORIGIN_FETCH_ERR_RESET] = "reset",
    [ORIGIN_FETCH_ERR_TRUNCATED] = "truncated",
    [ORIGIN_FETCH_ERR_POOL_FULL] = "pool-full",
    [ORIGIN_FETCH_ERR_MALFORMED] = "malformed",
    [ORIGIN_FETCH_ERR_BAD_FRAMING] = "bad-framing",
    [ORIGIN_FETCH_ERR_FILE_READ] = "file-read",
    [ORIGIN_FETCH_ERR_CANCELLED] = "cancelled",
};

bool origin_fetch_transition_allowed(origin_fetch_state_t from, origin_fetch_state_t to)
{
    return from < ORIGIN_FETCH_NUM_STATES && to < ORIGIN_FETCH_NUM_STATES && transitions[from][to];
}

const char *origin_fetch_state_name(origin_fetch_state_t state)
{
    return state < ORIGIN_FETCH_NUM_STATES ? state_names[state] : "?";
}

const char *origin_fetch_error_name(origin_fetch_error_t error)
{
    return error < ORIGIN_FETCH_NUM_ERRORS ? error_names[error] : "?";
}

unsigned origin_fetch_error_failure(origin_fetch_error_t error)
{
    switch (error) {
    case ORIGIN_FETCH_OK:
        return 0;
    case ORIGIN_FETCH_ERR_TIMEOUT_READ:
        return ERRORPAGES_FAIL_TIMEOUT;
    case ORIGIN_FETCH_ERR_RESET:
    case ORIGIN_FETCH_ERR_TRUNCATED:
    case ORIGIN_FETCH_ERR_MALFORMED:
    case ORIGIN_FETCH_ERR_BAD_FRAMING:
        return ERRORPAGES_FAIL_RESET; /* the origin answered, but nothing usable: 502 */
    default:                          /* no connection to the origin, however it came about (a connect timeout included) */
        return ERRORPAGES_FAIL_CONNECT;
    }
}

/* The one place the state changes. Takes the fetch's lock (recursive), so a subscriber on another loop
 * sees the head complete whenever it sees a state past HEAD. */
void fetch_goto(fetch_t *f, origin_fetch_state_t to)
{
    pthread_mutex_lock(&f->mutex);
    origin_fetch_state_t from = f->super.state;
    if (!origin_fetch_transition_allowed(from, to)) {
        common_log_error("origin fetch %p: %s -> %s is not a transition of the fetch state machine", (void *)f,
                         origin_fetch_state_name(from), origin_fetch_state_name(to));
        h2o_fatal("origin fetch: transition not in the table");
    }
    f->super.state = to;
    pthread_mutex_unlock(&f->mutex);
}

/* --- the in-flight table: key hash → fetch, for collapsing ---------------------------------------- */

static cache_inflight_t inflight = CACHE_INFLIGHT_INITIALIZER;

static fetch_t *fetch_of_entry(cache_inflight_entry_t *e)
{
    return fetch_checked(H2O_STRUCT_FROM_MEMBER(fetch_t, inflight, e));
}

/* Takes the fetch out of the table (idempotent); called with f->mutex held or on the owner's loop. */
void fetch_table_remove(fetch_t *f)
{
    cache_inflight_remove(&inflight, &f->inflight);
}

/* --- helpers ------------------------------------------------------------------------------------ */

int64_t fetch_now_sec(fetch_t *f)
{
    return (int64_t)(h2o_now(f->args.loop) / 1000);
}

bool fetch_idempotent(fetch_t *f)
{
    return h2o_memis(f->args.method.base, f->args.method.len, H2O_STRLIT("GET")) ||
           h2o_memis(f->args.method.base, f->args.method.len, H2O_STRLIT("HEAD")) ||
           h2o_memis(f->args.method.base, f->args.method.len, H2O_STRLIT("OPTIONS"));
}

void fetch_retain(fetch_t *f)
{
    atomic_fetch_add(&f->refcnt, 1);
}

void origin_fetch_filter_headers(h2o_mem_pool_t *pool, h2o_headers_t *dst, const h2o_header_t *src, size_t num,
                                 const char *const *also_drop)
{
    static const char *const hop_by_hop[] = {"connection", "keep-alive",        "proxy-connection", "te",
                                             "trailer",    "transfer-encoding", "upgrade",          NULL};

    for (size_t i = 0; i != num; ++i) {
        const h2o_iovec_t *name = src[i].name;
        bool drop = false;
        for (const char *const *d = hop_by_hop; *d != NULL && !drop; ++d)
            drop = h2o_memis(name->base, name->len, *d, strlen(*d));
        for (const char *const *d = also_drop; d != NULL && *d != NULL && !drop; ++d)
            drop = h2o_memis(name->base, name->len, *d, strlen(*d));
        /* RFC 9110 §7.6.1: the fields a Connection option names are hop-by-hop too, whichever of
         * several Connection lines names them */
        for (size_t j = 0; j != num && !drop; ++j)
            if (h2o_memis(src[j].name->base, src[j].name->len, H2O_STRLIT("connection")))
                drop = h2o_contains_token(src[j].value.base, src[j].value.len, name->base, name->len, ',');
        if (!drop) {
            h2o_vector_reserve(pool, dst, dst->size + 1);
            dst->entries[dst->size++] = src[i];
        }
    }
}

static const h2o_iovec_t *find(const h2o_headers_t *headers, const char *name, size_t len)
{
    for (size_t i = 0; i != headers->size; ++i)
        if (h2o_memis(headers->entries[i].name->base, headers->entries[i].name->len, name, len))
            return &headers->entries[i].value;
    return NULL;
}

/* --- the record --------------------------------------------------------------------------------- */

/* What cache/build.c needs to know of this request, as of now. */
static cache_build_t builder(fetch_t *f)
{
    return (cache_build_t){.pool = &f->super.pool,
                           .store = f->args.store,
                           .hash = &f->args.hash,
                           .key = f->args.key,
                           .client_headers = &f->client_headers,
                           .request_time = f->request_time,
                           .response_time = fetch_now_sec(f),
                           .age = f->age_value,
                           .purge_seq = f->purge_seq};
}

/* The body is complete: queue the last chunk and the record. */
void fetch_store_complete(fetch_t *f)
{
    cache_build_t b = builder(f);
    cache_record_t rec = {.status = (uint16_t)f->super.status, .key = f->args.key, .body_len = f->super.received};
    cache_build_fill_times(&b, &rec, &f->super.ttl);
    cache_build_encode_headers(&b, &f->super.headers, &rec.headers, &rec.vary);
    if (f->chunks_stored == 0 && f->super.received <= FETCH_BLOCK_SIZE) {
        if (f->blocks.size != 0)
            rec.body = h2o_iovec_init(f->blocks.entries[0].data, f->blocks.entries[0].len);
    } else {
        fetch_block_t *last = f->blocks.entries + f->blocks.size - 1;
        if (f->chunks_stored < f->blocks.size) /* the last, partial chunk */
            cache_store_put_chunk(f->args.store, f->oid, f->chunks_stored++, last->data, last->len);
        rec.oid = f->oid;
        rec.chunk_size = FETCH_BLOCK_SIZE;
    }
    bool compress = f->super.compressible && cache_compress_length_ok(f->super.received);
    if (compress)
        rec.flags |= CACHE_TTL_COMPRESSIBLE;
    cache_build_put(&b, &rec, &f->super.headers);
    if (compress) {
        /* the variants are made off this loop, from the object as queued (the body may not all be in memory) */
        h2o_iovec_t key = f->super.variant_key.base != NULL ? f->super.variant_key : f->args.key;
        cache_hash_t hash;
        cache_key_hash(key, &hash);
        cache_compress_submit(f->args.compressor, &hash, key, f->purge_seq);
    }
}

/* Caches a configured error page in place of the origin's answer, as CloudFront does. */
static void store_error_page(fetch_t *f, const errorpages_rule_t *page, int origin_status)
{
    cache_build_t b = builder(f);
    cache_build_put_error_page(&b, page->response_code != 0 ? page->response_code : origin_status,
                               h2o_iovec_init(page->body, page->body_len), page->error_caching_min_ttl);
}

/* --- the response head -------------------------------------------------------------------------- */

static const errorpages_rule_t *error_page_for(fetch_t *f, int status, unsigned failure)
{
    return errorpages_rule_find(f->args.error_pages, f->args.num_error_pages, status, failure);
}

/* A stale object may stand in for an origin error unless it forbids it (RFC 9111 §4.2.4). */
static bool stale_usable(fetch_t *f)
{
    return f->has_stale && cache_ttl_may_serve_stale(f->stale.flags);
}

/* Decides what becomes of the response once its head is in (304 refresh, error page, store or pass),
 * then publishes the head: HEAD (or ROUTE, for file://) → BODY. */
void fetch_head_decided(fetch_t *f)
{
    origin_fetch_t *o = &f->super;
    bool storable_request = f->args.store != NULL;

    if (storable_request && f->has_stale && o->status == 304) {
        cache_build_t b = builder(f);
        o->not_modified = true;
        cache_build_refresh(&b, &f->stale, &o->headers, f->args.ttl_rules, &o->ttl, &o->record);
    } else if ((o->error_page = error_page_for(f, o->status, 0)) != NULL) {
        if (storable_request && !(o->status >= 500 && stale_usable(f)))
            store_error_page(f, o->error_page, o->status);
    } else if (storable_request && !(o->status >= 500 && stale_usable(f))) {
        cache_build_t b = builder(f);
        cache_ttl_in_t in;
        cache_build_ttl_input(&b, o->status, &o->headers, &in);
        cache_ttl_decide(&in, f->args.ttl_rules, &o->ttl);
        if (o->ttl.store && f->close_delimited) {
            o->ttl.store = false;
            o->ttl.why = "close-delimited"; /* a truncated body would look complete */
        }
        o->stored = f->storing = o->ttl.store;
        o->initial_age = o->ttl.initial_age;
        o->compressible = o->stored && f->args.compress != NULL && f->args.compressor != NULL &&
                          cache_compress_eligible(f->args.compress, o->status, &o->headers) &&
                          (o->content_length < 0 || cache_compress_length_ok((uint64_t)o->content_length));
        const h2o_iovec_t *vary = find(&o->headers, H2O_STRLIT("vary"));
        if (o->stored && vary != NULL)
            o->variant_key = cache_key_variant(&o->pool, f->args.key, *vary, &f->client_headers);
    }
    pthread_mutex_lock(&f->mutex);
    if (!o->stored && !o->not_modified && o->error_page == NULL)
        fetch_table_remove(f);        /* not shareable: later misses must not join it */
    fetch_goto(f, ORIGIN_FETCH_BODY); /* publishes the head: it is immutable from here on */
    pthread_mutex_unlock(&f->mutex);
    fetch_notify(f);
}

/* --- the state machine's entry points --------------------------------------------------------------- */

/* On the loop's zero timeout: ROUTE (start, retry, failover) or, in BODY, the next block of a file. */
static void on_defer(h2o_timeout_entry_t *entry)
{
    fetch_t *f = fetch_checked(H2O_STRUCT_FROM_MEMBER(fetch_t, defer, entry));

    if (f->super.state == ORIGIN_FETCH_DONE || f->super.state == ORIGIN_FETCH_FAILED)
        return;
    if (f->file_reading) {
        fetch_file_read(f);
    } else if (f->cancel_requested) {
        fetch_fail(f, ORIGIN_FETCH_ERR_CANCELLED, "cancelled");
    } else {
        if (!f->target_chosen)
            fetch_route_choose(f);
        if (f->args.file_roots[f->origin] != NULL)
            fetch_file_start(f);
        else
            fetch_route_connect(f);
    }
}

/* Before the head → FAILED, published to the subscribers (with a configured error page, stored). */
void fetch_fail(fetch_t *f, origin_fetch_error_t error, const char *errstr)
{
    origin_fetch_t *o = &f->super;
    unsigned failure = origin_fetch_error_failure(error);

    o->failure = failure;
    o->error = error;
    o->errstr = errstr;
    if (error != ORIGIN_FETCH_ERR_CANCELLED)
        common_log_warn("origin: %.*s %.*s: %s", (int)f->args.method.len, f->args.method.base, (int)f->args.path.len,
                        f->args.path.base, errstr);
    o->error_page = error_page_for(f, 0, failure);
    if (o->error_page != NULL && f->args.store != NULL && !stale_usable(f))
        store_error_page(f, o->error_page, failure == ERRORPAGES_FAIL_TIMEOUT ? 504 : 502);
    pthread_mutex_lock(&f->mutex);
    fetch_goto(f, ORIGIN_FETCH_FAILED); /* publishes the outcome */
    fetch_table_remove(f);
    pthread_mutex_unlock(&f->mutex);
    fetch_notify(f);
    fetch_end_exchange(f);
}

static h2o_header_t *copy_headers(h2o_mem_pool_t *pool, const h2o_header_t *src, size_t num)
{
    h2o_header_t *dst = h2o_mem_alloc_pool(pool, sizeof(*dst) * (num != 0 ? num : 1));
    for (size_t i = 0; i != num; ++i) {
        dst[i].name = src[i].name;
        if (!h2o_iovec_is_token(src[i].name)) {
            h2o_iovec_t *n = h2o_mem_alloc_pool(pool, sizeof(*n));
            *n = h2o_strdup(pool, src[i].name->base, src[i].name->len);
            dst[i].name = n;
        }
        dst[i].orig_name = NULL;
        dst[i].value = h2o_strdup(pool, src[i].value.base, src[i].value.len);
    }
    return dst;
}

/* A new fetch in ROUTE, holding the exchange's reference; nothing runs until its zero timeout is linked. */
static fetch_t *create(const origin_fetch_args_t *args)
{
    fetch_t *f = h2o_mem_alloc(sizeof(*f));
    h2o_mem_pool_t *pool = &f->super.pool;
    pthread_mutexattr_t attr;

    memset(f, 0, sizeof(*f));
    f->super.magic = ORIGIN_FETCH_MAGIC;
    f->super.state = ORIGIN_FETCH_ROUTE; /* the initial state: the only write of `state` outside fetch_goto */
    f->super.content_length = -1;
    h2o_mem_init_pool(pool);
    atomic_init(&f->refcnt, 1);
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&f->mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    f->ctl.kind = WAKE_OWNER;
    f->ctl.fetch = f;
    atomic_init(&f->ctl.queued, false);
    f->inflight.hash = args->hash;
    f->active = true;
    f->file_fd = -1;
    f->server = SIZE_MAX;
    f->age_value = -1;
    h2o_linklist_init_anchor(&f->subs);
    f->defer.cb = on_defer;

    /* the fetch may outlive the request that started it: copy what it refers to */
    f->args = *args;
    if (args->hold != NULL)
        args->hold(args->hold_data);
    f->args.method = h2o_strdup(pool, args->method.base, args->method.len);
    f->args.path = h2o_strdup(pool, args->path.base, args->path.len);
    if (args->host.base != NULL)
        f->args.host = h2o_strdup(pool, args->host.base, args->host.len);
    f->args.headers = copy_headers(pool, args->headers, args->num_headers);
    f->args.body = args->body.len != 0 ? h2o_strdup(pool, args->body.base, args->body.len) : h2o_iovec_init(NULL, 0);
    f->args.key = h2o_strdup(pool, args->key.base, args->key.len);
    if (args->client_headers != NULL) {
        f->client_headers.entries = copy_headers(pool, args->client_headers->entries, args->client_headers->size);
        f->client_headers.size = f->client_headers.capacity = args->client_headers->size;
    }
    if (args->stale != NULL) {
        f->has_stale = true;
        f->stale = *args->stale;
        f->stale.key = h2o_strdup(pool, args->stale->key.base, args->stale->key.len);
        f->stale.headers = h2o_strdup(pool, args->stale->headers.base, args->stale->headers.len);
        f->stale.vary = h2o_strdup(pool, args->stale->vary.base, args->stale->vary.len);
        f->stale.body = h2o_strdup(pool, args->stale->body.base, args->stale->body.len);
    }
    f->args.client_headers = NULL;
    f->args.stale = NULL;
    return f;
}

origin_fetch_t *origin_fetch_start(const origin_fetch_args_t *args)
{
    fetch_t *f = create(args);
    if (f->args.store != NULL)
        cache_inflight_add(&inflight, &f->inflight);
    h2o_timeout_link(args->loop, args->zero_timeout, &f->defer);
    return &f->super;
}

/* For cache_inflight_find_or_add: with the table locked, a listed fetch is alive (its exchange holds a
 * reference until it leaves the table), so the reference taken here is safe. */
static void on_found(cache_inflight_entry_t *e, void *ctx)
{
    fetch_retain(fetch_of_entry(e));
}

static cache_inflight_entry_t *make(void *ctx)
{
    return &create(ctx)->inflight;
}

/* Subscribes `sub` to `f` if it can still be shared from its first byte; drops the caller's reference. */
static bool try_join(fetch_t *f, origin_fetch_sub_t *sub)
{
    origin_fetch_t *o = &f->super;
    pthread_mutex_lock(&f->mutex);
    bool ok = cache_inflight_listed(&f->inflight) && o->state != ORIGIN_FETCH_FAILED && f->first_block == 0 &&
              (!fetch_head_published(o->state) || o->stored || o->not_modified || o->error_page != NULL);
    if (ok) {
        sub->joined = true;
        fetch_subscribe_locked(f, sub);
    }
    pthread_mutex_unlock(&f->mutex);
    fetch_release(f);
    return ok;
}

bool origin_fetch_background(const origin_fetch_args_t *args)
{
    bool added;
    cache_inflight_entry_t *e = cache_inflight_find_or_add(&inflight, &args->hash, on_found, make, (void *)args, &added);
    fetch_t *f = fetch_of_entry(e);

    if (!added) {
        fetch_release(f);
        return false;
    }
    h2o_timeout_link(args->loop, args->zero_timeout, &f->defer);
    return true;
}

origin_fetch_t *origin_fetch_join_or_start(const origin_fetch_args_t *args, origin_fetch_sub_t *sub)
{
    /* look up and, when nothing is in flight, list a new fetch in one critical section: two loops that
     * miss at the same moment must not both start one */
    bool added;
    cache_inflight_entry_t *e = cache_inflight_find_or_add(&inflight, &args->hash, on_found, make, (void *)args, &added);
    fetch_t *f = fetch_of_entry(e);

    if (!added) {
        if (try_join(f, sub))
            return &f->super;
        /* the one in flight can no longer be shared from its start: a fetch of our own */
        origin_fetch_t *own = origin_fetch_start(args);
        origin_fetch_subscribe(own, sub);
        return own;
    }
    h2o_timeout_link(args->loop, args->zero_timeout, &f->defer);
    origin_fetch_subscribe(&f->super, sub);
    return &f->super;
}

bool origin_fetch_head_ready(origin_fetch_t *fetch)
{
    fetch_t *f = fetch_checked(fetch);
    pthread_mutex_lock(&f->mutex);
    bool ready = fetch_head_published(fetch->state);
    pthread_mutex_unlock(&f->mutex);
    return ready;
}

bool origin_fetch_shared(origin_fetch_t *fetch)
{
    fetch_checked(fetch);
    return fetch->stored || fetch->not_modified || fetch->error_page != NULL || fetch->failure != 0;
}

/* Whether nobody wants the rest: then the exchange stops, unless it is filling the cache (or may: before
 * the head, a fetch with a store goes on to learn whether it can). Called with f->mutex held. */
bool fetch_unwanted(fetch_t *f)
{
    origin_fetch_t *o = &f->super;
    if (!h2o_linklist_is_empty(&f->subs) || !f->active) {
        fetch_background_leave(f); /* a client joined it again: it no longer counts as a background fetch */
        return false;
    }
    /* going on without a client also takes a place under the cap (fetch_background_admit) */
    if (!fetch_head_published(o->state))
        return f->args.store == NULL || !fetch_background_admit(f);
    /* the last client left: go on filling the cache only for a body of at most background_fetch_max */
    uint64_t max = f->args.background_fetch_max;
    uint64_t size = o->content_length >= 0 ? (uint64_t)o->content_length : o->received;
    return !(o->state == ORIGIN_FETCH_BODY && f->storing && size <= max && fetch_background_admit(f));
}

/* On the owner's loop: cancel an unwanted exchange, or resume a paused one. */
void fetch_owner_check(fetch_t *f)
{
    origin_fetch_t *o = &f->super;

    pthread_mutex_lock(&f->mutex);
    bool cancel = fetch_unwanted(f);
    if (!cancel) {
        fetch_release_blocks(f);
        fetch_resume_if_caught_up(f);
    }
    pthread_mutex_unlock(&f->mutex);
    if (!cancel)
        return;
    if (f->in_client_cb) {
        f->cancel_requested = true;
    } else if (f->client != NULL) {
        origin_client_cancel(f->client);
        f->client = NULL;
        if (!fetch_head_published(o->state)) {
            /* nobody to tell: the outcome is not published (no log, no error page) */
            pthread_mutex_lock(&f->mutex);
            o->error = ORIGIN_FETCH_ERR_CANCELLED;
            o->errstr = "cancelled";
            fetch_goto(f, ORIGIN_FETCH_FAILED);
            fetch_table_remove(f);
            pthread_mutex_unlock(&f->mutex);
            fetch_end_exchange(f);
        } else {
            fetch_finish_body(f, ORIGIN_FETCH_ERR_CANCELLED, "cancelled");
        }
    } else {
        f->cancel_requested = true; /* a file read or a deferred connect notices it */
    }
}

void fetch_release(fetch_t *f)
{
    if (atomic_fetch_sub(&f->refcnt, 1) != 1)
        return;
    /* the exchange is over (end_exchange unlinked its timers) and nothing is queued for it */
    assert(!f->active);
    if (f->client != NULL)
        origin_client_cancel(f->client);
    if (f->file_fd >= 0)
        close(f->file_fd);
    for (size_t i = 0; i != f->blocks.size; ++i)
        free(f->blocks.entries[i].data);
    free(f->blocks.entries);
    for (size_t i = 0; i != f->retired.size; ++i)
        free(f->retired.entries[i]);
    free(f->retired.entries);
    pthread_mutex_destroy(&f->mutex);
    f->super.magic = 0;
    void (*release)(void *) = f->args.release;
    void *hold_data = f->args.hold_data;
    h2o_mem_clear_pool(&f->super.pool);
    free(f);
    if (release != NULL)
        release(hold_data);
}
