/*
 * cache/key.c: cache-key normalisation and hashing.
 *
 * Invariant: two requests that the behavior says are the same object must produce byte-identical keys,
 * whatever the order of their query parameters; that is why parameters are sorted as whole "name=value"
 * strings (ties between equal names keep a deterministic order too). Repeated parameters are kept: "a=1&a=2"
 * and "a=1" are different objects.
 *
 * The host comes first in every key and is normalised the same way for every request (cache_key_normalize_host):
 * a byte it lets through that could be a '/' would let "a.com/x" write the key of another host's path.
 *
 * This file and edge/server.c are the only libcrypto/libssl users: hashing here, TLS there.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "cache/key.h"

typedef struct st_param_t {
    const char *base;
    size_t len;     /* the whole "name=value" */
    size_t namelen; /* up to '=' or the end */
} param_t;

static int cmp_param(const void *_a, const void *_b)
{
    const param_t *a = _a, *b = _b;
    size_t n = a->namelen < b->namelen ? a->namelen : b->namelen;
    int r = memcmp(a->base, b->base, n);
    if (r != 0)
        return r;
    if (a->namelen != b->namelen)
        return a->namelen < b->namelen ? -1 : 1;
    n = a->len < b->len ? a->len : b->len;
    if ((r = memcmp(a->base, b->base, n)) != 0)
        return r;
    return a->len < b->len ? -1 : a->len > b->len;
}

