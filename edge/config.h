/*
 * edge/config.h: the edgecache configuration, parsed from YAML and validated.
 *
 * The configuration is read once, before any thread starts, into an immutable edge_conf_t that every
 * loop then reads without locks. Only edge/config.c includes <yaml.h>. Every error names its place as
 * "file:line:col: message", the form `edgecache check` prints, so an operator can jump to it.
 *
 * Durations are written as an integer number of seconds or with a unit (ms, s, m, h, d: "10s", "5m",
 * "250ms"); sizes as bytes or with a unit (K, M, G, T, powers of 1024: "20G").
 */
#ifndef EDGE_CONFIG_H
#define EDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_CONF_ERRLEN 512

typedef enum en_edge_conf_qs_t {
    EDGE_CONF_QS_NONE, /* the query string is not part of the cache key (and is still forwarded) */
    EDGE_CONF_QS_ALL,  /* every parameter is part of the key, sorted by name */
    EDGE_CONF_QS_LIST  /* only the listed names are part of the key, sorted */
} edge_conf_qs_t;

/* origin failures that are not an HTTP status, for error_pages: */
#define EDGE_CONF_FAIL_CONNECT 0x1 /* connection refused / unreachable / connect timeout */
#define EDGE_CONF_FAIL_TIMEOUT 0x2 /* read timeout: no first byte, or too long a gap */
#define EDGE_CONF_FAIL_RESET 0x4   /* connection reset or closed mid-response, malformed response */

typedef struct st_edge_conf_listen_t {
    char *address; /* numeric IPv4 or IPv6 address, e.g. "127.0.0.1" */
    uint16_t port;
    char *tls_certificate; /* PEM paths; both NULL for cleartext, both set for TLS (HTTP/2 through ALPN) */
    char *tls_key;
} edge_conf_listen_t;

typedef enum en_edge_conf_balance_t {
    EDGE_CONF_BALANCE_ROUND_ROBIN,       /* default */
    EDGE_CONF_BALANCE_LEAST_OUTSTANDING, /* the server with the fewest requests in flight (per loop) */
    EDGE_CONF_BALANCE_CONSISTENT_HASH    /* by cache key, on a ring: adding a server moves about 1/N of the keys */
} edge_conf_balance_t;

/* Active health checks, with ELB's knobs. */
typedef struct st_edge_conf_health_t {
    char *path;                   /* NULL: no active checks (passive marking still applies) */
    uint64_t interval_ms;         /* default 10000 */
    uint64_t timeout_ms;          /* default 5000; must be below interval */
    unsigned unhealthy_threshold; /* default 2: consecutive failures before a server is marked down (1..100) */
    unsigned healthy_threshold;   /* default 3: consecutive successes before it is marked up again (1..100) */
} edge_conf_health_t;

typedef struct st_edge_conf_origin_t {
    char *name;
    char **servers; /* "http://host[:port]" or "https://host[:port]" (no trailing '/'; all of one scheme; https
                     * defaults to port 443), or "file:///absolute/dir"; "file:relative/dir" only when parsed without
                     * a basedir (a file origin has exactly one server) */
    size_t num_servers;
    uint64_t connect_timeout_ms;   /* default 10000 */
    unsigned connect_attempts;     /* default 3, 1..10 */
    uint64_t read_timeout_ms;      /* default 30000: time to the first byte, and the longest gap between reads */
    uint64_t keepalive_timeout_ms; /* default 5000: idle pooled connections are closed after this */
    char *host_header;             /* NULL: forward the client's Host */
    edge_conf_balance_t balance;   /* key "balance": round_robin | least_outstanding | consistent_hash */
    edge_conf_health_t health;     /* key "health_check" */
    struct {                       /* key "tls", for https:// servers */
        char *ca_file;             /* NULL: the system CA store */
        char *sni;                 /* NULL: the server's host name */
        bool verify;               /* default true; false only when written explicitly ("verify: false") */
    } tls;
} edge_conf_origin_t;

/* An origin group (CloudFront): requests go to the primary and fail over to the secondary. */
typedef struct st_edge_conf_group_t {
    char *name;     /* shares the namespace of origins: a behavior's "origin" may name either */
    size_t primary; /* indexes into edge_conf_t.origins */
    size_t secondary;
    int *failover_on; /* statuses that fail over, sorted; default 500, 502, 503, 504; allowed: 400, 403, 404,
                       * 416, 500, 502, 503, 504 */
    size_t num_failover_on;
    unsigned breaker_failures;    /* circuit breaker: consecutive primary failures that open it; default 5, 0 = off */
    uint64_t breaker_cooldown_ms; /* how long the primary is skipped before a probe; default 30000 */
} edge_conf_group_t;

