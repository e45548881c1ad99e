/*
 * reports/report_cli.c: `edgecache report popular|stats|ttl ...`, the command line of reports/report.h.
 *
 * The store is opened read-only (cache_store_open_readonly), so a report runs beside a running edge or
 * after it stopped; it sees what the edge has flushed (each bucket when it ends, everything at SIGTERM).
 *
 * Exit codes: 0 success; 1 a runtime failure (no store in the directory, a merge input unreadable or
 * not a report, an output error); 2 a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "edge/config.h"
#include "reports/report.h"
#include "reports/report_cli.h"

#define DEFAULT_SINCE_S 86400
#define MERGE_INPUT_MAX (64 << 20) /* a merge input larger than this is not a report of ours */

static void usage(FILE *fp)
{
    fputs("usage: edgecache report popular|stats|ttl [-c FILE | --cache-dir DIR] [--since DURATION | --from T [--to T]]\n"
          "                        [--top N] [--format table|csv|json|html] [-o FILE]\n"
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
          "popular reports of several edges (their counts and error bounds add).\n",
          fp);
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

int reports_cli_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"cache-dir", required_argument, NULL, 'd'},
                                             {"since", required_argument, NULL, 's'},
                                             {"from", required_argument, NULL, 'f'},
                                             {"to", required_argument, NULL, 't'},
                                             {"top", required_argument, NULL, 'n'},
                                             {"format", required_argument, NULL, 'F'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"merge", no_argument, NULL, 'm'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *file = NULL, *cache_dir = NULL, *output = NULL, *name;
    uint64_t since = 0, from = 0, to = 0, now = (uint64_t)time(NULL);
    bool have_from = false, have_to = false, merge = false;
    long top = -1;
    int fmt = REPORTS_FORMAT_TABLE, ch, ret = 1;
    char err[EDGE_CONF_ERRLEN];
    edge_conf_t conf;

    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            usage(stdout);
            return 0;
        }
        usage(stderr);
        return 2;
    }
    name = argv[1];
    if (strcmp(name, "popular") != 0 && strcmp(name, "stats") != 0 && strcmp(name, "ttl") != 0) {
        fprintf(stderr, "edgecache report: unknown report '%s'\n", name);
        usage(stderr);
        return 2;
    }
    optind = 1;
    while ((ch = getopt_long(argc - 1, argv + 1, "c:o:h", longopts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'c':
            file = optarg;
            break;
        case 'd':
            cache_dir = optarg;
            break;
        case 's':
            if (reports_parse_duration(optarg, &since) != 0) {
                fprintf(stderr, "edgecache report: --since %s: not a duration (30m, 24h, 7d)\n", optarg);
                return 2;
            }
            break;
        case 'f':
        case 't':
            if (reports_parse_time(optarg, ch == 'f' ? &from : &to) != 0) {
                fprintf(stderr, "edgecache report: --%s %s: not a time (2026-11-26T10:00:00Z or Unix seconds)\n",
                        ch == 'f' ? "from" : "to", optarg);
                return 2;
            }
            *(ch == 'f' ? &have_from : &have_to) = true;
            break;
        case 'n':
            top = strtol(optarg, &end, 10);
            if (*end != '\0' || top < 1 || top > 100000) {
                fprintf(stderr, "edgecache report: --top %s: not a number from 1 to 100000\n", optarg);
                return 2;
            }
            break;
        case 'F':
            if ((fmt = reports_format_parse(optarg)) < 0) {
                fprintf(stderr, "edgecache report: --format %s: table, csv, json or html\n", optarg);
                return 2;
            }
            break;
        case 'o':
            output = optarg;
            break;
        case 'm':
            merge = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    if ((since != 0 && (have_from || have_to)) || (have_to && !have_from) || (merge && strcmp(name, "popular") != 0) ||
        (merge && (nargs == 0 || file != NULL || cache_dir != NULL || since != 0 || have_from)) || (!merge && nargs != 0) ||
        (file != NULL && cache_dir != NULL)) {
        usage(stderr);
        return 2;
    }

    /* the configuration: the cache directory and the default row count */
    if (file != NULL
            ? edge_config_load(&conf, file, err)
            : edge_config_parse(&conf, "<embedded>", NULL, edge_config_default_yaml, strlen(edge_config_default_yaml), err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    reports_query_t q = {.top = top > 0 ? (unsigned)top : conf.reports.top};
    if (!merge) {
        q.to_s = have_to ? to : now + 1; /* + 1: the current second's bucket is included */
        q.from_s = have_from ? from : q.to_s - (since != 0 ? since : DEFAULT_SINCE_S);
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
    edge_config_dispose(&conf);
    return ret;
}
