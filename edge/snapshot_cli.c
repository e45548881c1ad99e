/*
 * edge/snapshot_cli.c: `edgecache snapshot` (see snapshot_cli.h).
 *
 * The copy itself is the store's (cache_store_snapshot); this file only finds the directories, opens the
 * store read-only — never taking the edge's lock, so a serving edge is not disturbed — and reports.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "cache/store.h"
#include "edge/config.h"
#include "edge/snapshot_cli.h"

static void usage(FILE *fp)
{
    fputs("usage: edgecache snapshot [-c FILE | --cache-dir DIR] DEST\n"
          "Copies the cache (cache.path of FILE, or DIR; default ./edgecache-cache) into the new or empty\n"
          "directory DEST: consistent and compacted, while the edge goes on serving. Start a new edge with\n"
          "cache.path (or --cache-dir) DEST and it serves those objects as hits at once.\n",
          fp);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int edge_snapshot_cli_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"cache-dir", required_argument, NULL, 'd'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *file = NULL, *dir = NULL;
    char err[EDGE_CONF_ERRLEN];
    edge_conf_t conf;
    bool have_conf = false;
    int ch, ret = 1;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            file = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc || (file != NULL && dir != NULL)) {
        usage(stderr);
        return 2;
    }
    const char *dest = argv[optind];
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
