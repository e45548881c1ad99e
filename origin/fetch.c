/*
 * origin/fetch.c: the origin fetch state machine (see fetch.h for the states).
 *
 * Ownership. A fetch is reference-counted (atomically): one reference for the origin exchange while it
 * runs, one per subscriber, one per control message queued to the owner, and one held around every loop
 * over the subscribers (a callback may unsubscribe, even the last one). It is freed when the count
 * reaches zero, on whichever loop that happens; by then the exchange is over and no timer is linked.
 *
 * Threads. Everything the owner's origin exchange touches runs on the owner's loop. What subscribers on
 * other loops may read or change — the subscriber list, the blocks, `received`, `state` and the head —
 * is guarded by `mutex` (recursive: callbacks of subscribers on the owner's loop run with it held and
 * call back into peek/consume). The head fields are written before `state` leaves CONNECT and never
 * after, so once origin_fetch_head_ready() has said true they may be read without the lock. Lock order:
 * a fetch's mutex, then the in-flight table's, then a libh2o message queue's.
 *
 * Invariants that are easy to break:
 * - Only one thing ever calls into libh2o's HTTP client from inside its own callbacks: the return value.
 *   A cancel requested while we are inside a client callback is recorded and answered by returning
 *   non-zero, never by h2o_http1client_cancel (which would free the client under its own feet).
 * - The record of a chunked body is queued after its last chunk, and only when the body is complete.
 * - Body blocks are CACHE_STORE_CHUNK_SIZE bytes and aligned on chunk boundaries, so block i is chunk i.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "common/log.h"
#include "errorpages/errorpages.h"
#include "origin/fetch.h"

#define BLOCK_SIZE CACHE_STORE_CHUNK_SIZE
#define WINDOW (4 * BLOCK_SIZE) /* the most a subscriber may lag behind the origin before it is paused */

typedef struct st_block_t {
    uint8_t *data;
    size_t len;
} block_t;

typedef enum en_wakeup_kind_t { WAKE_SUB, WAKE_OWNER } wakeup_kind_t;

/* A message to a loop: wake a subscriber there, or ask the owner to re-check (cancel, resume). */
typedef struct st_origin_fetch_wakeup_t {
    h2o_multithread_message_t super;
    wakeup_kind_t kind;
    origin_fetch_sub_t *sub;  /* WAKE_SUB: NULL once the subscriber has left (the receiver frees it) */
    struct st_fetch_t *fetch; /* WAKE_OWNER */
    atomic_bool queued;
} wakeup_t;

typedef struct st_fetch_t {
    origin_fetch_t super;
    atomic_uint refcnt;
    pthread_mutex_t mutex;
    wakeup_t ctl; /* the owner's control message; holds a reference while queued */
    bool in_table;
    origin_fetch_args_t args; /* pointers inside refer to copies in super.pool */
    h2o_headers_t client_headers;
    cache_record_t stale;
    bool has_stale;
    h2o_linklist_t subs;
    h2o_timeout_entry_t defer; /* on the loop's zero timeout: start, or the next file read */
    h2o_timeout_entry_t connect_timer;
    h2o_timeout_entry_t read_timer; /* read_timeout: until the head, and between reads while not paused */
    unsigned attempts;              /* connection attempts made to the current origin */
    bool retried_reset;             /* one retry after a reset before any response byte */
    size_t origin;                  /* the origin being tried: args.origin_index, or a group's secondary */
    bool target_chosen;             /* origin is decided (the breaker was asked) */
    bool on_secondary;              /* failed over (or the breaker skipped the primary) */
    size_t server;                  /* the server of the current attempt, or SIZE_MAX */
    uint64_t exclude;               /* servers that failed to connect for this request */
    h2o_http1client_t *client;
    h2o_iovec_t reqbufs[2];
    bool in_client_cb;
    bool cancel_requested;
    bool paused;
    h2o_socket_cb saved_read;
    int file_fd;
    bool file_reading;
    bool active;  /* the origin exchange still holds its reference */
    bool storing; /* chunks go to the store (super.stored, until the body fails) */
    bool close_delimited;
    int64_t age_value; /* the origin's Age header (it is not forwarded: we send our own), -1 when absent */
    int64_t request_time;
    uint64_t purge_seq; /* the store's invalidations made when the request went out: later ones may bar the response */
    /* body */
    H2O_VECTOR(block_t) blocks;
    size_t first_block; /* blocks before this one are freed */
    uint64_t oid;       /* 0 until the first chunk goes to the store */
    uint32_t chunks_stored;
} fetch_t;

static void release(fetch_t *f);
static void fail(fetch_t *f, unsigned failure, const char *errstr);
static void finish_body(fetch_t *f, const char *errstr);
static void owner_check(fetch_t *f);
static bool unwanted(fetch_t *f);
static void retain(fetch_t *f);
static void origin_failed(fetch_t *f, unsigned failure, const char *errstr);
static void failover(fetch_t *f, const char *why);
static void breaker_report(fetch_t *f, bool ok);

/* --- the in-flight table: key hash → fetch, for collapsing ---------------------------------------- */

#define TABLE_SIZE 1024 /* buckets; chains are short: only fetches in flight are listed */

typedef struct st_table_entry_t {
    struct st_table_entry_t *next;
    fetch_t *fetch;
} table_entry_t;

static pthread_mutex_t table_mutex = PTHREAD_MUTEX_INITIALIZER;
static table_entry_t *table[TABLE_SIZE];

static size_t bucket_of(const cache_hash_t *h)
{
    return ((size_t)h->bytes[0] << 8 | h->bytes[1]) % TABLE_SIZE;
}

/* With table_mutex held. */
static void table_add_locked(fetch_t *f)
{
    table_entry_t *e = h2o_mem_alloc(sizeof(*e));
    size_t b = bucket_of(&f->args.hash);
    e->fetch = f;
    e->next = table[b];
    table[b] = e;
    f->in_table = true;
}

/* With table_mutex held: the listed fetch for `hash`, retained, or NULL. A listed fetch is alive: its
 * exchange holds a reference until it leaves the table. */
static fetch_t *table_find_locked(const cache_hash_t *hash)
{
    for (table_entry_t *e = table[bucket_of(hash)]; e != NULL; e = e->next) {
        if (memcmp(e->fetch->args.hash.bytes, hash->bytes, sizeof(hash->bytes)) == 0) {
            retain(e->fetch);
            return e->fetch;
        }
    }
    return NULL;
}

/* Takes the fetch out of the table (idempotent); called with f->mutex held or on the owner's loop. */
static void table_remove(fetch_t *f)
{
    if (!f->in_table)
        return;
    pthread_mutex_lock(&table_mutex);
    for (table_entry_t **p = &table[bucket_of(&f->args.hash)]; *p != NULL; p = &(*p)->next) {
        if ((*p)->fetch == f) {
            table_entry_t *e = *p;
            *p = e->next;
            free(e);
            break;
        }
    }
    f->in_table = false;
    pthread_mutex_unlock(&table_mutex);
}

/* --- helpers ------------------------------------------------------------------------------------ */

static int64_t now_sec(fetch_t *f)
{
    return (int64_t)(h2o_now(f->args.loop) / 1000);
}

