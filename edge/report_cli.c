/*
 * edge/report_cli.c: `edgecache report popular|stats|ttl ...`, the command line of reports/report.h.
 * It lives in edge/ because it reads the edge's configuration (the cache directory, reports.top), and
 * nothing in reports/ may include edge/ (see edge/cli.c).
 *
 * The store is opened read-only (cache_store_open_readonly), so a report runs beside a running edge or
 * after it stopped; it sees what the edge has flushed (each bucket when it ends, everything at SIGTERM).
 *
 * With --merge it adds up JSON reports of several edges (reports/report.h: a duplicate edge is refused); with
 * --fleet it fetches them from every edge of a fleet file (edge/fleet.h) through the admin API, one edge after
 * the other, each request bounded by --timeout.
 *
 * Exit codes: 0 success; 1 a runtime failure (no store in the directory, a merge input unreadable, not a
 * report or a duplicate edge, an edge of the fleet unreachable without --allow-partial, an output error);
 * 2 a usage error (also a fleet file that does not load).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "edge/cli.h"
#include "edge/config.h"
#include "edge/fleet.h"
#include "edge/httpc.h"
#include "edge/report_cli.h"
#include "reports/report.h"

#define DEFAULT_SINCE_S 86400
#define MERGE_INPUT_MAX (64 << 20) /* a merge input larger than this is not a report of ours */

static const char usage[] =
    "usage: edgecache report popular|stats|ttl [-c FILE | --cache-dir DIR] [--since DURATION | --from T [--to T]]\n"
    "                        [--site NAME] [--top N] [--format table|csv|json|html] [-o FILE] [--node-id ID]\n"
    "       edgecache report popular|stats|ttl --merge FILE.json... [--top N] [--format table|csv|json|html] [-o FILE]\n"
    "       edgecache report popular|stats|ttl --fleet FLEET.yaml [--allow-partial] [--timeout S]\n"
    "                        [--since DURATION | --from T [--to T]] [--site NAME] [--top N] [--format ...] [-o FILE]\n"
    "\n"
    "popular  the most requested objects: requests (overestimated by at most `error`), hits, misses, hit %,\n"
    "         bytes from misses, total bytes, incomplete downloads, 2xx/3xx/4xx/5xx.\n"
    "stats    per time bucket and behavior: requests, hits, misses, errors, hit and byte-hit ratios,\n"
    "         origin bytes, origin latency p50/p99.\n"
    "ttl      per behavior, the figures behind TTL advice, and the suggestions they support.\n"
    "\n"
    "The store is the cache directory (--cache-dir, or cache.path of -c FILE, else ./edgecache-cache),\n"
    "read while the edge runs or after it stopped. T is ISO-8601 UTC (2026-11-26T10:00:00Z) or Unix\n"
    "seconds; DURATION is seconds or 30m, 24h, 7d (default: --since 24h). --site NAME (a site of -c FILE)\n"
    "keeps that site's objects (by their host) and behaviors (named SITE:PATH). The JSON report names the\n"
    "edge it comes from: --node-id ID, else node_id of -c FILE, else this host's name.\n"
    "\n"
    "--merge adds up the JSON reports (--format json) of several edges: counts add, popular's error bounds\n"
    "add. Each report names its edge (node_id): an edge given twice is refused, and so is a second input\n"
    "without a node id (reports written before node ids). stats and ttl inputs do not mix; popular mixes\n"
    "with stats (the HTML page shows both).\n"
    "--fleet fetches /reports/NAME from the admin API of every edge of FLEET.yaml (address and token from\n"
    "the fleet file; the HTML page fetches popular and stats) and merges them, with a per-edge breakdown.\n"
    "An edge that cannot be reached is named on stderr and the exit status is 1, with no report;\n"
    "--allow-partial renders the edges that answered and exits 0. --timeout S bounds each request (default 30).\n";

#define FLEET_RESPONSE_MAX (64 << 20) /* a report larger than this is refused */

