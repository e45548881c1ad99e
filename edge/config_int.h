/*
 * edge/config_int.h: what the files of the configuration loader share (edge/config*.c): the parse context,
 * the YAML helpers of edge/config_yaml.c and the parser of each section. Not a public interface: only
 * edge/config*.c and the fleet file's loader (edge/fleet.c, which keeps the same "file:line:col: message"
 * errors) include it, and with it <yaml.h>, which no other file may include.
 *
 * Conventions every helper keeps, so that a section parser reads as a list of checks:
 * - a helper that reports returns 0, or -1 after writing "name:line:col: message" (the node's position) into
 *   c->err, and nothing else: the caller only propagates -1;
 * - `what` is the name the message starts with ("port", "origin \"web\""), the key as the operator wrote it;
 * - what a helper allocates is stored through its out-pointer into `conf` before anything else can fail, so
 *   that edge_config_dispose() frees it (see the invariant at the head of edge/config.c).
 * Helpers that write a bare message into `msg` (msglen bytes, MSGLEN is enough) instead take no node: they
 * also serve the command-line overrides, which have no position.
 */
#ifndef EDGE_CONFIG_INT_H
#define EDGE_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>
#include "edge/config.h"

#define MSGLEN 256 /* a message without its "name:line:col: " prefix */
#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

typedef struct st_ctx_t {
    const char *name;
    const char *basedir;
    yaml_document_t *doc;
    char *err;
    /* the line that first claimed each error page status (400..599) and failure, 0 if none: a second claim
     * would silently never apply */
    size_t status_line[200];
    size_t failure_line[3];
} ctx_t;

/* --- edge/config_yaml.c: errors and node access ---------------------------------------------------------- */

/**
 * Parses `text` (`len` bytes) into *doc, which must hold exactly one YAML document, and points c->doc at it.
 * Returns the root node (free the document with yaml_document_delete), or NULL with "name:line:col: message"
 * in c->err and nothing to free: a syntax error, an empty text ("the WHAT is empty") or a second document.
 */
