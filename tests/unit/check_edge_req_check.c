/*
 * tests/unit/check_edge_req_check.c: the request framing checks (edge/req_check.c) on raw heads, each case the
 * smallest head that shows one refusal, next to the head that passes.
 */
#include "edge/req_check.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static edge_req_check_t check(const char *head, int minor)
{
    return edge_req_check_head(h2o_iovec_init(head, strlen(head)), minor);
}

START_TEST(test_heads)
{
    static const struct {
        const char *head;
        int minor;
        edge_req_check_t want;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1, EDGE_REQ_CHECK_OK},
        {"GET / HTTP/1.0\r\n\r\n", 0, EDGE_REQ_CHECK_OK},
        {"GET / HTTP/1.1\r\n\r\n", 1, EDGE_REQ_CHECK_HOST_MISSING},
        {"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 1, EDGE_REQ_CHECK_HOST_DUPLICATE},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 1, EDGE_REQ_CHECK_CL_AND_TE},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\n", 1, EDGE_REQ_CHECK_CL_CONFLICT},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 1, EDGE_REQ_CHECK_OK},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 1, EDGE_REQ_CHECK_CL_CONFLICT},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 1, EDGE_REQ_CHECK_OK},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED \r\n\r\n", 1, EDGE_REQ_CHECK_OK},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 1, EDGE_REQ_CHECK_TE_OBFUSCATED},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 1, EDGE_REQ_CHECK_TE_OBFUSCATED},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n", 1, EDGE_REQ_CHECK_TE_OBFUSCATED},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 1,
         EDGE_REQ_CHECK_TE_OBFUSCATED},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n", 1, EDGE_REQ_CHECK_OBS_FOLD},
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 1, EDGE_REQ_CHECK_BAD_FIELD_NAME},
        {"GET / HTTP/1.1\nHost: a\n\n", 1, EDGE_REQ_CHECK_BARE_LF},
        {"GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n", 1, EDGE_REQ_CHECK_BARE_LF},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        edge_req_check_t got = check(cases[i].head, cases[i].minor);
        ck_assert_msg(got == cases[i].want, "case %zu: got %s, expected %s", i, edge_req_check_reason(got),
                      edge_req_check_reason(cases[i].want));
    }
}
END_TEST

START_TEST(test_reasons_and_close)
{
    for (int v = EDGE_REQ_CHECK_OK; v <= EDGE_REQ_CHECK_BAD_TARGET; ++v) {
        ck_assert_str_ne(edge_req_check_reason((edge_req_check_t)v), "?");
        ck_assert(edge_req_check_closes((edge_req_check_t)v) == (v != EDGE_REQ_CHECK_OK));
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("edge_req_check");
    TCase *tc = tcase_create("head");
    tcase_add_test(tc, test_heads);
    tcase_add_test(tc, test_reasons_and_close);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
