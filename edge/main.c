/*
 * edge/main.c: the edgecache command line. Dispatches to the subcommand, parses the flags of serve and
 * check (edge/cli.h, like every subcommand), loads the configuration and hands over; no logic lives here.
 *
 * Exit codes: 0 success; 1 a runtime failure (port in use, cache directory locked); 2 a usage or
 * configuration error, printed as "file:line:col: message".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/log.h"
#include "edge/cli.h"
#include "edge/config.h"
#include "edge/ctl_cli.h"
#include "edge/dns_zone_cli.h"
#include "edge/fleet.h"
#include "edge/prom_targets_cli.h"
#include "edge/purge_cli.h"
#include "edge/report_cli.h"
#include "edge/server.h"
#include "edge/snapshot_cli.h"
#include "edge/tls.h"
#include "edge/tls_cert.h"
#include "edge/upgrade.h"
#include "edge/warm.h"

static const char usage[] =
    "usage: edgecache serve [-c FILE] [--listen ADDR:PORT] [--origin URL] [--cache-dir DIR]\n"
    "                      [--reset-cache]\n"
    "       edgecache check [-c] FILE | --fleet FILE\n"
    "       edgecache warm [-c FILE] [--edge ADDR:PORT] [--concurrency N] [--timeout S]\n"
    "                      [-H 'Name: value']... LIST\n"
    "       edgecache purge [-c FILE] [--admin ADDR:PORT] [--token-file F] (URL | --prefix P | --tag T)\n"
    "                       [--soft] [--no-wait] [--timeout S]\n"
    "       edgecache snapshot [-c FILE | --cache-dir DIR] DEST\n"
    "       edgecache report popular|stats|ttl [-c FILE | --cache-dir DIR] [--since D | --from T --to T]\n"
    "                        [--top N] [--format table|csv|json|html]   (edgecache report --help)\n"
    "       edgecache reload|drain|undrain|upgrade [-c FILE] [--admin ADDR:PORT] [--token-file F]\n"
    "       edgecache dns-zone FLEET [-o ZONEFILE] [--pdns-conf FILE] [--named-conf FILE]\n"
    "       edgecache prometheus-targets FLEET [-o FILE] [--rules FILE]... [--file-sd]\n"
    "       edgecache --version | --help\n"
    "\n"
    "serve   runs the edge node; with no -c, the embedded default configuration (listen on\n"
    "        127.0.0.1:8080, origin file: the sample site, cache in ./edgecache-cache).\n"
    "        Flags override the file. SIGTERM or SIGINT finish in-flight responses, then exit 0. SIGHUP\n"
    "        reloads the file; SIGUSR2 runs the binary again and hands the sockets and cache over.\n"
    "        --reset-cache deletes the stored cache (data.mdb, lock.mdb and copies moved aside) at\n"
    "        start. Without it, a cache that cannot be opened (truncated, not LMDB) is moved aside\n"
    "        to data.mdb.broken-TIME and the edge starts empty; an unwritable cache directory\n"
    "        makes the edge pass every request through (metric edgecache_store_usable 0).\n"
    "check   validates a configuration file: exit 0 when valid (weak TLS settings are warned about\n"
    "        on stderr), else file:line:col: message, exit 2. A fleet file (one with edges:, see\n"
    "        docs/fleet.md) is validated as such; --fleet insists on it.\n"
    "warm    fetches every URL of LIST through the edge so that it is cached; a progress bar on a\n"
    "        terminal, then a summary. Exit 1 when any URL failed. See edgecache warm --help.\n"
    "purge   invalidates a URL, a prefix or a tag through the admin API and waits until it is done.\n"
    "        See edgecache purge --help.\n"
    "snapshot copies the cache, consistent and compacted, into DEST while the edge serves; a new edge\n"
    "        started on DEST serves those objects as hits at once.\n"
    "report  popular objects, statistics and TTL advice from the reports stored in the cache directory.\n"
    "reload  reads the configuration again (as SIGHUP); a file that does not validate is refused.\n"
    "drain   makes /healthz answer 503 (undrain ends it); upgrade hands over to a new process (as SIGUSR2).\n"
    "dns-zone writes the nearest-edge DNS zone of a fleet file for PowerDNS (LUA records); see\n"
    "        edgecache dns-zone --help and docs/fleet.md.\n"
    "prometheus-targets writes the Prometheus scrape configuration of a fleet file's edges\n"
    "        (docs/monitoring/README.md).\n";

static int load(edge_conf_t *conf, const char *file, char *err)
{
    if (file != NULL)
        return edge_config_load(conf, file, err);
    const char *yaml = edge_config_default_yaml();
    return edge_config_parse(conf, "<embedded>", NULL, yaml, strlen(yaml), err);
}

/* A fleet file is told apart by its "edges": an edge's configuration never has one. */
static int check_fleet(const char *file)
{
    char err[EDGE_FLEET_ERRLEN];
    edge_fleet_t *fleet;

    if ((fleet = edge_fleet_load(file, err)) == NULL) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    printf("%s: ok (fleet: %zu edges, %zu regions%s)\n", file, fleet->num_edges, fleet->num_regions,
           fleet->dns.zone != NULL ? "" : ", no dns section");
    edge_fleet_free(fleet);
    return 0;
}

