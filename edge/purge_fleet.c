/*
 * edge/purge_fleet.c: `edgecache purge --fleet` (see edge/purge_fleet.h): the invalidation of edge/purge_int.h on
 * every edge of a fleet, parents first, each tier in parallel.
 *
 * Each edge of a tier gets a thread of its own, running the same blocking client as the single-edge command
 * (edge_purge_run, one connection per thread: nothing is shared but the job it fills in). The main thread starts
 * the tier, joins every thread, and only then looks at the results: the children start after the last parent
 * answered "done", never before.
 *
 * The invariant that is easy to break: a child is never purged while a parent may still hold the old object.
 * When a parent fails (or cannot even be asked), every child is skipped and listed for the retry together with
 * the parent, so that the retry purges them in the right order again.
 */
#include "edge/purge_fleet.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "edge/fleet.h"
#include "edge/purge_int.h"

typedef enum en_job_state_t { JOB_IDLE, JOB_DONE, JOB_FAILED, JOB_SKIPPED } job_state_t;

typedef struct st_job_t {
    const edge_fleet_edge_t *edge;
    edge_purge_t *p; /* NULL when the edge could not be set up (reason says why) */
    uint64_t timeout_ms;
    job_state_t state;
    char reason[700];
    uint64_t ms; /* from the POST to the end */
    pthread_t thread;
    bool started;
} job_t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *job_main(void *arg)
{
    job_t *j = arg;
    uint64_t t0 = now_ms();
    int r = edge_purge_run(j->p, true, j->timeout_ms);
    j->ms = now_ms() - t0;
    if (r == 0) {
        j->state = JOB_DONE;
    } else {
        /* (the single-edge messages begin with "purge: ": the table says that already) */
        const char *why = j->p->why[0] != '\0' ? j->p->why : "failed";
        if (strncmp(why, "purge: ", 7) == 0)
            why += 7;
        snprintf(j->reason, sizeof(j->reason), "failed: %s", why);
        j->state = JOB_FAILED;
    }
    return NULL;
}

/* Prepares the purge of `j->edge`: its token and admin address. False (the job failed, with a reason) otherwise. */
static bool job_setup(job_t *j, const edge_fleet_t *fleet, const edge_purge_fleet_t *f)
{
    char err[EDGE_FLEET_ERRLEN];
    struct sockaddr_storage addr;
    socklen_t addrlen;

    if ((j->p = calloc(1, sizeof(*j->p))) == NULL) {
        snprintf(j->reason, sizeof(j->reason), "failed: out of memory");
        return false;
    }
    *j->p = (edge_purge_t){.kind = f->kind, .target = f->target, .soft = f->soft, .site = f->site, .targets = 1, .quiet = true};
    snprintf(j->p->hostport, sizeof(j->p->hostport), "%s", j->edge->admin);
    if (edge_fleet_edge_token(fleet, j->edge, &j->p->token, err) != 0) {
        snprintf(j->reason, sizeof(j->reason), "failed: token: %s", err);
        return false;
    }
    if (edge_httpc_resolve(j->edge->admin, &addr, &addrlen, err, sizeof(err)) != 0) {
        snprintf(j->reason, sizeof(j->reason), "failed: admin address %s", err);
        return false;
    }
    edge_httpc_init(&j->p->conn, (const struct sockaddr *)&addr, addrlen);
    return true;
}

/* Purges every job of `tier` at once and waits for them all. */
static void run_tier(job_t *jobs, size_t n, edge_fleet_tier_t tier)
{
    for (size_t i = 0; i != n; ++i) {
        job_t *j = jobs + i;
        if (j->edge->tier != tier || j->state != JOB_IDLE)
            continue;
        if (pthread_create(&j->thread, NULL, job_main, j) == 0)
            j->started = true;
        else
            job_main(j); /* (no thread to be had: this one waits for it instead) */
    }
    for (size_t i = 0; i != n; ++i)
        if (jobs[i].started) {
            pthread_join(jobs[i].thread, NULL);
            jobs[i].started = false;
        }
}

