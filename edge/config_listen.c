/*
 * edge/config_listen.c: the "listen" and "cache" sections of the configuration: where the edge accepts clients
 * (cleartext, or TLS with HTTP/2 through ALPN) and where and how large its store is.
 *
 * A TLS listener's "tls" also holds its profile (edge/tls_profile.h): intermediate by default, modern, or
 * custom with its own lists, which OpenSSL checks here so that an error points at the file.
 *
 * The invariant that is easy to break: TLS files are checked readable here, because the listeners open them only
 * after every thread has started, when an error can no longer point at a line of the file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "edge/config_int.h"

#define MIN_CACHE_SIZE ((uint64_t)1024 * 1024)

/* --- listen ---------------------------------------------------------------------------------------------- */

enum { L_ADDRESS, L_PORT, L_TLS };
static const char *const listen_keys[] = {[L_ADDRESS] = "address", [L_PORT] = "port", [L_TLS] = "tls"};
enum { T_CERTIFICATE, T_KEY, T_PROFILE, T_CIPHERS, T_CIPHERSUITES, T_GROUPS, T_MIN_VERSION, T_MAX_VERSION, T_UNKNOWN_SNI };
static const char *const tls_keys[] = {
    [T_CERTIFICATE] = "certificate",   [T_KEY] = "key",       [T_PROFILE] = "profile",         [T_CIPHERS] = "ciphers",
    [T_CIPHERSUITES] = "ciphersuites", [T_GROUPS] = "groups", [T_MIN_VERSION] = "min_version", [T_MAX_VERSION] = "max_version",
    [T_UNKNOWN_SNI] = "unknown_sni"};

int edge_config_tls_file(ctx_t *c, const yaml_node_t *n, const char *what, char **out)
{
    char *written;

    if (edge_config_dupstr(c, n, what, &written) != 0)
        return -1;
    *out = edge_config_resolve(c->basedir, written);
    free(written);
    if (*out == NULL)
        return edge_config_nomem(c, n);
    /* the listener opens it only after every thread started: say now that it is missing */
    if (access(*out, R_OK) != 0)
        return edge_config_fail(c, n, "%s: cannot read %s: %s", what, *out, strerror(errno));
    return 0;
}

/* "1.2" or "1.3" as OpenSSL's version number; anything older is refused, not warned about: TLS 1.0 and 1.1 are
 * deprecated (RFC 8996) and a CDN edge has no client that needs them */
static int tls_version(ctx_t *c, const yaml_node_t *n, const char *what, uint16_t *out)
{
    const char *s;

    if (edge_config_str(c, n, what, &s) != 0)
        return -1;
    if (strcmp(s, "1.2") == 0)
        *out = 0x0303;
    else if (strcmp(s, "1.3") == 0)
        *out = 0x0304;
    else if (strcmp(s, "1.0") == 0 || strcmp(s, "1.1") == 0 || strncmp(s, "ssl", 3) == 0 || strncmp(s, "SSL", 3) == 0)
        return edge_config_fail(c, n, "%s: \"%s\": TLS below 1.2 is refused", what, s);
    else
        return edge_config_fail(c, n, "%s: expected \"1.2\" or \"1.3\", found \"%s\"", what, s);
    return 0;
}

/* The profile keys of a listener's "tls"; the lists are checked by OpenSSL itself (edge_tls_profile_check) so
 * that a list the listener would refuse at start is refused here, with its line. */
