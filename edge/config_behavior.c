/*
 * edge/config_behavior.c: the "behaviors" and "error_pages" sections of the configuration: per path pattern, the
 * origin, the cache key (query string, headers) and the TTL rules; then the static pages served when the origin
 * fails, which errorpages/errorpages.h picks from.
 *
 * The invariant that is easy to break: the behavior list must end with "*" and hold no behavior an earlier one
 * covers, so that edge_behavior_match() never returns NULL and never hides a rule; each error page status and
 * failure is claimed once (ctx_t's status_line and failure_line), since a second claim would silently never apply.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cache/pattern.h"
#include "errorpages/errorpages.h"
#include "edge/config_int.h"

#define MAX_PAGE_SIZE (1024 * 1024)

/* --- behaviors ------------------------------------------------------------------------------------------- */

enum {
    B_PATH,
    B_ORIGIN,
    B_MIN_TTL,
    B_DEFAULT_TTL,
    B_MAX_TTL,
    B_QUERY_STRING,
    B_FORWARD_HEADERS,
    B_CACHE_KEY_HEADERS,
    B_REQUEST_CACHE_CONTROL,
    B_CACHE_SET_COOKIE,
    B_VIEWER_PROTOCOL_POLICY,
    B_HTTPS_PORT,
    B_COMPRESS,
    B_COMPRESS_TYPES
};
static const char *const behavior_keys[] = {[B_PATH] = "path",
                                            [B_ORIGIN] = "origin",
                                            [B_MIN_TTL] = "min_ttl",
                                            [B_DEFAULT_TTL] = "default_ttl",
                                            [B_MAX_TTL] = "max_ttl",
                                            [B_QUERY_STRING] = "query_string",
                                            [B_FORWARD_HEADERS] = "forward_headers",
                                            [B_CACHE_KEY_HEADERS] = "cache_key_headers",
                                            [B_REQUEST_CACHE_CONTROL] = "request_cache_control",
                                            [B_CACHE_SET_COOKIE] = "cache_set_cookie",
                                            [B_VIEWER_PROTOCOL_POLICY] = "viewer_protocol_policy",
                                            [B_HTTPS_PORT] = "https_port",
                                            [B_COMPRESS] = "compress",
                                            [B_COMPRESS_TYPES] = "compress_types"};
/* RFC 9110 7.6.1: they describe one connection, and the proxy never forwards them */
static const char *const hop_by_hop[] = {"connection", "keep-alive",        "proxy-connection", "te",
                                         "trailer",    "transfer-encoding", "upgrade"};

