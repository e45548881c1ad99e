/*
 * tests/unit/check_edge_config_sites.c: the "sites" and "unknown_host" sections of the configuration
 * (edge/config_sites.c) and the choice of a site by host (edge/site.c): the flat tables and each site's ranges
 * of them, names scoped per site, the implicit site "default" of a file without sites, the override of the
 * origins, the admin API's invalidation targets under sites, and the errors (a host claimed twice names both
 * sites with file:line:col). The fixture (a base
 * directory of files the YAML names) is config_fixture.h.
 */
#include "tests/unit/config_fixture.h"
#include "edge/admin_parse.h"
#include "edge/site.h"

static const char two_sites[] = "sites:\n"
                                "  - name: shop\n"
                                "    hosts: [shop.example.com, \"*.shop.example.com\"]\n"
                                "    origins:\n"
                                "      web: {servers: http://shop-origin}\n"
                                "      backup: {servers: http://shop-backup}\n"
                                "    origin_groups:\n"
                                "      main: {primary: web, secondary: backup}\n"
                                "    behaviors:\n"
                                "      - path: /img/*\n"
                                "        origin: web\n"
                                "        query_string: none\n"
                                "      - path: '*'\n"
                                "        origin: main\n"
                                "    error_pages:\n"
                                "      - {status: 502, page: page.html}\n"
                                "  - name: blog\n"
                                "    hosts: [Blog.Example.COM., \"*.example.com\", \"[2001:db8::1]\"]\n"
                                "    origins:\n"
                                "      web: {servers: http://blog-origin}\n"
                                "    error_pages:\n"
                                "      - {status: 502, page: 502.html}\n"
                                "unknown_host: {site: blog}\n";

START_TEST(test_two_sites)
{
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, two_sites, err) == 0, "%s", err);
    ck_assert_uint_eq(conf.num_sites, 2);
    const edge_conf_site_t *shop = &conf.sites[0], *blog = &conf.sites[1];
    ck_assert_str_eq(shop->name, "shop");
    ck_assert(!shop->any_host);
    ck_assert_uint_eq(shop->num_hosts, 2);
    ck_assert_str_eq(shop->hosts[1], "*.shop.example.com");
    ck_assert_str_eq(blog->hosts[0], "blog.example.com"); /* lower-cased, trailing dot removed */

    /* the flat tables, site after site, and each site's ranges of them */
    ck_assert_uint_eq(conf.upstream.num_origins, 3);
    ck_assert_str_eq(conf.upstream.origins[0].name, "shop/web");
    ck_assert_str_eq(conf.upstream.origins[1].name, "shop/backup");
    ck_assert_str_eq(conf.upstream.origins[2].name, "blog/web");
    ck_assert_str_eq(conf.upstream.origins[2].servers[0], "http://blog-origin");
    ck_assert_uint_eq(conf.upstream.num_groups, 1);
    ck_assert_uint_eq(conf.upstream.groups[0].primary, 0);
    ck_assert_uint_eq(conf.upstream.groups[0].secondary, 1);
    ck_assert_uint_eq(shop->first_origin, 0);
    ck_assert_uint_eq(shop->num_origins, 2);
    ck_assert_uint_eq(blog->first_origin, 2);
    ck_assert_uint_eq(blog->num_origins, 1);
    ck_assert_uint_eq(blog->num_groups, 0);

    ck_assert_uint_eq(conf.num_behaviors, 3);
    ck_assert_uint_eq(shop->first_behavior, 0);
    ck_assert_uint_eq(shop->num_behaviors, 2);
    ck_assert_uint_eq(blog->first_behavior, 2);
    ck_assert_uint_eq(blog->num_behaviors, 1); /* its own implicit "*" */
    ck_assert_str_eq(conf.behaviors[2].path, "*");
    ck_assert_uint_eq(conf.behaviors[0].route.origin_index, 0);
    ck_assert_uint_eq(conf.behaviors[1].route.group_index, 0);
    ck_assert_uint_eq(conf.behaviors[2].route.origin_index, 2); /* blog's own "web", not shop's */
    ck_assert_uint_eq(conf.behaviors[2].route.group_index, SIZE_MAX);
    ck_assert_uint_eq(conf.behaviors[0].site, 0);
    ck_assert_uint_eq(conf.behaviors[2].site, 1);
    ck_assert_str_eq(conf.behaviors[0].label, "shop:/img/*");
    ck_assert_str_eq(conf.reports.behaviors[2].path, "blog:*"); /* the reports name the site */
    ck_assert_uint_eq(conf.reports.num_behaviors, 3);

    /* each site claims its own error page statuses */
    ck_assert_uint_eq(conf.num_error_pages, 2);
    ck_assert_uint_eq(shop->first_error_page, 0);
    ck_assert_uint_eq(blog->first_error_page, 1);
    ck_assert_str_eq(conf.error_pages[0].body, "<p>sorry</p>\n");
    ck_assert_str_eq(conf.error_pages[1].page, "502.html");
    ck_assert_uint_eq(conf.unknown_host.site, 1);
    edge_config_dispose(&conf);
}
END_TEST