/* One GET of the admin API of `e`; the body (NUL-terminated) into `buf`. 0, or -1 with the reason in `why`. */
static int fetch_one(const edge_fleet_t *fleet, const edge_fleet_edge_t *e, const char *target, char *buf, size_t cap,
                     uint64_t timeout_ms, size_t *len, char *why, size_t whylen)
{
    char ferr[EDGE_FLEET_ERRLEN], *token = NULL, *auth = NULL;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    edge_httpc_t *c = NULL;
    edge_httpc_response_t *res = NULL;
    int ret = -1;

    if (edge_fleet_edge_token(fleet, e, &token, ferr) != 0) {
        snprintf(why, whylen, "%s", ferr);
        return -1;
    }
    if (edge_httpc_resolve(e->admin, &addr, &addrlen, why, whylen) != 0)
        goto Exit;
    c = malloc(sizeof(*c));
    res = malloc(sizeof(*res));
    if (c == NULL || res == NULL) {
        snprintf(why, whylen, "out of memory");
        goto Exit;
    }
    const char *headers[1];
    size_t nh = 0;
    if (token != NULL) {
        size_t alen = strlen(token) + sizeof("Authorization: Bearer ");
        if ((auth = malloc(alen)) == NULL) {
            snprintf(why, whylen, "out of memory");
            goto Exit;
        }
        snprintf(auth, alen, "Authorization: Bearer %s", token);
        headers[nh++] = auth;
    }
    edge_httpc_init(c, (const struct sockaddr *)&addr, addrlen);
    edge_httpc_request_t req = {.method = "GET", .target = target, .host = e->admin, .headers = headers, .num_headers = nh};
    res->body = buf;
    res->body_cap = cap;
    int r = edge_httpc_request(c, &req, res, timeout_ms);
    edge_httpc_close(c);
    if (r != 0) {
        if (c->sys_errno != 0)
            snprintf(why, whylen, "%s: %s", edge_httpc_strerror(r), strerror(c->sys_errno));
        else
            snprintf(why, whylen, "%s", edge_httpc_strerror(r));
    } else if (res->status != 200) {
        snprintf(why, whylen, "GET %s: status %d", target, res->status);
    } else if (res->body_total != res->body_len) {
        snprintf(why, whylen, "GET %s: larger than %zu bytes", target, cap - 1);
    } else {
        *len = res->body_len;
        ret = 0;
    }
Exit:
    free(auth);
    free(token);
    free(c);
    free(res);
    return ret;
}

/* Fetches the reports `names` from every edge of `fleet` (with `query`, "from=..&to=..") and adds them to `d`.
 * Returns the number of edges that failed (each named on stderr), or -1 when a report was refused (a duplicate
 * node id: the fleet file names one edge twice under different addresses, or two edges share a node_id). */
