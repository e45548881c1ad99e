/*
 * cache/compress.c: compression stored once (see compress.h): the eligibility rules, the choice of a coding
 * for a client, the gzip and brotli encoders, and the compressor thread.
 *
 * Invariants that are easy to break:
 * - Compression never runs on an event loop: a miss streams the identity bytes as they come, and the
 *   variants are made here, from the identity object as the store holds it, after it was queued. A hit that
 *   comes before they are stored gets the identity body.
 * - A variant is only ever served with its identity object's stamp (cache_compress_stamp) matching: the
 *   compressor stamps it with the object it actually read, so a variant made from an object that was
 *   replaced meanwhile is never served for the new one.
 * - The queue holds keys, not bodies, and is bounded (QUEUE_MAX): a loop that submits never waits.
 *
 * This is the one file that includes zlib's deflate side and brotli's encoder (cache/checksum.c has zlib's
 * crc32 only).
 */
#include <brotli/encode.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "cache/checksum.h"
#include "cache/compress.h"
#include "cache/ttl.h"
#include "common/log.h"

#define GZIP_LEVEL 6     /* stored once and sent many times: a better ratio than nginx's per-request level 1 */
#define BROTLI_QUALITY 5 /* about gzip -6's speed with a better ratio; 11 costs ~50x the CPU per byte */
#define BROTLI_WINDOW 22
#define QUEUE_MAX 4096 /* requests waiting for the compressor; more are dropped (the object stays identity-only) */

#define STAMP_HEADER ":identity-stamp" /* a name no HTTP field can have: never sent, since variants lend only their body */

const char *const cache_compress_default_types[] = {
    "text/*",
    "application/javascript",
    "application/x-javascript",
    "application/json",
    "application/ld+json",
    "application/manifest+json",
    "application/xml",
    "application/xhtml+xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/wasm",
    "application/vnd.ms-fontobject",
    "font/otf",
    "font/ttf",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    NULL,
};

const char *cache_compress_coding_name(cache_coding_t coding)
{
    switch (coding) {
    case CACHE_CODING_GZIP:
        return "gzip";
    case CACHE_CODING_BR:
        return "br";
    default:
        return "identity";
    }
}

/* --- which responses ------------------------------------------------------------------------------- */

static bool type_matches(const char *pattern, h2o_iovec_t type)
{
    size_t plen = strlen(pattern);
    if (plen >= 2 && pattern[plen - 1] == '*' && pattern[plen - 2] == '/')
        return type.len > plen - 1 && h2o_lcstris(type.base, plen - 1, pattern, plen - 1);
    return h2o_lcstris(type.base, type.len, pattern, plen);
}

bool cache_compress_type_ok(const cache_compress_rules_t *rules, h2o_iovec_t type)
{
    size_t n = 0;
    while (n != type.len && type.base[n] != ';' && type.base[n] != ' ' && type.base[n] != '\t')
        ++n; /* the media type, without its parameters */
    type.len = n;
    if (n == 0)
        return false;
    if (rules->types == NULL) {
        for (const char *const *t = cache_compress_default_types; *t != NULL; ++t)
            if (type_matches(*t, type))
                return true;
        return false;
    }
    for (size_t i = 0; i != rules->num_types; ++i)
        if (type_matches(rules->types[i], type))
            return true;
    return false;
}

