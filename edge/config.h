/*
 * edge/config.h: the edgecache configuration, parsed from YAML and validated.
 *
 * The configuration is read once, before any thread starts, into an immutable edge_conf_t that every
 * loop then reads without locks. Only the loader's files (edge/config*.c) include <yaml.h>. Every error names
 * its place as "file:line:col: message", the form `edgecache check` prints, so an operator can jump to it.
 *
 * Durations are written as an integer number of seconds or with a unit (ms, s, m, h, d: "10s", "5m",
 * "250ms"); sizes as bytes or with a unit (K, M, G, T, powers of 1024: "20G").
 *
 * Configuration file map: which file parses which section.
 *   edge/config.c           load and parse entry points, the root mapping ("threads" and the order of the
 *                           sections), override, dispose, the embedded default
 *   edge/config_yaml.c      the generic helpers: node kinds, scalars, key collection, integers, durations,
 *                           sizes, booleans, paths, ADDR:PORT, reading a file
 *   edge/config_listen.c    "listen" (with its "tls"), "cache"
 *   edge/config_origin.c    "origin" (the shorthand), "origins" (servers, balance, health_check, tls),
 *                           "origin_groups"
 *   edge/config_behavior.c  "behaviors" (query_string, headers, TTLs), "error_pages"
 *   edge/config_sites.c     "sites" (each a name, hosts, and its own origins, groups, behaviors, error pages,
 *                           appended to the flat tables), "unknown_host", the implicit site "default"
 *   edge/config_admin.c     "admin" (purge_allow through common/cidr.h), "access_log", "reports"
 *   edge/config_limits.c    "limits" (what one client or connection may cost the edge)
 *   edge/config_tls.c       "tls" (session tickets, OCSP stapling), a site's "tls" (its certificates)
 *   edge/config_int.h       what they share: the parse context and the helpers' contracts
 * Run-time lookups live outside the loader: edge/site.h (the site for a host), edge/behavior.h (the behavior
 * for a path), common/cidr.h (an address in a network).
 */
#ifndef EDGE_CONFIG_H
#define EDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/cidr.h"
#include "edge/behavior.h"
#include "edge/tls_profile.h"
#include "errorpages/errorpages.h"
#include "origin/conf.h"
#include "reports/accounting.h"

#define EDGE_CONF_ERRLEN 512

typedef struct st_edge_conf_listen_t {
    char *address; /* numeric IPv4 or IPv6 address, e.g. "127.0.0.1" */
    uint16_t port;
    char *tls_certificate; /* PEM paths; both NULL for cleartext, both set for TLS (HTTP/2 through ALPN): the
                            * default certificate, for a client whose SNI names no site with certificates */
    char *tls_key;
    bool tls_refuse_unknown_sni;    /* key "unknown_sni: refuse" (default "default"): a handshake whose SNI names no
                                     * site's host, or that has none, is refused with an unrecognized_name alert */
    edge_tls_profile_t tls_profile; /* keys "profile", "ciphers", "ciphersuites", "groups", "min_version",
                                     * "max_version" of its "tls" (edge/tls_profile.h) */
} edge_conf_listen_t;

#define EDGE_CONF_DEFAULT_MAX_VARIANTS 32

/* One certificate/key pair of a site (key "tls.certificates" of a site). */
typedef struct st_edge_conf_cert_t {
    char *certificate; /* key "certificate": PEM, the certificate then its chain (the issuer next, for OCSP) */
    char *key;         /* key "key": its private key, PEM */
} edge_conf_cert_t;

#define EDGE_CONF_DEFAULT_TICKET_ROTATE_MS ((uint64_t)12 * 3600 * 1000)

/*
 * One site (a CloudFront distribution): the hosts it answers for, and its ranges of the flat tables of
 * edge_conf_t, which hold every site's entries one site after the other. Its behaviors end with its own "*";
 * its behaviors' route indexes point into the flat origin and group tables, inside its own ranges. A file
 * without "sites" has one site, "default", with `any_host` set and every entry in its ranges.
 */
typedef struct st_edge_conf_site_t {
    char *name;   /* [A-Za-z0-9_.-]+, unique */
    char **hosts; /* lower case: exact names ("shop.example.com") and wildcards ("*.shop.example.com"), no port */
    size_t num_hosts;
    bool any_host;           /* the site of a file without "sites": it claims every host */
    char *hsts;              /* key "hsts" (top-level "hsts" without "sites"): the Strict-Transport-Security value sent on
                              * its responses over TLS, e.g. "max-age=31536000; includeSubDomains"; NULL: none (default) */
    edge_conf_cert_t *certs; /* key "tls: {certificates: [{certificate, key}, ...]}": chosen by SNI on every TLS
                              * listener; RSA and ECDSA side by side (the client's choice). None: the listener's */
    size_t num_certs;
    size_t first_behavior, num_behaviors;
    size_t first_error_page, num_error_pages;
    size_t first_origin, num_origins;
    size_t first_group, num_groups;
} edge_conf_site_t;