/* `s` quoted for a POSIX shell when it holds anything but the safe characters. */
static void shell_word(FILE *out, const char *s)
{
    if (*s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=,@%+-") == strlen(s)) {
        fputs(s, out);
        return;
    }
    fputc('\'', out);
    for (; *s != '\0'; ++s) {
        if (*s == '\'')
            fputs("'\\''", out);
        else
            fputc(*s, out);
    }
    fputc('\'', out);
}

static void print_retry(const edge_purge_fleet_t *f, const job_t *jobs, size_t n)
{
    bool first = true;
    fputs("retry: edgecache purge --fleet ", stdout);
    shell_word(stdout, f->fleet_path);
    fputs(" --edges ", stdout);
    for (size_t i = 0; i != n; ++i)
        if (jobs[i].state != JOB_DONE) {
            printf("%s%s", first ? "" : ",", jobs[i].edge->name);
            first = false;
        }
    if (f->soft)
        fputs(" --soft", stdout);
    if (f->site != NULL) {
        fputs(" --site ", stdout);
        shell_word(stdout, f->site);
    }
    if (f->timeout_s != 30)
        printf(" --timeout %lu", f->timeout_s);
    if (strcmp(f->kind, "url") != 0)
        printf(" --%s", f->kind);
    fputc(' ', stdout);
    if (strcmp(f->kind, "url") == 0 && f->target[0] == '-')
        fputs("-- ", stdout);
    shell_word(stdout, f->target);
    fputc('\n', stdout);
}

static void print_table(const job_t *jobs, size_t n)
{
    static const char *const heads[] = {"edge", "tier", "invalidation", "status", "objects", "time_ms"};
    char cells[6][800];
    size_t w[6];

    for (size_t c = 0; c != 6; ++c)
        w[c] = strlen(heads[c]);
    for (int pass = 0; pass != 2; ++pass) {
        if (pass == 1) {
            for (size_t c = 0; c != 6; ++c)
                printf(c == 0 ? "%-*s" : c >= 4 ? "  %*s" : "  %-*s", (int)w[c], heads[c]);
            putchar('\n');
        }
        for (size_t i = 0; i != n; ++i) {
            const job_t *j = jobs + i;
            bool ran = j->p != NULL && j->p->id[0] != '\0';
            snprintf(cells[0], sizeof(cells[0]), "%s", j->edge->name);
            snprintf(cells[1], sizeof(cells[1]), "%s", j->edge->tier == EDGE_FLEET_TIER_PARENT ? "parent" : "edge");
            snprintf(cells[2], sizeof(cells[2]), "%s", ran ? j->p->id : "-");
            snprintf(cells[3], sizeof(cells[3]), "%s", j->state == JOB_DONE ? "done" : j->reason);
            snprintf(cells[4], sizeof(cells[4]), "%s", j->state == JOB_DONE ? j->p->objects : "-");
            snprintf(cells[5], sizeof(cells[5]), j->state == JOB_SKIPPED ? "-" : "%llu", (unsigned long long)j->ms);
            for (size_t c = 0; c != 6; ++c) {
                if (pass == 0 && strlen(cells[c]) > w[c])
                    w[c] = strlen(cells[c]);
                if (pass == 1)
                    printf(c == 0 ? "%-*s" : c >= 4 ? "  %*s" : "  %-*s", (int)w[c], cells[c]);
            }
            if (pass == 1)
                putchar('\n');
        }
    }
}

