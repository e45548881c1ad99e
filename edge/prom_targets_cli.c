/*
 * edge/prom_targets_cli.c: `edgecache prometheus-targets` (see prom_targets_cli.h).
 *
 * Prometheus takes one authorization per scrape job, and each edge may name its own token file, so the
 * edges are grouped into jobs by token file, in the order their first edge appears in the fleet file: the
 * job of the first group is "edgecache", the others "edgecache-EDGE" after their first edge. The alert
 * rules (docs/monitoring/rules.yml) select `job=~"edgecache.*"` for that reason.
 *
 * Invariant: every string from the fleet file is written quoted and escaped (a YAML double-quoted scalar
 * and a JSON string share the escapes used here), so no name can change the shape of the output; and the
 * output depends only on the fleet, so the example in docs/monitoring/ can be checked byte for byte.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "edge/cli.h"
#include "edge/prom_targets_cli.h"

static const char usage[] =
    "usage: edgecache prometheus-targets FLEET [-o FILE] [--rules FILE]... [--file-sd]\n"
    "\n"
    "Writes the Prometheus configuration that scrapes the admin /metrics of every edge of the fleet file\n"
    "FLEET: a whole prometheus.yml (the rule files, one job per admin token file with its bearer token as\n"
    "authorization.credentials_file, each edge a target labelled edge, region and tier), or with --file-sd\n"
    "the targets alone as file_sd JSON for a job of your own. On stdout, or into FILE (replaced at once).\n"
    "--rules names a rule_files entry (repeatable; default rules.yml, resolved by Prometheus against the\n"
    "directory of prometheus.yml). See docs/monitoring/README.md.\n";

/* A double-quoted YAML scalar or JSON string: both read these escapes alike. */
static void quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; ++p) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static const char *token_file_of(const edge_fleet_t *fleet, const edge_fleet_edge_t *e)
{
    return e->token_file != NULL ? e->token_file : fleet->admin_token_file;
}