typedef struct st_edge_conf_t {
    char *source;                /* the file name, or "<embedded>" */
    edge_conf_listen_t *listens; /* default: one cleartext listener on 127.0.0.1:8080 */
    size_t num_listens;
    unsigned threads; /* default 0 = one per core */
    struct {
        char *path;                    /* default "edgecache-cache" (relative to the working directory) */
        uint64_t max_size;             /* bytes, default 1 GiB: the LMDB map size */
        uint64_t background_fetch_max; /* key "background_fetch_max", default 64 MiB: when the last client of
                                        * a miss goes away, a cacheable body up to this size is still fetched
                                        * into the cache; a larger one is cancelled */
        unsigned max_variants;         /* key "max_variants", default 32: stored Vary variants per URL; 0 no cap */
        bool reset;                    /* serve --reset-cache: delete the store's files at start */
    } cache;
    origin_conf_set_t upstream;      /* keys "origins" and "origin_groups" of every site, site after site; in a file
                                      * with "sites", each name is "SITE/NAME" (names are scoped per site) */
    edge_conf_behavior_t *behaviors; /* every site's, in order; each site's last one is "*" (edge/behavior.h) */
    size_t num_behaviors;
    errorpages_rule_t *error_pages; /* key "error_pages" of every site, site after site */
    size_t num_error_pages;
    edge_conf_site_t *sites; /* key "sites"; without it, one site "default" for every host (never empty) */
    size_t num_sites;
    struct {         /* key "unknown_host": what a request for a host no site claims gets */
        size_t site; /* key "site": served as this site (index into sites); SIZE_MAX: answered `status` */
        int status;  /* key "status": 421 (default) or 404 */
        char *page;  /* key "page": the body of that answer (a file beside the configuration); NULL: a line of text */
        char *body;  /* its content, read at parse time */
        size_t body_len;
    } unknown_host;
    struct {           /* key "admin": the admin API (purge, metrics, reports, health), on a listener of its own */
        char *address; /* key "listen" "ADDR:PORT"; NULL: no admin listener */
        uint16_t port;
        char *token_file;           /* key "token_file": holds the bearer token (whitespace trimmed) */
        char *token;                /* its content, read at parse time; NULL: every endpoint but /healthz is 401 */
        common_cidr_t *purge_allow; /* key "purge_allow": client addresses whose PURGE method is obeyed on
                                     * the client listeners; none by default */
        size_t num_purge_allow;
        char *healthz_path; /* key "healthz_path": /healthz on the client listeners too, without a token, at this
                             * path; NULL: EDGE_CONF_HEALTHZ_PATH */
        bool healthz_off;   /* "healthz_path: ~": not on the client listeners */
    } admin;
    struct {          /* key "access_log" */
        char *path;   /* NULL: no access log */
        char *format; /* libh2o's format string; NULL: EDGE_CONF_ACCESS_LOG_FORMAT, or EDGE_CONF_ACCESS_LOG_JSON
                       * when `json` is set */
        bool json;    /* key "format" was the keyword `json`: one JSON object per line, JSON escapes */
    } access_log;
    char *node_id;                 /* key "node_id": this edge's name in every report (default: the host name), so that
                                    * merging the reports of a fleet can refuse an edge given twice */
    reports_conf_t reports;        /* key "reports"; its behaviors are parallel to `behaviors` */
    struct {                       /* key "tls": what every TLS listener shares, process-wide (edge/config_tls.c) */
        char *ticket_key_file;     /* key "session_tickets.key_file": 80-byte keys (16 name, 32 HMAC, 32 AES), the
                                    * first encrypts; NULL (default): keys made by the process and rotated */
        uint64_t ticket_rotate_ms; /* key "session_tickets.rotate", default 12h: a new key this often, the previous
                                    * one kept for decryption (without a key_file only) */
        bool ocsp_stapling;        /* key "ocsp.stapling", default true */
        char *ocsp_responder;      /* key "ocsp.responder": the URL asked instead of each certificate's own */
        char *ocsp_cache_dir;      /* key "ocsp.cache_dir": where responses are kept; NULL: CACHE_PATH/ocsp */
    } tls;
    struct {                         /* key "limits": what a client or a connection may cost the edge (edge/config_limits.c) */
        unsigned background_fetches; /* key "background_fetches", default 64: misses that go on after their last
                                      * client left, at once, over all loops; beyond it such a fetch is cancelled */
        uint64_t header_timeout_ms;  /* key "header_timeout", default 10s: HTTP/1 request head (and keep-alive
                                      * idle), TLS handshake and HTTP/2 idle timeout */
        unsigned h2_max_streams;     /* key "h2_max_concurrent_streams", default 100: requests of one HTTP/2
                                      * connection handled at once (libh2o queues the others) */
        unsigned h2_reset_limit;     /* key "h2_reset_limit", default 100: streams a client may reset before
                                      * their response is complete within h2_reset_window; more: the
                                      * connection is closed (CVE-2023-44487, rapid reset); 0: no limit */
        uint64_t h2_reset_window_ms; /* key "h2_reset_window", default 10s */
        uint64_t send_timeout_ms;    /* key "send_timeout", default 60s: an HTTP/1 response whose client takes
                                      * nothing of it for this long has its connection closed (edge/deliver.c,
                                      * the send watch) */
    } limits;
} edge_conf_t;

