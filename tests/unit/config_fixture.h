/*
 * tests/unit/config_fixture.h: what the configuration suites (check_edge_config, check_edge_config_behavior)
 * share. Header-only: each suite includes it once, before its tests, and calls fixture_main(name, suite) from
 * main().
 *
 * fixture_main() builds one temporary directory before the suite runs, and parse() passes it as basedir, so
 * relative paths in the YAML of the tests resolve there:
 *
 *     base/site/       a directory for file: origins
 *     base/notadir     a plain file where a directory is expected
 *     base/page.html   an error page; base/big.html is over the 1 MiB limit; base/504.html shadows the
 *                      built-in page of that name
 *     base/cert.pem, base/key.pem   TLS files (only their readability is checked)
 *     base/conf/edge.yaml           for edge_config_load, with paths relative to base/conf
 *
 * Error tests assert on the exact "name:line:col: " prefix and on a distinctive part of the message, so
 * that both the position and the wording an operator reads are pinned down.
 */
#ifndef TESTS_UNIT_CONFIG_FIXTURE_H
#define TESTS_UNIT_CONFIG_FIXTURE_H

#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "edge/config.h"

static char base[64];

static void write_file(const char *name, const char *content, size_t len)
{
    char path[PATH_MAX];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", base, name);
    fp = fopen(path, "w");
    if (fp == NULL || fwrite(content, 1, len, fp) != len || fclose(fp) != 0) {
        perror(path);
        exit(2);
    }
}

static void make_dir(const char *name)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", base, name);
    if (mkdir(path, 0755) != 0) {
        perror(path);
        exit(2);
    }
}

static int parse(edge_conf_t *conf, const char *yaml, char *err)
{
    return edge_config_parse(conf, "t.yaml", base, yaml, strlen(yaml), err);
}

/* A failed parse leaves nothing behind. */
static void assert_empty(const edge_conf_t *conf)
{
    ck_assert_ptr_null(conf->source);
    ck_assert_ptr_null(conf->listens);
    ck_assert_ptr_null(conf->upstream.origins);
    ck_assert_ptr_null(conf->upstream.groups);
    ck_assert_uint_eq(conf->upstream.num_groups, 0);
    ck_assert_ptr_null(conf->behaviors);
    ck_assert_ptr_null(conf->error_pages);
    ck_assert_ptr_null(conf->sites);
    ck_assert_ptr_null(conf->cache.path);
}

/* One case of an error table: the parse of `yaml` (`len` bytes) fails with a message that starts with
 * `prefix` and contains `part`, and leaves nothing behind. */
static void assert_parse_error(int i, const char *yaml, size_t len, const char *prefix, const char *part)
{
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    memset(&conf, 0xa5, sizeof(conf)); /* the parser must zero-fill it first */
    ck_assert_int_eq(edge_config_parse(&conf, "t.yaml", base, yaml, len, err), -1);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "case %d: expected prefix \"%s\", got \"%s\"", i, prefix, err);
    ck_assert_msg(strstr(err, part) != NULL, "case %d: expected \"%s\" in \"%s\"", i, part, err);
    assert_empty(&conf);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int fixture_main(Suite *s)
{
    SRunner *sr;
    char *big;
    int failed;

    strcpy(base, "/tmp/check_edge_config.XXXXXX");
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    make_dir("site");
    make_dir("conf");
    write_file("notadir", "x", 1);
    write_file("page.html", "<p>sorry</p>\n", 13);
    write_file("504.html", "<p>our own 504</p>\n", 19);
    write_file("cert.pem", "-----BEGIN CERTIFICATE-----\n", 28);
    write_file("key.pem", "-----BEGIN PRIVATE KEY-----\n", 28);
    if ((big = calloc(1, 1024 * 1024 + 1)) == NULL)
        return 2;
    write_file("big.html", big, 1024 * 1024 + 1);
    free(big);
#define EDGE_YAML "origin: file:../site\nerror_pages:\n  - {status: 500, page: ../page.html}\n"
    write_file("conf/edge.yaml", EDGE_YAML, strlen(EDGE_YAML));
#undef EDGE_YAML
    write_file("conf/bad.yaml", "origin: http://a\nthreads: many\n", 31);
    write_file("conf/empty.yaml", "", 0);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed == 0 ? 0 : 1;
}

#endif
