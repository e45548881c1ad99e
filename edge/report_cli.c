/*
 * edge/report_cli.c: `edgecache report popular|stats|ttl ...`, the command line of reports/report.h.
 * It lives in edge/ because it reads the edge's configuration (the cache directory, reports.top), and
 * nothing in reports/ may include edge/ (see edge/cli.c).
 *
 * The store is opened read-only (cache_store_open_readonly), so a report runs beside a running edge or
 * after it stopped; it sees what the edge has flushed (each bucket when it ends, everything at SIGTERM).
 *
 * Exit codes: 0 success; 1 a runtime failure (no store in the directory, a merge input unreadable or
 * not a report, an output error); 2 a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "edge/cli.h"
#include "edge/config.h"
#include "edge/report_cli.h"
#include "reports/report.h"

#define DEFAULT_SINCE_S 86400
#define MERGE_INPUT_MAX (64 << 20) /* a merge input larger than this is not a report of ours */

static const char usage[] =
    "usage: edgecache report popular|stats|ttl [-c FILE | --cache-dir DIR] [--since DURATION | --from T [--to T]]\n"
    "                        [--site NAME] [--top N] [--format table|csv|json|html] [-o FILE]\n"
    "       edgecache report popular --merge FILE.json... [--top N] [--format table|csv|json|html] [-o FILE]\n"
    "\n"
    "popular  the most requested objects: requests (overestimated by at most `error`), hits, misses, hit %,\n"
    "         bytes from misses, total bytes, incomplete downloads, 2xx/3xx/4xx/5xx.\n"
    "stats    per time bucket and behavior: requests, hits, misses, errors, hit and byte-hit ratios,\n"
    "         origin bytes, origin latency p50/p99.\n"
    "ttl      per behavior, the figures behind TTL advice, and the suggestions they support.\n"
    "\n"
    "The store is the cache directory (--cache-dir, or cache.path of -c FILE, else ./edgecache-cache),\n"
    "read while the edge runs or after it stopped. T is ISO-8601 UTC (2026-11-26T10:00:00Z) or Unix\n"
    "seconds; DURATION is seconds or 30m, 24h, 7d (default: --since 24h). --merge adds up the JSON\n"
    "popular reports of several edges (their counts and error bounds add). --site NAME (a site of -c FILE)\n"
    "keeps that site's objects (by their host) and behaviors (named SITE:PATH).\n";

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    if (fp == NULL)
        return NULL;
    buf = malloc(MERGE_INPUT_MAX + 1);
    if (buf != NULL) {
        *len = fread(buf, 1, MERGE_INPUT_MAX + 1, fp);
        if (ferror(fp) || *len > MERGE_INPUT_MAX) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(fp);
    return buf;
}

typedef struct st_range_t {
    uint64_t since, from, to;
    bool have_from, have_to;
} range_t;

static const char *parse_since(void *dest, const char *value)
{
    return reports_parse_duration(value, &((range_t *)dest)->since) == 0 ? NULL : "not a duration (30m, 24h, 7d)";
}

static const char *parse_from(void *dest, const char *value)
{
    range_t *r = dest;
    if (reports_parse_time(value, &r->from) != 0)
        return "not a time (2026-11-26T10:00:00Z or Unix seconds)";
    r->have_from = true;
    return NULL;
}

static const char *parse_to(void *dest, const char *value)
{
    range_t *r = dest;
    if (reports_parse_time(value, &r->to) != 0)
        return "not a time (2026-11-26T10:00:00Z or Unix seconds)";
    r->have_to = true;
    return NULL;
}

static const char *parse_format(void *dest, const char *value)
{
    return (*(int *)dest = reports_format_parse(value)) >= 0 ? NULL : "table, csv, json or html";
}

/* --site NAME: the site's behaviors (stats, ttl: "NAME:PATH") and the objects of its hosts (popular). A file
 * without sites has one site, "default", for every host, whose behaviors keep their bare paths: no filter. */
