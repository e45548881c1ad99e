/*
 * tests/fuzz/fuzz_http_date.c: libFuzzer target for cache_ttl_parse_date (IMF-fixdate, RFC 850 and
 * asctime, RFC 9110 §5.6.7) and cache_ttl_parse_age (RFC 9111 §5.1), both of cache/ttl.c.
 *
 * Each parser gets the whole input, from a buffer of exactly that size so that a read past the field
 * is caught. The driver checks the promises: a date that parses is a time a struct tm can hold and,
 * printed back as an IMF-fixdate, parses to the same time (the round trip every stored Date and
 * Last-Modified relies on); an Age is -1 (ignored) or a delta-seconds in [0, 2^31].
 *
 * FUZZ_SOURCES: cache/ttl.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cache/ttl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size != 0 ? size : 1);
    memcpy(text, data, size);

    int64_t t;
    if (cache_ttl_parse_date(text, size, &t)) {
        time_t tt = (time_t)t;
        struct tm gmt;
        char buf[64];
        if (gmtime_r(&tt, &gmt) == NULL)
            __builtin_trap();
        size_t n = strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &gmt);
        int64_t again;
        /* only four-digit years print as IMF-fixdate has them (strftime does not pad 997, nor cut 10000) */
        if (n != 0 && gmt.tm_year + 1900 >= 1000 && gmt.tm_year + 1900 <= 9999 &&
            (!cache_ttl_parse_date(buf, n, &again) || again != t))
            __builtin_trap();
    }

    int64_t age = cache_ttl_parse_age(text, size);
    if (age < -1 || age > CACHE_TTL_DELTA_MAX)
        __builtin_trap();

    free(text);
    return 0;
}