bool cache_compress_eligible(const cache_compress_rules_t *rules, int status, const h2o_headers_t *headers)
{
    bool typed = false;

    if (!rules->enabled || status != 200)
        return false;
    for (size_t i = 0; i != headers->size; ++i) {
        const h2o_iovec_t *n = headers->entries[i].name, *v = &headers->entries[i].value;
        if (h2o_lcstris(n->base, n->len, H2O_STRLIT("content-encoding"))) {
            if (!h2o_lcstris(v->base, v->len, H2O_STRLIT("identity")))
                return false; /* already encoded: passed through as it is */
        } else if (h2o_lcstris(n->base, n->len, H2O_STRLIT("cache-control"))) {
            if (h2o_contains_token(v->base, v->len, H2O_STRLIT("no-transform"), ','))
                return false; /* RFC 9111 §5.2.2.6: an intermediary must not transform the content */
        } else if (h2o_lcstris(n->base, n->len, H2O_STRLIT("content-type"))) {
            typed = cache_compress_type_ok(rules, *v);
        } else if (h2o_lcstris(n->base, n->len, H2O_STRLIT("content-range"))) {
            return false;
        }
    }
    return typed;
}

/* --- which coding for a client ------------------------------------------------------------------------- */

/* A q-value (RFC 9110 §12.4.2) in thousandths; 1000 when absent or unreadable. */
static unsigned parse_q(const char *p, const char *end)
{
    unsigned q = 0, scale = 1000;
    if (p == end)
        return 1000;
    if (*p == '1')
        return 1000;
    if (*p != '0')
        return 1000;
    ++p;
    if (p != end && *p == '.') {
        for (++p; p != end && *p >= '0' && *p <= '9' && scale > 1; ++p) {
            scale /= 10;
            q += (unsigned)(*p - '0') * scale;
        }
    }
    return q;
}

