/*
 * tests/fuzz/fuzz_range.c: libFuzzer target for Range and If-Range (edge/range.c).
 *
 * The first 8 bytes are the stored body's length (its low 40 bits, and sometimes a small one, so that
 * both huge and tiny bodies are planned); the rest is split at the first NUL into the Range value and
 * an If-Range value. The driver checks the promises of range.h: edge_range_parse returns -1..max, and
 * its ranges are non-empty, ascending, disjoint and inside the body; edge_range_plan's segments are
 * inside the body, their lengths (literal parts included) add up to content_length, a 416 has no
 * segment, and a whole-body answer is one segment [0, len).
 *
 * FUZZ_SOURCES: edge/range.c cache/ttl.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "edge/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t len = 0;
    for (int i = 0; i != 8; ++i)
        len = len << 8 | data[i];
    len = data[0] & 0x80 ? len & 0xff : len & ((UINT64_C(1) << 40) - 1);
    data += 8;
    size -= 8;

    char *text = malloc(size != 0 ? size : 1);
    memcpy(text, data, size);
    const char *nul = memchr(text, '\0', size);
    h2o_iovec_t range = h2o_iovec_init(text, nul != NULL ? (size_t)(nul - text) : size);
    h2o_iovec_t if_range = nul != NULL ? h2o_iovec_init(nul + 1, size - range.len - 1) : h2o_iovec_init(NULL, 0);

    edge_range_seg_t segs[EDGE_RANGE_MAX];
    int n = edge_range_parse(range, len, segs, EDGE_RANGE_MAX);
    if (n < -1 || n > EDGE_RANGE_MAX)
        __builtin_trap();
    for (int i = 0; i < n; ++i) {
        if (segs[i].start >= segs[i].end || segs[i].end > len || (i != 0 && segs[i].start < segs[i - 1].end))
            __builtin_trap();
    }

    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    edge_range_plan_t plan;
    edge_range_plan(&pool, range, len, h2o_iovec_init(H2O_STRLIT("text/plain")), "0123456789abcdef", &plan);
    uint64_t total = 0;
    for (size_t i = 0; i != plan.num_segs; ++i) {
        const edge_range_seg_t *s = plan.segs + i;
        if (s->literal.base != NULL) {
            total += s->literal.len;
        } else {
            if (s->start > s->end || s->end > len)
                __builtin_trap();
            total += s->end - s->start;
        }
    }
    if (total != plan.content_length)
        __builtin_trap();
    if (plan.status == 416 && plan.num_segs != 0)
        __builtin_trap();
    if (plan.status == 0 && (plan.num_segs != 1 || plan.segs[0].start != 0 || plan.segs[0].end != len))
        __builtin_trap();
    if (plan.status != 0 && plan.status != 206 && plan.status != 416)
        __builtin_trap();
    h2o_mem_clear_pool(&pool);

    if (if_range.base != NULL) {
        (void)edge_range_if_range_ok(if_range, h2o_iovec_init(H2O_STRLIT("\"v1\"")),
                                     h2o_iovec_init(H2O_STRLIT("Sun, 06 Nov 1994 08:49:37 GMT")));
        (void)edge_range_if_range_ok(if_range, h2o_iovec_init(NULL, 0), h2o_iovec_init(NULL, 0));
        (void)edge_range_if_range_ok(if_range, if_range, if_range);
    }
    free(text);
    return 0;
}
