/*
 * tests/fuzz/fuzz_record.c: libFuzzer target for the stored record decoder (cache/record.c): what the
 * store reads back from disk, which a crash, a bad disk or an older build may have left in any state.
 *
 * The input is the record itself, copied to a buffer of exactly its size. The driver checks the
 * promises of record.h: decode returns 0 or one CACHE_RECORD_E_* value; a record that decodes has
 * iovecs inside the buffer, and walking its header blocks with cache_record_next_header stays inside
 * them and ends exactly at their end; and encoding what decoded gives back the very same bytes (the
 * codec loses nothing and there is one encoding per record).
 *
 * FUZZ_SOURCES: cache/record.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cache/record.h"

static void check_inside(const uint8_t *buf, size_t len, h2o_iovec_t v)
{
    if (v.len != 0 && ((const uint8_t *)v.base < buf || (const uint8_t *)v.base + v.len > buf + len))
        __builtin_trap();
}

static void walk(h2o_iovec_t block)
{
    h2o_iovec_t b = block, name, value;
    size_t bytes = 0;
    while (cache_record_next_header(&b, &name, &value)) {
        if (name.len == 0 || name.base < block.base || value.base + value.len > block.base + block.len)
            __builtin_trap();
        bytes += cache_record_header_size(name.len, value.len);
    }
    if (bytes != block.len || b.len != 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *src = malloc(size != 0 ? size : 1);
    memcpy(src, data, size);

    cache_record_t rec;
    int ret = cache_record_decode(&rec, src, size);
    if (ret != 0) {
        if (ret != CACHE_RECORD_E_SHORT && ret != CACHE_RECORD_E_VERSION && ret != CACHE_RECORD_E_CORRUPT)
            __builtin_trap();
        free(src);
        return 0;
    }
    check_inside(src, size, rec.key);
    check_inside(src, size, rec.headers);
    check_inside(src, size, rec.vary);
    check_inside(src, size, rec.body);
    walk(rec.headers);
    walk(rec.vary);

    size_t n = cache_record_size(&rec);
    if (n != size)
        __builtin_trap();
    uint8_t *again = malloc(n);
    if (cache_record_encode(&rec, again) != n || memcmp(again, src, n) != 0)
        __builtin_trap();
    free(again);
    free(src);
    return 0;
}