static bool idempotent(fetch_t *f)
{
    return h2o_memis(f->args.method.base, f->args.method.len, H2O_STRLIT("GET")) ||
           h2o_memis(f->args.method.base, f->args.method.len, H2O_STRLIT("HEAD")) ||
           h2o_memis(f->args.method.base, f->args.method.len, H2O_STRLIT("OPTIONS"));
}

static const origin_conf_group_t *group_of(fetch_t *f)
{
    return f->args.group_index != SIZE_MAX ? f->args.router->conf->groups + f->args.group_index : NULL;
}

/* (Re)starts the read timeout: waiting for the head, or for more body while not paused. */
static void arm_read_timer(fetch_t *f)
{
    if (h2o_timeout_is_linked(&f->read_timer))
        h2o_timeout_unlink(&f->read_timer);
    if (f->client != NULL && !f->paused)
        h2o_timeout_link(f->args.loop, &f->args.http[f->origin].read_timeout, &f->read_timer);
}

static void disarm_read_timer(fetch_t *f)
{
    if (h2o_timeout_is_linked(&f->read_timer))
        h2o_timeout_unlink(&f->read_timer);
}

/* The exchange with the current server is over: it no longer counts as outstanding. */
static void leave_server(fetch_t *f)
{
    if (f->server != SIZE_MAX) {
        --f->args.http[f->origin].outstanding[f->server];
        f->server = SIZE_MAX;
    }
}

static void retain(fetch_t *f)
{
    atomic_fetch_add(&f->refcnt, 1);
}

static bool on_owner_loop(fetch_t *f, origin_fetch_sub_t *sub)
{
    return sub->receiver == f->args.receiver;
}

/* Wakes every subscriber: those on the owner's loop are called now, the others through their loop. */
static void notify(fetch_t *f)
{
    retain(f);
    pthread_mutex_lock(&f->mutex);
    for (h2o_linklist_t *l = f->subs.next, *next; l != &f->subs; l = next) {
        next = l->next;
        origin_fetch_sub_t *sub = H2O_STRUCT_FROM_MEMBER(origin_fetch_sub_t, _link, l);
        if (on_owner_loop(f, sub)) {
            if (!sub->_head_seen) {
                sub->_head_seen = true;
                sub->on_head(sub);
            } else {
                sub->on_body(sub);
            }
        } else if (!atomic_exchange(&sub->_wakeup->queued, true)) {
            h2o_multithread_send_message(sub->receiver, &sub->_wakeup->super);
        }
    }
    pthread_mutex_unlock(&f->mutex);
    release(f);
}

/* Asks the owner's loop to re-check the fetch (from another loop). Called with f->mutex held. */
static void wake_owner(fetch_t *f)
{
    if (!atomic_exchange(&f->ctl.queued, true)) {
        retain(f);
        h2o_multithread_send_message(f->args.receiver, &f->ctl.super);
    }
}

void origin_fetch_receive(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        wakeup_t *w = H2O_STRUCT_FROM_MEMBER(wakeup_t, super.link, messages->next);
        h2o_linklist_unlink(&w->super.link);
        atomic_store(&w->queued, false);
        if (w->kind == WAKE_OWNER) {
            owner_check(w->fetch);
            release(w->fetch);
            continue;
        }
        origin_fetch_sub_t *sub = w->sub;
        if (sub == NULL) {
            free(w); /* the subscriber left while this was queued */
            continue;
        }
        /* the callback may unsubscribe (and free w): touch nothing after it */
        if (!sub->_head_seen) {
            sub->_head_seen = true;
            sub->on_head(sub);
        } else {
            sub->on_body(sub);
        }
    }
}

static uint64_t min_offset(fetch_t *f)
{
    uint64_t min = f->super.received;
    for (h2o_linklist_t *l = f->subs.next; l != &f->subs; l = l->next) {
        origin_fetch_sub_t *sub = H2O_STRUCT_FROM_MEMBER(origin_fetch_sub_t, _link, l);
        if (sub->offset < min)
            min = sub->offset;
    }
    return min;
}

/* Frees the blocks that every subscriber has sent and the store no longer needs. */
static void release_blocks(fetch_t *f)
{
    uint64_t min = min_offset(f);
    while (f->first_block < f->blocks.size) {
        block_t *b = f->blocks.entries + f->first_block;
        uint64_t end = (uint64_t)f->first_block * BLOCK_SIZE + b->len;
        bool full = b->len == BLOCK_SIZE;
        /* a stored object's last partial block is kept for the record (an inline body) */
        if (!full || end > min)
            break;
        if (f->storing && f->first_block >= f->chunks_stored)
            break;
        free(b->data);
        b->data = NULL;
        ++f->first_block;
    }
}

static bool behind_window(fetch_t *f)
{
    return !h2o_linklist_is_empty(&f->subs) && f->super.received - min_offset(f) > WINDOW;
}

/* On the owner's loop only. */
static void resume_if_caught_up(fetch_t *f)
{
    if (!f->paused || behind_window(f))
        return;
    f->paused = false;
    if (f->client != NULL) {
        origin_http_resume(f->client, f->saved_read);
        arm_read_timer(f);
    } else if (f->file_fd >= 0 && !h2o_timeout_is_linked(&f->defer))
        h2o_timeout_link(f->args.loop, f->args.zero_timeout, &f->defer);
}