static int tls_profile(ctx_t *c, edge_conf_listen_t *l, const yaml_node_t *tls, yaml_node_t **t)
{
    static const int custom_only[] = {T_CIPHERS, T_CIPHERSUITES, T_GROUPS, T_MIN_VERSION, T_MAX_VERSION};
    char msg[MSGLEN], warn[8];

    l->tls_profile.kind = EDGE_TLS_PROFILE_INTERMEDIATE;
    if (t[T_PROFILE] != NULL) {
        const char *s;
        if (edge_config_str(c, t[T_PROFILE], "profile", &s) != 0)
            return -1;
        if (strcmp(s, "intermediate") == 0)
            l->tls_profile.kind = EDGE_TLS_PROFILE_INTERMEDIATE;
        else if (strcmp(s, "modern") == 0)
            l->tls_profile.kind = EDGE_TLS_PROFILE_MODERN;
        else if (strcmp(s, "custom") == 0)
            l->tls_profile.kind = EDGE_TLS_PROFILE_CUSTOM;
        else
            return edge_config_fail(c, t[T_PROFILE], "profile: expected intermediate, modern or custom, found \"%s\"", s);
    }
    if (l->tls_profile.kind != EDGE_TLS_PROFILE_CUSTOM) {
        for (size_t i = 0; i != NKEYS(custom_only); ++i)
            if (t[custom_only[i]] != NULL)
                return edge_config_fail(c, t[custom_only[i]], "%s: only with profile: custom", tls_keys[custom_only[i]]);
        return 0;
    }
    if ((t[T_CIPHERS] != NULL && edge_config_dupstr(c, t[T_CIPHERS], "ciphers", &l->tls_profile.ciphers) != 0) ||
        (t[T_CIPHERSUITES] != NULL &&
         edge_config_dupstr(c, t[T_CIPHERSUITES], "ciphersuites", &l->tls_profile.ciphersuites) != 0) ||
        (t[T_GROUPS] != NULL && edge_config_dupstr(c, t[T_GROUPS], "groups", &l->tls_profile.groups) != 0))
        return -1;
    if ((t[T_MIN_VERSION] != NULL && tls_version(c, t[T_MIN_VERSION], "min_version", &l->tls_profile.min_version) != 0) ||
        (t[T_MAX_VERSION] != NULL && tls_version(c, t[T_MAX_VERSION], "max_version", &l->tls_profile.max_version) != 0))
        return -1;
    if (l->tls_profile.min_version != 0 && l->tls_profile.max_version != 0 &&
        l->tls_profile.min_version > l->tls_profile.max_version)
        return edge_config_fail(c, t[T_MAX_VERSION], "max_version: below min_version");
    /* (the weaknesses are for `edgecache check` to print: here only what OpenSSL refuses) */
    if (edge_tls_profile_check(&l->tls_profile, msg, sizeof(msg), warn, sizeof(warn)) != 0)
        return edge_config_fail(c, tls, "tls: %s", msg);
    return 0;
}

static int listen_one(ctx_t *c, edge_conf_listen_t *l, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(listen_keys)], *t[NKEYS(tls_keys)];
    char msg[MSGLEN];
    uint64_t port;

    if (n->type == YAML_SCALAR_NODE && !edge_config_is_null(n)) {
        const char *s;
        if (edge_config_str(c, n, "listen", &s) != 0)
            return -1;
        if (edge_config_split_hostport(s, &l->address, &l->port, msg, sizeof(msg)) != 0)
            return edge_config_fail(c, n, "listen \"%s\": %s", s, msg);
        return 0;
    }
    if (n->type != YAML_MAPPING_NODE)
        return edge_config_fail(c, n, "listen: expected \"ADDRESS:PORT\" or a mapping with address and port, found %s",
                                edge_config_kind(n));
    if (edge_config_collect(c, n, "listener", listen_keys, NKEYS(listen_keys), v) != 0)
        return -1;
    if (v[L_ADDRESS] == NULL)
        return edge_config_missing(c, n, "listener", "address");
    if (v[L_PORT] == NULL)
        return edge_config_missing(c, n, "listener", "port");
    if (edge_config_dupstr(c, v[L_ADDRESS], "address", &l->address) != 0)
        return -1;
    if (!edge_config_numeric_address(l->address))
        return edge_config_fail(c, v[L_ADDRESS], "address: \"%s\" is not a numeric IPv4 or IPv6 address", l->address);
    if (edge_config_integer(c, v[L_PORT], "port", 1, 65535, &port) != 0)
        return -1;
    l->port = (uint16_t)port;
    if (v[L_TLS] != NULL) {
        if (edge_config_collect(c, v[L_TLS], "tls", tls_keys, NKEYS(tls_keys), t) != 0)
            return -1;
        if (t[T_CERTIFICATE] == NULL || t[T_KEY] == NULL)
            return edge_config_fail(c, v[L_TLS], "tls: %s",
                                    t[T_KEY] == NULL ? "certificate without key" : "key without certificate");
        if (edge_config_tls_file(c, t[T_CERTIFICATE], "certificate", &l->tls_certificate) != 0 ||
            edge_config_tls_file(c, t[T_KEY], "key", &l->tls_key) != 0 || tls_profile(c, l, v[L_TLS], t) != 0)
            return -1;
        if (t[T_UNKNOWN_SNI] != NULL) {
            const char *s;
            if (edge_config_str(c, t[T_UNKNOWN_SNI], "unknown_sni", &s) != 0)
                return -1;
            if (strcmp(s, "refuse") == 0)
                l->tls_refuse_unknown_sni = true;
            else if (strcmp(s, "default") != 0)
                return edge_config_fail(c, t[T_UNKNOWN_SNI], "unknown_sni: expected default or refuse, found \"%s\"", s);
        }
    }
    return 0;
}