typedef struct st_edge_conf_behavior_t {
    char *path;           /* pattern: '*' any run of characters (crosses '/'), '?' exactly one; case-sensitive */
    size_t origin_index;  /* index into edge_conf_t.origins (a group: its primary) */
    size_t group_index;   /* index into edge_conf_t.groups, or SIZE_MAX when "origin" names a plain origin */
    uint64_t min_ttl;     /* seconds, default 0 */
    uint64_t default_ttl; /* seconds, default 86400 (if not given, clamped into min..max): used when the origin gives no lifetime */
    uint64_t max_ttl;     /* seconds, default 31536000 */
    edge_conf_qs_t query_string; /* default EDGE_CONF_QS_ALL */
    char **query_names;          /* EDGE_CONF_QS_LIST only: sorted (strcmp), without duplicates */
    size_t num_query_names;
    char **forward_headers;     /* key "forward_headers": request headers sent to the origin, lower-case, without
                                 * duplicates; NULL = all; non-NULL with 0 names ("forward_headers: []") = none */
    size_t num_forward_headers; /* (hop-by-hop headers are never forwarded; Host, Via, X-Forwarded-* always are) */
    char **key_headers;         /* key "cache_key_headers": request headers whose values go into the cache key,
                                 * lower-case, sorted; each is forwarded too */
    size_t num_key_headers;
    bool default_ttl_set;             /* default_ttl was written: it then applies (CloudFront) instead of the
                                       * Last-Modified heuristic; see cache/ttl.h */
    bool honor_request_cache_control; /* key "request_cache_control": ignore (default, as CloudFront: clients
                                       * cannot force origin traffic) | honor (RFC 9111 §5.2.1) */
    bool cache_set_cookie;            /* key "cache_set_cookie", default false: a response with Set-Cookie is
                                       * never shared; true stores it (and strips nothing) */
} edge_conf_behavior_t;

typedef struct st_edge_conf_error_page_t {
    int *statuses; /* origin statuses (400..599) this entry applies to */
    size_t num_statuses;
    unsigned failures; /* EDGE_CONF_FAIL_* bits, from the names connect_error, timeout, reset */
    char *page;        /* the file name as written */
    char *body;        /* the page's content, loaded at parse time (a built-in page or a file) */
    size_t body_len;
    int response_code;              /* status sent to the client; 0 = the origin's status (502 / 504 for failures) */
    uint64_t error_caching_min_ttl; /* seconds, default 10 */
} edge_conf_error_page_t;

/* An IPv4 or IPv6 network, e.g. "10.0.0.0/8" or "::1" (a plain address is a /32 or /128). */
typedef struct st_edge_conf_cidr_t {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix_len;
} edge_conf_cidr_t;

/** True when `sa` (a struct sockaddr of either family) is in one of `cidrs`. */
bool edge_config_cidr_match(const edge_conf_cidr_t *cidrs, size_t num, const void *sa);

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
    } cache;
    edge_conf_origin_t *origins;
    size_t num_origins;
    edge_conf_group_t *groups; /* key "origin_groups" */
    size_t num_groups;
    edge_conf_behavior_t *behaviors; /* in order; the last one is always "*" */
    size_t num_behaviors;
    edge_conf_error_page_t *error_pages;
    size_t num_error_pages;
    struct {           /* key "admin": the admin API (purge, metrics, reports, health), on a listener of its own */
        char *address; /* key "listen" "ADDR:PORT"; NULL: no admin listener */
        uint16_t port;
        char *token_file;              /* key "token_file": holds the bearer token (whitespace trimmed) */
        char *token;                   /* its content, read at parse time; NULL: every endpoint but /healthz is 401 */
        edge_conf_cidr_t *purge_allow; /* key "purge_allow": client addresses whose PURGE method is obeyed on
                                        * the client listeners; none by default */
        size_t num_purge_allow;
    } admin;
    struct {          /* key "access_log" */
        char *path;   /* NULL: no access log */
        char *format; /* libh2o's format string; NULL: EDGE_CONF_ACCESS_LOG_FORMAT */
    } access_log;
    struct {                  /* key "reports" */
        uint64_t bucket_s;    /* key "bucket", default 600 (10m): the time bucket of the stored reports */
        unsigned top;         /* key "top", default 50: rows of the popular-objects report */
        uint64_t retention_s; /* key "retention", default 60d */
        unsigned capacity;    /* key "capacity", default 2000: objects tracked per thread per bucket (top-K) */
    } reports;
} edge_conf_t;

/* The default access log format: combined, then the cache status (HIT, MISS, STALE, REFRESH, PASS, ERROR),
 * the origin time in milliseconds ("-" when the origin was not asked) and the behavior's path pattern. The
 * request environment carries them: %{cache}e, %{origin-ms}e, %{behavior}e. */
#define EDGE_CONF_ACCESS_LOG_FORMAT                                                                                                \
    "%h %l %u %t \"%r\" %s %b \"%{referer}i\" \"%{user-agent}i\" %{cache}e %{origin-ms}e \"%{behavior}e\""

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
 * Applies the command-line overrides (each may be NULL): `listen` "ADDR:PORT" replaces every listener
 * with one cleartext listener; `origin` URL replaces the origins with one origin named "default" that
 * every behavior uses, and drops the origin groups (every group_index becomes SIZE_MAX); `cache_dir`
 * replaces cache.path. Returns 0, or -1 with a message in `err`, in which case `conf` is unchanged.
 */
int edge_config_override(edge_conf_t *conf, const char *listen, const char *origin, const char *cache_dir, char *err);
/**
 * The first behavior whose pattern matches `path` (the path without its query). Never NULL for a
 * validated configuration, whose last behavior is "*".
 */
const edge_conf_behavior_t *edge_config_match(const edge_conf_t *conf, const char *path, size_t len);
/** Frees everything edge_config_parse allocated. */
void edge_config_dispose(edge_conf_t *conf);

/** The embedded default configuration, used by `edgecache serve` when no -c is given. */
extern const char edge_config_default_yaml[];

#endif
