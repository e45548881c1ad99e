/*
 * tests/unit/check_cache_pattern.c: CloudFront-style path patterns (cache/pattern.c).
 *
 * Each matching test lists (pattern, path, expected) rows and reports the row that fails. The
 * pathological-pattern test bounds the time as well as the answer: the matcher must stay linear-ish on
 * a path that an attacker chooses.
 */
#include "cache/pattern.h"

#include <check.h>
#include <string.h>
#include <time.h>

typedef struct st_row_t {
    const char *pattern;
    const char *path;
    bool match;
} row_t;

static void check_rows(const row_t *rows, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        ck_assert_msg(cache_pattern_match(rows[i].pattern, rows[i].path, strlen(rows[i].path)) == rows[i].match,
                      "pattern \"%s\" vs \"%s\": expected %s", rows[i].pattern, rows[i].path, rows[i].match ? "match" : "no match");
}

#define CHECK_ROWS(rows) check_rows(rows, sizeof(rows) / sizeof(rows[0]))

/* --- cache_pattern_match ------------------------------------------------------------------------- */

START_TEST(test_literal)
{
    static const row_t rows[] = {
        {"/index.html", "/index.html", true},
        {"/index.html", "/index.htm", false},
        {"/index.html", "/index.html5", false},
        {"/index.html", "/x/index.html", false},
        {"/a/b", "/a/b", true},
        {"/a/b", "/a/b/", false},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_star_crosses_slash)
{
    static const row_t rows[] = {
        {"/images/*", "/images/a.png", true},
        {"/images/*", "/images/2024/01/a.png", true},
        {"/images/*", "/images/", true},
        {"/images/*", "/images", false},
        {"/images/*", "/img/a.png", false},
        {"*.jpg", "/a/b/c.jpg", true},
        {"*.jpg", "/a/b/c.jpeg", false},
        {"/a/*/c", "/a/b/x/y/c", true},
        {"/a/*/c", "/a/c", false},
        {"/a*b*c", "/a-b-c", true},
        {"/a*b*c", "/axxbyyczzc", true},
        {"/a*b*c", "/axxbyy", false},
        {"/*/*", "/x/y", true},
        {"/*/*", "/xy", false},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_question_mark)
{
    static const row_t rows[] = {
        {"/a?.png", "/a1.png", true}, {"/a?.png", "/a.png", false}, {"/a?.png", "/a12.png", false}, {"/a?c", "/a/c", true},
        {"/???", "/abc", true},       {"/???", "/ab", false},       {"/???", "/abcd", false},       {"/a?*", "/a", false},
        {"/a?*", "/ab", true},        {"/a*?", "/ab", true},        {"/a*?", "/a", false},          {"?", "/", false},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_leading_slash_optional)
{
    static const row_t rows[] = {
        {"images/x.png", "/images/x.png", true},
        {"/images/x.png", "/images/x.png", true},
        {"images/*", "/images/a", true},
        {"images/*", "/other/images/a", false},
        {"*", "/", true},
        {"/*", "/", true},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_case_sensitive)
{
    static const row_t rows[] = {
        {"/Images/*", "/images/a", false}, {"/Images/*", "/Images/a", true}, {"*.JPG", "/a.jpg", false},
        {"*.jpg", "/a.JPG", false},        {"/a?C", "/abc", false},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_empty_pattern)
{
    /* "" is "/" once the implicit leading '/' is added: only the root matches */
    static const row_t rows[] = {
        {"", "/", true},
        {"", "/a", false},
        {"", "/index.html", false},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_star_matches_everything)
{
    static const char *paths[] = {"/", "/a", "/a/b/c.d", "/?x=1", "/%2F", "/a*b?c", "/\xff\x01"};
    for (size_t i = 0; i != sizeof(paths) / sizeof(paths[0]); ++i) {
        ck_assert_msg(cache_pattern_match("*", paths[i], strlen(paths[i])), "\"*\" vs \"%s\"", paths[i]);
        ck_assert_msg(cache_pattern_match("/*", paths[i], strlen(paths[i])), "\"/*\" vs \"%s\"", paths[i]);
        ck_assert_msg(cache_pattern_match("**", paths[i], strlen(paths[i])), "\"**\" vs \"%s\"", paths[i]);
    }
    ck_assert(cache_pattern_match("*", "", 0));
}
END_TEST

START_TEST(test_length_bounds_subject)
{
    /* only `len` bytes are the path: what follows must not take part */
    ck_assert(cache_pattern_match("/abc", "/abcdef", 4));
    ck_assert(!cache_pattern_match("/abcdef", "/abcdef", 4));
    ck_assert(!cache_pattern_match("*f", "/abcdef", 4));
}
END_TEST

START_TEST(test_pathological_pattern_is_fast)
{
    static char path[100001];
    struct timespec t0, t1;

    path[0] = '/';
    memset(path + 1, 'a', sizeof(path) - 2);
    path[sizeof(path) - 1] = '\0';
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert(!cache_pattern_match("*a*a*a*a*a*a*b", path, strlen(path)));
    ck_assert(!cache_pattern_match("/a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", path, strlen(path)));
    ck_assert(cache_pattern_match("*a*a*a*a*a*a*a", path, strlen(path)));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(sec < 1.0, "three matches over 100 kB took %.3f s", sec);
}
END_TEST

/* --- cache_pattern_covers ------------------------------------------------------------------------ */

START_TEST(test_covers_star_covers_all)
{
    static const char *later[] = {"*", "/images/*", "*.jpg", "/a?c", "/index.html", "", "/*/*"};
    for (size_t i = 0; i != sizeof(later) / sizeof(later[0]); ++i) {
        ck_assert_msg(cache_pattern_covers("*", later[i]), "\"*\" should cover \"%s\"", later[i]);
        ck_assert_msg(cache_pattern_covers("/*", later[i]), "\"/*\" should cover \"%s\"", later[i]);
    }
}
END_TEST

START_TEST(test_covers_prefix)
{
    ck_assert(cache_pattern_covers("/images/*", "/images/*.jpg"));
    ck_assert(cache_pattern_covers("/images/*", "/images/a?.png"));
    ck_assert(cache_pattern_covers("/images/*", "/images/logo.png"));
    ck_assert(cache_pattern_covers("images/*", "/images/*.jpg")); /* the leading '/' is optional on both sides */
    ck_assert(cache_pattern_covers("/images/*", "images/x/*"));
}
END_TEST

START_TEST(test_covers_not)
{
    ck_assert(!cache_pattern_covers("/images/*", "/img/*"));
    ck_assert(!cache_pattern_covers("/images/*", "*.jpg"));
    ck_assert(!cache_pattern_covers("/images/*", "*"));
    ck_assert(!cache_pattern_covers("*.jpg", "/images/*"));
    ck_assert(!cache_pattern_covers("/a?.png", "/a*.png")); /* '?' is one character, '*' any number */
    ck_assert(!cache_pattern_covers("/ab.png", "/a?.png")); /* '?' may be any character, not just 'b' */
    ck_assert(!cache_pattern_covers("*a", "*"));
    ck_assert(!cache_pattern_covers("/index.html", "/index.htm"));
    ck_assert(!cache_pattern_covers("/Images/*", "/images/*"));
}
END_TEST

START_TEST(test_covers_equal)
{
    static const char *patterns[] = {"*", "/images/*", "*.jpg", "/a?c", "/index.html", "/a*b*c", "/*/?/*", ""};
    for (size_t i = 0; i != sizeof(patterns) / sizeof(patterns[0]); ++i)
        ck_assert_msg(cache_pattern_covers(patterns[i], patterns[i]), "\"%s\" should cover itself", patterns[i]);
    ck_assert(cache_pattern_covers("/x/*", "x/*"));
}
END_TEST

START_TEST(test_covers_question_mark)
{
    ck_assert(cache_pattern_covers("/a?c", "/abc"));
    ck_assert(cache_pattern_covers("/a*", "/a?c"));
    ck_assert(cache_pattern_covers("/a??", "/a?c"));
    ck_assert(!cache_pattern_covers("/abc", "/a?c"));
}
END_TEST

START_TEST(test_covers_agrees_with_match)
{
    /* soundness: whenever covers() says yes, every sample path that `later` matches is matched by `earlier` */
    static const char *patterns[] = {"*",   "/images/*", "/images/*.jpg", "/images/a?.png", "*.jpg", "/a?c", "/a*c", "/abc",
                                     "/a*", ""};
    static const char *paths[] = {"/",        "/abc",       "/a/c",   "/ac", "/images/x.jpg",  "/images/a1.png",
                                  "/images/", "/img/x.jpg", "/x.jpg", "/a",  "/images/a/b.jpg"};
    size_t np = sizeof(patterns) / sizeof(patterns[0]), ns = sizeof(paths) / sizeof(paths[0]);
    for (size_t e = 0; e != np; ++e)
        for (size_t l = 0; l != np; ++l) {
            if (!cache_pattern_covers(patterns[e], patterns[l]))
                continue;
            for (size_t s = 0; s != ns; ++s)
                if (cache_pattern_match(patterns[l], paths[s], strlen(paths[s])))
                    ck_assert_msg(cache_pattern_match(patterns[e], paths[s], strlen(paths[s])),
                                  "\"%s\" said to cover \"%s\", but only the latter matches \"%s\"", patterns[e], patterns[l],
                                  paths[s]);
        }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_pattern");
    TCase *tc;

    tc = tcase_create("match");
    tcase_add_test(tc, test_literal);
    tcase_add_test(tc, test_star_crosses_slash);
    tcase_add_test(tc, test_question_mark);
    tcase_add_test(tc, test_leading_slash_optional);
    tcase_add_test(tc, test_case_sensitive);
    tcase_add_test(tc, test_empty_pattern);
    tcase_add_test(tc, test_star_matches_everything);
    tcase_add_test(tc, test_length_bounds_subject);
    suite_add_tcase(s, tc);

    tc = tcase_create("pathological");
    tcase_add_test(tc, test_pathological_pattern_is_fast);
    suite_add_tcase(s, tc);

    tc = tcase_create("covers");
    tcase_add_test(tc, test_covers_star_covers_all);
    tcase_add_test(tc, test_covers_prefix);
    tcase_add_test(tc, test_covers_not);
    tcase_add_test(tc, test_covers_equal);
    tcase_add_test(tc, test_covers_question_mark);
    tcase_add_test(tc, test_covers_agrees_with_match);
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
