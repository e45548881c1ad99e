/*
 * tests/fuzz/fuzz_cache_control.c: libFuzzer target for the Cache-Control parsers of cache/ttl.c.
 *
 * The input is split at NUL bytes into field lines. Each line is fed to cache_ttl_parse_cc (response and
 * request directives together, one call per line as for several field lines), to
 * cache_ttl_parse_targeted (RFC 9213's Structured Field Dictionary), and the result to
 * cache_ttl_decide under rules from the first byte. The driver checks what the header promises: every
 * numeric directive is -1 or a delta-seconds no larger than 2^31 (max-stale may be INT64_MAX, min-fresh
 * INT64_MAX when invalid), the omit lists point inside the line they came from and never exceed
 * CACHE_CC_MAX_OMIT, and a decision that stores has a non-negative lifetime within the rules' clamp.
 *
 * FUZZ_SOURCES: cache/ttl.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cache/ttl.h"

static void check_delta(int64_t v, bool may_be_max)
{
    if (v < -1 || (v > CACHE_TTL_DELTA_MAX && !(may_be_max && v == INT64_MAX)))
        __builtin_trap();
}

static void check_cc(const cache_cc_t *cc, const char *line, size_t len, size_t omit_before)
{
    check_delta(cc->max_age, false);
    check_delta(cc->s_maxage, false);
    check_delta(cc->stale_while_revalidate, false);
    check_delta(cc->stale_if_error, false);
    check_delta(cc->max_stale, true);
    check_delta(cc->min_fresh, true);
    if (cc->num_omit > CACHE_CC_MAX_OMIT)
        __builtin_trap();
    for (size_t i = omit_before; i < cc->num_omit; ++i)
        if (cc->omit[i].base < line || cc->omit[i].base + cc->omit[i].len > line + len)
            __builtin_trap();
    for (size_t i = 0; i != cc->num_omit; ++i)
        (void)cache_ttl_cc_omits(cc, "set-cookie", 10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t knobs = data[0];
    ++data;
    --size;

    /* a copy, so that reading one byte past a line is caught by ASan */
    char *text = malloc(size != 0 ? size : 1);
    memcpy(text, data, size);

    cache_cc_t cc;
    cache_ttl_cc_init(&cc);
    const char *p = text, *end = text + size;
    while (p <= end) {
        const char *nul = memchr(p, '\0', (size_t)(end - p)), *stop = nul != NULL ? nul : end;
        size_t len = (size_t)(stop - p), before = cc.num_omit;
        cache_ttl_parse_cc(&cc, p, len);
        check_cc(&cc, p, len, before);

        cache_cc_t targeted;
        if (cache_ttl_parse_targeted(&targeted, p, len)) {
            check_cc(&targeted, p, len, 0);
            if (targeted.num_omit != 0)
                __builtin_trap(); /* a dictionary has no qualified forms */
        }
        p = stop + 1;
    }

    cache_ttl_rules_t rules = {.min_ttl = knobs & 1 ? 5 : 0,
                               .default_ttl = knobs & 2 ? 30 : 86400,
                               .max_ttl = knobs & 2 ? 60 : 31536000,
                               .default_ttl_set = (knobs & 4) != 0,
                               .cache_set_cookie = (knobs & 8) != 0};
    cache_ttl_in_t in = {.status = knobs & 16 ? 200 : 404,
                         .cc = cc,
                         .age = knobs & 32 ? 100 : -1,
                         .has_validator = (knobs & 64) != 0,
                         .has_cache_control = true,
                         .has_set_cookie = (knobs & 128) != 0,
                         .request_time = 1000,
                         .response_time = 1001};
    cache_ttl_out_t out;
    cache_ttl_decide(&in, &rules, &out);
    if (out.store && (out.lifetime < 0 ||
                      (out.lifetime != 0 && (out.lifetime < (int64_t)rules.min_ttl || out.lifetime > (int64_t)rules.max_ttl))))
        __builtin_trap();
    if (!out.store && out.why == NULL)
        __builtin_trap();
    free(text);
    return 0;
}