static int cmd(int argc, char **argv, bool serve)
{
    const char *file = NULL, *fleet = NULL, *listen = NULL, *origin = NULL, *cache_dir = NULL;
    bool reset_cache = false;
    char err[EDGE_CONF_ERRLEN];
    edge_conf_t conf;
    const edge_cli_opt_t opts[] = {{.name = "config", .letter = 'c', .kind = EDGE_CLI_STRING, .dest = &file},
                                   {.name = "listen", .kind = EDGE_CLI_STRING, .dest = &listen},
                                   {.name = "origin", .kind = EDGE_CLI_STRING, .dest = &origin},
                                   {.name = "cache-dir", .kind = EDGE_CLI_STRING, .dest = &cache_dir},
                                   {.name = "reset-cache", .kind = EDGE_CLI_FLAG, .dest = &reset_cache},
                                   {.name = "fleet", .kind = EDGE_CLI_STRING, .dest = &fleet},
                                   {0}};
    const edge_cli_t cli = {.prog = serve ? "edgecache serve" : "edgecache check",
                            .usage = usage,
                            .opts = opts,
                            .args_name = "FILE",
                            .max_args = serve ? 0 : 1};
    int nargs, ret;

    if ((ret = edge_cli_parse(&cli, argc, argv, &nargs)) != EDGE_CLI_CONTINUE)
        return ret;
    if (serve && fleet != NULL)
        return edge_cli_usage_error(&cli, "--fleet is for check");
    if (!serve) {
        if (listen != NULL || origin != NULL || cache_dir != NULL || reset_cache)
            return edge_cli_usage_error(&cli, "only -c FILE, FILE or --fleet FILE is accepted");
        if ((file != NULL) + (fleet != NULL) + (nargs == 1) != 1)
            return edge_cli_usage_error(&cli, "one FILE is required (-c FILE, FILE or --fleet FILE)");
        if (nargs == 1)
            file = argv[1];
        if (fleet != NULL || edge_fleet_is_fleet_file(file))
            return check_fleet(fleet != NULL ? fleet : file);
    }
    if (load(&conf, file, err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (!serve) {
        char warnings[4096], certs[4096];
        size_t num_warnings, errors;
        if (edge_config_warnings(&conf, warnings, sizeof(warnings)) != 0)
            fputs(warnings, stderr);
        /* the certificates: each matches its key and covers its site's hosts (errors), none expires soon (warnings) */
        errors = edge_tls_cert_check_all(&conf, time(NULL), certs, sizeof(certs), &num_warnings);
        fputs(certs, stderr);
        edge_config_dispose(&conf);
        if (errors != 0)
            return 2;
        printf("%s: ok\n", file);
        return 0;
    }
    if (edge_config_override(&conf, listen, origin, cache_dir, err) != 0) {
        fprintf(stderr, "%s\n", err);
        edge_config_dispose(&conf);
        return 2;
    }
    conf.cache.reset = reset_cache;
    edge_server_opts_t sopts = {.config_file = file, .listen = listen, .origin = origin, .cache_dir = cache_dir};
    return edge_server_run(&conf, &sopts); /* (which disposes of conf) */
}

int main(int argc, char **argv)
{
    edge_tls_process_init();
    if (getenv("EDGECACHE_DEBUG") != NULL)
        common_log_level = COMMON_LOG_DEBUG;
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0) {
        edge_upgrade_init(argv); /* (before the option parser reorders argv) */
        return cmd(argc - 1, argv + 1, true);
    }
    if (strcmp(argv[1], "check") == 0)
        return cmd(argc - 1, argv + 1, false);
    if (strcmp(argv[1], "warm") == 0)
        return edge_warm_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "purge") == 0)
        return edge_purge_cli_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "snapshot") == 0)
        return edge_snapshot_cli_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "report") == 0)
        return edge_report_cli_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "reload") == 0 || strcmp(argv[1], "drain") == 0 || strcmp(argv[1], "undrain") == 0 ||
        strcmp(argv[1], "upgrade") == 0)
        return edge_ctl_cli_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "dns-zone") == 0)
        return edge_dns_zone_cli_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "prometheus-targets") == 0)
        return edge_prom_targets_cli_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "--version") == 0) {
        puts("edgecache " PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    fprintf(stderr, "edgecache: unknown command '%s'\n", argv[1]);
    fputs(usage, stderr);
    return 2;
}