static void behavior_defaults(edge_conf_behavior_t *b)
{
    b->route.group_index = SIZE_MAX;
    b->ttl.min_ttl = 0;
    b->ttl.default_ttl = 86400;
    b->ttl.max_ttl = 31536000;
    b->key.query_string = CACHE_KEY_QS_ALL;
    b->compress.enabled = true; /* (types NULL: cache_compress_default_types) */
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int query_string(ctx_t *c, edge_conf_behavior_t *b, const yaml_node_t *n)
{
    size_t out = 0;

    if (n->type == YAML_SCALAR_NODE && !edge_config_is_null(n)) {
        const char *s = (const char *)n->data.scalar.value;
        if (strcmp(s, "none") == 0) {
            b->key.query_string = CACHE_KEY_QS_NONE;
            return 0;
        }
        if (strcmp(s, "all") == 0) {
            b->key.query_string = CACHE_KEY_QS_ALL;
            return 0;
        }
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return edge_config_fail(c, n, "query_string: expected none, all, or a list of parameter names");
    if (edge_config_num_items(n) == 0) {
        b->key.query_string = CACHE_KEY_QS_NONE; /* an empty list keys on no parameter */
        return 0;
    }
    b->key.query_string = CACHE_KEY_QS_LIST;
    if ((b->key.query_names = calloc(edge_config_num_items(n), sizeof(*b->key.query_names))) == NULL)
        return edge_config_nomem(c, n);
    b->key.num_query_names = edge_config_num_items(n);
    for (size_t i = 0; i != b->key.num_query_names; ++i) {
        yaml_node_t *e = edge_config_item(c, n, i);
        if (edge_config_dupstr(c, e, "query_string", &b->key.query_names[i]) != 0)
            return -1;
        if (strpbrk(b->key.query_names[i], "&=# \t\r\n") != NULL)
            return edge_config_fail(c, e, "query_string: \"%s\" is not a parameter name", b->key.query_names[i]);
    }
    /* sorted and unique, so that the cache key is built in one pass and two spellings of one list agree */
    qsort(b->key.query_names, b->key.num_query_names, sizeof(*b->key.query_names), cmp_names);
    for (size_t i = 0; i != b->key.num_query_names; ++i) {
        if (out != 0 && strcmp(b->key.query_names[out - 1], b->key.query_names[i]) == 0)
            free(b->key.query_names[i]);
        else
            b->key.query_names[out++] = b->key.query_names[i];
    }
    b->key.num_query_names = out;
    return 0;
}

/* A field name (RFC 9110 5.1: a token), lower-cased into *out. */
static int header_name(ctx_t *c, const yaml_node_t *n, const char *what, char **out)
{
    static const char tchar_punct[] = "!#$%&'*+-.^_`|~";

    if (edge_config_dupstr(c, n, what, out) != 0)
        return -1;
    for (const char *p = *out; *p != '\0'; ++p)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr(tchar_punct, *p) != NULL))
            return edge_config_fail(c, n, "%s: \"%s\" is not a header name", what, *out);
    for (char *p = *out; *p != '\0'; ++p)
        *p = (char)tolower((unsigned char)*p);
    for (size_t i = 0; i != NKEYS(hop_by_hop); ++i)
        if (strcmp(*out, hop_by_hop[i]) == 0)
            return edge_config_fail(c, n, "%s: \"%s\" is a hop-by-hop header, which is never forwarded", what, *out);
    if (strcmp(*out, "host") == 0)
        return edge_config_fail(c, n,
                                strcmp(what, "cache_key_headers") == 0
                                    ? "%s: \"host\" cannot be listed: the normalised Host is always the first part of the cache key"
                                    : "%s: \"host\" cannot be listed: the Host header is always sent to the origin",
                                what);
    return 0;
}

/* A list of header names into `names`, which the caller allocated with room for every item: each slot is counted
 * before it is filled, so that dispose frees a name whose validation failed. A repeated name is dropped. */
static int header_list(ctx_t *c, const yaml_node_t *n, const char *what, char **names, size_t *num)
{
    for (size_t i = 0; i != edge_config_num_items(n); ++i) {
        char **slot = &names[(*num)++];
        if (header_name(c, edge_config_item(c, n, i), what, slot) != 0)
            return -1;
        for (size_t j = 0; j + 1 < *num; ++j) {
            if (strcmp(names[j], *slot) == 0) {
                free(*slot);
                *slot = NULL;
                --*num;
                break;
            }
        }
    }
    return 0;
}

/* cache_key_headers, then forward_headers: a header in the key must reach the origin (the response may vary on
 * it), so when forward_headers is given, the key headers missing from it are added. A forward_headers that is
 * given but empty is stored as a non-NULL array of 0 names (forward none), distinct from NULL (forward all). */
