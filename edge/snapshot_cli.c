/*
 * edge/snapshot_cli.c: `edgecache snapshot` (see snapshot_cli.h).
 *
 * The copy itself is the store's (cache_store_snapshot); this file only finds the directories, opens the
 * store read-only — never taking the edge's lock, so a serving edge is not disturbed — and reports.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "cache/store.h"
#include "edge/cli.h"
#include "edge/config.h"
#include "edge/snapshot_cli.h"

static const char usage[] = "usage: edgecache snapshot [-c FILE | --cache-dir DIR] DEST\n"
                            "\n"
                            "Copies the cache (cache.path of FILE, or DIR; default ./edgecache-cache) into the new or empty\n"
                            "directory DEST: consistent and compacted, while the edge goes on serving. Start a new edge with\n"
                            "cache.path (or --cache-dir) DEST and it serves those objects as hits at once.\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int edge_snapshot_cli_main(int argc, char **argv)
{
    const char *file = NULL, *dir = NULL;
    const edge_cli_opt_t opts[] = {{.name = "config", .letter = 'c', .kind = EDGE_CLI_STRING, .dest = &file},
                                   {.name = "cache-dir", .kind = EDGE_CLI_STRING, .dest = &dir},
                                   {0}};
    const edge_cli_t cli = {
        .prog = "edgecache snapshot", .usage = usage, .opts = opts, .args_name = "DEST", .min_args = 1, .max_args = 1};
    char err[EDGE_CONF_ERRLEN];
    edge_conf_t conf;
    bool have_conf = false;
    int nargs, ret;

    if ((ret = edge_cli_parse(&cli, argc, argv, &nargs)) != EDGE_CLI_CONTINUE)
        return ret;
    if (file != NULL && dir != NULL)
        return edge_cli_usage_error(&cli, "-c and --cache-dir exclude each other");
    ret = 1;
    const char *dest = argv[1];
    if (file != NULL) {
        if (edge_config_load(&conf, file, err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
        have_conf = true;
        dir = conf.cache.path;
    } else if (dir == NULL) {
        dir = "edgecache-cache";
    }

    double start = now_s();
    cache_store_t *store = cache_store_open_readonly(dir, err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "edgecache snapshot: %s\n", err);
        goto Exit;
    }
    cache_store_stats_t st;
    cache_store_stats(store, &st);
    if (cache_store_snapshot(store, dest, err, sizeof(err)) != 0) {
        fprintf(stderr, "edgecache snapshot: %s\n", err);
        cache_store_close(store);
        goto Exit;
    }
    cache_store_close(store);
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/data.mdb", dest);
    double mib = stat(path, &sb) == 0 ? (double)sb.st_size / (1 << 20) : 0;
    printf("snapshot of %s in %s: %llu objects, %.1f MiB in %.2f s\n", dir, dest, (unsigned long long)st.objects, mib,
           now_s() - start);
    ret = 0;

Exit:
    if (have_conf)
        edge_config_dispose(&conf);
    return ret;
}