/* Appends body bytes, handing every completed block to the store. */
static void append_body(fetch_t *f, const void *src, size_t len)
{
    const uint8_t *p = src;
    pthread_mutex_lock(&f->mutex);
    while (len != 0) {
        block_t *b;
        if (f->blocks.size == 0 || f->blocks.entries[f->blocks.size - 1].len == BLOCK_SIZE) {
            h2o_vector_reserve(NULL, &f->blocks, f->blocks.size + 1);
            b = f->blocks.entries + f->blocks.size++;
            b->data = h2o_mem_alloc(BLOCK_SIZE);
            b->len = 0;
        } else {
            b = f->blocks.entries + f->blocks.size - 1;
        }
        size_t n = BLOCK_SIZE - b->len < len ? BLOCK_SIZE - b->len : len;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        p += n;
        len -= n;
        f->super.received += n;
        if (b->len == BLOCK_SIZE && f->storing) {
            if (f->oid == 0)
                f->oid = cache_store_new_oid(f->args.store);
            cache_store_put_chunk(f->args.store, f->oid, f->chunks_stored++, b->data, b->len);
        }
    }
    pthread_mutex_unlock(&f->mutex);
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

/* What the TTL rules need, read from response headers. */
static void ttl_input(fetch_t *f, int status, const h2o_headers_t *h, cache_ttl_in_t *in)
{
    const h2o_iovec_t *targeted[2] = {NULL, NULL};
    *in = (cache_ttl_in_t){.status = status,
                           .age = f->age_value,
                           .has_authorization = find(&f->client_headers, H2O_STRLIT("authorization")) != NULL,
                           .request_time = f->request_time,
                           .response_time = now_sec(f)};
    cache_ttl_cc_init(&in->cc);
    for (size_t i = 0; i != h->size; ++i) {
        const h2o_iovec_t *n = h->entries[i].name, *v = &h->entries[i].value;
        if (h2o_memis(n->base, n->len, H2O_STRLIT("cache-control"))) {
            in->has_cache_control = true;
            cache_ttl_parse_cc(&in->cc, v->base, v->len);
        } else if (h2o_memis(n->base, n->len, H2O_STRLIT("expires"))) {
            in->has_expires = true;
            in->expires_valid = cache_ttl_parse_date(v->base, v->len, &in->expires);
        } else if (h2o_memis(n->base, n->len, H2O_STRLIT("date"))) {
            in->has_date = cache_ttl_parse_date(v->base, v->len, &in->date);
        } else if (h2o_memis(n->base, n->len, H2O_STRLIT("etag"))) {
            in->has_validator = true;
        } else if (h2o_memis(n->base, n->len, H2O_STRLIT("last-modified"))) {
            in->has_validator = true;
            in->has_last_modified = cache_ttl_parse_date(v->base, v->len, &in->last_modified);
        } else if (h2o_memis(n->base, n->len, H2O_STRLIT("pragma"))) {
            if (h2o_contains_token(v->base, v->len, H2O_STRLIT("no-cache"), ','))
                in->pragma_no_cache = true;
        } else if (h2o_memis(n->base, n->len, H2O_STRLIT("set-cookie"))) {
            in->has_set_cookie = true;
        } else if (h2o_memis(n->base, n->len, H2O_STRLIT("vary"))) {
            if (h2o_contains_token(v->base, v->len, H2O_STRLIT("*"), ','))
                in->vary_star = true;
        } else if (h2o_memis(n->base, n->len, H2O_STRLIT("edgecache-cache-control"))) {
            targeted[0] = v;
        } else if (h2o_memis(n->base, n->len, H2O_STRLIT("cdn-cache-control"))) {
            targeted[1] = v;
        }
    }
    /* RFC 9213 §2.1: the first valid targeted field, ours before CDN-Cache-Control, replaces Cache-Control
     * and Expires for this cache; an invalid one is ignored */
    for (size_t i = 0; i != 2; ++i) {
        cache_cc_t cc;
        if (targeted[i] != NULL && cache_ttl_parse_targeted(&cc, targeted[i]->base, targeted[i]->len)) {
            in->cc = cc;
            in->has_cache_control = true;
            in->has_expires = false;
            break;
        }
    }
}

/* True when a response field must not be stored, although it is forwarded: the proxy-specific fields of
 * RFC 9111 §3.1, and those named by a qualified no-cache or private (§5.2.2.4, §5.2.2.7), which a reuse
 * without revalidation must not send. */
static bool never_stored(const cache_cc_t *cc, const h2o_iovec_t *name)
{
    static const char *const proxy_specific[] = {"proxy-authenticate", "proxy-authentication-info", "proxy-authorization", NULL};
    for (const char *const *d = proxy_specific; *d != NULL; ++d)
        if (h2o_memis(name->base, name->len, *d, strlen(*d)))
            return true;
    return cache_ttl_cc_omits(cc, name->base, name->len);
}

/* Encodes the stored headers and, for each field named by Vary, the client's value of it. */
static void encode_headers(fetch_t *f, const h2o_headers_t *h, h2o_iovec_t *headers, h2o_iovec_t *vary)
{
    size_t hlen = 0, vlen = 0;
    cache_cc_t cc;
    cache_ttl_cc_init(&cc);
    for (size_t i = 0; i != h->size; ++i)
        if (h2o_memis(h->entries[i].name->base, h->entries[i].name->len, H2O_STRLIT("cache-control")))
            cache_ttl_parse_cc(&cc, h->entries[i].value.base, h->entries[i].value.len);
    for (size_t i = 0; i != h->size; ++i)
        if (!never_stored(&cc, h->entries[i].name))
            hlen += cache_record_header_size(h->entries[i].name->len, h->entries[i].value.len);
    uint8_t *hp = h2o_mem_alloc_pool(&f->super.pool, hlen + 1);
    headers->base = (char *)hp;
    headers->len = hlen;
    for (size_t i = 0; i != h->size; ++i)
        if (!never_stored(&cc, h->entries[i].name))
            cache_record_put_header(&hp, h->entries[i].name->base, h->entries[i].name->len, h->entries[i].value.base,
                                    h->entries[i].value.len);

    /* Vary: a list of field names; record each with the request's value (empty when absent) */
    *vary = h2o_iovec_init(NULL, 0);
    const h2o_iovec_t *v = find(h, H2O_STRLIT("vary"));
    if (v == NULL)
        return;
    h2o_iovec_t names[32];
    size_t nnames = 0;
    for (const char *p = v->base, *end = v->base + v->len; p < end && nnames < 32;) {
        while (p < end && (*p == ' ' || *p == ',' || *p == '\t'))
            ++p;
        const char *s = p;
        while (p < end && *p != ',' && *p != ' ' && *p != '\t')
            ++p;
        if (p != s) {
            char *lc = h2o_mem_alloc_pool(&f->super.pool, (size_t)(p - s));
            for (size_t i = 0; i != (size_t)(p - s); ++i)
                lc[i] = h2o_tolower(s[i]);
            names[nnames++] = h2o_iovec_init(lc, (size_t)(p - s));
        }
    }
    h2o_iovec_t values[32];
    for (size_t i = 0; i != nnames; ++i) {
        const h2o_iovec_t *cv = find(&f->client_headers, names[i].base, names[i].len);
        values[i] = cv != NULL ? *cv : h2o_iovec_init("", 0);
        vlen += cache_record_header_size(names[i].len, values[i].len);
    }
    uint8_t *vp = h2o_mem_alloc_pool(&f->super.pool, vlen + 1);
    vary->base = (char *)vp;
    vary->len = vlen;
    for (size_t i = 0; i != nnames; ++i)
        cache_record_put_header(&vp, names[i].base, names[i].len, values[i].base, values[i].len);
}

static void fill_times(fetch_t *f, cache_record_t *rec, const cache_ttl_out_t *ttl)
{
    rec->flags = ttl->flags;
    rec->request_time = f->request_time;
    rec->response_time = now_sec(f);
    rec->initial_age = (uint32_t)(ttl->initial_age < UINT32_MAX ? ttl->initial_age : UINT32_MAX);
    rec->lifetime = (uint32_t)(ttl->lifetime < UINT32_MAX ? ttl->lifetime : UINT32_MAX);
    rec->stale_while_revalidate = (uint32_t)(ttl->stale_while_revalidate < UINT32_MAX ? ttl->stale_while_revalidate : UINT32_MAX);
    rec->stale_if_error = (uint32_t)(ttl->stale_if_error < UINT32_MAX ? ttl->stale_if_error : UINT32_MAX);
}

static void put_encoded(fetch_t *f, const cache_hash_t *hash, const cache_record_t *rec)
{
    size_t len = cache_record_size(rec);
    uint8_t *buf = h2o_mem_alloc(len);
    cache_record_encode(rec, buf);
    cache_store_put_record(f->args.store, hash, buf, len, f->purge_seq);
    free(buf);
}

/* Queues `rec` for storage. A response with Vary (RFC 9111 §4.1) is stored as the variant the request
 * selected, under the variant's own key, and the URL's own key gets an index record naming the Vary
 * fields, so that variants live side by side and never replace one another. */
static void put_record(fetch_t *f, const cache_record_t *rec, const h2o_headers_t *response_headers)
{
    const h2o_iovec_t *vary = find(response_headers, H2O_STRLIT("vary"));
    if (vary == NULL) {
        put_encoded(f, &f->args.hash, rec);
        return;
    }
    cache_record_t variant = *rec, index = {.status = 200, .flags = CACHE_TTL_VARY_INDEX, .key = f->args.key};
    cache_hash_t vhash;
    variant.key = cache_key_variant(&f->super.pool, f->args.key, *vary, &f->client_headers);
    cache_key_hash(variant.key, &vhash);
    put_encoded(f, &vhash, &variant);
    index.request_time = rec->request_time;
    index.response_time = rec->response_time;
    size_t hlen = cache_record_header_size(4, vary->len);
    uint8_t *hp = h2o_mem_alloc_pool(&f->super.pool, hlen);
    index.headers = h2o_iovec_init(hp, hlen);
    cache_record_put_header(&hp, "vary", 4, vary->base, vary->len);
    put_encoded(f, &f->args.hash, &index);
}

/* The body is complete: queue the last chunk and the record. */
static void store_complete(fetch_t *f)
{
    cache_record_t rec = {.status = (uint16_t)f->super.status, .key = f->args.key, .body_len = f->super.received};
    fill_times(f, &rec, &f->super.ttl);
    encode_headers(f, &f->super.headers, &rec.headers, &rec.vary);
    if (f->chunks_stored == 0 && f->super.received <= BLOCK_SIZE) {
        if (f->blocks.size != 0)
            rec.body = h2o_iovec_init(f->blocks.entries[0].data, f->blocks.entries[0].len);
    } else {
        block_t *last = f->blocks.entries + f->blocks.size - 1;
        if (f->chunks_stored < f->blocks.size) /* the last, partial chunk */
            cache_store_put_chunk(f->args.store, f->oid, f->chunks_stored++, last->data, last->len);
        rec.oid = f->oid;
        rec.chunk_size = BLOCK_SIZE;
    }
    put_record(f, &rec, &f->super.headers);
}

/* Caches a configured error page in place of the origin's answer, as CloudFront does. */
static void store_error_page(fetch_t *f, const errorpages_rule_t *page, int origin_status)
{
    h2o_header_t ct = {&H2O_TOKEN_CONTENT_TYPE->buf, NULL, h2o_iovec_init(H2O_STRLIT("text/html; charset=utf-8"))};
    h2o_headers_t h = {&ct, 1, 1};
    cache_ttl_out_t ttl = {.lifetime = (int64_t)page->error_caching_min_ttl, .flags = CACHE_TTL_ERROR_PAGE};
    cache_record_t rec = {.status = (uint16_t)(page->response_code != 0 ? page->response_code : origin_status),
                          .key = f->args.key,
                          .body_len = page->body_len,
                          .body = h2o_iovec_init(page->body, page->body_len)};

    if (page->error_caching_min_ttl == 0)
        return;
    fill_times(f, &rec, &ttl);
    encode_headers(f, &h, &rec.headers, &rec.vary);
    put_record(f, &rec, &h);
}

/* RFC 9111 §4.3.4: a 304 refreshes the stored headers; the body stays. */
static void refresh_stale(fetch_t *f, const h2o_headers_t *fresh)
{
    h2o_headers_t merged = {NULL};
    h2o_iovec_t block = f->stale.headers, name, value;

    while (cache_record_next_header(&block, &name, &value)) {
        if (find(fresh, name.base, name.len) != NULL)
            continue;
        h2o_iovec_t *n = h2o_mem_alloc_pool(&f->super.pool, sizeof(*n));
        *n = name;
        h2o_vector_reserve(&f->super.pool, &merged, merged.size + 1);
        merged.entries[merged.size++] = (h2o_header_t){n, NULL, value};
    }
    for (size_t i = 0; i != fresh->size; ++i) {
        h2o_vector_reserve(&f->super.pool, &merged, merged.size + 1);
        merged.entries[merged.size++] = fresh->entries[i];
    }

    cache_ttl_in_t in;
    ttl_input(f, f->stale.status, &merged, &in);
    cache_ttl_decide(&in, f->args.ttl_rules, &f->super.ttl);
    f->super.record = f->stale;
    fill_times(f, &f->super.record, &f->super.ttl);
    encode_headers(f, &merged, &f->super.record.headers, &f->super.record.vary);
    f->super.record.vary = f->stale.vary; /* the variant is the one that was stored */
    f->super.not_modified = true;
    if (f->super.ttl.store)
        put_record(f, &f->super.record, &merged);
    else
        cache_store_delete(f->args.store, &f->args.hash);
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

/* Decides what becomes of the response once its head is in: 304 refresh, error page, store or pass. */
static void on_head_decided(fetch_t *f)
{
    origin_fetch_t *o = &f->super;
    bool storable_request = f->args.store != NULL;

    if (storable_request && f->has_stale && o->status == 304) {
        refresh_stale(f, &o->headers);
    } else if ((o->error_page = error_page_for(f, o->status, 0)) != NULL) {
        if (storable_request && !(o->status >= 500 && stale_usable(f)))
            store_error_page(f, o->error_page, o->status);
    } else if (storable_request && !(o->status >= 500 && stale_usable(f))) {
        cache_ttl_in_t in;
        ttl_input(f, o->status, &o->headers, &in);
        cache_ttl_decide(&in, f->args.ttl_rules, &o->ttl);
        if (o->ttl.store && f->close_delimited) {
            o->ttl.store = false;
            o->ttl.why = "close-delimited"; /* a truncated body would look complete */
        }
        o->stored = f->storing = o->ttl.store;
        o->initial_age = o->ttl.initial_age;
        const h2o_iovec_t *vary = find(&o->headers, H2O_STRLIT("vary"));
        if (o->stored && vary != NULL)
            o->variant_key = cache_key_variant(&o->pool, f->args.key, *vary, &f->client_headers);
    }
    pthread_mutex_lock(&f->mutex);
    if (!o->stored && !o->not_modified && o->error_page == NULL)
        table_remove(f);          /* not shareable: later misses must not join it */
    o->state = ORIGIN_FETCH_BODY; /* publishes the head: it is immutable from here on */
    pthread_mutex_unlock(&f->mutex);
    notify(f);
}

static int on_body(h2o_http1client_t *client, const char *errstr);

static h2o_http1client_body_cb on_head(h2o_http1client_t *client, const char *errstr, int minor_version, int status,
                                       h2o_iovec_t msg, h2o_header_t *headers, size_t num_headers, int rlen)
{
    fetch_t *f = client->data;
    static const char *const drop[] = {"content-length", "age", NULL};

    disarm_read_timer(f);
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        f->client = NULL;
        bool timeout = strstr(errstr, "timeout") != NULL;
        if (!timeout && idempotent(f) && !f->retried_reset) {
            /* most often a pooled keep-alive connection the origin had closed: try once more */
            f->retried_reset = true;
            leave_server(f);
            h2o_timeout_link(f->args.loop, f->args.zero_timeout, &f->defer);
            return NULL;
        }
        /* a slow answer says nothing of the server's health (only connection errors count passively) */
        origin_failed(f, timeout ? ERRORPAGES_FAIL_TIMEOUT : ERRORPAGES_FAIL_RESET, errstr);
        return NULL;
    }
    if (f->server != SIZE_MAX)
        origin_router_report(f->args.router, f->origin, f->server, true, true, "answered");
    const origin_conf_group_t *group = group_of(f);
    if (group != NULL && !f->on_secondary && idempotent(f)) {
        for (size_t i = 0; i != group->num_failover_on; ++i) {
            if (group->failover_on[i] == status) {
                char what[64];
                snprintf(what, sizeof(what), "status %d", status);
                f->client = NULL; /* returning NULL makes libh2o close it */
                failover(f, what);
                return NULL;
            }
        }
    }
    if (group != NULL && !f->on_secondary)
        breaker_report(f, true);

    origin_fetch_t *o = &f->super;
    o->status = status;
    o->reason = h2o_strdup(&o->pool, msg.base, msg.len);
    f->close_delimited = true;
    for (size_t i = 0; i != num_headers; ++i) {
        /* libh2o frees non-token names and reuses the value buffer after this callback: copy both */
        const h2o_token_t *token = h2o_lookup_token(headers[i].name->base, headers[i].name->len);
        if (token == H2O_TOKEN_AGE) {
            int64_t age = cache_ttl_parse_age(headers[i].value.base, headers[i].value.len);
            if (age > f->age_value)
                f->age_value = age; /* several Age lines: the oldest, the conservative reading */
        } else if (token == H2O_TOKEN_CONTENT_LENGTH) {
            o->content_length = (int64_t)h2o_strtosize(headers[i].value.base, headers[i].value.len);
            f->close_delimited = false;
        } else if (token == H2O_TOKEN_TRANSFER_ENCODING) {
            f->close_delimited = false;
        }
        headers[i].value = h2o_strdup(&o->pool, headers[i].value.base, headers[i].value.len);
        if (token != NULL) {
            headers[i].name = (h2o_iovec_t *)&token->buf;
        } else {
            h2o_iovec_t *n = h2o_mem_alloc_pool(&o->pool, sizeof(*n));
            *n = h2o_strdup(&o->pool, headers[i].name->base, headers[i].name->len);
            h2o_strtolower(n->base, n->len);
            headers[i].name = n;
        }
    }
    origin_fetch_filter_headers(&o->pool, &o->headers, headers, num_headers, drop);
    if (errstr == h2o_http1client_error_is_eos) {
        f->close_delimited = false; /* no body at all: nothing can be truncated */
        o->content_length = o->content_length < 0 ? 0 : o->content_length;
    }

    retain(f);
    f->in_client_cb = true;
    on_head_decided(f);
    if (errstr == h2o_http1client_error_is_eos) {
        f->client = NULL;
        finish_body(f, errstr);
    }
    f->in_client_cb = false;
    /* the body is not needed when an error page or a 304 stands in for it, or nobody wants it */
    pthread_mutex_lock(&f->mutex);
    bool cancel =
        f->cancel_requested || o->error_page != NULL || o->not_modified || (h2o_linklist_is_empty(&f->subs) && !o->stored);
    pthread_mutex_unlock(&f->mutex);
    release(f);
    if (errstr == h2o_http1client_error_is_eos)
        return NULL;
    if (cancel) {
        f->client = NULL;
        finish_body(f, "cancelled");
        return NULL;
    }
    arm_read_timer(f);
    return on_body;
}

/* --- the body ------------------------------------------------------------------------------------ */

/* The origin exchange is over: no timer of the owner's loop stays linked, so the fetch may now be freed
 * on any loop. Drops the exchange's reference. */
static void end_exchange(fetch_t *f)
{
    if (!f->active)
        return;
    leave_server(f);
    if (h2o_timeout_is_linked(&f->defer))
        h2o_timeout_unlink(&f->defer);
    if (h2o_timeout_is_linked(&f->connect_timer))
        h2o_timeout_unlink(&f->connect_timer);
    disarm_read_timer(f);
    f->active = false;
    release(f);
}

/* The body ended: `errstr` is h2o_http1client_error_is_eos on success. Drops the exchange's reference. */
static void finish_body(fetch_t *f, const char *errstr)
{
    origin_fetch_t *o = &f->super;
    bool complete = errstr == h2o_http1client_error_is_eos &&
                    (o->content_length < 0 || (uint64_t)o->content_length == o->received) && !o->error_page;

    if (errstr == h2o_http1client_error_is_eos && o->content_length >= 0 && (uint64_t)o->content_length != o->received)
        errstr = "body shorter than content-length";
    origin_fetch_state_t state = ORIGIN_FETCH_DONE;
    if (o->error_page != NULL || o->not_modified) {
        /* the origin's body was not wanted */
    } else if (complete) {
        if (f->storing)
            store_complete(f);
    } else {
        state = ORIGIN_FETCH_FAILED;
        if (strcmp(errstr, "cancelled") != 0)
            common_log_warn("origin: %.*s %.*s: body failed after %llu bytes: %s", (int)f->args.method.len, f->args.method.base,
                          (int)f->args.path.len, f->args.path.base, (unsigned long long)o->received, errstr);
        if (f->storing && f->oid != 0)
            cache_store_discard(f->args.store, f->oid, f->chunks_stored);
    }
    pthread_mutex_lock(&f->mutex);
    f->storing = false;
    o->state = state;
    table_remove(f);
    pthread_mutex_unlock(&f->mutex);
    if (f->file_fd >= 0) {
        close(f->file_fd);
        f->file_fd = -1;
    }
    notify(f);
    end_exchange(f);
}

static int on_body(h2o_http1client_t *client, const char *errstr)
{
    fetch_t *f = client->data;
    h2o_buffer_t **input = &client->sock->input;

    if ((*input)->size != 0) {
        append_body(f, (*input)->bytes, (*input)->size);
        h2o_buffer_consume(input, (*input)->size);
    }
    if (errstr != NULL) {
        f->client = NULL; /* libh2o frees the client after this callback */
        disarm_read_timer(f);
        finish_body(f, errstr);
        return 0;
    }

    retain(f);
    f->in_client_cb = true;
    notify(f);
    f->in_client_cb = false;
    pthread_mutex_lock(&f->mutex);
    bool cancel = f->cancel_requested || unwanted(f); /* unwanted: nobody left and past background_fetch_max */
    if (!cancel && !f->paused && behind_window(f)) {
        f->paused = true;
        origin_http_pause(client, &f->saved_read);
    }
    if (!cancel)
        arm_read_timer(f); /* stopped while paused: a slow client is not a slow origin */
    release_blocks(f);
    pthread_mutex_unlock(&f->mutex);
    if (cancel) {
        f->client = NULL;
        finish_body(f, "cancelled");
    }
    release(f);
    return cancel ? -1 : 0;
}

/* --- connecting ---------------------------------------------------------------------------------- */

static void breaker_report(fetch_t *f, bool ok)
{
    const origin_conf_group_t *g = group_of(f);
    if (g == NULL)
        return;
    if (origin_breaker_report(f->args.router->breakers[f->args.group_index], ok, h2o_now(f->args.loop)))
        common_log_warn("origin group %s: circuit breaker %s for primary %s", g->name, ok ? "closed" : "opened",
                      f->args.router->conf->origins[g->primary].name);
}

/* Moves to the group's secondary after the primary failed for this request. */
static void failover(fetch_t *f, const char *why)
{
    const origin_conf_group_t *g = group_of(f);
    leave_server(f);
    breaker_report(f, false);
    common_log_warn("origin group %s: %.*s failed over to %s: %s", g->name, (int)f->args.path.len, f->args.path.base,
                  f->args.router->conf->origins[g->secondary].name, why);
    f->on_secondary = true;
    f->origin = g->secondary;
    f->attempts = 0;
    f->exclude = 0;
    f->retried_reset = false;
    h2o_timeout_link(f->args.loop, f->args.zero_timeout, &f->defer);
}

/* The current origin could not answer (before the head): fail over when a group allows it, else fail. */
static void origin_failed(fetch_t *f, unsigned failure, const char *errstr)
{
    leave_server(f);
    if (group_of(f) != NULL && !f->on_secondary && idempotent(f)) {
        failover(f, errstr);
        return;
    }
    if (group_of(f) != NULL && !f->on_secondary)
        breaker_report(f, false); /* a primary that fails a POST counts too, though it cannot fail over */
    fail(f, failure, errstr);
}

/* One connection attempt failed: try again (another server when there is one) or give up. */
static void attempt_failed(fetch_t *f, const char *errstr)
{
    if (f->server != SIZE_MAX) {
        origin_router_report(f->args.router, f->origin, f->server, false, true, errstr);
        f->exclude |= (uint64_t)1 << f->server;
    }
    leave_server(f);
    if (f->attempts < f->args.router->conf->origins[f->origin].connect_attempts)
        h2o_timeout_link(f->args.loop, f->args.zero_timeout, &f->defer);
    else
        origin_failed(f, ERRORPAGES_FAIL_CONNECT, errstr);
}

static h2o_http1client_head_cb on_connect(h2o_http1client_t *client, const char *errstr, h2o_iovec_t **reqbufs, size_t *reqbufcnt,
                                          int *method_is_head)
{
    fetch_t *f = client->data;

    if (h2o_timeout_is_linked(&f->connect_timer))
        h2o_timeout_unlink(&f->connect_timer);
    if (errstr != NULL) {
        f->client = NULL;
        attempt_failed(f, errstr);
        return NULL;
    }
    *reqbufs = f->reqbufs;
    *reqbufcnt = f->reqbufs[1].len != 0 ? 2 : 1;
    *method_is_head = h2o_memis(f->args.method.base, f->args.method.len, H2O_STRLIT("HEAD"));
    f->request_time = now_sec(f);
    f->purge_seq = f->args.store != NULL ? cache_store_purge_seq(f->args.store) : 0;
    arm_read_timer(f);
    return on_head;
}

static void on_read_timeout(h2o_timeout_entry_t *entry)
{
    fetch_t *f = H2O_STRUCT_FROM_MEMBER(fetch_t, read_timer, entry);
    if (f->client == NULL)
        return;
    h2o_http1client_cancel(f->client);
    f->client = NULL;
    if (f->super.state == ORIGIN_FETCH_CONNECT) {
        origin_failed(f, ERRORPAGES_FAIL_TIMEOUT, "read timeout (no response)");
    } else {
        pthread_mutex_lock(&f->mutex);
        f->cancel_requested = false;
        pthread_mutex_unlock(&f->mutex);
        finish_body(f, "read timeout (body)");
    }
}

static void on_connect_timeout(h2o_timeout_entry_t *entry)
{
    fetch_t *f = H2O_STRUCT_FROM_MEMBER(fetch_t, connect_timer, entry);
    if (f->client != NULL) {
        h2o_http1client_cancel(f->client);
        f->client = NULL;
    }
    attempt_failed(f, "connection timeout");
}

static void connect_http(fetch_t *f)
{
    origin_router_origin_t *ro = f->args.router->origins + f->origin;
    origin_http_t *http = f->args.http + f->origin;
    size_t server = origin_balancer_pick(ro->balancer, ro->health, http->outstanding, &http->cursor, &f->args.hash, f->exclude);

    if (server == ORIGIN_BALANCER_NONE && f->exclude != 0) {
        f->exclude = 0; /* every server failed once for this request: the remaining attempts may retry them */
        server = origin_balancer_pick(ro->balancer, ro->health, http->outstanding, &http->cursor, &f->args.hash, 0);
    }
    if (server == ORIGIN_BALANCER_NONE) {
        origin_failed(f, ERRORPAGES_FAIL_CONNECT, "no healthy server");
        return;
    }
    h2o_iovec_t host = f->args.host.base != NULL ? f->args.host : http->servers[server].authority;
    f->reqbufs[0] = origin_http_serialize(&f->super.pool, f->args.method, f->args.path, host, f->args.headers, f->args.num_headers,
                                          f->args.body.len != 0 ? f->args.body.len : SIZE_MAX);
    f->reqbufs[1] = f->args.body;
    ++f->attempts;
    f->server = server;
    ++http->outstanding[server];
    f->connect_timer.cb = on_connect_timeout;
    h2o_timeout_link(f->args.loop, &http->connect_timeout, &f->connect_timer);
    h2o_http1client_connect_with_pool(&f->client, f, &http->servers[server].client_ctx, &http->servers[server].pool, on_connect);
}

/* Decides which origin this request tries first: the behavior's, or a group's primary unless its
 * breaker is open (then the secondary, at once; after the cool-down one request probes the primary). */
static void choose_origin(fetch_t *f)
{
    const origin_conf_group_t *g = group_of(f);
    f->target_chosen = true;
    f->origin = f->args.origin_index;
    if (g != NULL && !origin_breaker_allow(f->args.router->breakers[f->args.group_index], h2o_now(f->args.loop))) {
        f->on_secondary = true;
        f->origin = g->secondary;
    }
}

/* --- file:// --------------------------------------------------------------------------------------- */

static void read_file_step(fetch_t *f)
{
    /* one block per loop turn, so a large file does not monopolise the loop */
    uint8_t *buf = h2o_mem_alloc(BLOCK_SIZE);
    ssize_t n = read(f->file_fd, buf, BLOCK_SIZE);
    if (n > 0)
        append_body(f, buf, (size_t)n);
    free(buf);
    if (n < 0) {
        finish_body(f, "read error");
        return;
    }
    if (n == 0 || f->super.received >= (uint64_t)f->super.content_length) {
        finish_body(f, h2o_http1client_error_is_eos);
        return;
    }
    notify(f);
    pthread_mutex_lock(&f->mutex);
    release_blocks(f);
    bool cancel = f->cancel_requested, pause = !cancel && behind_window(f);
    f->paused = pause;
    pthread_mutex_unlock(&f->mutex);
    if (cancel)
        finish_body(f, "cancelled");
    else if (!pause)
        h2o_timeout_link(f->args.loop, f->args.zero_timeout, &f->defer);
}

static void start_file(fetch_t *f)
{
    origin_fetch_t *o = &f->super;
    origin_file_res_t res;

    f->request_time = now_sec(f);
    f->purge_seq = f->args.store != NULL ? cache_store_purge_seq(f->args.store) : 0;
    origin_file_lookup(f->args.file_roots[f->origin], f->args.method.base, f->args.method.len, f->args.path.base, f->args.path.len,
                       &res);
    o->status = res.status;
    if (res.status != 200) {
        const errorpages_page_t *page = errorpages_for_status(res.status);
        o->content_length = page != NULL ? (int64_t)page->len : 0;
        o->reason = h2o_iovec_init(H2O_STRLIT(res.status == 404 ? "Not Found" : "Error"));
        h2o_add_header(&o->pool, &o->headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/html; charset=utf-8"));
        if (res.status != 404) /* a 405 or a local 500 must not be cached for default_ttl */
            h2o_add_header(&o->pool, &o->headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
        on_head_decided(f);
        if (page != NULL && !o->error_page)
            append_body(f, page->body, page->len);
        finish_body(f, h2o_http1client_error_is_eos);
        return;
    }
    char *date = h2o_mem_alloc_pool(&o->pool, H2O_TIMESTR_RFC1123_LEN + 1);
    struct tm tm;
    gmtime_r(&res.mtime, &tm);
    h2o_time2str_rfc1123(date, &tm);
    o->reason = h2o_iovec_init(H2O_STRLIT("OK"));
    o->content_length = (int64_t)res.size;
    h2o_header_t hs[] = {{&H2O_TOKEN_CONTENT_TYPE->buf, NULL, h2o_iovec_init(res.content_type, strlen(res.content_type))},
                         {&H2O_TOKEN_LAST_MODIFIED->buf, NULL, h2o_iovec_init(date, H2O_TIMESTR_RFC1123_LEN)},
                         {&H2O_TOKEN_ETAG->buf, NULL, h2o_strdup(&o->pool, res.etag, strlen(res.etag))}};
    for (size_t i = 0; i != sizeof(hs) / sizeof(hs[0]); ++i) {
        h2o_vector_reserve(&o->pool, &o->headers, o->headers.size + 1);
        o->headers.entries[o->headers.size++] = hs[i];
    }
    f->file_fd = res.fd;
    on_head_decided(f);
    if (h2o_memis(f->args.method.base, f->args.method.len, H2O_STRLIT("HEAD")) || res.size == 0) {
        finish_body(f, h2o_http1client_error_is_eos);
        return;
    }
    f->file_reading = true;
    h2o_timeout_link(f->args.loop, f->args.zero_timeout, &f->defer);
}

/* --- the state machine's entry points --------------------------------------------------------------- */

static void on_defer(h2o_timeout_entry_t *entry)
{
    fetch_t *f = H2O_STRUCT_FROM_MEMBER(fetch_t, defer, entry);

    if (f->super.state != ORIGIN_FETCH_CONNECT && f->super.state != ORIGIN_FETCH_BODY)
        return;
    if (f->file_reading) {
        read_file_step(f);
    } else if (f->cancel_requested) {
        fail(f, ERRORPAGES_FAIL_CONNECT, "cancelled");
    } else {
        if (!f->target_chosen)
            choose_origin(f);
        if (f->args.file_roots[f->origin] != NULL)
            start_file(f);
        else
            connect_http(f);
    }
}

static void fail(fetch_t *f, unsigned failure, const char *errstr)
{
    origin_fetch_t *o = &f->super;

    o->failure = failure;
    o->errstr = errstr;
    if (strcmp(errstr, "cancelled") != 0)
        common_log_warn("origin: %.*s %.*s: %s", (int)f->args.method.len, f->args.method.base, (int)f->args.path.len,
                      f->args.path.base, errstr);
    o->error_page = error_page_for(f, 0, failure);
    if (o->error_page != NULL && f->args.store != NULL && !stale_usable(f))
        store_error_page(f, o->error_page, failure == ERRORPAGES_FAIL_TIMEOUT ? 504 : 502);
    pthread_mutex_lock(&f->mutex);
    o->state = ORIGIN_FETCH_FAILED; /* publishes the outcome */
    table_remove(f);
    pthread_mutex_unlock(&f->mutex);
    notify(f);
    end_exchange(f);
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

static fetch_t *create(const origin_fetch_args_t *args)
{
    fetch_t *f = h2o_mem_alloc(sizeof(*f));
    h2o_mem_pool_t *pool = &f->super.pool;
    pthread_mutexattr_t attr;

    memset(f, 0, sizeof(*f));
    f->super.magic = ORIGIN_FETCH_MAGIC;
    f->super.state = ORIGIN_FETCH_CONNECT;
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
    f->active = true;
    f->file_fd = -1;
    f->server = SIZE_MAX;
    f->age_value = -1;
    h2o_linklist_init_anchor(&f->subs);
    f->defer.cb = on_defer;
    f->read_timer.cb = on_read_timeout;

    /* the fetch may outlive the request that started it: copy what it refers to */
    f->args = *args;
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
    if (f->args.store != NULL) {
        pthread_mutex_lock(&table_mutex);
        table_add_locked(f);
        pthread_mutex_unlock(&table_mutex);
    }
    h2o_timeout_link(args->loop, args->zero_timeout, &f->defer);
    return &f->super;
}

/* --- subscribers ------------------------------------------------------------------------------------ */

static void subscribe_locked(fetch_t *f, origin_fetch_sub_t *sub)
{
    sub->offset = 0;
    /* joining after the head: the subscriber sees it through origin_fetch_head_ready, and every wake-up
     * from now on is news of the body */
    sub->_head_seen = f->super.state != ORIGIN_FETCH_CONNECT;
    sub->_wakeup = NULL;
    if (!on_owner_loop(f, sub)) {
        sub->_wakeup = h2o_mem_alloc(sizeof(*sub->_wakeup));
        memset(sub->_wakeup, 0, sizeof(*sub->_wakeup));
        sub->_wakeup->kind = WAKE_SUB;
        sub->_wakeup->sub = sub;
        atomic_init(&sub->_wakeup->queued, false);
    }
    h2o_linklist_insert(&f->subs, &sub->_link);
    retain(f);
}

void origin_fetch_subscribe(origin_fetch_t *fetch, origin_fetch_sub_t *sub)
{
    fetch_t *f = (fetch_t *)fetch;
    assert(fetch->magic == ORIGIN_FETCH_MAGIC);
    pthread_mutex_lock(&f->mutex);
    sub->joined = false;
    subscribe_locked(f, sub);
    pthread_mutex_unlock(&f->mutex);
}

/* Subscribes `sub` to `f` if it can still be shared from its first byte; drops the caller's reference. */
static bool try_join(fetch_t *f, origin_fetch_sub_t *sub)
{
    origin_fetch_t *o = &f->super;
    pthread_mutex_lock(&f->mutex);
    bool ok = f->in_table && o->state != ORIGIN_FETCH_FAILED && f->first_block == 0 &&
              (o->state == ORIGIN_FETCH_CONNECT || o->stored || o->not_modified || o->error_page != NULL);
    if (ok) {
        sub->joined = true;
        subscribe_locked(f, sub);
    }
    pthread_mutex_unlock(&f->mutex);
    release(f);
    return ok;
}

bool origin_fetch_background(const origin_fetch_args_t *args)
{
    fetch_t *f, *mine = NULL;

    pthread_mutex_lock(&table_mutex);
    if ((f = table_find_locked(&args->hash)) == NULL) {
        mine = create(args);
        table_add_locked(mine);
    }
    pthread_mutex_unlock(&table_mutex);
    if (f != NULL) {
        release(f);
        return false;
    }
    h2o_timeout_link(args->loop, args->zero_timeout, &mine->defer);
    return true;
}

origin_fetch_t *origin_fetch_join_or_start(const origin_fetch_args_t *args, origin_fetch_sub_t *sub)
{
    fetch_t *f, *mine = NULL;

    /* look up and, when nothing is in flight, list a new fetch in one critical section: two loops that
     * miss at the same moment must not both start one */
    pthread_mutex_lock(&table_mutex);
    if ((f = table_find_locked(&args->hash)) == NULL) {
        mine = create(args);
        table_add_locked(mine);
    }
    pthread_mutex_unlock(&table_mutex);

    if (f != NULL && try_join(f, sub))
        return &f->super;
    if (mine == NULL) { /* the one in flight can no longer be shared from its start: a fetch of our own */
        origin_fetch_t *own = origin_fetch_start(args);
        origin_fetch_subscribe(own, sub);
        return own;
    }
    h2o_timeout_link(args->loop, args->zero_timeout, &mine->defer);
    origin_fetch_subscribe(&mine->super, sub);
    return &mine->super;
}

bool origin_fetch_head_ready(origin_fetch_t *fetch)
{
    fetch_t *f = (fetch_t *)fetch;
    pthread_mutex_lock(&f->mutex);
    bool ready = fetch->state != ORIGIN_FETCH_CONNECT;
    pthread_mutex_unlock(&f->mutex);
    return ready;
}

bool origin_fetch_shared(origin_fetch_t *fetch)
{
    return fetch->stored || fetch->not_modified || fetch->error_page != NULL || fetch->failure != 0;
}

/* Whether nobody wants the rest: then the exchange stops, unless it is filling the cache (or may: before
 * the head, a fetch with a store goes on to learn whether it can). Called with f->mutex held. */
static bool unwanted(fetch_t *f)
{
    origin_fetch_t *o = &f->super;
    if (!h2o_linklist_is_empty(&f->subs) || !f->active)
        return false;
    if (o->state == ORIGIN_FETCH_CONNECT)
        return f->args.store == NULL;
    /* the last client left: go on filling the cache only for a body of at most background_fetch_max */
    uint64_t max = f->args.background_fetch_max;
    uint64_t size = o->content_length >= 0 ? (uint64_t)o->content_length : o->received;
    return !(o->state == ORIGIN_FETCH_BODY && f->storing && size <= max);
}

/* On the owner's loop: cancel an unwanted exchange, or resume a paused one. */
static void owner_check(fetch_t *f)
{
    origin_fetch_t *o = &f->super;

    pthread_mutex_lock(&f->mutex);
    bool cancel = unwanted(f);
    if (!cancel) {
        release_blocks(f);
        resume_if_caught_up(f);
    }
    pthread_mutex_unlock(&f->mutex);
    if (!cancel)
        return;
    if (f->in_client_cb) {
        f->cancel_requested = true;
    } else if (f->client != NULL) {
        h2o_http1client_cancel(f->client);
        f->client = NULL;
        if (o->state == ORIGIN_FETCH_CONNECT) {
            pthread_mutex_lock(&f->mutex);
            o->state = ORIGIN_FETCH_FAILED;
            o->errstr = "cancelled";
            table_remove(f);
            pthread_mutex_unlock(&f->mutex);
            end_exchange(f);
        } else {
            finish_body(f, "cancelled");
        }
    } else {
        f->cancel_requested = true; /* a file read or a deferred connect notices it */
    }
}

void origin_fetch_unsubscribe(origin_fetch_t *fetch, origin_fetch_sub_t *sub)
{
    fetch_t *f = (fetch_t *)fetch;
    bool owner = on_owner_loop(f, sub);

    assert(fetch->magic == ORIGIN_FETCH_MAGIC);
    pthread_mutex_lock(&f->mutex);
    h2o_linklist_unlink(&sub->_link);
    if (!owner)
        wake_owner(f); /* it decides whether the exchange is still wanted */
    pthread_mutex_unlock(&f->mutex);
    if (owner)
        owner_check(f);
    if (sub->_wakeup != NULL) {
        /* a wake-up still queued to this loop is freed by the receiver when it sees no subscriber */
        if (atomic_load(&sub->_wakeup->queued))
            sub->_wakeup->sub = NULL;
        else
            free(sub->_wakeup);
        sub->_wakeup = NULL;
    }
    release(f);
}

origin_fetch_state_t origin_fetch_peek(origin_fetch_t *fetch, origin_fetch_sub_t *sub, h2o_iovec_t *vec)
{
    fetch_t *f = (fetch_t *)fetch;
    size_t idx = (size_t)(sub->offset / BLOCK_SIZE), off = (size_t)(sub->offset % BLOCK_SIZE);
    origin_fetch_state_t state;

    *vec = h2o_iovec_init(NULL, 0);
    pthread_mutex_lock(&f->mutex);
    state = fetch->state;
    if (idx < f->blocks.size && idx >= f->first_block) {
        block_t *b = f->blocks.entries + idx;
        if (off < b->len)
            *vec = h2o_iovec_init(b->data + off, b->len - off);
    }
    if (state == ORIGIN_FETCH_DONE && sub->offset + vec->len != fetch->received)
        state = ORIGIN_FETCH_BODY; /* more after this piece */
    pthread_mutex_unlock(&f->mutex);
    return state;
}

void origin_fetch_consume(origin_fetch_t *fetch, origin_fetch_sub_t *sub, size_t n)
{
    fetch_t *f = (fetch_t *)fetch;
    bool owner = on_owner_loop(f, sub);

    pthread_mutex_lock(&f->mutex);
    sub->offset += n;
    if (owner) {
        release_blocks(f);
        resume_if_caught_up(f);
    } else if (f->paused || f->blocks.size > f->first_block + 1) {
        wake_owner(f); /* blocks may be freed, or the origin resumed, only there */
    }
    pthread_mutex_unlock(&f->mutex);
}

static void release(fetch_t *f)
{
    if (atomic_fetch_sub(&f->refcnt, 1) != 1)
        return;
    /* the exchange is over (end_exchange unlinked its timers) and nothing is queued for it */
    assert(!f->active);
    if (f->client != NULL)
        h2o_http1client_cancel(f->client);
    if (f->file_fd >= 0)
        close(f->file_fd);
    for (size_t i = 0; i != f->blocks.size; ++i)
        free(f->blocks.entries[i].data);
    free(f->blocks.entries);
    pthread_mutex_destroy(&f->mutex);
    f->super.magic = 0;
    h2o_mem_clear_pool(&f->super.pool);
    free(f);
}
