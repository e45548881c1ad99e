/*
 * reports/process.c: reading the process_* metrics (see process.h).
 *
 * The definitions are the Prometheus client libraries' (the Go client's procfs collector): CPU time is
 * utime + stime over the clock tick rate, resident memory is rss pages times the page size, the start time
 * is the boot time plus the process's starttime ticks, open fds are the entries of /proc/self/fd (the
 * descriptor that reads the directory is one of them, as in the Go client), max fds the soft limit.
 * Invariant: the parsers never read past the text they are given, whatever it holds.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "reports/process.h"

int reports_process_parse_stat(const char *text, long ticks_per_second, long page_size, uint64_t boot_time, reports_process_t *p)
{
    const char *s = strrchr(text, ')');
    unsigned long long utime = 0, stime = 0, starttime = 0, vsize = 0;
    long long rss = 0;

    if (s == NULL || ticks_per_second <= 0 || page_size <= 0)
        return -1;
    /* fields 3 (state) to 24 (rss), counted from the end of the command name: utime is 14, stime 15,
     * starttime 22, vsize 23, rss 24 */
    int n = sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %llu %lld", &utime,
                   &stime, &starttime, &vsize, &rss);
    if (n != 5)
        return -1;
    p->cpu_seconds = (double)(utime + stime) / (double)ticks_per_second;
    p->virtual_bytes = vsize;
    p->resident_bytes = rss > 0 ? (uint64_t)rss * (uint64_t)page_size : 0;
    p->start_time_seconds = (double)boot_time + (double)starttime / (double)ticks_per_second;
    return 0;
}

uint64_t reports_process_parse_btime(const char *text)
{
    for (const char *line = text; line != NULL && *line != '\0';) {
        unsigned long long v;
        if (strncmp(line, "btime ", 6) == 0 && sscanf(line + 6, "%llu", &v) == 1)
            return v;
        line = strchr(line, '\n');
        if (line != NULL)
            ++line;
    }
    return 0;
}

/* Reads a small /proc file into `buf` (NUL-terminated); returns its length, or -1. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
    FILE *fp = fopen(path, "re");
    if (fp == NULL)
        return -1;
    size_t n = fread(buf, 1, size - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return (ssize_t)n;
}

int reports_process_read(reports_process_t *p)
{
    char stat[1024], *procstat;
    uint64_t boot_time = 0;
    int ret = 0;

    memset(p, 0, sizeof(*p));
    /* /proc/stat has a line per CPU before btime: a page is enough for a few dozen CPUs; read more when not */
    for (size_t size = 8192; size <= (1 << 22) && boot_time == 0; size *= 4) {
        if ((procstat = malloc(size)) == NULL)
            break;
        ssize_t n = slurp("/proc/stat", procstat, size);
        boot_time = n >= 0 ? reports_process_parse_btime(procstat) : 0;
        free(procstat);
        if (n < 0 || (size_t)n < size - 1)
            break;
    }
    if (slurp("/proc/self/stat", stat, sizeof(stat)) < 0 ||
        reports_process_parse_stat(stat, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), boot_time, p) != 0)
        ret = -1;
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                ++p->open_fds;
        closedir(d);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        p->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    return ret;
}
