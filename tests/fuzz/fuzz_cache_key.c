/*
 * tests/fuzz/fuzz_cache_key.c: libFuzzer target for the cache key normaliser (cache/key.c), fed as the
 * server feeds it: a request target through libh2o's h2o_url_normalize_path, then cache_key_build under
 * query rules the input chooses, cache_key_add_headers, cache_key_variant and cache_key_url.
 *
 * Input: a knob byte (query rule, key headers), then NUL-separated parts: the request target, the
 * Vary value, the request's Accept-Encoding, X-A and X-B values, and the listed query names (separated
 * by '&'). The driver checks: the key starts with the normalised path and carries a '?' only when a
 * parameter is kept; with the "all" rule the key does not depend on the parameters' order; the header
 * and variant suffixes extend the key without changing it; and when the target holds no newline, the
 * URL part of every derived key is exactly the built key (what purge and reports name an object by); and
 * the X-A part taken as a Host: its normal form holds no '/', ',', space, newline or capital, is a fixed
 * point of the normalisation, and starts the key built for it.
 *
 * FUZZ_SOURCES: cache/key.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cache/key.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t knobs = data[0];
    ++data;
    --size;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    h2o_iovec_t parts[6] = {{NULL, 0}};
    const char *p = text, *end = text + size;
    for (size_t i = 0; i != 6 && p <= end; ++i) {
        const char *nul = memchr(p, '\0', (size_t)(end - p)), *stop = nul != NULL ? nul : end;
        parts[i] = h2o_iovec_init(p, (size_t)(stop - p));
        p = stop + 1;
    }
    if (parts[0].base == NULL)
        parts[0] = h2o_iovec_init("/", 1);

    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);

    /* the rules: "none", "all" or a list of names (sorted and unique, as the loader leaves them) */
    cache_key_rules_t rules = {.query_string = (cache_key_qs_t)(knobs % 3)};
    char *names[16];
    size_t nnames = 0;
    if (parts[5].base != NULL) {
        char *list = h2o_mem_alloc_pool(&pool, parts[5].len + 1);
        memcpy(list, parts[5].base, parts[5].len);
        list[parts[5].len] = '\0';
        for (char *save = NULL, *tok = strtok_r(list, "&", &save); tok != NULL && nnames != 16; tok = strtok_r(NULL, "&", &save))
            names[nnames++] = tok;
        qsort(names, nnames, sizeof(names[0]), cmp_str);
        size_t u = 0;
        for (size_t i = 0; i != nnames; ++i)
            if (u == 0 || strcmp(names[u - 1], names[i]) != 0)
                names[u++] = names[i];
        nnames = u;
    }
    rules.query_names = names;
    rules.num_query_names = nnames;
    static char *key_headers[] = {"x-a", "x-b"};
    rules.key_headers = key_headers;
    rules.num_key_headers = (knobs >> 2) % 3;

    /* the request target, as the server sees it */
    size_t query_at;
    size_t *norm_indexes = NULL;
    h2o_iovec_t path = h2o_url_normalize_path(&pool, parts[0].base, parts[0].len, &query_at, &norm_indexes);
    h2o_iovec_t query =
        query_at != SIZE_MAX ? h2o_iovec_init(parts[0].base + query_at + 1, parts[0].len - query_at - 1) : h2o_iovec_init(NULL, 0);

    h2o_iovec_t key = cache_key_build(&pool, path, query, &rules);
    if (key.len < path.len || memcmp(key.base, path.base, path.len) != 0)
        __builtin_trap();
    if (key.len != path.len && key.base[path.len] != '?')
        __builtin_trap();
    if (rules.query_string == CACHE_KEY_QS_NONE && key.len != path.len)
        __builtin_trap();

    /* with "all", the order of the parameters does not matter: reversing them gives the same key */
    if (rules.query_string == CACHE_KEY_QS_ALL && query.len != 0 && memchr(query.base, '&', query.len) != NULL) {
        char *rev = h2o_mem_alloc_pool(&pool, query.len + 1), *dst = rev;
        const char *q = query.base + query.len;
        while (q > query.base) {
            const char *s = q;
            while (s > query.base && s[-1] != '&')
                --s;
            memcpy(dst, s, (size_t)(q - s));
            dst += q - s;
            if (s > query.base)
                *dst++ = '&';
            q = s > query.base ? s - 1 : s;
        }
        h2o_iovec_t again = cache_key_build(&pool, path, h2o_iovec_init(rev, (size_t)(dst - rev)), &rules);
        if (!h2o_memis(again.base, again.len, key.base, key.len))
            __builtin_trap();
    }

    h2o_headers_t headers = {NULL, 0, 0};
    if (parts[2].base != NULL)
        h2o_add_header(&pool, &headers, H2O_TOKEN_ACCEPT_ENCODING, NULL, parts[2].base, parts[2].len);
    if (parts[3].base != NULL)
        h2o_add_header_by_str(&pool, &headers, H2O_STRLIT("x-a"), 0, NULL, parts[3].base, parts[3].len);
    if (parts[4].base != NULL)
        h2o_add_header_by_str(&pool, &headers, H2O_STRLIT("x-b"), 0, NULL, parts[4].base, parts[4].len);

    h2o_iovec_t full = cache_key_add_headers(&pool, key, &rules, &headers);
    if (full.len < key.len || memcmp(full.base, key.base, key.len) != 0)
        __builtin_trap();
    h2o_iovec_t vary = parts[1].base != NULL ? parts[1] : h2o_iovec_init(H2O_STRLIT("accept-encoding, X-A"));
    h2o_iovec_t variant = cache_key_variant(&pool, full, vary, &headers);
    if (variant.len < full.len + 5 || memcmp(variant.base, full.base, full.len) != 0 ||
        memcmp(variant.base + full.len, "\nvary", 5) != 0)
        __builtin_trap();

    if (memchr(key.base, '\n', key.len) == NULL) {
        h2o_iovec_t u1 = cache_key_url(full), u2 = cache_key_url(variant);
        if (!h2o_memis(u1.base, u1.len, key.base, key.len) || !h2o_memis(u2.base, u2.len, key.base, key.len))
            __builtin_trap();
    }

    /* the host (the x-a part, taken as a Host value): a normal host holds no byte that could end it or split a
     * purge's list, normalising it again changes nothing, and a key starts with it */
    if (parts[3].base != NULL) {
        h2o_iovec_t host, again;
        if (cache_key_normalize_host(&pool, parts[3], (knobs & 16) != 0, &host) == 0) {
            for (size_t i = 0; i != host.len; ++i)
                if (host.base[i] == '/' || host.base[i] == ',' || host.base[i] == '\n' || host.base[i] == ' ' ||
                    (host.base[i] >= 'A' && host.base[i] <= 'Z'))
                    __builtin_trap();
            if (cache_key_normalize_host(&pool, host, (knobs & 16) != 0, &again) != 0 ||
                !h2o_memis(again.base, again.len, host.base, host.len))
                __builtin_trap();
            h2o_iovec_t hk = cache_key_build_for_host(&pool, host, path, query, &rules);
            h2o_iovec_t kh = cache_key_url_host(cache_key_url(hk));
            if (path.len != 0 && path.base[0] == '/' && !h2o_memis(kh.base, kh.len, host.base, host.len))
                __builtin_trap();
        }
    }

    cache_hash_t h1, h2;
    cache_key_hash(variant, &h1);
    cache_key_hash(variant, &h2);
    if (memcmp(&h1, &h2, sizeof(h1)) != 0)
        __builtin_trap();

    h2o_mem_clear_pool(&pool);
    free(text);
    return 0;
}
