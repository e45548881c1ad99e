/*
 * common/log.h: the error log (stderr), one printf-attributed family with a level.
 *
 * Lines look like "2026-11-26T18:00:00Z edgecache[pid] warn: message". Any thread may log; each line is
 * written with one write(2), so lines from different threads never interleave.
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

typedef enum en_common_log_level_t { COMMON_LOG_ERROR, COMMON_LOG_WARN, COMMON_LOG_INFO, COMMON_LOG_DEBUG } common_log_level_t;

/** Lines above this level are dropped; COMMON_LOG_INFO unless EDGECACHE_DEBUG is set in the environment. */
extern common_log_level_t common_log_level;

void common_log(common_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define common_log_error(...) common_log(COMMON_LOG_ERROR, __VA_ARGS__)
#define common_log_warn(...) common_log(COMMON_LOG_WARN, __VA_ARGS__)
#define common_log_info(...) common_log(COMMON_LOG_INFO, __VA_ARGS__)
#define common_log_debug(...)                                                                                                      \
    do {                                                                                                                           \
        if (common_log_level >= COMMON_LOG_DEBUG)                                                                                  \
            common_log(COMMON_LOG_DEBUG, __VA_ARGS__);                                                                             \
    } while (0)

#endif