cache_coding_t cache_compress_choose(h2o_iovec_t accept, unsigned available)
{
    int q[CACHE_CODING_NUM] = {-1, -1, -1}, star = -1; /* -1: not named */

    for (const char *p = accept.base, *end = accept.base + accept.len; p != NULL && p < end;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            ++p;
        const char *tok = p;
        while (p < end && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            ++p;
        size_t toklen = (size_t)(p - tok);
        unsigned qv = 1000;
        while (p < end && *p != ',') {
            if (*p == ';') {
                const char *s = p + 1;
                while (s < end && (*s == ' ' || *s == '\t'))
                    ++s;
                if (end - s >= 2 && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=') {
                    const char *v = s + 2, *ve = v;
                    while (ve < end && *ve != ',' && *ve != ';' && *ve != ' ')
                        ++ve;
                    qv = parse_q(v, ve);
                }
            }
            ++p;
        }
        if (toklen == 0)
            continue;
        if (h2o_lcstris(tok, toklen, H2O_STRLIT("br")))
            q[CACHE_CODING_BR] = (int)qv;
        else if (h2o_lcstris(tok, toklen, H2O_STRLIT("gzip")) || h2o_lcstris(tok, toklen, H2O_STRLIT("x-gzip")))
            q[CACHE_CODING_GZIP] = (int)qv;
        else if (h2o_lcstris(tok, toklen, H2O_STRLIT("identity")))
            q[CACHE_CODING_IDENTITY] = (int)qv;
        else if (toklen == 1 && *tok == '*')
            star = (int)qv;
    }
    cache_coding_t best = CACHE_CODING_IDENTITY;
    int best_q = 0;
    for (cache_coding_t c = CACHE_CODING_BR; c != CACHE_CODING_IDENTITY; --c) { /* br first: it wins a tie */
        int cq = q[c] >= 0 ? q[c] : star >= 0 ? star : 0;
        if ((available & (1u << c)) != 0 && cq > best_q) {
            best = c;
            best_q = cq;
        }
    }
    return best;
}

/* --- stamps ---------------------------------------------------------------------------------------- */

size_t cache_compress_stamp(const cache_record_t *identity, char *buf)
{
    int n = snprintf(buf, 48, "%llx/%llx/%08x", (unsigned long long)identity->oid, (unsigned long long)identity->body_len,
                     (unsigned)identity->body_crc);
    return n > 0 && n < 48 ? (size_t)n : 0;
}

h2o_iovec_t cache_compress_variant_stamp(const cache_record_t *variant)
{
    h2o_iovec_t block = variant->headers, n, v;
    while (cache_record_next_header(&block, &n, &v))
        if (h2o_memis(n.base, n.len, H2O_STRLIT(STAMP_HEADER)))
            return v;
    return h2o_iovec_init(NULL, 0);
}

/* --- the encoders ---------------------------------------------------------------------------------- */

static int gzip_body(const void *in, size_t len, uint8_t **out, size_t *outlen)
{
    z_stream zs = {.zalloc = Z_NULL, .zfree = Z_NULL, .opaque = Z_NULL};
    if (deflateInit2(&zs, GZIP_LEVEL, Z_DEFLATED, 15 + 16 /* a gzip wrapper */, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&zs, (uLong)len) + 32;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len; /* (at most CACHE_COMPRESS_MAX_BYTES) */
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

static int brotli_body(const void *in, size_t len, uint8_t **out, size_t *outlen)
{
    size_t cap = BrotliEncoderMaxCompressedSize(len);
    if (cap == 0)
        return -1;
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        return -1;
    size_t n = cap;
    if (!BrotliEncoderCompress(BROTLI_QUALITY, BROTLI_WINDOW, BROTLI_MODE_TEXT, len, in, &n, buf)) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

int cache_compress_body(cache_coding_t coding, const void *in, size_t len, uint8_t **out, size_t *outlen)
{
    switch (coding) {
    case CACHE_CODING_GZIP:
        return gzip_body(in, len, out, outlen);
    case CACHE_CODING_BR:
        return brotli_body(in, len, out, outlen);
    default:
        return -1;
    }
}

/* --- the compressor thread --------------------------------------------------------------------------- */

typedef struct st_job_t {
    struct st_job_t *next;
    cache_hash_t hash;
    uint64_t purge_seq;
    size_t key_len;
    char key[];
} job_t;

struct st_cache_compress_t {
    cache_store_t *store;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond, idle; /* a job was queued or stopping set; the queue emptied and the thread is idle */
    job_t *head, **tail;       /* mutex */
    size_t queued;             /* mutex */
    bool busy, stopping;       /* mutex */
    atomic_uint_fast64_t objects, variants, bytes_in, bytes_out, dropped, skipped;
};

/* The identity body of `rec`, whole: its inline bytes, or its chunks read into `*owned` (malloc). */
static int read_body(cache_store_reader_t *reader, const cache_record_t *rec, h2o_iovec_t *body, uint8_t **owned)
{
    *owned = NULL;
    if (rec->chunk_size == 0) {
        *body = rec->body;
        return 0;
    }
    uint8_t *buf = malloc(rec->body_len);
    if (buf == NULL)
        return -1;
    uint64_t off = 0;
    for (uint32_t i = 0; off < rec->body_len; ++i) {
        size_t len;
        if (cache_store_read_chunk(reader, rec->oid, i, buf + off, (size_t)(rec->body_len - off), &len, true) != 0 || len == 0) {
            free(buf);
            return -1; /* replaced, evicted or corrupt meanwhile: its replacement gets its own request */
        }
        off += len;
    }
    *owned = buf;
    *body = h2o_iovec_init(buf, rec->body_len);
    return 0;
}

/* Queues the variant `coding` of `rec` (the identity object, whose stamp it carries) with body `enc`. */
static void put_variant(cache_compress_t *c, h2o_mem_pool_t *pool, const cache_record_t *rec, cache_coding_t coding,
                        h2o_iovec_t enc, uint64_t purge_seq)
{
    char stamp[48];
    size_t slen = cache_compress_stamp(rec, stamp);
    cache_record_t v = {.status = rec->status,
                        .flags = CACHE_TTL_ENCODED,
                        .request_time = rec->request_time,
                        .response_time = rec->response_time,
                        .initial_age = rec->initial_age,
                        .lifetime = rec->lifetime,
                        .stale_while_revalidate = rec->stale_while_revalidate,
                        .stale_if_error = rec->stale_if_error,
                        .body_len = enc.len};
    cache_hash_t vhash;

    v.key = cache_key_encoded(pool, rec->key, cache_compress_coding_name(coding));
    cache_key_hash(v.key, &vhash);
    /* the identity's fields too: an invalidation by tag that is queued meanwhile must recognise the variant */
    size_t hlen = rec->headers.len + cache_record_header_size(sizeof(STAMP_HEADER) - 1, slen);
    uint8_t *hp = h2o_mem_alloc_pool(pool, hlen);
    v.headers = h2o_iovec_init(hp, hlen);
    memcpy(hp, rec->headers.base, rec->headers.len);
    hp += rec->headers.len;
    cache_record_put_header(&hp, H2O_STRLIT(STAMP_HEADER), stamp, slen);
    if (enc.len <= CACHE_STORE_CHUNK_SIZE) {
        v.body = enc;
    } else {
        v.oid = cache_store_new_oid(c->store);
        v.chunk_size = CACHE_STORE_CHUNK_SIZE;
        for (uint32_t i = 0; (uint64_t)i * CACHE_STORE_CHUNK_SIZE < enc.len; ++i) {
            size_t off = (size_t)i * CACHE_STORE_CHUNK_SIZE, n = enc.len - off;
            cache_store_put_chunk(c->store, v.oid, i, enc.base + off, n < CACHE_STORE_CHUNK_SIZE ? n : CACHE_STORE_CHUNK_SIZE);
        }
    }
    size_t len = cache_record_size(&v);
    uint8_t *buf = h2o_mem_alloc_pool(pool, len);
    cache_record_encode(&v, buf);
    cache_store_put_record(c->store, &vhash, buf, len, purge_seq);
    atomic_fetch_add_explicit(&c->variants, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->bytes_out, enc.len, memory_order_relaxed);
}

static void handle(cache_compress_t *c, cache_store_reader_t *reader, const job_t *j)
{
    h2o_mem_pool_t pool;
    h2o_iovec_t raw, body;
    cache_record_t rec;
    uint8_t *owned = NULL;
    bool made = false;

    h2o_mem_init_pool(&pool);
    if (cache_store_get(reader, &j->hash, &pool, &raw) != 0 || cache_record_decode(&rec, (const uint8_t *)raw.base, raw.len) != 0 ||
        !h2o_memis(rec.key.base, rec.key.len, j->key, j->key_len) || (rec.flags & CACHE_TTL_COMPRESSIBLE) == 0 ||
        !cache_compress_length_ok(rec.body_len) || read_body(reader, &rec, &body, &owned) != 0)
        goto Done; /* gone, replaced by something else, or not ours to compress */
    if (rec.chunk_size == 0 && cache_checksum(body.base, body.len) != rec.body_crc)
        goto Done; /* (a body that fails its checksum is not made into variants; the hit path replaces it) */
    for (cache_coding_t coding = CACHE_CODING_GZIP; coding != CACHE_CODING_NUM; ++coding) {
        uint8_t *enc;
        size_t enclen;
        if (cache_compress_body(coding, body.base, body.len, &enc, &enclen) != 0) {
            common_log_warn("compress: %s of %.*s failed", cache_compress_coding_name(coding), (int)rec.key.len, rec.key.base);
            continue;
        }
        atomic_fetch_add_explicit(&c->bytes_in, body.len, memory_order_relaxed);
        if (enclen < body.len) { /* (an encoding that saves nothing is not worth a lookup on every hit) */
            put_variant(c, &pool, &rec, coding, h2o_iovec_init(enc, enclen), j->purge_seq);
            made = true;
        }
        free(enc);
    }
Done:
    atomic_fetch_add_explicit(made ? &c->objects : &c->skipped, 1, memory_order_relaxed);
    free(owned);
    h2o_mem_clear_pool(&pool);
}

static void *compressor_main(void *arg)
{
    cache_compress_t *c = arg;
    cache_store_reader_t *reader = cache_store_reader_new(c->store);

    pthread_mutex_lock(&c->mutex);
    for (;;) {
        while (c->head == NULL && !c->stopping) {
            c->busy = false;
            pthread_cond_broadcast(&c->idle);
            pthread_cond_wait(&c->cond, &c->mutex);
        }
        if (c->head == NULL)
            break;
        job_t *j = c->head;
        if ((c->head = j->next) == NULL)
            c->tail = &c->head;
        --c->queued;
        c->busy = true;
        pthread_mutex_unlock(&c->mutex);
        handle(c, reader, j);
        free(j);
        pthread_mutex_lock(&c->mutex);
    }
    c->busy = false;
    pthread_cond_broadcast(&c->idle);
    pthread_mutex_unlock(&c->mutex);
    cache_store_reader_free(reader);
    cache_key_thread_dispose();
    return NULL;
}

cache_compress_t *cache_compress_start(cache_store_t *store, char *err, size_t errlen)
{
    cache_compress_t *c = h2o_mem_alloc(sizeof(*c));
    int rc;

    *c = (cache_compress_t){.store = store};
    c->tail = &c->head;
    pthread_mutex_init(&c->mutex, NULL);
    pthread_cond_init(&c->cond, NULL);
    pthread_cond_init(&c->idle, NULL);
    atomic_init(&c->objects, 0);
    atomic_init(&c->variants, 0);
    atomic_init(&c->bytes_in, 0);
    atomic_init(&c->bytes_out, 0);
    atomic_init(&c->dropped, 0);
    atomic_init(&c->skipped, 0);
    if ((rc = pthread_create(&c->thread, NULL, compressor_main, c)) != 0) {
        snprintf(err, errlen, "cannot start the compressor thread: %s", strerror(rc));
        pthread_mutex_destroy(&c->mutex);
        pthread_cond_destroy(&c->cond);
        pthread_cond_destroy(&c->idle);
        free(c);
        return NULL;
    }
    return c;
}

void cache_compress_submit(cache_compress_t *c, const cache_hash_t *hash, h2o_iovec_t key, uint64_t purge_seq)
{
    if (c == NULL)
        return;
    job_t *j = h2o_mem_alloc(offsetof(job_t, key) + key.len);
    j->next = NULL;
    j->hash = *hash;
    j->purge_seq = purge_seq;
    j->key_len = key.len;
    memcpy(j->key, key.base, key.len);
    pthread_mutex_lock(&c->mutex);
    if (c->queued >= QUEUE_MAX || c->stopping) {
        pthread_mutex_unlock(&c->mutex);
        free(j);
        atomic_fetch_add_explicit(&c->dropped, 1, memory_order_relaxed);
        return;
    }
    *c->tail = j;
    c->tail = &j->next;
    ++c->queued;
    c->busy = true; /* (so that a flush right after the submit waits for this job) */
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->mutex);
}

void cache_compress_flush(cache_compress_t *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mutex);
    while (c->head != NULL || c->busy)
        pthread_cond_wait(&c->idle, &c->mutex);
    pthread_mutex_unlock(&c->mutex);
}

void cache_compress_stats(cache_compress_t *c, cache_compress_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return;
    out->objects = atomic_load_explicit(&c->objects, memory_order_relaxed);
    out->variants = atomic_load_explicit(&c->variants, memory_order_relaxed);
    out->bytes_in = atomic_load_explicit(&c->bytes_in, memory_order_relaxed);
    out->bytes_out = atomic_load_explicit(&c->bytes_out, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&c->dropped, memory_order_relaxed);
    out->skipped = atomic_load_explicit(&c->skipped, memory_order_relaxed);
}

void cache_compress_stop(cache_compress_t *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mutex);
    c->stopping = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->mutex);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->mutex);
    pthread_cond_destroy(&c->cond);
    pthread_cond_destroy(&c->idle);
    free(c);
}
