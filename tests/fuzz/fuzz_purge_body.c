/*
 * tests/fuzz/fuzz_purge_body.c: libFuzzer target for the admin API's request parsers
 * (edge/admin_parse.c): the POST /purge form body (or query), the form decoder under it, the purge id
 * of GET /purge/<id>, the report query, the route and the bearer-token check.
 *
 * The input is the form text (a copy of exactly its size, so an overread is caught), against a fixed
 * configuration whose behaviors use all three query rules. The driver checks the promises of
 * admin_parse.h: a form value is NUL-terminated and no longer than the form; edge_admin_parse_purge
 * returns 0 or one of its five errors, and on 0 a url purge's target is a key URL part (its hosts, then a
 * '/'), a tag is not empty; a report query returns 0 or one of its four errors, with from < to; every
 * error has a one-line text ending in a newline. (The report query's time parsers live in
 * reports/report.c, which pulls in the reports and the store: hence the long source list.)
 *
 * FUZZ_SOURCES: edge/admin_parse.c edge/config.c edge/config_admin.c edge/config_behavior.c
 * FUZZ_SOURCES: edge/config_limits.c edge/config_listen.c edge/config_origin.c edge/config_yaml.c edge/behavior.c common/cidr.c
 * FUZZ_SOURCES: common/log.c errorpages/errorpages.c build-fuzz/errorpages/pages.c reports/*.c cache/*.c
 * FUZZ_SOURCES: edge/config_sites.c edge/site.c edge/tls_profile.c edge/config_tls.c
 * FUZZ_LIBS: -lyaml -llmdb -lz -lbrotlienc -lssl -lcrypto
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "edge/admin_parse.h"

static edge_conf_t conf;

static const char yaml[] = "origin: http://127.0.0.1:1\n"
                           "behaviors:\n"
                           "  - path: /static/*\n"
                           "    query_string: none\n"
                           "  - path: /api/*\n"
                           "    query_string: [page, id]\n"
                           "  - path: '*'\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[EDGE_CONF_ERRLEN];
    (void)argc;
    (void)argv;
    if (edge_config_parse(&conf, "fuzz.yaml", NULL, yaml, strlen(yaml), err) != 0)
        __builtin_trap();
    return 0;
}

static void check_err(int err)
{
    const char *s = edge_admin_parse_strerror(err);
    size_t n = strlen(s);
    if (n == 0 || s[n - 1] != '\n' || memchr(s, '\n', n) != s + n - 1)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size != 0 ? size : 1);
    memcpy(text, data, size);
    h2o_iovec_t form = h2o_iovec_init(text, size);
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);

    static const char *const names[] = {"url", "prefix", "tag", "soft", "since", ""};
    for (size_t i = 0; i != sizeof(names) / sizeof(names[0]); ++i) {
        h2o_iovec_t v = edge_admin_parse_form_value(&pool, form, names[i]);
        if (v.base != NULL && (v.len > size || v.base[v.len] != '\0'))
            __builtin_trap();
    }

    edge_admin_purge_t purge;
    int ret = edge_admin_parse_purge(&conf, &pool, form, &purge);
    if (ret == 0) {
        /* [HOSTS] then the path (cache/store.h): a '/', and nothing before it that could split a host list */
        const char *slash = purge.target.len != 0 ? memchr(purge.target.base, '/', purge.target.len) : NULL;
        if (purge.kind == CACHE_PURGE_URL &&
            (slash == NULL || memchr(purge.target.base, '\n', (size_t)(slash - purge.target.base)) != NULL ||
             memchr(purge.target.base, ' ', (size_t)(slash - purge.target.base)) != NULL))
            __builtin_trap();
        if (purge.kind == CACHE_PURGE_TAG && purge.target.len == 0)
            __builtin_trap();
    } else if (ret != EDGE_ADMIN_PARSE_ENOT_ONE && ret != EDGE_ADMIN_PARSE_EBAD_URL && ret != EDGE_ADMIN_PARSE_EEMPTY_TAG &&
               ret != EDGE_ADMIN_PARSE_ESITE && ret != EDGE_ADMIN_PARSE_EAMBIGUOUS) {
        __builtin_trap();
    } else {
        check_err(ret);
    }

    reports_query_t q;
    reports_format_t fmt;
    ret = edge_admin_parse_report_query(&pool, form, 1700000000, 20, &q, &fmt);
    if (ret == 0) {
        if (q.from_s >= q.to_s || q.top == 0 || q.top > 100000)
            __builtin_trap();
    } else if (ret != EDGE_ADMIN_PARSE_ESINCE && ret != EDGE_ADMIN_PARSE_EFROM_TO && ret != EDGE_ADMIN_PARSE_ETOP &&
               ret != EDGE_ADMIN_PARSE_EFORMAT) {
        __builtin_trap();
    } else {
        check_err(ret);
    }

    uint64_t id;
    (void)edge_admin_parse_purge_id(form, &id);
    h2o_iovec_t purge_id = {NULL, 0};
    if (edge_admin_parse_route(h2o_iovec_init(H2O_STRLIT("GET")), form, &purge_id) == EDGE_ADMIN_ROUTE_PURGE_STATUS &&
        (purge_id.base < text || purge_id.base + purge_id.len > text + size))
        __builtin_trap();
    (void)edge_admin_parse_authorized("secret-token", form);
    (void)edge_admin_parse_authorized(NULL, form);

    h2o_mem_clear_pool(&pool);
    free(text);
    return 0;
}
