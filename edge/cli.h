/*
 * edge/cli.h: the one option parser of every edgecache subcommand (edge/cli.c).
 *
 * A subcommand describes its options in a table of edge_cli_opt_t and its text in one edge_cli_t, then
 * calls edge_cli_parse once. The parser stores each value where the table says, so the subcommand's own
 * code starts with its options already checked. What every subcommand gets alike:
 *   - `--name VALUE`, `--name=VALUE`, `-x VALUE`, `-xVALUE`; a long name may be shortened to any
 *     unambiguous prefix; options and arguments may be mixed; `--` ends the options; `-` is an argument;
 *   - `--help` / `-h`: the whole usage text on stdout, exit 0;
 *   - a usage error: one line "PROG: what is wrong" on stderr, then the usage text's first paragraph
 *     (the synopsis), exit 2.
 */
#ifndef EDGE_CLI_H
#define EDGE_CLI_H

#include <stdbool.h>

typedef enum en_edge_cli_kind_t {
    EDGE_CLI_FLAG,   /* no value: sets *(bool *)dest */
    EDGE_CLI_STRING, /* *(const char **)dest = the value, a pointer into argv; the last occurrence wins */
    EDGE_CLI_UINT,   /* a decimal number in [min, max] into *(unsigned long *)dest */
    EDGE_CLI_CALL,   /* parse(dest, value): NULL when taken, else why the value is refused */
} edge_cli_kind_t;

typedef struct st_edge_cli_opt_t {
    const char *name; /* the long name without "--"; a NULL name ends the table */
    char letter;      /* the short form (-c), or 0 */
    edge_cli_kind_t kind;
    void *dest;
    unsigned long min, max; /* EDGE_CLI_UINT: the range, printed as "expected MIN..MAX[ UNIT]" */
    const char *unit;       /* EDGE_CLI_UINT: "seconds", or NULL */
    /* EDGE_CLI_CALL: called once per occurrence, in command-line order; returns NULL, or a static text
     * saying why `value` is refused (printed as "PROG: OPTION VALUE: TEXT") */
    const char *(*parse)(void *dest, const char *value);
} edge_cli_opt_t;

typedef struct st_edge_cli_t {
    const char *prog;  /* what every message starts with: "warm", "edgecache report" */
    const char *usage; /* the --help text; its first paragraph (up to a blank line) is the synopsis */
    const edge_cli_opt_t *opts;
    const char *args_name;  /* the arguments, for messages: "LIST", "DEST" */
    int min_args, max_args; /* the number of arguments accepted; max_args -1: no limit */
} edge_cli_t;

/** edge_cli_parse's answer when the subcommand should go on. */
#define EDGE_CLI_CONTINUE (-1)

/**
 * Parses `argv[1..argc)` (`argv[0]` is the subcommand's name and is skipped) by the table of `cli`.
 * On success the arguments (not options, nor their values) are moved, in their order, to `argv[1..]`,
 * `*nargs` is set to their count and EDGE_CLI_CONTINUE is returned. Otherwise the return value is the
 * exit status the subcommand must return at once: 0 after --help (printed on stdout), 2 after a usage
 * error (printed on stderr), 1 when out of memory. Values stored through the table point into `argv`:
 * they live as long as it does. Not thread-safe (it writes argv); call it once, from main's thread.
 */
int edge_cli_parse(const edge_cli_t *cli, int argc, char **argv, int *nargs);

/**
 * Reports a usage error that only the subcommand can see (options that exclude each other, a missing
 * target): "PROG: MESSAGE" (printf-style; NULL prints no such line) and the synopsis on stderr.
 * Returns 2, the exit status of a usage error.
 */
int edge_cli_usage_error(const edge_cli_t *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
