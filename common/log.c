/*
 * common/log.c: the error log. Formats the whole line in a stack buffer and writes it with one write(2)
 * so that concurrent threads never interleave within a line; a line longer than the buffer is cut, never
 * split.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"

common_log_level_t common_log_level = COMMON_LOG_INFO;

void common_log(common_log_level_t level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    char line[2048];
    struct tm tm;
    time_t now = time(NULL);
    size_t off;
    va_list ap;

    if (level > common_log_level)
        return;
    gmtime_r(&now, &tm);
    off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
    off += (size_t)snprintf(line + off, sizeof(line) - off, " edgecache[%d] %s: ", (int)getpid(), names[level]);
    va_start(ap, fmt);
    int n = vsnprintf(line + off, sizeof(line) - off - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    off += (size_t)n < sizeof(line) - off - 1 ? (size_t)n : sizeof(line) - off - 2;
    line[off++] = '\n';
    ssize_t unused = write(2, line, off);
    (void)unused;
}