static bool same_file(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* Writes `path` quoted, made absolute against the current directory when it is relative ("./" dropped). */
static void absolute(FILE *out, const char *path)
{
    char cwd[PATH_MAX], *full = NULL;
    if (path[0] != '/') {
        while (path[0] == '.' && path[1] == '/')
            path += 2;
        if (getcwd(cwd, sizeof(cwd)) != NULL && asprintf(&full, "%s/%s", cwd, path) < 0)
            full = NULL;
    }
    quoted(out, full != NULL ? full : path);
    free(full);
}

static void labels(FILE *out, const edge_fleet_t *fleet, const edge_fleet_edge_t *e)
{
    fputs("{\"edge\": ", out);
    quoted(out, e->name);
    fputs(", \"region\": ", out);
    quoted(out, fleet->regions[e->region].name);
    fputs(", \"tier\": ", out);
    quoted(out, e->tier == EDGE_FLEET_TIER_PARENT ? "parent" : "edge");
    fputc('}', out);
}

static void write_file_sd(FILE *out, const edge_fleet_t *fleet)
{
    fputs("[\n", out);
    for (size_t i = 0; i != fleet->num_edges; ++i) {
        const edge_fleet_edge_t *e = fleet->edges + i;
        fputs("  {\"targets\": [", out);
        quoted(out, e->admin);
        fputs("], \"labels\": ", out);
        labels(out, fleet, e);
        fputs(i + 1 != fleet->num_edges ? "},\n" : "}\n", out);
    }
    fputs("]\n", out);
}

/* One scrape job: the edges whose token file is that of edge `first`, which is the first of them. */
static void write_job(FILE *out, const edge_fleet_t *fleet, size_t first)
{
    const char *token = token_file_of(fleet, fleet->edges + first);
    fputs("  - job_name: ", out);
    if (first == 0) {
        quoted(out, "edgecache");
    } else {
        char *name = NULL;
        if (asprintf(&name, "edgecache-%s", fleet->edges[first].name) < 0)
            name = NULL;
        quoted(out, name != NULL ? name : fleet->edges[first].name);
        free(name);
    }
    fputs("\n    metrics_path: /metrics\n    scheme: http\n", out);
    if (token != NULL) {
        fputs("    authorization:\n      type: Bearer\n      credentials_file: ", out);
        absolute(out, token);
        fputc('\n', out);
    }
    fputs("    static_configs:\n", out);
    for (size_t i = first; i != fleet->num_edges; ++i) {
        const edge_fleet_edge_t *e = fleet->edges + i;
        if (!same_file(token_file_of(fleet, e), token))
            continue;
        fputs("      - targets: [", out);
        quoted(out, e->admin);
        fputs("]\n        labels: ", out);
        labels(out, fleet, e);
        fputc('\n', out);
    }
}

int edge_prom_targets_write(FILE *out, FILE *warn, const edge_fleet_t *fleet, const edge_prom_targets_opts_t *opts)
{
    for (size_t i = 0; warn != NULL && i != fleet->num_edges; ++i)
        if (token_file_of(fleet, fleet->edges + i) == NULL)
            fprintf(warn,
                    "edgecache prometheus-targets: warning: edge %s has no token file (admin_token_file or token_file): "
                    "its /metrics answers 401 without one\n",
                    fleet->edges[i].name);
    if (opts->file_sd) {
        write_file_sd(out, fleet);
        return fflush(out) == 0 && !ferror(out) ? 0 : -1;
    }

    fputs("# Generated by `edgecache prometheus-targets` from the fleet file", out);
    if (fleet->name != NULL)
        fprintf(out, " of %s", fleet->name);
    fputs(": generate it again when the fleet\n# changes rather than editing it (docs/monitoring/README.md).\n", out);
    fputs("global:\n  scrape_interval: 15s\n  scrape_timeout: 10s\n  evaluation_interval: 15s\n", out);
    if (fleet->name != NULL) {
        fputs("  external_labels:\n    fleet: ", out);
        quoted(out, fleet->name);
        fputc('\n', out);
    }
    if (opts->num_rules != 0) {
        fputs("\nrule_files:\n", out);
        for (size_t i = 0; i != opts->num_rules; ++i) {
            fputs("  - ", out);
            quoted(out, opts->rules[i]);
            fputc('\n', out);
        }
    }
    fputs("\nscrape_configs:\n", out);
    /* a job per token file, at the first edge that names it */
    for (size_t i = 0; i != fleet->num_edges; ++i) {
        bool seen = false;
        for (size_t j = 0; j != i && !seen; ++j)
            seen = same_file(token_file_of(fleet, fleet->edges + j), token_file_of(fleet, fleet->edges + i));
        if (!seen)
            write_job(out, fleet, i);
    }
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

/* --- the subcommand ---------------------------------------------------------------------------- */

#define MAX_RULES 16

typedef struct st_rules_t {
    const char *files[MAX_RULES];
    size_t num;
} rules_t;

static const char *add_rules(void *dest, const char *value)
{
    rules_t *r = dest;
    if (r->num == MAX_RULES)
        return "too many rule files";
    r->files[r->num++] = value;
    return NULL;
}

int edge_prom_targets_cli_main(int argc, char **argv)
{
    const char *output = NULL;
    bool file_sd = false;
    rules_t rules = {.num = 0};
    const edge_cli_opt_t opts[] = {{.name = "output", .letter = 'o', .kind = EDGE_CLI_STRING, .dest = &output},
                                   {.name = "rules", .kind = EDGE_CLI_CALL, .dest = &rules, .parse = add_rules},
                                   {.name = "file-sd", .kind = EDGE_CLI_FLAG, .dest = &file_sd},
                                   {0}};
    const edge_cli_t cli = {
        .prog = "edgecache prometheus-targets", .usage = usage, .opts = opts, .args_name = "FLEET", .min_args = 1, .max_args = 1};
    char err[EDGE_FLEET_ERRLEN];
    int nargs, ret;

    if ((ret = edge_cli_parse(&cli, argc, argv, &nargs)) != EDGE_CLI_CONTINUE)
        return ret;
    if (file_sd && rules.num != 0)
        return edge_cli_usage_error(&cli, "--rules belongs in a prometheus.yml, not in --file-sd's targets");
    if (rules.num == 0)
        add_rules(&rules, "rules.yml");
    edge_fleet_t *fleet = edge_fleet_load(argv[1], err);
    if (fleet == NULL) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    edge_prom_targets_opts_t o = {.rules = rules.files, .num_rules = rules.num, .file_sd = file_sd};

    if (output == NULL) {
        ret = edge_prom_targets_write(stdout, stderr, fleet, &o) == 0 ? 0 : 1;
        edge_fleet_free(fleet);
        return ret;
    }
    /* into a temporary file beside FILE, renamed over it once complete */
    char *tmp = NULL;
    FILE *fp;
    ret = 1;
    if (asprintf(&tmp, "%s.tmp.%ld", output, (long)getpid()) < 0) {
        tmp = NULL;
        fprintf(stderr, "edgecache prometheus-targets: out of memory\n");
    } else if ((fp = fopen(tmp, "w")) == NULL) {
        fprintf(stderr, "edgecache prometheus-targets: %s: %s\n", tmp, strerror(errno));
    } else {
        int written = edge_prom_targets_write(fp, stderr, fleet, &o);
        if (fclose(fp) != 0 || written != 0)
            fprintf(stderr, "edgecache prometheus-targets: %s: %s\n", tmp, strerror(errno));
        else if (rename(tmp, output) != 0)
            fprintf(stderr, "edgecache prometheus-targets: %s: %s\n", output, strerror(errno));
        else
            ret = 0;
        if (ret != 0)
            unlink(tmp);
    }
    free(tmp);
    edge_fleet_free(fleet);
    return ret;
}