static int headers(ctx_t *c, edge_conf_behavior_t *b, yaml_node_t **v)
{
    yaml_node_t *k = v[B_CACHE_KEY_HEADERS], *f = v[B_FORWARD_HEADERS];
    size_t cap;

    if (k != NULL) {
        if (k->type != YAML_SEQUENCE_NODE)
            return edge_config_fail(c, k, "cache_key_headers: expected a list of header names, found %s", edge_config_kind(k));
        if (edge_config_num_items(k) != 0) {
            if ((b->key.key_headers = calloc(edge_config_num_items(k), sizeof(*b->key.key_headers))) == NULL)
                return edge_config_nomem(c, k);
            if (header_list(c, k, "cache_key_headers", b->key.key_headers, &b->key.num_key_headers) != 0)
                return -1;
            /* sorted, so that the key is built in one pass and two spellings of one list agree */
            qsort(b->key.key_headers, b->key.num_key_headers, sizeof(*b->key.key_headers), cmp_names);
        }
    }
    if (f == NULL)
        return 0;
    if (f->type != YAML_SEQUENCE_NODE)
        return edge_config_fail(c, f, "forward_headers: expected a list of header names, found %s", edge_config_kind(f));
    cap = edge_config_num_items(f) + b->key.num_key_headers + 1;
    if ((b->route.forward_headers = calloc(cap, sizeof(*b->route.forward_headers))) == NULL)
        return edge_config_nomem(c, f);
    if (header_list(c, f, "forward_headers", b->route.forward_headers, &b->route.num_forward_headers) != 0)
        return -1;
    for (size_t i = 0; i != b->key.num_key_headers; ++i) {
        size_t j;
        for (j = 0; j != b->route.num_forward_headers && strcmp(b->route.forward_headers[j], b->key.key_headers[i]) != 0; ++j)
            ;
        if (j != b->route.num_forward_headers)
            continue;
        if ((b->route.forward_headers[b->route.num_forward_headers] = strdup(b->key.key_headers[i])) == NULL)
            return edge_config_nomem(c, f);
        ++b->route.num_forward_headers;
    }
    return 0;
}

/* min_ttl <= default_ttl <= max_ttl. A default_ttl left out is clamped into the range instead, so that
 * "max_ttl: 60" alone is not an error about a value the operator never wrote. */
static int check_ttls(ctx_t *c, edge_conf_behavior_t *b, yaml_node_t **v)
{
    if (b->ttl.max_ttl < b->ttl.min_ttl) {
        if (v[B_MAX_TTL] != NULL)
            return edge_config_fail(c, v[B_MAX_TTL], "max_ttl %" PRIu64 " is below min_ttl %" PRIu64, b->ttl.max_ttl,
                                    b->ttl.min_ttl);
        return edge_config_fail(c, v[B_MIN_TTL], "min_ttl %" PRIu64 " is above the default max_ttl %" PRIu64, b->ttl.min_ttl,
                                b->ttl.max_ttl);
    }
    if (v[B_DEFAULT_TTL] == NULL) {
        if (b->ttl.default_ttl < b->ttl.min_ttl)
            b->ttl.default_ttl = b->ttl.min_ttl;
        if (b->ttl.default_ttl > b->ttl.max_ttl)
            b->ttl.default_ttl = b->ttl.max_ttl;
        return 0;
    }
    if (b->ttl.default_ttl < b->ttl.min_ttl)
        return edge_config_fail(c, v[B_DEFAULT_TTL], "default_ttl %" PRIu64 " is below min_ttl %" PRIu64, b->ttl.default_ttl,
                                b->ttl.min_ttl);
    if (b->ttl.default_ttl > b->ttl.max_ttl) {
        if (v[B_MAX_TTL] != NULL)
            return edge_config_fail(c, v[B_MAX_TTL], "max_ttl %" PRIu64 " is below default_ttl %" PRIu64, b->ttl.max_ttl,
                                    b->ttl.default_ttl);
        return edge_config_fail(c, v[B_DEFAULT_TTL], "default_ttl %" PRIu64 " is above the default max_ttl %" PRIu64,
                                b->ttl.default_ttl, b->ttl.max_ttl);
    }
    return 0;
}

/* compress_types: media types ("text/html"), or whole top-level types (subtype "*"), lower-cased. */
static int compress_types(ctx_t *c, edge_conf_behavior_t *b, const yaml_node_t *n)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return edge_config_fail(c, n, "compress_types: expected a list of media types, found %s", edge_config_kind(n));
    if ((b->compress.types = calloc(edge_config_num_items(n) + 1, sizeof(*b->compress.types))) == NULL)
        return edge_config_nomem(c, n);
    for (size_t i = 0; i != edge_config_num_items(n); ++i) {
        yaml_node_t *e = edge_config_item(c, n, i);
        char **slot = &b->compress.types[b->compress.num_types++]; /* (counted first: dispose frees it on failure) */
        if (edge_config_dupstr(c, e, "compress_types", slot) != 0)
            return -1;
        const char *slash = strchr(*slot, '/');
        if (slash == NULL || slash == *slot || slash[1] == '\0' || strpbrk(*slot, " \t;,") != NULL ||
            (strchr(slash + 1, '*') != NULL && strcmp(slash + 1, "*") != 0))
            return edge_config_fail(c, e, "compress_types: \"%s\" is not a media type (type/subtype, or type/*)", *slot);
        for (char *p = *slot; *p != '\0'; ++p)
            *p = (char)tolower((unsigned char)*p);
    }
    return 0;
}

