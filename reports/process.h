/*
 * reports/process.h: the process_* metrics as the Prometheus client libraries define them (CPU time,
 * memory, file descriptors, start time), read from /proc/self and getrlimit(2).
 *
 * Parsing is apart from reading, so that the parsers are tested on fixed text: reports_process_parse_stat
 * and reports_process_parse_btime are pure; reports_process_read does the I/O. Linux only (/proc).
 */
#ifndef REPORTS_PROCESS_H
#define REPORTS_PROCESS_H

#include <stdint.h>

typedef struct st_reports_process_t {
    double cpu_seconds;        /* user + system CPU time (process_cpu_seconds_total) */
    uint64_t resident_bytes;   /* resident set size (process_resident_memory_bytes) */
    uint64_t virtual_bytes;    /* virtual memory size (process_virtual_memory_bytes) */
    double start_time_seconds; /* start time since the epoch (process_start_time_seconds) */
    uint64_t open_fds;         /* open file descriptors (process_open_fds) */
    uint64_t max_fds;          /* the soft RLIMIT_NOFILE (process_max_fds); UINT64_MAX when unlimited */
} reports_process_t;

/**
 * Parses the text of /proc/<pid>/stat into `p`'s cpu_seconds, resident_bytes, virtual_bytes and
 * start_time_seconds, given the clock ticks per second (sysconf(_SC_CLK_TCK)), the page size and the boot
 * time in seconds since the epoch (reports_process_parse_btime). The command name (field 2) may hold
 * spaces and parentheses: fields are counted from its last ')'. Returns 0, or -1 when the text is not
 * such a line (then `p` is unchanged).
 */
int reports_process_parse_stat(const char *text, long ticks_per_second, long page_size, uint64_t boot_time, reports_process_t *p);
/** The "btime" of the text of /proc/stat (the boot time in seconds since the epoch), or 0 when absent. */
uint64_t reports_process_parse_btime(const char *text);
/**
 * Reads the calling process's values into `p` (zero-filled first). A source that cannot be read leaves its
 * fields 0. Returns 0, or -1 when /proc/self/stat could not be read or parsed. Blocks on /proc reads only
 * (no disk); any thread may call it.
 */
int reports_process_read(reports_process_t *p);

#endif