yaml_node_t *edge_config_load_document(ctx_t *c, yaml_document_t *doc, const char *text, size_t len, const char *what);
/** The node's 1-based line. */
size_t edge_config_line(const yaml_node_t *n);
/** Writes "name:line:col: " and the message into c->err; returns -1. */
int edge_config_fail(ctx_t *c, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int edge_config_nomem(ctx_t *c, const yaml_node_t *n);
/** The node with document id `id`. */
yaml_node_t *edge_config_node(ctx_t *c, int id);
/** The number of items of sequence `n`, and its i-th item. */
size_t edge_config_num_items(const yaml_node_t *n);
yaml_node_t *edge_config_item(ctx_t *c, const yaml_node_t *n, size_t i);
/** True for a plain "", "~" or "null": what "port:" with nothing after it gives. */
bool edge_config_is_null(const yaml_node_t *n);
/** "a mapping", "a list", "nothing" or "a single value", for "expected X, found Y" messages. */
const char *edge_config_kind(const yaml_node_t *n);
/** The text of scalar `n` (valid as long as the document), refusing null and NUL bytes. */
int edge_config_str(ctx_t *c, const yaml_node_t *n, const char *what, const char **out);
/** A non-empty scalar, malloc'd into *out. */
int edge_config_dupstr(ctx_t *c, const yaml_node_t *n, const char *what, char **out);
/** The value of `key` in mapping `map`, or NULL (also when `map` is not a mapping). */
yaml_node_t *edge_config_lookup(ctx_t *c, const yaml_node_t *map, const char *key);
/**
 * Checks that `n` is a mapping whose keys are all in `keys` (each at most once) and stores each value at its
 * key's index in `vals` (nkeys entries, NULL when absent). `what` names the mapping in messages.
 */
int edge_config_collect(ctx_t *c, const yaml_node_t *n, const char *what, const char *const *keys, size_t nkeys,
                        yaml_node_t **vals);
/** Reports that mapping `map` (named `what`) lacks `key`; returns -1. */
int edge_config_missing(ctx_t *c, const yaml_node_t *map, const char *what, const char *key);

/* --- edge/config_yaml.c: values -------------------------------------------------------------------------- */

/** A decimal integer in lo..hi: no sign, no base prefix. */
int edge_config_integer(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t lo, uint64_t hi, uint64_t *out);
/** A duration ("10", "250ms", "10s", "5m", "1h", "2d"; at most 100 years) in milliseconds; 0 allowed. */
int edge_config_duration_ms(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t *ms);
/** A duration above 0. */
int edge_config_timeout_ms(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t *ms);
/** A duration in whole seconds. */
int edge_config_ttl(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t *secs);
/** A size in bytes ("20G": K, M, G, T are powers of 1024). */
int edge_config_size(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t *out);
/** true/True/TRUE or false/False/FALSE. */
int edge_config_boolean(ctx_t *c, const yaml_node_t *n, const char *what, bool *out);

/* --- edge/config_yaml.c: paths, addresses, files (bare messages) ---------------------------------------- */

/** `path` relative to `basedir` (NULL or an absolute path: `path` as is), malloc'd; NULL when out of memory. */
char *edge_config_resolve(const char *basedir, const char *path);
/** True when `s` is a numeric IPv4 or IPv6 address. */
bool edge_config_numeric_address(const char *s);
/** The port "1".."65535" at `s`, which must end the string; 0 when it is not one. */
uint16_t edge_config_port_at(const char *s);
/** Splits "ADDR:PORT" or "[V6ADDR]:PORT" into a numeric address (malloc'd) and a port. */
int edge_config_split_hostport(const char *s, char **addr, uint16_t *port, char *msg, size_t msglen);
/** Reads a regular file of at most `limit` bytes into a NUL-terminated buffer (malloc'd, *len without the NUL). */
int edge_config_slurp(const char *path, size_t limit, char **out, size_t *len, char *msg, size_t msglen);

/* --- edge/config_listen.c: listen, cache ------------------------------------------------------------------ */

/** A file path relative to the configuration, resolved into *out (malloc'd) and checked readable now. */
int edge_config_tls_file(ctx_t *c, const yaml_node_t *n, const char *what, char **out);
/** `n` and `root`: the section's node (NULL when absent: the defaults) and the document's, for messages. */
int edge_config_parse_listen(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n, const yaml_node_t *root);
int edge_config_parse_cache(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n, const yaml_node_t *root);

/* --- edge/config_origin.c: origins, origin groups -------------------------------------------------------- */

typedef enum en_scheme_t { SCHEME_HTTP, SCHEME_HTTPS, SCHEME_FILE } scheme_t;

/**
 * Validates an origin server URL and stores its normalized form in *out (malloc'd): "http://host[:port]" or
 * "https://host[:port]" without a trailing '/', or "file:///abs/dir" / "file:rel/dir" with a relative directory
 * resolved against `basedir`, which must exist.
 */
int edge_config_parse_url(const char *url, const char *basedir, char **out, scheme_t *scheme, char *msg, size_t msglen);
/** The defaults of an origin; every place that creates one calls it (tls.verify is true unless written false). */
void edge_config_origin_defaults(origin_conf_t *o);
/** The index of the origin or the group named `name`. */
bool edge_config_find_origin(const edge_conf_t *conf, const char *name, size_t *index);
bool edge_config_find_group(const edge_conf_t *conf, const char *name, size_t *index);
/** "a, b, g" for an error message: the origins, then the groups when `with_groups`. */
void edge_config_list_names(const edge_conf_t *conf, bool with_groups, char *buf, size_t len);
/** The origin a behavior without "origin" uses: the only one, or the one named "default". */
bool edge_config_default_origin(const edge_conf_t *conf, size_t *index);
int edge_config_parse_origins(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n);
int edge_config_parse_origin_shorthand(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n);
/** After the origins: a group names origins. */
int edge_config_parse_groups(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n);

/* --- edge/config_behavior.c: behaviors, error pages ------------------------------------------------------ */

/** After the origins and groups, which behaviors name. `n` NULL: only the implicit "*". */
int edge_config_parse_behaviors(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n, const yaml_node_t *root);
int edge_config_parse_error_pages(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n);
/** The content of page `page` (a file beside the configuration, or the built-in page of that name) into *body. */
int edge_config_load_page(ctx_t *c, const char *page, char **body, size_t *body_len, const yaml_node_t *n);

/* --- edge/config_sites.c: sites, unknown_host --------------------------------------------------------------- */

/**
 * One site's sections (each NULL when absent) into `conf`'s flat tables, in the fixed order origins, groups,
 * behaviors, error pages; `where` is the node that "no origin configured" names. What a file without "sites"
 * is parsed with, and each site of one with it.
 */
int edge_config_parse_site_body(ctx_t *c, edge_conf_t *conf, const yaml_node_t *where, const yaml_node_t *origin,
                                const yaml_node_t *origins, const yaml_node_t *groups, const yaml_node_t *behaviors,
                                const yaml_node_t *error_pages);
/** The implicit site "default" of a file without "sites": every host, every entry. */
int edge_config_default_site(ctx_t *c, edge_conf_t *conf, const yaml_node_t *root);
/** "sites": each site parsed as edge_config_parse_site_body does, then appended to the flat tables. */
int edge_config_parse_sites(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n);
/** "unknown_host" (after the sites, which it names); `n` NULL: the defaults. */
int edge_config_parse_unknown_host(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n);
/**
 * A site's (or the top-level) "hsts": {max_age (a duration or whole years "1y"; default 1y), include_subdomains
 * (false), preload (false; needs include_subdomains and max_age >= 1y)} as the Strict-Transport-Security value,
 * malloc'd into *out.
 */
int edge_config_parse_hsts(ctx_t *c, const yaml_node_t *n, char **out);

/* --- edge/config_admin.c: admin, access_log, reports ----------------------------------------------------- */

int edge_config_parse_admin(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n);
/* "node_id" (NULL: the host name) */
int edge_config_parse_node_id(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n, const yaml_node_t *root);
int edge_config_parse_access_log(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n);
/** `n` NULL: the defaults. */
int edge_config_parse_reports(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n);

/* --- edge/config_tls.c: the process's TLS, a site's certificates ------------------------------------------ */

/** The top-level "tls" (session_tickets, ocsp); `n` NULL: the defaults. */
int edge_config_parse_tls(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n);
/** A site's "tls": {certificates: [{certificate, key}, ...]}, into site->certs. */
int edge_config_parse_site_tls(ctx_t *c, edge_conf_site_t *site, const yaml_node_t *n);

/* --- edge/config_limits.c: limits -------------------------------------------------------------------------- */

/** `n` NULL: the defaults. */
int edge_config_parse_limits(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n);

#endif