static int parse_behavior(ctx_t *c, const edge_conf_t *conf, edge_conf_behavior_t *b, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(behavior_keys)];

    behavior_defaults(b);
    if (edge_config_collect(c, n, "behavior", behavior_keys, NKEYS(behavior_keys), v) != 0)
        return -1;
    if (v[B_PATH] == NULL)
        return edge_config_missing(c, n, "behavior", "path");
    if (edge_config_dupstr(c, v[B_PATH], "path", &b->path) != 0)
        return -1;
    for (const char *p = b->path; *p != '\0'; ++p)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f)
            return edge_config_fail(c, v[B_PATH], "path: \"%s\" contains a space or a control character", b->path);

    if (v[B_ORIGIN] != NULL) {
        const char *name;
        char names[256];
        if (edge_config_str(c, v[B_ORIGIN], "origin", &name) != 0)
            return -1;
        if (edge_config_find_group(conf, name, &b->route.group_index)) {
            b->route.origin_index = conf->upstream.groups[b->route.group_index].primary;
        } else if (!edge_config_find_origin(conf, name, &b->route.origin_index)) {
            edge_config_list_names(conf, true, names, sizeof(names));
            return edge_config_fail(c, v[B_ORIGIN], "unknown origin \"%s\" (configured: %s)", name, names);
        }
    } else if (!edge_config_default_origin(conf, &b->route.origin_index)) {
        return edge_config_fail(
            c, n, "behavior \"%s\" names no origin, and there is neither a single origin nor one named \"default\"", b->path);
    }

    if (v[B_MIN_TTL] != NULL && edge_config_ttl(c, v[B_MIN_TTL], "min_ttl", &b->ttl.min_ttl) != 0)
        return -1;
    if (v[B_DEFAULT_TTL] != NULL && edge_config_ttl(c, v[B_DEFAULT_TTL], "default_ttl", &b->ttl.default_ttl) != 0)
        return -1;
    if (v[B_MAX_TTL] != NULL && edge_config_ttl(c, v[B_MAX_TTL], "max_ttl", &b->ttl.max_ttl) != 0)
        return -1;
    if (check_ttls(c, b, v) != 0)
        return -1;
    if (v[B_QUERY_STRING] != NULL && query_string(c, b, v[B_QUERY_STRING]) != 0)
        return -1;
    if (headers(c, b, v) != 0)
        return -1;
    b->ttl.default_ttl_set = v[B_DEFAULT_TTL] != NULL;
    if (v[B_REQUEST_CACHE_CONTROL] != NULL) {
        const char *s;
        if (edge_config_str(c, v[B_REQUEST_CACHE_CONTROL], "request_cache_control", &s) != 0)
            return -1;
        if (strcmp(s, "honor") == 0)
            b->ttl.honor_request_cache_control = true;
        else if (strcmp(s, "ignore") != 0)
            return edge_config_fail(c, v[B_REQUEST_CACHE_CONTROL], "request_cache_control: expected ignore or honor, found \"%s\"",
                                    s);
    }
    if (v[B_CACHE_SET_COOKIE] != NULL &&
        edge_config_boolean(c, v[B_CACHE_SET_COOKIE], "cache_set_cookie", &b->ttl.cache_set_cookie) != 0)
        return -1;
    if (v[B_VIEWER_PROTOCOL_POLICY] != NULL) {
        const char *s;
        if (edge_config_str(c, v[B_VIEWER_PROTOCOL_POLICY], "viewer_protocol_policy", &s) != 0)
            return -1;
        if (strcmp(s, "allow_all") == 0)
            b->viewer_policy = EDGE_VIEWER_ALLOW_ALL;
        else if (strcmp(s, "redirect_to_https") == 0)
            b->viewer_policy = EDGE_VIEWER_REDIRECT_TO_HTTPS;
        else if (strcmp(s, "https_only") == 0)
            b->viewer_policy = EDGE_VIEWER_HTTPS_ONLY;
        else
            return edge_config_fail(c, v[B_VIEWER_PROTOCOL_POLICY],
                                    "viewer_protocol_policy: expected allow_all, redirect_to_https or https_only, found \"%s\"", s);
    }
    if (v[B_COMPRESS] != NULL && edge_config_boolean(c, v[B_COMPRESS], "compress", &b->compress.enabled) != 0)
        return -1;
    if (v[B_COMPRESS_TYPES] != NULL && compress_types(c, b, v[B_COMPRESS_TYPES]) != 0)
        return -1;
    if (v[B_HTTPS_PORT] != NULL) {
        uint64_t port;
        if (edge_config_integer(c, v[B_HTTPS_PORT], "https_port", 1, 65535, &port) != 0)
            return -1;
        b->https_port = (uint16_t)port;
    }
    return 0;
}