static bool listed(const cache_key_rules_t *b, const char *name, size_t len)
{
    size_t lo = 0, hi = b->num_query_names;
    while (lo < hi) { /* query_names is sorted (strcmp) by the config module */
        size_t mid = (lo + hi) / 2;
        const char *n = b->query_names[mid];
        size_t nlen = strlen(n);
        /* compare as byte strings of their own lengths: a name may hold any byte, NUL included */
        int r = memcmp(n, name, nlen < len ? nlen : len);
        if (r == 0)
            r = nlen < len ? -1 : nlen > len;
        if (r == 0)
            return true;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

int cache_key_normalize_target(h2o_mem_pool_t *pool, h2o_iovec_t target, h2o_iovec_t *path, h2o_iovec_t *query)
{
    const char *q = memchr(target.base, '?', target.len);
    size_t plen = q != NULL ? (size_t)(q - target.base) : target.len;

    if (plen == 0 || target.base[0] != '/')
        return CACHE_KEY_EBADTARGET;
    /* pass 1: percent-decoding of the unreserved characters only, into buf (never longer than the input) */
    char *buf = h2o_mem_alloc_pool(pool, plen + 1), *d = buf;
    for (size_t i = 0; i != plen; ++i) {
        char c = target.base[i];
        if (c != '%') {
            *d++ = c;
            continue;
        }
        int hi, lo;
        if (i + 2 >= plen)
            return CACHE_KEY_EBADTARGET;
        if ((hi = hexval(target.base[i + 1])) < 0 || (lo = hexval(target.base[i + 2])) < 0)
            return CACHE_KEY_EBADTARGET;
        int v = hi * 16 + lo;
        if (unreserved(v)) {
            *d++ = (char)v;
        } else {
            static const char hex[] = "0123456789ABCDEF";
            *d++ = '%', *d++ = hex[hi], *d++ = hex[lo];
        }
        i += 2;
    }
    /* pass 2: remove dot segments (RFC 3986 §5.2.4) in place: segments are copied one by one, "." is
     * dropped and ".." drops the last one kept; a final "." or ".." leaves the path ending in '/' */
    size_t n = (size_t)(d - buf), out = 0;
    for (size_t i = 0; i < n;) {
        /* buf[i] == '/': the segment runs to the next '/' or the end */
        size_t end = i + 1;
        while (end < n && buf[end] != '/')
            ++end;
        size_t seglen = end - i - 1;
        const char *seg = buf + i + 1;
        bool last = end == n;
        if (seglen == 1 && seg[0] == '.') {
            if (last)
                buf[out++] = '/';
        } else if (seglen == 2 && seg[0] == '.' && seg[1] == '.') {
            while (out > 0 && buf[--out] != '/')
                ;
            if (last)
                buf[out++] = '/';
        } else {
            memmove(buf + out, buf + i, end - i);
            out += end - i;
        }
        i = end;
    }
    if (out == 0)
        buf[out++] = '/';
    buf[out] = '\0';
    *path = h2o_memis(buf, out, target.base, plen) ? h2o_iovec_init(target.base, plen) : h2o_iovec_init(buf, out);
    *query = q != NULL ? h2o_iovec_init(q + 1, target.len - plen - 1) : h2o_iovec_init(NULL, 0);
    return 0;
}

h2o_iovec_t cache_key_build(h2o_mem_pool_t *pool, h2o_iovec_t path, h2o_iovec_t query, const cache_key_rules_t *rules)
{
    param_t *params = NULL;
    size_t nparams = 0, total = path.len;

    if (rules->query_string != CACHE_KEY_QS_NONE && query.len != 0) {
        size_t cap = 1;
        for (size_t i = 0; i < query.len; ++i)
            cap += query.base[i] == '&';
        params = h2o_mem_alloc_pool(pool, cap * sizeof(*params));
        const char *p = query.base, *end = query.base + query.len;
        while (p < end) {
            const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp != NULL ? amp : end;
            if (stop != p) {
                const char *eq = memchr(p, '=', (size_t)(stop - p));
                param_t prm = {p, (size_t)(stop - p), (size_t)((eq != NULL ? eq : stop) - p)};
                if (rules->query_string == CACHE_KEY_QS_ALL || listed(rules, prm.base, prm.namelen)) {
                    params[nparams++] = prm;
                    total += prm.len + 1;
                }
            }
            p = stop + 1;
        }
        qsort(params, nparams, sizeof(*params), cmp_param);
    }
    if (nparams == 0)
        return path;

    char *buf = h2o_mem_alloc_pool(pool, total + 1), *dst = buf;
    memcpy(dst, path.base, path.len);
    dst += path.len;
    for (size_t i = 0; i != nparams; ++i) {
        *dst++ = i == 0 ? '?' : '&';
        memcpy(dst, params[i].base, params[i].len);
        dst += params[i].len;
    }
    *dst = '\0';
    return h2o_iovec_init(buf, (size_t)(dst - buf));
}

h2o_iovec_t cache_key_add_headers(h2o_mem_pool_t *pool, h2o_iovec_t key, const cache_key_rules_t *rules,
                                  const h2o_headers_t *headers)
{
    if (rules->num_key_headers == 0)
        return key;
    size_t len = key.len;
    for (size_t i = 0; i != rules->num_key_headers; ++i) {
        len += strlen(rules->key_headers[i]) + 3;
        for (size_t j = 0; j != headers->size; ++j)
            len += headers->entries[j].value.len + 2; /* an upper bound: every value could be this field's */
    }
    char *buf = h2o_mem_alloc_pool(pool, len + 1), *p = buf;
    memcpy(p, key.base, key.len);
    p += key.len;
    for (size_t i = 0; i != rules->num_key_headers; ++i) {
        const char *name = rules->key_headers[i];
        size_t nlen = strlen(name);
        *p++ = '\n';
        memcpy(p, name, nlen);
        p += nlen;
        *p++ = ':';
        *p++ = ' ';
        bool first = true;
        for (size_t j = 0; j != headers->size; ++j) {
            const h2o_header_t *h = headers->entries + j;
            if (!h2o_lcstris(h->name->base, h->name->len, name, nlen))
                continue;
            if (!first) {
                *p++ = ',';
                *p++ = ' ';
            }
            memcpy(p, h->value.base, h->value.len);
            p += h->value.len;
            first = false;
        }
    }
    *p = '\0';
    return h2o_iovec_init(buf, (size_t)(p - buf));
}

/* Accept-Encoding → the set of codings with q > 0 among those a cache serves apart (br, gzip). */
static const char *normalise_accept_encoding(h2o_iovec_t v)
{
    bool br = false, gzip = false;
    for (const char *p = v.base, *end = v.base + v.len; p < end;) {
        while (p < end && (*p == ' ' || *p == ','))
            ++p;
        const char *tok = p;
        while (p < end && *p != ',' && *p != ';' && *p != ' ')
            ++p;
        size_t toklen = (size_t)(p - tok);
        bool zero = false;
        while (p < end && *p != ',') { /* parameters: only q=0 matters */
            if (*p == ';') {
                const char *q = p + 1;
                while (q < end && *q == ' ')
                    ++q;
                if (end - q >= 3 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
                    zero = true;
                    for (q += 2; q < end && *q != ',' && *q != ';'; ++q)
                        if (*q >= '1' && *q <= '9')
                            zero = false;
                }
            }
            ++p;
        }
        if (zero)
            continue;
        if (h2o_lcstris(tok, toklen, H2O_STRLIT("br")))
            br = true;
        else if (h2o_lcstris(tok, toklen, H2O_STRLIT("gzip")) || h2o_lcstris(tok, toklen, H2O_STRLIT("x-gzip")))
            gzip = true;
        else if (h2o_memis(tok, toklen, H2O_STRLIT("*")))
            br = gzip = true;
    }
    return br && gzip ? "br,gzip" : br ? "br" : gzip ? "gzip" : "";
}

const char *cache_key_accept_encoding(h2o_iovec_t value)
{
    return normalise_accept_encoding(value);
}

/* Writes the variant suffix into `dst` (when not NULL) and returns its length: two passes, one to size
 * the buffer and one to fill it, so no bound has to be guessed. */
static size_t variant_suffix(char *dst, h2o_iovec_t vary, const h2o_headers_t *headers)
{
    size_t n = 0;
#define PUT(s, l)                                                                                                                  \
    do {                                                                                                                           \
        if (dst != NULL)                                                                                                           \
            memcpy(dst + n, (s), (l));                                                                                             \
        n += (l);                                                                                                                  \
    } while (0)
    PUT("\nvary", 5);
    for (const char *p = vary.base, *end = vary.base + vary.len; p < end;) {
        while (p < end && (*p == ' ' || *p == ',' || *p == '\t'))
            ++p;
        const char *name = p;
        while (p < end && *p != ',' && *p != ' ' && *p != '\t')
            ++p;
        size_t nlen = (size_t)(p - name);
        if (nlen == 0)
            continue;
        PUT("\n", 1);
        for (size_t i = 0; i != nlen; ++i) {
            char c = h2o_tolower(name[i]);
            PUT(&c, 1);
        }
        PUT(": ", 2);
        if (h2o_lcstris(name, nlen, H2O_STRLIT("accept-encoding"))) {
            ssize_t i = h2o_find_header(headers, H2O_TOKEN_ACCEPT_ENCODING, -1);
            const char *norm = i != -1 ? normalise_accept_encoding(headers->entries[i].value) : "";
            PUT(norm, strlen(norm));
            continue;
        }
        bool first = true;
        for (size_t j = 0; j != headers->size; ++j) {
            const h2o_header_t *h = headers->entries + j;
            /* the Vary name may have any case; request field names are lower-case (libh2o's, as h2o_lcstris wants) */
            if (!h2o_lcstris(name, nlen, h->name->base, h->name->len))
                continue;
            h2o_iovec_t v = h->value;
            while (v.len != 0 && (v.base[0] == ' ' || v.base[0] == '\t'))
                ++v.base, --v.len;
            while (v.len != 0 && (v.base[v.len - 1] == ' ' || v.base[v.len - 1] == '\t'))
                --v.len;
            if (!first)
                PUT(", ", 2);
            PUT(v.base, v.len);
            first = false;
        }
    }
#undef PUT
    return n;
}

h2o_iovec_t cache_key_variant(h2o_mem_pool_t *pool, h2o_iovec_t key, h2o_iovec_t vary, const h2o_headers_t *headers)
{
    size_t n = variant_suffix(NULL, vary, headers);
    char *buf = h2o_mem_alloc_pool(pool, key.len + n + 1);
    memcpy(buf, key.base, key.len);
    variant_suffix(buf + key.len, vary, headers);
    buf[key.len + n] = '\0';
    return h2o_iovec_init(buf, key.len + n);
}

/* EVP_Digest() fetches the algorithm on every call (about 0.6 us, measured in the hit-path prototype);
 * a per-thread context with the algorithm fetched once does not. */
static __thread EVP_MD_CTX *ctx;
static __thread EVP_MD *md;

void cache_key_thread_dispose(void)
{
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    ctx = NULL;
    md = NULL;
}

void cache_key_hash(h2o_iovec_t key, cache_hash_t *out)
{
    unsigned len = 0;

    if (ctx == NULL) {
        md = EVP_MD_fetch(NULL, "SHA256", NULL);
        ctx = EVP_MD_CTX_new();
        if (md == NULL || ctx == NULL)
            abort(); /* libcrypto without SHA-256 cannot happen on a supported system */
    }
    EVP_DigestInit_ex(ctx, md, NULL);
    EVP_DigestUpdate(ctx, key.base, key.len);
    EVP_DigestFinal_ex(ctx, out->bytes, &len);
}

char *cache_key_hex(const cache_hash_t *hash, size_t n, char *buf)
{
    static const char digits[] = "0123456789abcdef";
    if (n > CACHE_KEY_HASH_LEN)
        n = CACHE_KEY_HASH_LEN;
    for (size_t i = 0; i != n; ++i) {
        buf[i * 2] = digits[hash->bytes[i] >> 4];
        buf[i * 2 + 1] = digits[hash->bytes[i] & 15];
    }
    buf[n * 2] = '\0';
    return buf;
}

h2o_iovec_t cache_key_encoded(h2o_mem_pool_t *pool, h2o_iovec_t key, const char *coding)
{
    return h2o_concat(pool, key, h2o_iovec_init(H2O_STRLIT("\nencoding: ")), h2o_iovec_init(coding, strlen(coding)));
}

h2o_iovec_t cache_key_url(h2o_iovec_t key)
{
    const char *nl = memchr(key.base, '\n', key.len);
    return h2o_iovec_init(key.base, nl != NULL ? (size_t)(nl - key.base) : key.len);
}

/* --- the host ------------------------------------------------------------------------------------ */

static bool host_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

int cache_key_normalize_host(h2o_mem_pool_t *pool, h2o_iovec_t host, bool tls, h2o_iovec_t *out)
{
    const char *p = host.base, *end = host.base + host.len, *name_end, *port = NULL;

    if (host.len == 0) {
        *out = h2o_iovec_init("", 0);
        return 0;
    }
    /* the name: an IPv6 literal in brackets, or a reg-name / IPv4 address up to the ':' of the port */
    if (*p == '[') {
        const char *close = memchr(p, ']', host.len);
        if (close == NULL || close == p + 1)
            return CACHE_KEY_EBADHOST;
        for (const char *q = p + 1; q != close; ++q)
            if (!(hexval(*q) >= 0 || *q == ':' || *q == '.'))
                return CACHE_KEY_EBADHOST;
        name_end = close + 1;
        if (name_end != end && *name_end != ':')
            return CACHE_KEY_EBADHOST;
    } else {
        name_end = memchr(p, ':', host.len);
        if (name_end == NULL)
            name_end = end;
        for (const char *q = p; q != name_end; ++q)
            if (!host_byte(h2o_tolower(*q)))
                return CACHE_KEY_EBADHOST;
    }
    /* the port: digits, 1..65535; empty (RFC 3986 allows "host:") counts as none */
    unsigned long portnum = 0;
    if (name_end != end) {
        port = name_end + 1;
        if (end - port > 5 + 10) /* leading zeros aside, no port has more digits */
            return CACHE_KEY_EBADHOST;
        for (const char *q = port; q != end; ++q) {
            if (*q < '0' || *q > '9')
                return CACHE_KEY_EBADHOST;
            portnum = portnum * 10 + (unsigned long)(*q - '0');
            if (portnum > 65535)
                return CACHE_KEY_EBADHOST;
        }
        if (port != end && portnum == 0)
            return CACHE_KEY_EBADHOST;
    }
    size_t nlen = (size_t)(name_end - p);
    while (*p != '[' && nlen > 1 && p[nlen - 1] == '.')
        --nlen; /* "example.com." is "example.com" (and so, that the form is a fixed point, is "example.com..") */
    bool keep_port = portnum != 0 && portnum != (tls ? 443 : 80);

    char *buf = h2o_mem_alloc_pool(pool, nlen + 7), *d = buf;
    for (size_t i = 0; i != nlen; ++i)
        *d++ = h2o_tolower(p[i]);
    if (keep_port)
        d += sprintf(d, ":%lu", portnum);
    *d = '\0';
    *out = h2o_memis(buf, (size_t)(d - buf), host.base, host.len) ? host : h2o_iovec_init(buf, (size_t)(d - buf));
    return 0;
}

h2o_iovec_t cache_key_host_name(h2o_iovec_t host)
{
    const char *p = host.base, *end = host.base + host.len, *colon;

    if (host.len != 0 && *p == '[') {
        const char *close = memchr(p, ']', host.len);
        return close != NULL ? h2o_iovec_init(p, (size_t)(close + 1 - p)) : host;
    }
    colon = memchr(p, ':', (size_t)(end - p));
    return colon != NULL ? h2o_iovec_init(p, (size_t)(colon - p)) : host;
}

h2o_iovec_t cache_key_build_for_host(h2o_mem_pool_t *pool, h2o_iovec_t host, h2o_iovec_t path, h2o_iovec_t query,
                                     const cache_key_rules_t *rules)
{
    h2o_iovec_t rest = cache_key_build(pool, path, query, rules);
    if (host.len == 0)
        return rest;
    return h2o_concat(pool, host, rest);
}

bool cache_key_host_in(h2o_iovec_t hosts, h2o_iovec_t host)
{
    if (hosts.len == 0)
        return true;
    for (const char *p = hosts.base, *end = hosts.base + hosts.len; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p)), *stop = comma != NULL ? comma : end;
        h2o_iovec_t spec = h2o_iovec_init(p, (size_t)(stop - p)), h = host;
        p = stop + 1;
        if (spec.len == 0)
            continue;
        if (cache_key_host_name(spec).len == spec.len)
            h = cache_key_host_name(host); /* no port in the pattern: any port */
        if (spec.len > 2 && spec.base[0] == '*' && spec.base[1] == '.') {
            size_t slen = spec.len - 1; /* ".a.com" */
            if (h.len > slen && memcmp(h.base + h.len - slen, spec.base + 1, slen) == 0)
                return true;
        } else if (h2o_memis(h.base, h.len, spec.base, spec.len)) {
            return true;
        }
    }
    return false;
}

h2o_iovec_t cache_key_url_host(h2o_iovec_t url)
{
    const char *slash = memchr(url.base, '/', url.len);
    return h2o_iovec_init(url.base, slash != NULL ? (size_t)(slash - url.base) : url.len);
}
