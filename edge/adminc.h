/*
 * edge/adminc.h: where a subcommand finds the admin API — its address and token, from the flags or from the
 * edge's configuration file. Shared by `edgecache purge` and the control commands (edge/ctl_cli.h).
 */
#ifndef EDGE_ADMINC_H
#define EDGE_ADMINC_H

typedef struct st_edge_adminc_t {
    char hostport[300]; /* the admin listener ("ADDR:PORT"), also the Host header; "" when unknown */
    char *token;        /* malloc'd; NULL: no Authorization header (the API will answer 401) */
} edge_adminc_t;

/**
 * Fills `a` from `admin` (ADDR:PORT) and `token_file`, then what they leave open from the configuration
 * `file` (admin.listen, admin.token_file); each may be NULL. Returns 0, or -1 after printing why on stderr,
 * prefixed with `prog`. A missing address is an error; a missing token only a warning.
 */
int edge_adminc_setup(edge_adminc_t *a, const char *prog, const char *file, const char *admin, const char *token_file);
/** Frees what setup allocated. */
void edge_adminc_dispose(edge_adminc_t *a);

#endif