/* `behaviors`, in order, each checked against the earlier ones for reachability; then the implicit final "*"
 * unless the last one already matches everything. */
int edge_config_parse_behaviors(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n, const yaml_node_t *root)
{
    size_t count = 0;
    edge_conf_behavior_t *last;

    if (n != NULL) {
        if (n->type != YAML_SEQUENCE_NODE)
            return edge_config_fail(c, n, "behaviors: expected a list, found %s", edge_config_kind(n));
        count = edge_config_num_items(n);
    }
    if ((conf->behaviors = calloc(count + 1, sizeof(*conf->behaviors))) == NULL)
        return edge_config_nomem(c, root);
    conf->num_behaviors = count;
    for (size_t i = 0; i != count; ++i) {
        yaml_node_t *b = edge_config_item(c, n, i);
        if (parse_behavior(c, conf, &conf->behaviors[i], b) != 0)
            return -1;
        for (size_t j = 0; j != i; ++j) {
            if (cache_pattern_covers(conf->behaviors[j].path, conf->behaviors[i].path))
                return edge_config_fail(c, edge_config_lookup(c, b, "path"),
                                        "behavior \"%s\" can never match: \"%s\" (line %zu) comes first", conf->behaviors[i].path,
                                        conf->behaviors[j].path,
                                        edge_config_line(edge_config_lookup(c, edge_config_item(c, n, j), "path")));
        }
    }

    if (count != 0 && cache_pattern_covers(conf->behaviors[count - 1].path, "*"))
        return 0;
    last = &conf->behaviors[conf->num_behaviors++];
    behavior_defaults(last);
    if ((last->path = strdup("*")) == NULL)
        return edge_config_nomem(c, root);
    if (!edge_config_default_origin(conf, &last->route.origin_index))
        return edge_config_fail(
            c, n != NULL ? n : root,
            "the last behavior is not \"*\", and there is neither a single origin nor one named \"default\" for "
            "the implicit \"*\" behavior");
    return 0;
}

/* --- error pages ----------------------------------------------------------------------------------------- */

enum { E_STATUS, E_PAGE, E_RESPONSE_CODE, E_ERROR_CACHING_MIN_TTL };
static const char *const error_page_keys[] = {[E_STATUS] = "status",
                                              [E_PAGE] = "page",
                                              [E_RESPONSE_CODE] = "response_code",
                                              [E_ERROR_CACHING_MIN_TTL] = "error_caching_min_ttl"};
static const char *const failure_names[] = {"connect_error", "timeout", "reset"}; /* bit i is 1 << i */

