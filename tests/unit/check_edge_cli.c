/*
 * tests/unit/check_edge_cli.c: the option parser of every subcommand (edge/cli.c).
 *
 * Each test parses a command line built in the test and checks what landed where: the values through
 * the table, the arguments moved to argv[1..], and the answer (go on, 0 after --help, 2 after a usage
 * error). Messages go to stdout/stderr and are not asserted on: the e2e scenarios own those.
 */
#include "edge/cli.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct st_vals_t {
    const char *config, *edge;
    bool soft;
    unsigned long timeout;
    const char *headers[4];
    size_t num_headers;
} vals_t;

static const char *parse_header(void *dest, const char *value)
{
    vals_t *v = dest;
    if (strchr(value, ':') == NULL)
        return "expected 'Name: value'";
    v->headers[v->num_headers++] = value;
    return NULL;
}

static vals_t vals;
static const edge_cli_opt_t opts[] = {
    {.name = "config", .letter = 'c', .kind = EDGE_CLI_STRING, .dest = &vals.config},
    {.name = "edge", .kind = EDGE_CLI_STRING, .dest = &vals.edge},
    {.name = "soft", .kind = EDGE_CLI_FLAG, .dest = &vals.soft},
    {.name = "timeout", .kind = EDGE_CLI_UINT, .dest = &vals.timeout, .min = 1, .max = 3600, .unit = "seconds"},
    {.name = "tag", .kind = EDGE_CLI_STRING, .dest = &vals.edge},
    {.name = "tail", .kind = EDGE_CLI_FLAG, .dest = &vals.soft},
    {.name = "header", .letter = 'H', .kind = EDGE_CLI_CALL, .dest = &vals, .parse = parse_header},
    {0}};
static const edge_cli_t cli = {.prog = "test",
                               .usage = "usage: test [opts] ARG\n\nmore help\n",
                               .opts = opts,
                               .args_name = "ARG",
                               .min_args = 1,
                               .max_args = 2};

/* Parses the NULL-terminated words after "test"; `argv` receives the rewritten command line. */
static int parse(char **argv, int *nargs, ...)
{
    const char *words[16];
    int argc = 0;
    va_list ap;

    memset(&vals, 0, sizeof(vals));
    words[argc++] = "test";
    va_start(ap, nargs);
    for (const char *w; (w = va_arg(ap, const char *)) != NULL;)
        words[argc++] = w;
    va_end(ap);
    memcpy(argv, words, sizeof(*words) * argc);
    argv[argc] = NULL;
    *nargs = -1;
    return edge_cli_parse(&cli, argc, argv, nargs);
}

START_TEST(test_forms)
{
    char *argv[16];
    int n;

    ck_assert_int_eq(parse(argv, &n, "-c", "a.yaml", "--edge=h:1", "--timeout", "30", "--soft", "x", NULL), EDGE_CLI_CONTINUE);
    ck_assert_str_eq(vals.config, "a.yaml");
    ck_assert_str_eq(vals.edge, "h:1");
    ck_assert_uint_eq(vals.timeout, 30);
    ck_assert(vals.soft);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(argv[1], "x");

    ck_assert_int_eq(parse(argv, &n, "-cb.yaml", "x", NULL), EDGE_CLI_CONTINUE);
    ck_assert_str_eq(vals.config, "b.yaml");
    ck_assert_int_eq(parse(argv, &n, "--config", "a", "--config=b", "x", NULL), EDGE_CLI_CONTINUE);
    ck_assert_str_eq(vals.config, "b"); /* the last one wins */
}
END_TEST

START_TEST(test_arguments_mixed_with_options)
{
    char *argv[16];
    int n;

    ck_assert_int_eq(parse(argv, &n, "first", "-H", "A: 1", "-", "--header=B: 2", NULL), EDGE_CLI_CONTINUE);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(argv[1], "first");
    ck_assert_str_eq(argv[2], "-"); /* standard input, an argument */
    ck_assert_ptr_null(argv[3]);
    ck_assert_uint_eq(vals.num_headers, 2);
    ck_assert_str_eq(vals.headers[0], "A: 1");
    ck_assert_str_eq(vals.headers[1], "B: 2");

    ck_assert_int_eq(parse(argv, &n, "--", "--soft", NULL), EDGE_CLI_CONTINUE);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(argv[1], "--soft");
    ck_assert(!vals.soft);
}
END_TEST

START_TEST(test_prefixes)
{
    char *argv[16];
    int n;

    ck_assert_int_eq(parse(argv, &n, "--tim", "5", "--e", "h", "x", NULL), EDGE_CLI_CONTINUE);
    ck_assert_uint_eq(vals.timeout, 5);
    ck_assert_str_eq(vals.edge, "h");
    ck_assert_int_eq(parse(argv, &n, "--ta", "x", "y", NULL), 2); /* --tag or --tail */
    ck_assert_int_eq(parse(argv, &n, "--tag", "t", "x", NULL), EDGE_CLI_CONTINUE);
    ck_assert_str_eq(vals.edge, "t");
}
END_TEST

START_TEST(test_usage_errors)
{
    char *argv[16];
    int n;

    ck_assert_int_eq(parse(argv, &n, "--bogus", "x", NULL), 2);
    ck_assert_int_eq(parse(argv, &n, "-z", "x", NULL), 2);
    ck_assert_int_eq(parse(argv, &n, "x", "--edge", NULL), 2);         /* no value */
    ck_assert_int_eq(parse(argv, &n, "--soft=1", "x", NULL), 2);       /* a flag takes none */
    ck_assert_int_eq(parse(argv, &n, "--timeout", "0", "x", NULL), 2); /* out of range */
    ck_assert_int_eq(parse(argv, &n, "--timeout", "3601", "x", NULL), 2);
    ck_assert_int_eq(parse(argv, &n, "--timeout", "+5", "x", NULL), 2);
    ck_assert_int_eq(parse(argv, &n, "--timeout", "5s", "x", NULL), 2);
    ck_assert_int_eq(parse(argv, &n, "-H", "no colon", "x", NULL), 2); /* refused by the callback */
    ck_assert_int_eq(parse(argv, &n, NULL), 2);                        /* too few arguments */
    ck_assert_int_eq(parse(argv, &n, "a", "b", "c", NULL), 2);         /* too many */
    ck_assert_int_eq(n, -1);                                           /* untouched on error */
    ck_assert_int_eq(edge_cli_usage_error(&cli, "%s", "why"), 2);
}
END_TEST

START_TEST(test_help)
{
    char *argv[16];
    int n;

    ck_assert_int_eq(parse(argv, &n, "--help", NULL), 0);
    ck_assert_int_eq(parse(argv, &n, "x", "-h", NULL), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("edge_cli");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_forms);
    tcase_add_test(tc, test_arguments_mixed_with_options);
    tcase_add_test(tc, test_prefixes);
    tcase_add_test(tc, test_usage_errors);
    tcase_add_test(tc, test_help);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