#define EDGE_CONF_HEALTHZ_PATH "/edgecache/healthz"

/* The default access log format: combined, then the cache status (HIT, MISS, STALE, REFRESH, PASS, ERROR),
 * the origin time in milliseconds ("-" when the origin was not asked), the behavior's path pattern, the
 * site's name and, last, the request's duration in seconds with microseconds (libh2o's %{duration}x: from the request's
 * first byte to its response's last). The request environment carries the edge's own values:
 * %{cache}e, %{origin-ms}e, %{behavior}e, %{site}e. */
#define EDGE_CONF_ACCESS_LOG_FORMAT                                                                                                \
    "%h %l %u %t \"%r\" %s %b \"%{referer}i\" \"%{user-agent}i\" %{cache}e %{origin-ms}e \"%{behavior}e\" %{site}e %{duration}x"

/* `access_log: {format: json}`: one JSON object per line, written by libh2o with its JSON escapes
 * (H2O_LOGCONF_ESCAPE_JSON: quote, backslash and every byte outside printable ASCII as \uXXXX). A value
 * libh2o does not have is written as the bare word null: inside quotes (a missing Referer, User-Agent or
 * X-Request-Id) that is the string "null", unquoted (origin_ms when the origin was not asked, duration)
 * the JSON null. Keys are fixed: operators' log pipelines read them. */
#define EDGE_CONF_ACCESS_LOG_JSON                                                                                                  \
    "{\"time\":\"%{%Y-%m-%dT%H:%M:%S%z}t\",\"client\":\"%h\",\"method\":\"%m\",\"path\":\"%U%q\",\"protocol\":\"%H\","             \
    "\"status\":%s,\"bytes\":%b,\"referer\":\"%{referer}i\",\"user_agent\":\"%{user-agent}i\",\"cache\":\"%{cache}e\","            \
    "\"origin_ms\":%{origin-ms}e,\"behavior\":\"%{behavior}e\",\"site\":\"%{site}e\",\"duration\":%{duration}x,\"request_id\":\"%" \
    "{x-request-id}i\"}"

/**
 * Parses and validates YAML text into `conf` (which the call zero-fills first). `name` is used in error
 * messages. `basedir` resolves relative error page, TLS and file: origin paths (NULL: the working directory).
 * Returns 0, or -1 with "name:line:col: message" in `err` (EDGE_CONF_ERRLEN bytes); on failure `conf`
 * holds nothing that needs freeing.
 */
int edge_config_parse(edge_conf_t *conf, const char *name, const char *basedir, const char *text, size_t len, char *err);
/**
 * Reads `path` and parses it as edge_config_parse does, with the file's directory as basedir.
 */
int edge_config_load(edge_conf_t *conf, const char *path, char *err);
/**
 * Writes what is valid but weak in `conf` into `buf` (`len` bytes, truncated quietly), one line each ending in
 * '\n': "SOURCE: warning: listen ADDR port PORT: tls: ..." for a TLS listener whose TLS 1.2 ciphers lack
 * forward secrecy or are CBC. Returns the number of warnings (0: `buf` is ""). `edgecache check` prints them.
 */
size_t edge_config_warnings(const edge_conf_t *conf, char *buf, size_t len);

/**
 * Applies the command-line overrides (each may be NULL): `listen` "ADDR:PORT" replaces every listener
 * with one cleartext listener; `origin` URL replaces the origins with one origin named "default" that
 * every behavior uses, and drops the origin groups (every route.group_index becomes SIZE_MAX); `cache_dir`
 * replaces cache.path. Returns 0, or -1 with a message in `err`, in which case `conf` is unchanged.
 */
int edge_config_override(edge_conf_t *conf, const char *listen, const char *origin, const char *cache_dir, char *err);
/** Frees everything edge_config_parse allocated. */
void edge_config_dispose(edge_conf_t *conf);

/**
 * The embedded default configuration, used by `edgecache serve` when no -c is given: a static string (never
 * freed). Its origin is the installed sample site when that directory exists, else the source tree's (see
 * edge/config.c); the choice is made at each call, from any thread.
 */
const char *edge_config_default_yaml(void);

#endif