static int fetch_fleet(reports_data_t *d, const edge_fleet_t *fleet, const char *const *names, size_t num_names, const char *query,
                       uint64_t timeout_ms)
{
    char *buf = malloc(FLEET_RESPONSE_MAX + 1), why[1200], target[1024], source[300];
    int failed = 0;

    if (buf == NULL) {
        fprintf(stderr, "edgecache report: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i != fleet->num_edges; ++i) {
        const edge_fleet_edge_t *e = fleet->edges + i;
        snprintf(source, sizeof(source), "edge %s (%s)", e->name, e->admin);
        for (size_t k = 0; k != num_names; ++k) {
            size_t len;
            snprintf(target, sizeof(target), "/reports/%s?format=json&%s", names[k], query);
            if (fetch_one(fleet, e, target, buf, FLEET_RESPONSE_MAX + 1, timeout_ms, &len, why, sizeof(why)) != 0) {
                fprintf(stderr, "edgecache report: %s: unreachable: %s\n", source, why);
                ++failed;
                break;
            }
            if (reports_data_add_json(d, source, buf, len, why, sizeof(why)) != 0) {
                fprintf(stderr, "edgecache report: %s: %s\n", source, why);
                free(buf);
                return -1;
            }
        }
    }
    free(buf);
    return failed;
}

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
    bool merge = false, allow_partial = false;
    const char *fleet_file = NULL, *node_id = NULL;
    unsigned long timeout_s = 30;
    unsigned long top = 0;
    int fmt = REPORTS_FORMAT_TABLE, nargs, ret = 1;
    char err[EDGE_CONF_ERRLEN];
    edge_conf_t conf;
    const edge_cli_opt_t opts[] = {
        {.name = "config", .letter = 'c', .kind = EDGE_CLI_STRING, .dest = &file},
        {.name = "cache-dir", .kind = EDGE_CLI_STRING, .dest = &cache_dir},
        {.name = "since", .kind = EDGE_CLI_CALL, .dest = &r, .parse = parse_since},
        {.name = "from", .kind = EDGE_CLI_CALL, .dest = &r, .parse = parse_from},
        {.name = "to", .kind = EDGE_CLI_CALL, .dest = &r, .parse = parse_to},
        {.name = "top", .kind = EDGE_CLI_UINT, .dest = &top, .min = 1, .max = 100000},
        {.name = "format", .kind = EDGE_CLI_CALL, .dest = &fmt, .parse = parse_format},
        {.name = "output", .letter = 'o', .kind = EDGE_CLI_STRING, .dest = &output},
        {.name = "merge", .kind = EDGE_CLI_FLAG, .dest = &merge},
        {.name = "site", .kind = EDGE_CLI_STRING, .dest = &site},
        {.name = "fleet", .kind = EDGE_CLI_STRING, .dest = &fleet_file},
        {.name = "node-id", .kind = EDGE_CLI_STRING, .dest = &node_id},
        {.name = "allow-partial", .kind = EDGE_CLI_FLAG, .dest = &allow_partial},
        {.name = "timeout", .kind = EDGE_CLI_UINT, .dest = &timeout_s, .min = 1, .max = 3600, .unit = "seconds"},
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
    if (merge && fleet_file != NULL)
        return edge_cli_usage_error(&cli, "--merge and --fleet exclude each other");
    if (fleet_file != NULL && (file != NULL || cache_dir != NULL))
        return edge_cli_usage_error(&cli, "--fleet reads the edges' admin APIs, not a cache: no -c or --cache-dir");
    if (node_id != NULL && (merge || fleet_file != NULL))
        return edge_cli_usage_error(&cli, "--node-id names the edge whose store is read: not with --merge or --fleet");
    if (allow_partial && fleet_file == NULL)
        return edge_cli_usage_error(&cli, "--allow-partial applies to --fleet");
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
    if (site != NULL && fleet_file == NULL && select_site(&conf, site, &q, &hosts) != 0) {
        edge_config_dispose(&conf);
        return 2;
    }
    if (!merge && fleet_file == NULL)
        q.node_id = node_id != NULL ? node_id : conf.node_id; /* (the edge that wrote the store; by default this host) */
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
            int rc = reports_data_add_json(d, args[i], text, len, err, sizeof(err));
            free(text);
            if (rc != 0) {
                fprintf(stderr, "edgecache report: %s: %s\n", args[i], err);
                goto Exit;
            }
        }
    } else if (fleet_file != NULL) {
        char ferr[EDGE_FLEET_ERRLEN], query[600];
        edge_fleet_t *fleet = edge_fleet_load(fleet_file, ferr);
        if (fleet == NULL) {
            fprintf(stderr, "%s\n", ferr);
            ret = 2;
            goto Exit;
        }
        /* one range for every edge, so that their buckets line up */
        int qn = snprintf(query, sizeof(query), "from=%llu&to=%llu", (unsigned long long)q.from_s, (unsigned long long)q.to_s);
        if (top != 0)
            qn += snprintf(query + qn, sizeof(query) - (size_t)qn, "&top=%lu", top);
        if (site != NULL) { /* each edge filters by its own sites */
            qn += snprintf(query + qn, sizeof(query) - (size_t)qn, "&site=");
            for (const char *p = site; *p != '\0' && (size_t)qn + 4 < sizeof(query); ++p)
                qn += snprintf(query + qn, sizeof(query) - (size_t)qn, isalnum((unsigned char)*p) ? "%c" : "%%%02X",
                               (unsigned char)*p);
        }
        const char *both[] = {"popular", "stats"}, *one[] = {name};
        bool page = fmt == REPORTS_FORMAT_HTML && strcmp(name, "ttl") != 0;
        int failed = fetch_fleet(d, fleet, page ? both : one, page ? 2 : 1, query, (uint64_t)timeout_s * 1000);
        size_t edges = fleet->num_edges;
        edge_fleet_free(fleet);
        if (failed < 0)
            goto Exit;
        if (failed != 0 && (!allow_partial || (size_t)failed == edges)) {
            fprintf(stderr, "edgecache report: %d of %zu edges did not answer: no report%s\n", failed, edges,
                    (size_t)failed == edges ? "" : " (--allow-partial renders the others)");
            goto Exit;
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