static int select_site(const edge_conf_t *conf, const char *name, reports_query_t *q, char **hosts)
{
    const edge_conf_site_t *s = NULL;
    size_t len = 1;

    for (size_t i = 0; i != conf->num_sites && s == NULL; ++i)
        if (strcmp(conf->sites[i].name, name) == 0)
            s = &conf->sites[i];
    if (s == NULL) {
        fprintf(stderr, "edgecache report: --site: no site \"%s\" in %s\n", name, conf->source);
        return -1;
    }
    if (s->any_host)
        return 0;
    for (size_t i = 0; i != s->num_hosts; ++i)
        len += strlen(s->hosts[i]) + 1;
    if ((*hosts = malloc(len)) == NULL) {
        fprintf(stderr, "edgecache report: out of memory\n");
        return -1;
    }
    (*hosts)[0] = '\0';
    for (size_t i = 0; i != s->num_hosts; ++i) {
        if (i != 0)
            strcat(*hosts, ",");
        strcat(*hosts, s->hosts[i]);
    }
    q->site = s->name;
    q->hosts = *hosts;
    return 0;
}

int edge_report_cli_main(int argc, char **argv)
{
    const char *file = NULL, *cache_dir = NULL, *output = NULL, *site = NULL, *name;
    uint64_t now = (uint64_t)time(NULL);
    range_t r = {0};
    bool merge = false;
    unsigned long top = 0;
    int fmt = REPORTS_FORMAT_TABLE, nargs, ret = 1;
    char err[EDGE_CONF_ERRLEN];
    edge_conf_t conf;
    const edge_cli_opt_t opts[] = {{.name = "config", .letter = 'c', .kind = EDGE_CLI_STRING, .dest = &file},
                                   {.name = "cache-dir", .kind = EDGE_CLI_STRING, .dest = &cache_dir},
                                   {.name = "since", .kind = EDGE_CLI_CALL, .dest = &r, .parse = parse_since},
                                   {.name = "from", .kind = EDGE_CLI_CALL, .dest = &r, .parse = parse_from},
                                   {.name = "to", .kind = EDGE_CLI_CALL, .dest = &r, .parse = parse_to},
                                   {.name = "top", .kind = EDGE_CLI_UINT, .dest = &top, .min = 1, .max = 100000},
                                   {.name = "format", .kind = EDGE_CLI_CALL, .dest = &fmt, .parse = parse_format},
                                   {.name = "output", .letter = 'o', .kind = EDGE_CLI_STRING, .dest = &output},
                                   {.name = "merge", .kind = EDGE_CLI_FLAG, .dest = &merge},
                                   {.name = "site", .kind = EDGE_CLI_STRING, .dest = &site},
                                   {0}};
    const edge_cli_t cli = {.prog = "edgecache report", .usage = usage, .opts = opts, .args_name = "FILE.json", .max_args = -1};

    /* the report's name comes first; then argv[1] is the parser's argv[0], which it skips */
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            fputs(usage, stdout);
            return 0;
        }
        return edge_cli_usage_error(&cli, argc < 2 ? "which report: popular, stats or ttl" : "the report's name comes first");
    }
    name = argv[1];
    if (strcmp(name, "popular") != 0 && strcmp(name, "stats") != 0 && strcmp(name, "ttl") != 0)
        return edge_cli_usage_error(&cli, "unknown report '%s'", name);
    if ((ret = edge_cli_parse(&cli, argc - 1, argv + 1, &nargs)) != EDGE_CLI_CONTINUE)
        return ret;
    ret = 1;
    char **args = argv + 2;
    if (r.since != 0 && (r.have_from || r.have_to))
        return edge_cli_usage_error(&cli, "--since and --from/--to exclude each other");
    if (r.have_to && !r.have_from)
        return edge_cli_usage_error(&cli, "--to needs --from");
    if (file != NULL && cache_dir != NULL)
        return edge_cli_usage_error(&cli, "-c and --cache-dir exclude each other");
    if (merge && strcmp(name, "popular") != 0)
        return edge_cli_usage_error(&cli, "--merge applies to the popular report only");
    if (merge && nargs == 0)
        return edge_cli_usage_error(&cli, "--merge needs FILE.json arguments");
    if (merge && (file != NULL || cache_dir != NULL || r.since != 0 || r.have_from))
        return edge_cli_usage_error(&cli, "--merge reads its files, not a cache: no -c, --cache-dir, --since or --from");
    if (!merge && nargs != 0)
        return edge_cli_usage_error(&cli, "unexpected argument '%s'", args[0]);

    /* the configuration: the cache directory and the default row count */
    const char *yaml = edge_config_default_yaml();
    if (file != NULL ? edge_config_load(&conf, file, err) : edge_config_parse(&conf, "<embedded>", NULL, yaml, strlen(yaml), err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    reports_query_t q = {.top = top != 0 ? (unsigned)top : conf.reports.top};
    char *hosts = NULL;
    if (site != NULL && select_site(&conf, site, &q, &hosts) != 0) {
        edge_config_dispose(&conf);
        return 2;
    }
    if (!merge) {
        q.to_s = r.have_to ? r.to : now + 1; /* + 1: the current second's bucket is included */
        q.from_s = r.have_from ? r.from : q.to_s - (r.since != 0 ? r.since : DEFAULT_SINCE_S);
        if (q.from_s >= q.to_s) {
            fprintf(stderr, "edgecache report: --from must be before --to\n");
            edge_config_dispose(&conf);
            return 2;
        }
    }

    FILE *out = output != NULL ? fopen(output, "w") : stdout;
    reports_data_t *d = reports_data_new(&q);
    cache_store_t *store = NULL;
    if (out == NULL) {
        fprintf(stderr, "edgecache report: %s: %m\n", output);
        goto Exit;
    }
    if (merge) {
        for (int i = 0; i != nargs; ++i) {
            size_t len;
            char *text = read_file(args[i], &len);
            if (text == NULL) {
                fprintf(stderr, "edgecache report: %s: cannot read (or larger than %d bytes)\n", args[i], MERGE_INPUT_MAX);
                goto Exit;
            }
            int rc = reports_data_add_json(d, text, len, err, sizeof(err));
            free(text);
            if (rc != 0) {
                fprintf(stderr, "edgecache report: %s: %s\n", args[i], err);
                goto Exit;
            }
        }
    } else {
        const char *dir = cache_dir != NULL ? cache_dir : conf.cache.path;
        if ((store = cache_store_open_readonly(dir, err, sizeof(err))) == NULL) {
            fprintf(stderr, "edgecache report: %s\n", err);
            goto Exit;
        }
        if (reports_data_load(d, store) != 0) {
            fprintf(stderr, "edgecache report: cannot read the store in %s\n", dir);
            goto Exit;
        }
        if (reports_data_skipped(d) != 0)
            fprintf(stderr, "edgecache report: %zu stored values did not decode and were skipped\n", reports_data_skipped(d));
    }
    int rc = strcmp(name, "popular") == 0 ? reports_render_popular(d, fmt, out)
             : strcmp(name, "stats") == 0 ? reports_render_stats(d, fmt, out)
                                          : reports_render_ttl(d, fmt, out);
    if (rc != 0 || fflush(out) != 0) {
        fprintf(stderr, "edgecache report: cannot write the report\n");
        goto Exit;
    }
    ret = 0;
Exit:
    if (store != NULL)
        cache_store_close(store);
    if (out != NULL && out != stdout && fclose(out) != 0 && ret == 0) {
        fprintf(stderr, "edgecache report: %s: %m\n", output);
        ret = 1;
    }
    reports_data_free(d);
    free(hosts);
    edge_config_dispose(&conf);
    return ret;
}
