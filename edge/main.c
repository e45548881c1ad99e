/*
 * edge/main.c: the edgecache command line. Parses the subcommand and its flags, loads the configuration
 * and hands over; no logic lives here.
 *
 * Exit codes: 0 success; 1 a runtime failure (port in use, cache directory locked); 2 a usage or
 * configuration error, printed as "file:line:col: message".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "edge/config.h"
#include "common/log.h"
#include "edge/purge_cli.h"
#include "edge/server.h"
#include "edge/snapshot_cli.h"
#include "edge/warm.h"
#include "reports/report_cli.h"

static void usage(FILE *fp)
{
    fputs("usage: edgecache serve [-c FILE] [--listen ADDR:PORT] [--origin URL] [--cache-dir DIR]\n"
          "       edgecache check -c FILE\n"
          "       edgecache warm [-c FILE] [--edge ADDR:PORT] [--concurrency N] [-H 'Name: value']... LIST\n"
          "       edgecache purge [-c FILE] [--admin ADDR:PORT] [--token-file F] (URL | --prefix P | --tag T)\n"
          "                       [--soft] [--no-wait]\n"
          "       edgecache snapshot [-c FILE | --cache-dir DIR] DEST\n"
          "       edgecache report popular|stats|ttl [-c FILE | --cache-dir DIR] [--since D | --from T --to T]\n"
          "                        [--top N] [--format table|csv|json|html]   (edgecache report --help)\n"
          "       edgecache --version | --help\n"
          "\n"
          "serve   runs the edge node; with no -c, the embedded default configuration (listen on\n"
          "        127.0.0.1:8080, origin file: the sample site, cache in ./edgecache-cache).\n"
          "        Flags override the file. SIGTERM or SIGINT finish in-flight responses, then exit 0.\n"
          "check   validates a configuration file: exit 0 when valid, else file:line:col: message, exit 2.\n"
          "warm    fetches every URL of LIST through the edge so that it is cached; a progress bar on a\n"
          "        terminal, then a summary. Exit 1 when any URL failed. See edgecache warm --help.\n"
          "purge   invalidates a URL, a prefix or a tag through the admin API and waits until it is done.\n"
          "        See edgecache purge --help.\n"
          "snapshot copies the cache, consistent and compacted, into DEST while the edge serves; a new edge\n"
          "        started on DEST serves those objects as hits at once.\n"
          "report  popular objects, statistics and TTL advice from the reports stored in the cache directory.\n",
          fp);
}

static int load(edge_conf_t *conf, const char *file, char *err)
{
    if (file != NULL)
        return edge_config_load(conf, file, err);
    return edge_config_parse(conf, "<embedded>", NULL, edge_config_default_yaml, strlen(edge_config_default_yaml), err);
}

static int cmd(int argc, char **argv, bool serve)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
                                             {"origin", required_argument, NULL, 'o'}, {"cache-dir", required_argument, NULL, 'd'},
                                             {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *file = NULL, *listen = NULL, *origin = NULL, *cache_dir = NULL;
    char err[EDGE_CONF_ERRLEN];
    edge_conf_t conf;
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            file = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'o':
            origin = optarg;
            break;
        case 'd':
            cache_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || (!serve && (file == NULL || listen != NULL || origin != NULL || cache_dir != NULL))) {
        usage(stderr);
        return 2;
    }
    if (load(&conf, file, err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (!serve) {
        edge_config_dispose(&conf);
        printf("%s: ok\n", file);
        return 0;
    }
    if (edge_config_override(&conf, listen, origin, cache_dir, err) != 0) {
        fprintf(stderr, "%s\n", err);
        edge_config_dispose(&conf);
        return 2;
    }
    int ret = edge_server_run(&conf);
    edge_config_dispose(&conf);
    return ret;
}

int main(int argc, char **argv)
{
    if (getenv("EDGECACHE_DEBUG") != NULL)
        common_log_level = COMMON_LOG_DEBUG;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0)
        return cmd(argc - 1, argv + 1, true);
    if (strcmp(argv[1], "check") == 0)
        return cmd(argc - 1, argv + 1, false);
    if (strcmp(argv[1], "warm") == 0)
        return edge_warm_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "purge") == 0)
        return edge_purge_cli_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "snapshot") == 0)
        return edge_snapshot_cli_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "report") == 0)
        return reports_cli_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "--version") == 0) {
        puts("edgecache " PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "edgecache: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