static int status_one(ctx_t *c, errorpages_rule_t *e, const yaml_node_t *n)
{
    const char *s;
    size_t *claimed = NULL;
    uint64_t status;

    if (edge_config_str(c, n, "status", &s) != 0)
        return -1;
    for (size_t i = 0; i != NKEYS(failure_names); ++i) {
        if (strcmp(s, failure_names[i]) == 0) {
            e->failures |= 1u << i;
            claimed = &c->failure_line[i];
        }
    }
    if (claimed == NULL) {
        if (s[0] < '0' || s[0] > '9')
            return edge_config_fail(c, n, "status: unknown status \"%s\" (use 400..599, connect_error, timeout or reset)", s);
        if (edge_config_integer(c, n, "status", 400, 599, &status) != 0)
            return -1;
        e->statuses[e->num_statuses++] = (int)status;
        claimed = &c->status_line[status - 400];
    }
    if (*claimed != 0)
        return edge_config_fail(c, n, "status: %s already has an error page (line %zu)", s, *claimed);
    *claimed = edge_config_line(n);
    return 0;
}

/* A name of a built-in page ("502.html") is served from the binary unless a file by that name exists beside the
 * configuration, so that an operator overrides a built-in page by creating the file. */
int edge_config_load_page(ctx_t *c, const char *page, char **body, size_t *body_len, const yaml_node_t *n)
{
    const errorpages_page_t *builtin = errorpages_by_name(page);
    char msg[MSGLEN], *path;
    int r;

    if ((path = edge_config_resolve(c->basedir, page)) == NULL)
        return edge_config_nomem(c, n);
    if (builtin != NULL && access(path, F_OK) != 0) {
        free(path);
        if ((*body = malloc(builtin->len + 1)) == NULL)
            return edge_config_nomem(c, n);
        memcpy(*body, builtin->body, builtin->len);
        (*body)[builtin->len] = '\0';
        *body_len = builtin->len;
        return 0;
    }
    r = edge_config_slurp(path, MAX_PAGE_SIZE, body, body_len, msg, sizeof(msg));
    free(path);
    if (r != 0)
        return edge_config_fail(c, n, "page: %s", msg);
    return 0;
}

static int parse_error_page(ctx_t *c, errorpages_rule_t *e, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(error_page_keys)], *s;
    uint64_t code;
    size_t count;

    e->error_caching_min_ttl = 10;
    if (edge_config_collect(c, n, "error page", error_page_keys, NKEYS(error_page_keys), v) != 0)
        return -1;
    if ((s = v[E_STATUS]) == NULL)
        return edge_config_missing(c, n, "error page", "status");
    if (v[E_PAGE] == NULL)
        return edge_config_missing(c, n, "error page", "page");

    count = s->type == YAML_SEQUENCE_NODE ? edge_config_num_items(s) : 1;
    if (count == 0)
        return edge_config_fail(c, s, "status: at least one status is needed");
    if ((e->statuses = calloc(count, sizeof(*e->statuses))) == NULL)
        return edge_config_nomem(c, s);
    for (size_t i = 0; i != count; ++i)
        if (status_one(c, e, s->type == YAML_SEQUENCE_NODE ? edge_config_item(c, s, i) : s) != 0)
            return -1;

    if (edge_config_dupstr(c, v[E_PAGE], "page", &e->page) != 0 ||
        edge_config_load_page(c, e->page, &e->body, &e->body_len, v[E_PAGE]) != 0)
        return -1;
    if (v[E_RESPONSE_CODE] != NULL) {
        if (edge_config_integer(c, v[E_RESPONSE_CODE], "response_code", 200, 599, &code) != 0)
            return -1;
        e->response_code = (int)code;
    }
    if (v[E_ERROR_CACHING_MIN_TTL] != NULL &&
        edge_config_ttl(c, v[E_ERROR_CACHING_MIN_TTL], "error_caching_min_ttl", &e->error_caching_min_ttl) != 0)
        return -1;
    return 0;
}

int edge_config_parse_error_pages(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    size_t count;

    if (n->type != YAML_SEQUENCE_NODE)
        return edge_config_fail(c, n, "error_pages: expected a list, found %s", edge_config_kind(n));
    if ((count = edge_config_num_items(n)) == 0)
        return 0;
    if ((conf->error_pages = calloc(count, sizeof(*conf->error_pages))) == NULL)
        return edge_config_nomem(c, n);
    conf->num_error_pages = count;
    for (size_t i = 0; i != count; ++i)
        if (parse_error_page(c, &conf->error_pages[i], edge_config_item(c, n, i)) != 0)
            return -1;
    return 0;
}