START_TEST(test_match)
{
    static const char strict[] = "sites:\n"
                                 "  - name: a\n"
                                 "    hosts: [\"*.example.com\"]\n"
                                 "    origin: http://a\n"
                                 "  - name: b\n"
                                 "    hosts: [\"*.b.example.com\", example.com]\n"
                                 "    origin: http://b\n"
                                 "  - name: c\n"
                                 "    hosts: [x.b.example.com]\n"
                                 "    origin: http://c\n"
                                 "unknown_host: {status: 404, page: page.html}\n";
    static const struct {
        const char *host, *site; /* site NULL: unknown */
    } cases[] = {
        {"x.b.example.com", "c"},    /* exact wins over any wildcard */
        {"y.b.example.com", "b"},    /* the longest wildcard wins, whatever the order */
        {"z.y.b.example.com", "b"},  /* a wildcard covers every depth */
        {"b.example.com", "a"},      /* "*.b.example.com" does not cover b.example.com */
        {"example.com", "b"},        /* nor "*.example.com" example.com */
        {"a.example.com:8080", "a"}, /* the port does not choose */
        {"example.org", NULL},       /* unknown_host: a status */
        {"xexample.com", NULL},      /* a suffix is not a subdomain */
        {"", NULL},                  /* no host at all */
    };
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, strict, err) == 0, "%s", err);
    ck_assert_int_eq(conf.unknown_host.status, 404);
    ck_assert_str_eq(conf.unknown_host.body, "<p>sorry</p>\n");
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        const edge_conf_site_t *s = edge_site_match(&conf, cases[i].host, strlen(cases[i].host));
        if (cases[i].site == NULL)
            ck_assert_msg(s == NULL, "%s: got site %s", cases[i].host, s != NULL ? s->name : "");
        else
            ck_assert_msg(s != NULL && strcmp(s->name, cases[i].site) == 0, "%s: expected site %s, got %s", cases[i].host,
                          cases[i].site, s != NULL ? s->name : "none");
    }
    /* each site's behaviors: b's "*" routes to b's origin */
    const edge_conf_behavior_t *b = edge_site_behavior(&conf, &conf.sites[1], H2O_STRLIT("/x"));
    ck_assert_str_eq(conf.upstream.origins[b->route.origin_index].servers[0], "http://b");
    edge_config_dispose(&conf);

    /* with unknown_host.site, every host has a site */
    ck_assert_msg(parse(&conf, two_sites, err) == 0, "%s", err);
    ck_assert_str_eq(edge_site_match(&conf, H2O_STRLIT("example.org"))->name, "blog");
    ck_assert_str_eq(edge_site_match(&conf, H2O_STRLIT("a.shop.example.com"))->name, "shop");
    ck_assert_str_eq(edge_site_match(&conf, H2O_STRLIT("shop.example.com"))->name, "shop");
    ck_assert_str_eq(edge_site_match(&conf, H2O_STRLIT("x.example.com"))->name, "blog");
    ck_assert_str_eq(edge_site_match(&conf, H2O_STRLIT("[2001:db8::1]:443"))->name, "blog");
    edge_config_dispose(&conf);
}
END_TEST

/* A file without sites is one site, "default", for every host: what every configuration before sites meant. */
START_TEST(test_no_sites)
{
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, "origins:\n  web: {servers: http://a}\nbehaviors:\n  - path: /x\n    origin: web\n", err) == 0, "%s",
                  err);
    ck_assert_uint_eq(conf.num_sites, 1);
    ck_assert_str_eq(conf.sites[0].name, "default");
    ck_assert(conf.sites[0].any_host);
    ck_assert_uint_eq(conf.sites[0].num_behaviors, conf.num_behaviors);
    ck_assert_str_eq(conf.upstream.origins[0].name, "web"); /* not scoped */
    ck_assert_ptr_null(conf.behaviors[0].label);
    ck_assert_str_eq(conf.reports.behaviors[0].path, "/x");
    ck_assert_ptr_eq(edge_site_match(&conf, H2O_STRLIT("anything.example")), &conf.sites[0]);
    ck_assert_ptr_eq(edge_site_match(&conf, H2O_STRLIT("")), &conf.sites[0]);
    edge_config_dispose(&conf);

    ck_assert_msg(
        edge_config_parse(&conf, "<embedded>", NULL, edge_config_default_yaml(), strlen(edge_config_default_yaml()), err) == 0,
        "%s", err);
    ck_assert_uint_eq(conf.num_sites, 1);
    ck_assert(conf.sites[0].any_host);
    edge_config_dispose(&conf);
}
END_TEST

