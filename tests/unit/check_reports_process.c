/*
 * tests/unit/check_reports_process.c: the process_* readings of reports/process.c — the parsers on fixed
 * /proc text (a command name with spaces and parentheses, short or garbled lines), and a live read of this
 * test process checked against what it knows of itself (its open descriptors, its limit, its start).
 */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "reports/process.h"

/* A /proc/<pid>/stat line whose command is "a) (b c": utime 250, stime 150, starttime 1000, vsize 3133440,
 * rss 410 pages. */
static const char stat_line[] =
    "4921 (a) (b c) R 4913 4913 12620 0 -1 4194304 98 0 0 0 250 150 0 0 20 0 1 0 1000 3133440 410 "
    "18446744073709551615 94664642949120 94664642969001 140735338361568 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";

START_TEST(test_parse_stat)
{
    reports_process_t p;
    memset(&p, 0, sizeof(p));
    ck_assert_int_eq(reports_process_parse_stat(stat_line, 100, 4096, 1700000000, &p), 0);
    ck_assert_double_eq_tol(p.cpu_seconds, 4.0, 1e-9);
    ck_assert_uint_eq(p.virtual_bytes, 3133440);
    ck_assert_uint_eq(p.resident_bytes, 410 * 4096);
    ck_assert_double_eq_tol(p.start_time_seconds, 1700000010.0, 1e-6);
}
END_TEST

START_TEST(test_parse_stat_rejects)
{
    reports_process_t p = {.resident_bytes = 7};
    ck_assert_int_eq(reports_process_parse_stat("", 100, 4096, 0, &p), -1);
    ck_assert_int_eq(reports_process_parse_stat("12 (x", 100, 4096, 0, &p), -1);
    ck_assert_int_eq(reports_process_parse_stat("12 (x) R 1 2 3", 100, 4096, 0, &p), -1);
    ck_assert_int_eq(reports_process_parse_stat("12 (x) R a b c d e f g h i j k l m n o p q r s t u v w", 100, 4096, 0, &p), -1);
    ck_assert_int_eq(reports_process_parse_stat(stat_line, 0, 4096, 0, &p), -1);
    ck_assert_uint_eq(p.resident_bytes, 7); /* unchanged */
}
END_TEST

START_TEST(test_parse_btime)
{
    ck_assert_uint_eq(reports_process_parse_btime("cpu  1 2 3\ncpu0 1 2 3\nintr 5\nbtime 1764900000\nprocesses 9\n"), 1764900000);
    ck_assert_uint_eq(reports_process_parse_btime("btime 42"), 42);
    ck_assert_uint_eq(reports_process_parse_btime("cpu 1\nxbtime 5\n"), 0);
    ck_assert_uint_eq(reports_process_parse_btime(""), 0);
}
END_TEST

/* This process: more than 256 KB resident (a test child forked by Check can be under 1 MB; a count in pages
 * instead of bytes would be far below 256 KB), a start time in the last hour, and one more open descriptor
 * after an open(2). */
START_TEST(test_read_self)
{
    reports_process_t a, b;
    struct rlimit rl;
    ck_assert_int_eq(reports_process_read(&a), 0);
    ck_assert_uint_gt(a.resident_bytes, 256 << 10);
    ck_assert_uint_ge(a.virtual_bytes, a.resident_bytes);
    ck_assert(a.cpu_seconds >= 0);
    double now = (double)time(NULL);
    ck_assert_msg(a.start_time_seconds <= now + 1 && a.start_time_seconds > now - 3600, "start %f, now %f", a.start_time_seconds,
                  now);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_uint_eq(a.max_fds, rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur);
    int fd = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(reports_process_read(&b), 0);
    ck_assert_uint_eq(b.open_fds, a.open_fds + 1);
    close(fd);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reports_process");
    TCase *tc = tcase_create("process");
    tcase_add_test(tc, test_parse_stat);
    tcase_add_test(tc, test_parse_stat_rejects);
    tcase_add_test(tc, test_parse_btime);
    tcase_add_test(tc, test_read_self);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