size_t edge_config_warnings(const edge_conf_t *conf, char *buf, size_t len)
{
    size_t count = 0, used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i != conf->num_listens; ++i) {
        const edge_conf_listen_t *l = conf->listens + i;
        char msg[MSGLEN], warn[1200];
        if (l->tls_certificate == NULL || edge_tls_profile_check(&l->tls_profile, msg, sizeof(msg), warn, sizeof(warn)) != 0)
            continue;
        for (char *line = warn, *next; *line != '\0'; line = next) {
            size_t n = strcspn(line, "\n");
            next = line + n + (line[n] == '\n');
            ++count;
            if (used < len) {
                int w = snprintf(buf + used, len - used, "%s: warning: listen %s port %u: tls: %.*s\n", conf->source, l->address,
                                 l->port, (int)n, line);
                used += w > 0 ? (size_t)w : 0;
            }
        }
    }
    return count;
}

/* `listen` is "ADDR:PORT", a mapping, or a list of either; absent, the embedded default's 127.0.0.1:8080. */
int edge_config_parse_listen(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n, const yaml_node_t *root)
{
    size_t count = n == NULL ? 1 : n->type == YAML_SEQUENCE_NODE ? edge_config_num_items(n) : 1;

    if (count == 0)
        return edge_config_fail(c, n, "listen: at least one listener is needed");
    if ((conf->listens = calloc(count, sizeof(*conf->listens))) == NULL)
        return edge_config_nomem(c, root);
    conf->num_listens = count;
    if (n == NULL) {
        conf->listens[0].port = 8080;
        if ((conf->listens[0].address = strdup("127.0.0.1")) == NULL)
            return edge_config_nomem(c, root);
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return listen_one(c, &conf->listens[0], n);
    for (size_t i = 0; i != count; ++i) {
        edge_conf_listen_t *l = &conf->listens[i];
        if (listen_one(c, l, edge_config_item(c, n, i)) != 0)
            return -1;
        for (size_t j = 0; j != i; ++j) {
            if (conf->listens[j].port == l->port && strcmp(conf->listens[j].address, l->address) == 0)
                return edge_config_fail(c, edge_config_item(c, n, i), "listen: %s port %u is already listed at line %zu",
                                        l->address, l->port, edge_config_line(edge_config_item(c, n, j)));
        }
    }
    return 0;
}

/* --- cache ----------------------------------------------------------------------------------------------- */

enum { C_PATH, C_MAX_SIZE, C_BACKGROUND_FETCH_MAX, C_MAX_VARIANTS };
static const char *const cache_keys[] = {[C_PATH] = "path",
                                         [C_MAX_SIZE] = "max_size",
                                         [C_BACKGROUND_FETCH_MAX] = "background_fetch_max",
                                         [C_MAX_VARIANTS] = "max_variants"};

int edge_config_parse_cache(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n, const yaml_node_t *root)
{
    yaml_node_t *v[NKEYS(cache_keys)] = {NULL};

    conf->cache.max_size = (uint64_t)1 << 30;
    conf->cache.background_fetch_max = (uint64_t)64 << 20;
    conf->cache.max_variants = EDGE_CONF_DEFAULT_MAX_VARIANTS;
    if (n != NULL && edge_config_collect(c, n, "cache", cache_keys, NKEYS(cache_keys), v) != 0)
        return -1;
    if (v[C_PATH] != NULL) {
        if (edge_config_dupstr(c, v[C_PATH], "path", &conf->cache.path) != 0)
            return -1;
    } else if ((conf->cache.path = strdup("edgecache-cache")) == NULL) {
        return edge_config_nomem(c, root);
    }
    if (v[C_MAX_SIZE] != NULL) {
        if (edge_config_size(c, v[C_MAX_SIZE], "max_size", &conf->cache.max_size) != 0)
            return -1;
        if (conf->cache.max_size < MIN_CACHE_SIZE)
            return edge_config_fail(c, v[C_MAX_SIZE], "max_size: must be at least 1M");
    }
    /* 0 is allowed: a miss whose last client went away is always cancelled */
    if (v[C_BACKGROUND_FETCH_MAX] != NULL &&
        edge_config_size(c, v[C_BACKGROUND_FETCH_MAX], "background_fetch_max", &conf->cache.background_fetch_max) != 0)
        return -1;
    /* a cap on one URL's variants, so that a client making up Vary values cannot evict everything else */
    if (v[C_MAX_VARIANTS] != NULL) {
        uint64_t x;
        if (edge_config_integer(c, v[C_MAX_VARIANTS], "max_variants", 0, 100000, &x) != 0)
            return -1;
        conf->cache.max_variants = (unsigned)x;
    }
    return 0;
}