/* --origin replaces every site's origins with the one given. */
START_TEST(test_override_origin)
{
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, two_sites, err) == 0, "%s", err);
    ck_assert_int_eq(edge_config_override(&conf, NULL, "http://only", NULL, err), 0);
    ck_assert_uint_eq(conf.upstream.num_origins, 1);
    for (size_t i = 0; i != conf.num_sites; ++i) {
        ck_assert_uint_eq(conf.sites[i].first_origin, 0);
        ck_assert_uint_eq(conf.sites[i].num_origins, 1);
        ck_assert_uint_eq(conf.sites[i].num_groups, 0);
    }
    for (size_t i = 0; i != conf.num_behaviors; ++i)
        ck_assert_uint_eq(conf.behaviors[i].route.group_index, SIZE_MAX);
    edge_config_dispose(&conf);
}
END_TEST

/* The admin API's invalidation targets (edge/admin_parse.c) under sites: a host names itself, a site its hosts,
 * neither every host; the key under the rules of the right site. */
START_TEST(test_purge_targets)
{
    static const struct {
        const char *form, *target; /* target NULL: refused with `err` */
        int err;
    } cases[] = {
        {"url=http://SHOP.example.com/img/a%3Fx%3D1", "shop.example.com/img/a", 0}, /* shop: query_string none under /img/ */
        {"url=http://x.example.com/img/a%3Fx%3D1", "x.example.com/img/a?x=1", 0},   /* blog's, by its wildcard */
        {"url=http://nobody.example/a", "nobody.example/a", 0},                     /* unknown_host: blog */
        {"url=/img/a&site=shop", "shop.example.com,*.shop.example.com/img/a", 0},
        {"url=/x", "/x", 0},
        {"url=/img/a%3Fx%3D1", NULL, EDGE_ADMIN_PARSE_EAMBIGUOUS}, /* shop drops the query, blog keeps it */
        {"url=/img/a%3Fx%3D1&site=blog", "blog.example.com,*.example.com,[2001:db8::1]/img/a?x=1", 0},
        {"url=http://shop.example.com/a&site=blog", NULL, EDGE_ADMIN_PARSE_ESITE},
        {"url=/a&site=nope", NULL, EDGE_ADMIN_PARSE_ESITE},
        {"prefix=/img/&site=shop", "shop.example.com,*.shop.example.com/img/", 0},
        {"prefix=&site=shop", "shop.example.com,*.shop.example.com/", 0},
        {"prefix=/img/", "/img/", 0},
        {"tag=t&site=shop", "shop.example.com,*.shop.example.com\nt", 0},
        {"tag=t", "t", 0},
    };
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];
    h2o_mem_pool_t pool;

    ck_assert_msg(parse(&conf, two_sites, err) == 0, "%s", err);
    h2o_mem_init_pool(&pool);
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        edge_admin_purge_t p;
        int r = edge_admin_parse_purge(&conf, &pool, h2o_iovec_init(cases[i].form, strlen(cases[i].form)), &p);
        if (cases[i].target == NULL) {
            ck_assert_msg(r == cases[i].err, "%s: got %d, expected %d", cases[i].form, r, cases[i].err);
            continue;
        }
        ck_assert_msg(r == 0, "%s: refused (%d)", cases[i].form, r);
        ck_assert_msg(h2o_memis(p.target.base, p.target.len, cases[i].target, strlen(cases[i].target)),
                      "%s: target \"%.*s\", expected \"%s\"", cases[i].form, (int)p.target.len, p.target.base, cases[i].target);
    }
    h2o_mem_clear_pool(&pool);
    edge_config_dispose(&conf);
}
END_TEST

/* --- errors ----------------------------------------------------------------------------------------------- */

#define SITE(name, hosts) "  - name: " name "\n    hosts: " hosts "\n    origin: http://a\n"