/* Marks the jobs `--edges` selects (all when NULL); 0, or -1 after naming an edge the fleet does not have. */
static int select_edges(const edge_fleet_t *fleet, const char *list, bool *selected)
{
    for (size_t i = 0; i != fleet->num_edges; ++i)
        selected[i] = list == NULL;
    if (list == NULL)
        return 0;
    for (const char *p = list; *p != '\0';) {
        size_t len = strcspn(p, ",");
        size_t i;
        for (i = 0; i != fleet->num_edges; ++i)
            if (strlen(fleet->edges[i].name) == len && memcmp(fleet->edges[i].name, p, len) == 0)
                break;
        if (i == fleet->num_edges) {
            fprintf(stderr, "purge: --edges: no edge \"%.*s\" in %s\n", (int)len, p, fleet->path);
            return -1;
        }
        selected[i] = true;
        p += len;
        if (*p == ',')
            ++p;
    }
    return 0;
}

int edge_purge_fleet_run(const edge_purge_fleet_t *f)
{
    char err[EDGE_FLEET_ERRLEN];
    edge_fleet_t *fleet = edge_fleet_load(f->fleet_path, err);
    job_t *jobs = NULL;
    bool *selected = NULL;
    size_t n = 0;
    int ret = 2;

    if (fleet == NULL) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if ((selected = calloc(fleet->num_edges, sizeof(*selected))) == NULL ||
        (jobs = calloc(fleet->num_edges, sizeof(*jobs))) == NULL) {
        fprintf(stderr, "purge: out of memory\n");
        goto Exit;
    }
    if (select_edges(fleet, f->edges, selected) != 0)
        goto Exit;
    /* the jobs in table order: the parents, then the edges, each in file order */
    for (int tier = EDGE_FLEET_TIER_PARENT; tier >= EDGE_FLEET_TIER_EDGE; --tier)
        for (size_t i = 0; i != fleet->num_edges; ++i)
            if (selected[i] && (int)fleet->edges[i].tier == tier)
                jobs[n++] = (job_t){.edge = fleet->edges + i, .timeout_ms = f->timeout_ms};
    for (size_t i = 0; i != n; ++i)
        if (!job_setup(jobs + i, fleet, f))
            jobs[i].state = JOB_FAILED;

    run_tier(jobs, n, EDGE_FLEET_TIER_PARENT);
    const char *failed_parent = NULL;
    for (size_t i = 0; i != n && failed_parent == NULL; ++i)
        if (jobs[i].edge->tier == EDGE_FLEET_TIER_PARENT && jobs[i].state != JOB_DONE)
            failed_parent = jobs[i].edge->name;
    if (failed_parent != NULL) {
        for (size_t i = 0; i != n; ++i)
            if (jobs[i].edge->tier == EDGE_FLEET_TIER_EDGE && jobs[i].state == JOB_IDLE) {
                jobs[i].state = JOB_SKIPPED;
                snprintf(jobs[i].reason, sizeof(jobs[i].reason), "skipped: parent %s failed", failed_parent);
            }
    } else {
        run_tier(jobs, n, EDGE_FLEET_TIER_EDGE);
    }

    print_table(jobs, n);
    size_t bad = 0;
    for (size_t i = 0; i != n; ++i)
        bad += jobs[i].state != JOB_DONE;
    ret = bad == 0 ? 0 : 1;
    if (failed_parent != NULL)
        fprintf(stderr, "purge: parent %s failed: the edges were not purged, since they would refill from its stale copy\n",
                failed_parent);
    if (bad != 0) {
        const char *sep = "";
        fprintf(stderr, "purge: %zu of %zu edges not purged:", bad, n);
        for (size_t i = 0; i != n; ++i)
            if (jobs[i].state != JOB_DONE) {
                fprintf(stderr, "%s %s (%s)", sep, jobs[i].edge->name, jobs[i].state == JOB_SKIPPED ? "skipped" : "failed");
                sep = ",";
            }
        fputc('\n', stderr);
        print_retry(f, jobs, n);
    }
    fflush(stdout);

Exit:
    for (size_t i = 0; i != n; ++i)
        if (jobs[i].p != NULL) {
            free(jobs[i].p->token);
            free(jobs[i].p);
        }
    free(jobs);
    free(selected);
    edge_fleet_free(fleet);
    return ret;
}
