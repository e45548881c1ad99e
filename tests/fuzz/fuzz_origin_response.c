/*
 * tests/fuzz/fuzz_origin_response.c: libFuzzer target for the origin response parser (origin/client.c).
 *
 * The first byte chooses whether the request was a HEAD and how many bytes each simulated socket read
 * brings (1..128), so framing is exercised across every read boundary; the rest is what the origin sent.
 * The driver keeps a buffer as the client does (append a read, feed, drop what was consumed) and checks
 * the parser's promises: it never consumes more than it was given, every pointer it returns lies inside
 * the buffer, it always ends in DONE or ERROR by EOF, and it never loops without progress.
 *
 * FUZZ_SOURCES: origin/client.c
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "origin/client.h"

static void check_inside(const char *buf, size_t len, h2o_iovec_t v)
{
    if (v.len != 0 && (v.base < buf || v.base + v.len > buf + len))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool is_head = (data[0] & 1) != 0;
    size_t step = (size_t)(data[0] >> 1) + 1;
    ++data;
    --size;

    origin_client_parser_t p;
    origin_client_parser_init(&p, is_head, 2048);
    char *buf = malloc(size != 0 ? size : 1);
    size_t have = 0, off = 0, rounds = 0, body_total = 0;
    bool ended = false, head_seen = false;
    while (!ended) {
        size_t n = size - off < step ? size - off : step;
        memcpy(buf + have, data + off, n);
        have += n;
        off += n;
        for (;;) {
            if (++rounds > 4 * size + 64)
                __builtin_trap(); /* no progress */
            origin_client_event_t ev;
            size_t used = origin_client_parser_feed(&p, buf, have, &ev);
            if (used > have)
                __builtin_trap();
            switch (ev.kind) {
            case ORIGIN_CLIENT_EV_HEAD:
                if (head_seen || ev.status < 200 || ev.status > 999 || ev.num_headers > ORIGIN_CLIENT_MAX_HEADERS)
                    __builtin_trap();
                head_seen = true;
                check_inside(buf, have, ev.reason);
                for (size_t i = 0; i != ev.num_headers; ++i) {
                    check_inside(buf, have, ev.headers[i].name);
                    check_inside(buf, have, ev.headers[i].value);
                }
                break;
            case ORIGIN_CLIENT_EV_BODY:
                if (!head_seen || ev.body.len == 0)
                    __builtin_trap();
                check_inside(buf, have, ev.body);
                body_total += ev.body.len;
                break;
            case ORIGIN_CLIENT_EV_DONE:
                if (!head_seen)
                    __builtin_trap();
                ended = true;
                break;
            case ORIGIN_CLIENT_EV_ERROR:
                if (ev.error == ORIGIN_CLIENT_OK || ev.error >= ORIGIN_CLIENT_ERR__COUNT)
                    __builtin_trap();
                ended = true;
                break;
            case ORIGIN_CLIENT_EV_NEED_MORE:
                break;
            }
            memmove(buf, buf + used, have - used);
            have -= used;
            if (ended || ev.kind == ORIGIN_CLIENT_EV_NEED_MORE)
                break;
        }
        if (!ended && off == size) {
            origin_client_event_t ev;
            origin_client_parser_eof(&p, (data[-1] & 2) != 0, &ev);
            if (ev.kind != ORIGIN_CLIENT_EV_DONE && ev.kind != ORIGIN_CLIENT_EV_ERROR)
                __builtin_trap();
            ended = true;
        }
    }
    if (body_total > size)
        __builtin_trap();
    free(buf);
    return 0;
}