static const struct {
    const char *yaml, *prefix, *part;
} bad[] = {
    /* a host claimed twice: the second claim's place, and both sites */
    {"sites:\n" SITE("a", "[x.example.com]") SITE("b", "[y.example.com, x.example.com]"),
     "t.yaml:6:28: ", "\"x.example.com\" is claimed by site \"a\" (line 3:13) and by site \"b\""},
    {"sites:\n" SITE("a", "[X.Example.com]") SITE("b", "[x.example.COM.]"),
     "t.yaml:6:13: ", "\"x.example.com\" is claimed by site \"a\" (line 3:13) and by site \"b\""},
    {"sites:\n" SITE("a", "[\"*.example.com\"]") SITE("b", "[\"*.example.com\"]"),
     "t.yaml:6:13: ", "\"*.example.com\" is claimed by site \"a\""},
    {"sites:\n" SITE("a", "[x.example.com, x.example.com]"),
     "t.yaml:3:28: ", "claimed by site \"a\" (line 3:13) and by site \"a\""},
    /* invalid host patterns */
    {"sites:\n" SITE("a", "[\"shop.example.com:8080\"]"), "t.yaml:3:13: ", "is not a host name"},
    {"sites:\n" SITE("a", "[\"http://shop.example.com\"]"), "t.yaml:3:13: ", "is not a host name"},
    {"sites:\n" SITE("a", "[\"shop.*.com\"]"), "t.yaml:3:13: ", "is not a host name"},
    {"sites:\n" SITE("a", "[\"*\"]"), "t.yaml:3:13: ", "is not a host name"},
    {"sites:\n" SITE("a", "[\"a..b\"]"), "t.yaml:3:13: ", "is not a host name"},
    {"sites:\n" SITE("a", "[]"), "t.yaml:3:12: ", "needs at least one host"},
    {"sites:\n  - name: a\n    origin: http://a\n", "t.yaml:2:5: ", "site \"a\": missing required key \"hosts\""},
    /* names */
    {"sites:\n" SITE("a", "[x]") SITE("a", "[y]"), "t.yaml:5:11: ", "duplicate site \"a\""},
    {"sites:\n" SITE("a b", "[x]"), "t.yaml:2:11: ", "is not a site name"},
    {"sites:\n  - hosts: [x]\n    origin: http://a\n", "t.yaml:2:5: ", "site: missing required key \"name\""},
    {"sites: []\n", "t.yaml:1:8: ", "at least one site"},
    {"sites: {a: 1}\n", "t.yaml:1:8: ", "expected a list of sites"},
    /* per-site sections at the top level */
    {"origin: http://a\nsites:\n" SITE("a", "[x]"),
     "t.yaml:1:9: ", "origin: with sites, each site has its own: move it into a site"},
    {"behaviors: []\nsites:\n" SITE("a", "[x]"), "t.yaml:1:12: ", "behaviors: with sites"},
    {"error_pages: []\nsites:\n" SITE("a", "[x]"), "t.yaml:1:14: ", "error_pages: with sites"},
    /* names are scoped per site: a behavior cannot name another site's origin */
    {"sites:\n  - name: a\n    hosts: [x]\n    origins: {web: {servers: http://a}}\n"
     "  - name: b\n    hosts: [y]\n    origins: {other: {servers: http://b}}\n    behaviors:\n      - path: '*'\n        origin: "
     "web\n",
     "t.yaml:10:17: ", "unknown origin \"web\" (configured: other)"},
    {"sites:\n  - name: a\n    hosts: [x]\n", "t.yaml:2:5: ", "no origin configured"},
    /* unknown_host */
    {"origin: http://a\nunknown_host: {status: 404}\n", "t.yaml:2:15: ", "without sites"},
    {"sites:\n" SITE("a", "[x]") "unknown_host: {site: b}\n", "t.yaml:5:22: ", "unknown site \"b\""},
    {"sites:\n" SITE("a", "[x]") "unknown_host: {status: 500}\n", "t.yaml:5:24: ", "expected 421 (Misdirected Request) or 404"},
    {"sites:\n" SITE("a", "[x]") "unknown_host: {site: a, status: 404}\n", "t.yaml:5:22: ", "not both"},
    {"sites:\n" SITE("a", "[x]") "unknown_host: {page: nope.html}\n", "t.yaml:5:22: ", "nope.html"},
    {"sites:\n" SITE("a", "[x]") "unknown_host: {bogus: 1}\n", "t.yaml:5:", "bogus"},
};

START_TEST(test_errors)
{
    assert_parse_error(_i, bad[_i].yaml, strlen(bad[_i].yaml), bad[_i].prefix, bad[_i].part);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("edge_config_sites");
    TCase *tc = tcase_create("sites");

    tcase_add_test(tc, test_two_sites);
    tcase_add_test(tc, test_match);
    tcase_add_test(tc, test_no_sites);
    tcase_add_test(tc, test_override_origin);
    tcase_add_test(tc, test_purge_targets);
    tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fixture_main(suite());
}
