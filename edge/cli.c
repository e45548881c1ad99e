/*
 * edge/cli.c: the option parser shared by every subcommand (see edge/cli.h).
 *
 * Where the subcommands live: their front-ends (edge/main.c's serve and check, edge/warm.c,
 * edge/purge_cli.c, edge/snapshot_cli.c, edge/report_cli.c) and their blocking HTTP client
 * (edge/httpc.c) are in edge/ because every one of them reads the edge's configuration (edge/config.h),
 * and nothing outside edge/ may include an edge/ header; `edgecache report` moved here from reports/
 * for that reason, leaving reports/ the library that it and the admin API call. They stay apart from
 * the serving code all the same: none of them includes edge/server.h, edge/req_fsm.h or edge/admin.h,
 * and the serving code includes none of them; only edge/main.c names both sides.
 *
 * The invariant that is easy to break: every message of a usage error goes through usage_error(), so
 * that each subcommand answers a mistake the same way (one line, the synopsis, exit 2), and nothing
 * is written to stdout but the --help text.
 */
#include "edge/cli.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The usage text's first paragraph: everything up to the first blank line. */
static void print_synopsis(const edge_cli_t *cli, FILE *fp)
{
    const char *end = strstr(cli->usage, "\n\n");
    fwrite(cli->usage, 1, end != NULL ? (size_t)(end - cli->usage) + 1 : strlen(cli->usage), fp);
}

static int vusage_error(const edge_cli_t *cli, const char *fmt, va_list ap)
{
    if (fmt != NULL) {
        fprintf(stderr, "%s: ", cli->prog);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    print_synopsis(cli, stderr);
    return 2;
}

int edge_cli_usage_error(const edge_cli_t *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int ret = vusage_error(cli, fmt, ap);
    va_end(ap);
    return ret;
}

/* The option `--name` (or a prefix of it, `len` bytes) names: an exact match, else the only option it
 * starts. NULL when none; `*ambiguous` when several. */
static const edge_cli_opt_t *find_long(const edge_cli_opt_t *opts, const char *name, size_t len, bool *ambiguous)
{
    const edge_cli_opt_t *found = NULL;
    *ambiguous = false;
    for (const edge_cli_opt_t *o = opts; o->name != NULL; ++o) {
        if (strncmp(o->name, name, len) != 0)
            continue;
        if (o->name[len] == '\0')
            return o;
        if (found != NULL)
            *ambiguous = true;
        found = o;
    }
    return *ambiguous ? NULL : found;
}

static const edge_cli_opt_t *find_short(const edge_cli_opt_t *opts, char letter)
{
    for (const edge_cli_opt_t *o = opts; o->name != NULL; ++o)
        if (o->letter == letter)
            return o;
    return NULL;
}

/* Digits only: strtoul alone would take "-1", " 5" and "+5". */
static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno == 0 && *end == '\0' && *out >= lo && *out <= hi;
}

/* Stores `value` (NULL for a flag) as `o` says; `as_written` is the option as the user typed it, for the
 * message. EDGE_CLI_CONTINUE, or 2 after the message. */
static int store(const edge_cli_t *cli, const edge_cli_opt_t *o, const char *as_written, const char *value)
{
    const char *why = NULL;
    unsigned long n;

    switch (o->kind) {
    case EDGE_CLI_FLAG:
        *(bool *)o->dest = true;
        break;
    case EDGE_CLI_STRING:
        *(const char **)o->dest = value;
        break;
    case EDGE_CLI_UINT:
        if (!parse_uint(value, o->min, o->max, &n))
            return edge_cli_usage_error(cli, "%s %s: expected %lu..%lu%s%s", as_written, value, o->min, o->max,
                                        o->unit != NULL ? " " : "", o->unit != NULL ? o->unit : "");
        *(unsigned long *)o->dest = n;
        break;
    case EDGE_CLI_CALL:
        why = o->parse(o->dest, value);
        break;
    }
    if (why != NULL)
        return edge_cli_usage_error(cli, "%s %s: %s", as_written, value, why);
    return EDGE_CLI_CONTINUE;
}

/* One option at argv[*i] (which starts with '-' and is not "-" nor "--"); takes its value from the same
 * word or the next one, advancing *i past what it used. */
static int option(const edge_cli_t *cli, int argc, char **argv, int *i)
{
    const char *arg = argv[*i], *value = NULL;
    const edge_cli_opt_t *o;
    char written[64];

    if (arg[1] == '-') {
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        bool ambiguous;
        if ((o = find_long(cli->opts, name, len, &ambiguous)) == NULL) {
            if (len == 4 && strncmp(name, "help", 4) == 0)
                goto Help;
            return edge_cli_usage_error(cli, "%s option '--%.*s'", ambiguous ? "ambiguous" : "unknown", (int)len, name);
        }
        snprintf(written, sizeof(written), "--%s", o->name);
        if (eq != NULL) {
            if (o->kind == EDGE_CLI_FLAG)
                return edge_cli_usage_error(cli, "option '%s' takes no value", written);
            value = eq + 1;
        }
    } else {
        if ((o = find_short(cli->opts, arg[1])) == NULL) {
            if (arg[1] == 'h' && arg[2] == '\0')
                goto Help;
            return edge_cli_usage_error(cli, "unknown option '-%c'", arg[1]);
        }
        snprintf(written, sizeof(written), "-%c", o->letter);
        if (arg[2] != '\0') {
            if (o->kind == EDGE_CLI_FLAG)
                return edge_cli_usage_error(cli, "option '%s' takes no value", written);
            value = arg + 2;
        }
    }
    if (o->kind != EDGE_CLI_FLAG && value == NULL) {
        if (*i + 1 >= argc)
            return edge_cli_usage_error(cli, "option '%s' needs a value", written);
        value = argv[++*i];
    }
    return store(cli, o, written, value);

Help:
    fputs(cli->usage, stdout);
    return 0;
}

int edge_cli_parse(const edge_cli_t *cli, int argc, char **argv, int *nargs)
{
    /* the arguments are collected aside, then copied to argv[1..]: no value already stored points at a
     * slot of argv, only at the strings, so rewriting the slots is safe */
    char **args = malloc(sizeof(*args) * (size_t)(argc > 0 ? argc : 1));
    int n = 0, ret = EDGE_CLI_CONTINUE;
    bool options = true;

    if (args == NULL) {
        fprintf(stderr, "%s: out of memory\n", cli->prog);
        return 1;
    }
    for (int i = 1; i < argc && ret == EDGE_CLI_CONTINUE; ++i) {
        const char *arg = argv[i];
        if (!options || arg[0] != '-' || arg[1] == '\0') {
            args[n++] = argv[i];
        } else if (strcmp(arg, "--") == 0) {
            options = false;
        } else {
            ret = option(cli, argc, argv, &i);
        }
    }
    if (ret == EDGE_CLI_CONTINUE) {
        if (n < cli->min_args)
            ret = edge_cli_usage_error(cli, "missing %s", cli->args_name != NULL ? cli->args_name : "argument");
        else if (cli->max_args >= 0 && n > cli->max_args)
            ret = edge_cli_usage_error(cli, "unexpected argument '%s'", args[cli->max_args]);
    }
    if (ret == EDGE_CLI_CONTINUE) {
        memcpy(argv + 1, args, sizeof(*args) * (size_t)n);
        if (n + 1 < argc)
            argv[n + 1] = NULL;
        *nargs = n;
    }
    free(args);
    return ret;
}
