/*
 * edge/log.h: the error log (stderr), one printf-attributed family with a level.
 *
 * Lines look like "2026-11-26T18:00:00Z edgecache[pid] warn: message". Any thread may log; each line is
 * written with one write(2), so lines from different threads never interleave.
 */
#ifndef EDGE_LOG_H
#define EDGE_LOG_H

typedef enum en_edge_log_level_t { EDGE_LOG_ERROR, EDGE_LOG_WARN, EDGE_LOG_INFO, EDGE_LOG_DEBUG } edge_log_level_t;

/** Lines above this level are dropped; EDGE_LOG_INFO unless EDGECACHE_DEBUG is set in the environment. */
extern edge_log_level_t edge_log_level;

void edge_log(edge_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define edge_log_error(...) edge_log(EDGE_LOG_ERROR, __VA_ARGS__)
#define edge_log_warn(...) edge_log(EDGE_LOG_WARN, __VA_ARGS__)
#define edge_log_info(...) edge_log(EDGE_LOG_INFO, __VA_ARGS__)
#define edge_log_debug(...)                                                                                                        \
    do {                                                                                                                           \
        if (edge_log_level >= EDGE_LOG_DEBUG)                                                                                      \
            edge_log(EDGE_LOG_DEBUG, __VA_ARGS__);                                                                                 \
    } while (0)

#endif
