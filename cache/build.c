/*
 * cache/build.c: from a response head to a stored record (see build.h).
 *
 * Invariant that is easy to break: a field the response forbids storing (RFC 9111 §3.1, §5.2.2.4,
 * §5.2.2.7) is left out of the record even though it is forwarded to the client that caused the fetch;
 * both the size pass and the writing pass of cache_build_encode_headers must apply the same test.
 */
#include <string.h>
#include "cache/build.h"

static const h2o_iovec_t *find(const h2o_headers_t *headers, const char *name, size_t len)
{
    for (size_t i = 0; headers != NULL && i != headers->size; ++i)
        if (h2o_memis(headers->entries[i].name->base, headers->entries[i].name->len, name, len))
            return &headers->entries[i].value;
    return NULL;
}

void cache_build_ttl_input(const cache_build_t *b, int status, const h2o_headers_t *h, cache_ttl_in_t *in)
{
    const h2o_iovec_t *targeted[2] = {NULL, NULL};
    *in = (cache_ttl_in_t){.status = status,
                           .age = b->age,
                           .has_authorization = find(b->client_headers, H2O_STRLIT("authorization")) != NULL,
                           .request_time = b->request_time,
                           .response_time = b->response_time};
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

void cache_build_encode_headers(const cache_build_t *b, const h2o_headers_t *h, h2o_iovec_t *headers, h2o_iovec_t *vary)
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
    uint8_t *hp = h2o_mem_alloc_pool(b->pool, hlen + 1);
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
            char *lc = h2o_mem_alloc_pool(b->pool, (size_t)(p - s));
            for (size_t i = 0; i != (size_t)(p - s); ++i)
                lc[i] = h2o_tolower(s[i]);
            names[nnames++] = h2o_iovec_init(lc, (size_t)(p - s));
        }
    }
    h2o_iovec_t values[32];
    for (size_t i = 0; i != nnames; ++i) {
        const h2o_iovec_t *cv = find(b->client_headers, names[i].base, names[i].len);
        values[i] = cv != NULL ? *cv : h2o_iovec_init("", 0);
        vlen += cache_record_header_size(names[i].len, values[i].len);
    }
    uint8_t *vp = h2o_mem_alloc_pool(b->pool, vlen + 1);
    vary->base = (char *)vp;
    vary->len = vlen;
    for (size_t i = 0; i != nnames; ++i)
        cache_record_put_header(&vp, names[i].base, names[i].len, values[i].base, values[i].len);
}

static uint32_t clamp32(int64_t v)
{
    return (uint32_t)(v < UINT32_MAX ? v : UINT32_MAX);
}

void cache_build_fill_times(const cache_build_t *b, cache_record_t *rec, const cache_ttl_out_t *ttl)
{
    rec->flags = ttl->flags;
    rec->request_time = b->request_time;
    rec->response_time = b->response_time;
    rec->initial_age = clamp32(ttl->initial_age);
    rec->lifetime = clamp32(ttl->lifetime);
    rec->stale_while_revalidate = clamp32(ttl->stale_while_revalidate);
    rec->stale_if_error = clamp32(ttl->stale_if_error);
}

static void put_encoded(const cache_build_t *b, const cache_hash_t *hash, const cache_record_t *rec)
{
    size_t len = cache_record_size(rec);
    uint8_t *buf = h2o_mem_alloc(len);
    cache_record_encode(rec, buf);
    cache_store_put_record(b->store, hash, buf, len, b->purge_seq);
    free(buf);
}

void cache_build_put(const cache_build_t *b, const cache_record_t *rec, const h2o_headers_t *response_headers)
{
    const h2o_iovec_t *vary = find(response_headers, H2O_STRLIT("vary"));
    if (vary == NULL) {
        put_encoded(b, b->hash, rec);
        return;
    }
    cache_record_t variant = *rec, index = {.status = 200, .flags = CACHE_TTL_VARY_INDEX, .key = b->key};
    cache_hash_t vhash;
    variant.key = cache_key_variant(b->pool, b->key, *vary, b->client_headers);
    cache_key_hash(variant.key, &vhash);
    put_encoded(b, &vhash, &variant);
    index.request_time = rec->request_time;
    index.response_time = rec->response_time;
    size_t hlen = cache_record_header_size(4, vary->len);
    uint8_t *hp = h2o_mem_alloc_pool(b->pool, hlen);
    index.headers = h2o_iovec_init(hp, hlen);
    cache_record_put_header(&hp, "vary", 4, vary->base, vary->len);
    put_encoded(b, b->hash, &index);
}

void cache_build_put_error_page(const cache_build_t *b, int status, h2o_iovec_t body, uint64_t min_ttl)
{
    h2o_header_t ct = {&H2O_TOKEN_CONTENT_TYPE->buf, NULL, h2o_iovec_init(H2O_STRLIT("text/html; charset=utf-8"))};
    h2o_headers_t h = {&ct, 1, 1};
    cache_ttl_out_t ttl = {.lifetime = (int64_t)min_ttl, .flags = CACHE_TTL_ERROR_PAGE};
    cache_record_t rec = {.status = (uint16_t)status, .key = b->key, .body_len = body.len, .body = body};

    if (min_ttl == 0)
        return;
    cache_build_fill_times(b, &rec, &ttl);
    cache_build_encode_headers(b, &h, &rec.headers, &rec.vary);
    cache_build_put(b, &rec, &h);
}

void cache_build_refresh(const cache_build_t *b, const cache_record_t *stale, const h2o_headers_t *fresh,
                         const cache_ttl_rules_t *rules, cache_ttl_out_t *ttl, cache_record_t *rec)
{
    h2o_headers_t merged = {NULL};
    h2o_iovec_t block = stale->headers, name, value;

    while (cache_record_next_header(&block, &name, &value)) {
        if (find(fresh, name.base, name.len) != NULL)
            continue;
        h2o_iovec_t *n = h2o_mem_alloc_pool(b->pool, sizeof(*n));
        *n = name;
        h2o_vector_reserve(b->pool, &merged, merged.size + 1);
        merged.entries[merged.size++] = (h2o_header_t){n, NULL, value};
    }
    for (size_t i = 0; i != fresh->size; ++i) {
        h2o_vector_reserve(b->pool, &merged, merged.size + 1);
        merged.entries[merged.size++] = fresh->entries[i];
    }

    cache_ttl_in_t in;
    cache_build_ttl_input(b, stale->status, &merged, &in);
    cache_ttl_decide(&in, rules, ttl);
    *rec = *stale;
    cache_build_fill_times(b, rec, ttl);
    rec->flags |= stale->flags & CACHE_TTL_COMPRESSIBLE; /* the body is the same: so are its encoded variants */
    cache_build_encode_headers(b, &merged, &rec->headers, &rec->vary);
    rec->vary = stale->vary; /* the variant is the one that was stored */
    if (ttl->store)
        cache_build_put(b, rec, &merged);
    else
        cache_store_delete(b->store, b->hash);
}
