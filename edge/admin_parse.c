/*
 * edge/admin_parse.c: the admin API's decisions from a request (see admin_parse.h).
 *
 * These were the first lines of each admin handler; they live apart so that they can be tested without
 * a listener, and edge/admin.c only maps their results to responses. The invariant that is easy to
 * break: edge_admin_parse_authorized compares every byte of the token whatever the first difference and
 * whatever the length given, so neither the answer nor the time it takes tells an attacker how much of
 * a guess was right.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cache/key.h"
#include "edge/admin_parse.h"
#include "edge/site.h"

edge_admin_route_t edge_admin_parse_route(h2o_iovec_t method, h2o_iovec_t path, h2o_iovec_t *purge_id)
{
    bool get = h2o_memis(method.base, method.len, H2O_STRLIT("GET")) || h2o_memis(method.base, method.len, H2O_STRLIT("HEAD"));
    bool post = h2o_memis(method.base, method.len, H2O_STRLIT("POST"));

    if (h2o_memis(path.base, path.len, H2O_STRLIT("/healthz")))
        return get ? EDGE_ADMIN_ROUTE_HEALTHZ : EDGE_ADMIN_ROUTE_HEALTHZ_METHOD;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics")) && get)
        return EDGE_ADMIN_ROUTE_METRICS;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/reports/popular")) && get)
        return EDGE_ADMIN_ROUTE_REPORT_POPULAR;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/reports/stats")) && get)
        return EDGE_ADMIN_ROUTE_REPORT_STATS;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/reports/ttl")) && get)
        return EDGE_ADMIN_ROUTE_REPORT_TTL;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/purge")))
        return post ? EDGE_ADMIN_ROUTE_PURGE : EDGE_ADMIN_ROUTE_PURGE_METHOD;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/reload")) && post)
        return EDGE_ADMIN_ROUTE_RELOAD;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/drain")) && post)
        return EDGE_ADMIN_ROUTE_DRAIN;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/drain")) && h2o_memis(method.base, method.len, H2O_STRLIT("DELETE")))
        return EDGE_ADMIN_ROUTE_UNDRAIN;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/upgrade")) && post)
        return EDGE_ADMIN_ROUTE_UPGRADE;
    if (path.len > 7 && memcmp(path.base, "/purge/", 7) == 0 && get) {
        *purge_id = h2o_iovec_init(path.base + 7, path.len - 7);
        return EDGE_ADMIN_ROUTE_PURGE_STATUS;
    }
    return EDGE_ADMIN_ROUTE_NOT_FOUND;
}

bool edge_admin_parse_authorized(const char *token, h2o_iovec_t authorization)
{
    static const char prefix[] = "bearer ";
    h2o_iovec_t v = authorization;
    if (token == NULL || v.base == NULL)
        return false;
    if (v.len < sizeof(prefix) - 1 || !h2o_lcstris(v.base, sizeof(prefix) - 1, prefix, sizeof(prefix) - 1))
        return false;
    const char *given = v.base + sizeof(prefix) - 1;
    size_t glen = v.len - (sizeof(prefix) - 1), wlen = strlen(token);
    unsigned char diff = glen != wlen;
    for (size_t k = 0; k != wlen; ++k) /* every byte of the token, whatever the first difference */
        diff |= (unsigned char)(token[k] ^ (k < glen ? given[k] : 0));
    return diff == 0;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

h2o_iovec_t edge_admin_parse_form_value(h2o_mem_pool_t *pool, h2o_iovec_t form, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = form.base, *end = form.base + form.len;
    while (p < end) {
        const char *amp = memchr(p, '&', end - p), *stop = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', stop - p);
        if (eq != NULL && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
            char *out = h2o_mem_alloc_pool(pool, stop - eq);
            size_t n = 0;
            for (const char *q = eq + 1; q < stop; ++q) {
                if (*q == '+') {
                    out[n++] = ' ';
                } else if (*q == '%') {
                    int hi, lo;
                    if (stop - q < 3 || (hi = hexval(q[1])) < 0 || (lo = hexval(q[2])) < 0)
                        return h2o_iovec_init(NULL, 0);
                    out[n++] = (char)(hi << 4 | lo);
                    q += 2;
                } else {
                    out[n++] = *q;
                }
            }
            out[n] = '\0';
            return h2o_iovec_init(out, n);
        }
        p = stop + 1;
    }
    return h2o_iovec_init(NULL, 0);
}

const char *edge_admin_parse_strerror(int err)
{
    switch (err) {
    case EDGE_ADMIN_PARSE_ENOT_ONE:
        return "give exactly one of url=, prefix= or tag= (form body or query)\n";
    case EDGE_ADMIN_PARSE_EBAD_URL:
        return "url: expected a path (/a/b?q) or an absolute URL\n";
    case EDGE_ADMIN_PARSE_EEMPTY_TAG:
        return "tag: must not be empty nor hold a line break\n";
    case EDGE_ADMIN_PARSE_ESITE:
        return "site: no such site, or a URL whose host is not that site's (or is no site's)\n";
    case EDGE_ADMIN_PARSE_EAMBIGUOUS:
        return "url: the sites key this URL's query differently: name a host (http://HOST/...) or a site (site=NAME)\n";
    case EDGE_ADMIN_PARSE_ESINCE:
        return "since: expected a duration such as 30m, 24h or 7d\n";
    case EDGE_ADMIN_PARSE_EFROM_TO:
        return "from/to: expected ISO-8601 UTC times or Unix seconds, from before to\n";
    case EDGE_ADMIN_PARSE_ETOP:
        return "top: expected a number from 1 to 100000\n";
    case EDGE_ADMIN_PARSE_EFORMAT:
        return "format: expected json, csv, html or table\n";
    default:
        return "bad request\n";
    }
}

/* The hosts a site claims, as an invalidation target names them ("a.com,*.a.com"); empty for the site of a file
 * without sites, which claims every host. */
static h2o_iovec_t site_hosts(h2o_mem_pool_t *pool, const edge_conf_site_t *site)
{
    size_t len = 0;
    if (site->any_host)
        return h2o_iovec_init("", 0);
    for (size_t i = 0; i != site->num_hosts; ++i)
        len += strlen(site->hosts[i]) + 1;
    char *buf = h2o_mem_alloc_pool(pool, len + 1), *p = buf;
    for (size_t i = 0; i != site->num_hosts; ++i)
        p += sprintf(p, "%s%s", i == 0 ? "" : ",", site->hosts[i]);
    return h2o_iovec_init(buf, (size_t)(p - buf));
}

int edge_admin_parse_purge_key(const edge_conf_t *conf, h2o_mem_pool_t *pool, h2o_iovec_t url, const edge_conf_site_t *site,
                               h2o_iovec_t *key)
{
    const char *p = url.base, *end = url.base + url.len;
    const char *scheme_end = url.len > 3 ? strstr(url.base, "://") : NULL;
    h2o_iovec_t host = {NULL, 0};

    if (scheme_end != NULL && scheme_end < end && memchr(url.base, '/', scheme_end - url.base) == NULL) {
        const char *auth = scheme_end + 3;
        p = memchr(auth, '/', end - auth); /* drop scheme://authority, keeping the host for the key */
        if (p == NULL)
            p = end;
        bool tls = scheme_end - url.base == 5 && h2o_lcstris(url.base, 5, H2O_STRLIT("https"));
        if (cache_key_normalize_host(pool, h2o_iovec_init(auth, (size_t)(p - auth)), tls, &host) != 0 || host.len == 0)
            return EDGE_ADMIN_PARSE_EBAD_URL;
    }
    if (p == end || *p != '/')
        return EDGE_ADMIN_PARSE_EBAD_URL;
    h2o_iovec_t path, query; /* the normal form the request keys were made of */
    if (cache_key_normalize_target(pool, h2o_iovec_init(p, (size_t)(end - p)), &path, &query) != 0)
        return EDGE_ADMIN_PARSE_EBAD_URL;
    if (host.base != NULL) {
        /* one host: the key its requests make, under its site's rules */
        const edge_conf_site_t *s = edge_site_match(conf, host.base, host.len);
        if (s == NULL || (site != NULL && s != site))
            return EDGE_ADMIN_PARSE_ESITE;
        *key = cache_key_build_for_host(pool, host, path, query, &edge_site_behavior(conf, s, path.base, path.len)->key);
        return 0;
    }
    if (site != NULL) {
        /* the site's hosts, and the key under its rules */
        h2o_iovec_t hosts = site_hosts(pool, site);
        *key =
            h2o_concat(pool, hosts, cache_key_build(pool, path, query, &edge_site_behavior(conf, site, path.base, path.len)->key));
        return 0;
    }
    /* every host: one target, which every site must key alike (they may keep different query parameters) */
    for (size_t i = 0; i != conf->num_sites; ++i) {
        h2o_iovec_t k = cache_key_build(pool, path, query, &edge_site_behavior(conf, &conf->sites[i], path.base, path.len)->key);
        if (i != 0 && !h2o_memis(k.base, k.len, key->base, key->len))
            return EDGE_ADMIN_PARSE_EAMBIGUOUS;
        *key = k;
    }
    return 0;
}

int edge_admin_parse_purge(const edge_conf_t *conf, h2o_mem_pool_t *pool, h2o_iovec_t form, edge_admin_purge_t *out)
{
    h2o_iovec_t url = edge_admin_parse_form_value(pool, form, "url"), prefix = edge_admin_parse_form_value(pool, form, "prefix"),
                tag = edge_admin_parse_form_value(pool, form, "tag"), soft = edge_admin_parse_form_value(pool, form, "soft"),
                site_name = edge_admin_parse_form_value(pool, form, "site");
    int given = (url.base != NULL) + (prefix.base != NULL) + (tag.base != NULL), err;
    const edge_conf_site_t *site = NULL;

    if (given != 1)
        return EDGE_ADMIN_PARSE_ENOT_ONE;
    if (site_name.base != NULL) {
        for (size_t i = 0; i != conf->num_sites && site == NULL; ++i)
            if (h2o_memis(site_name.base, site_name.len, conf->sites[i].name, strlen(conf->sites[i].name)))
                site = &conf->sites[i];
        if (site == NULL)
            return EDGE_ADMIN_PARSE_ESITE;
    }
    if (url.base != NULL) {
        out->kind = CACHE_PURGE_URL;
        if ((err = edge_admin_parse_purge_key(conf, pool, url, site, &out->target)) != 0)
            return err;
    } else if (prefix.base != NULL) {
        out->kind = CACHE_PURGE_PREFIX;
        out->target = prefix;
        h2o_iovec_t key;
        if (prefix.len != 0 && prefix.base[0] != '/' && edge_admin_parse_purge_key(conf, pool, prefix, site, &key) == 0) {
            out->target = key; /* an absolute URL as a prefix: its host and path */
        } else if (site != NULL) {
            /* the site's hosts, then a path: "" is every path ("/"), and anything else must be one */
            if (prefix.len != 0 && prefix.base[0] != '/')
                return EDGE_ADMIN_PARSE_EBAD_URL;
            out->target = h2o_concat(pool, site_hosts(pool, site), prefix.len != 0 ? prefix : h2o_iovec_init(H2O_STRLIT("/")));
        }
    } else {
        out->kind = CACHE_PURGE_TAG;
        out->target = tag;
        if (tag.len == 0)
            return EDGE_ADMIN_PARSE_EEMPTY_TAG;
        if (memchr(tag.base, '\n', tag.len) != NULL)
            return EDGE_ADMIN_PARSE_EEMPTY_TAG; /* (a line break would read as hosts: no stored tag has one) */
        if (site != NULL && !site->any_host)
            out->target = h2o_concat(pool, site_hosts(pool, site), h2o_iovec_init(H2O_STRLIT("\n")), tag);
    }
    out->soft = soft.base != NULL &&
                (h2o_memis(soft.base, soft.len, H2O_STRLIT("1")) || h2o_memis(soft.base, soft.len, H2O_STRLIT("true")));
    return 0;
}

bool edge_admin_parse_purge_id(h2o_iovec_t text, uint64_t *id)
{
    uint64_t v = 0;
    if (text.len == 0)
        return false;
    for (size_t i = 0; i != text.len; ++i) {
        if (text.base[i] < '0' || text.base[i] > '9')
            return false;
        unsigned d = (unsigned)(text.base[i] - '0');
        if (v > (UINT64_MAX - d) / 10) /* (a wrapped id would name another invalidation) */
            return false;
        v = v * 10 + d;
    }
    *id = v;
    return true;
}

int edge_admin_parse_report_query(h2o_mem_pool_t *pool, h2o_iovec_t query, uint64_t now_s, unsigned default_top, reports_query_t *q,
                                  reports_format_t *fmt)
{
    h2o_iovec_t since = edge_admin_parse_form_value(pool, query, "since"), from = edge_admin_parse_form_value(pool, query, "from"),
                to = edge_admin_parse_form_value(pool, query, "to"), top = edge_admin_parse_form_value(pool, query, "top"),
                format = edge_admin_parse_form_value(pool, query, "format");
    uint64_t span = 86400;
    int f = REPORTS_FORMAT_JSON;

    *q = (reports_query_t){.top = default_top};
    if (since.base != NULL && reports_parse_duration(since.base, &span) != 0)
        return EDGE_ADMIN_PARSE_ESINCE;
    q->from_s = now_s > span ? now_s - span : 0;
    q->to_s = now_s + 1;
    if ((from.base != NULL && reports_parse_time(from.base, &q->from_s) != 0) ||
        (to.base != NULL && reports_parse_time(to.base, &q->to_s) != 0) || q->to_s <= q->from_s)
        return EDGE_ADMIN_PARSE_EFROM_TO;
    if (top.base != NULL) {
        char *end;
        unsigned long long n = strtoull(top.base, &end, 10);
        if (*end != '\0' || n == 0 || n > 100000)
            return EDGE_ADMIN_PARSE_ETOP;
        q->top = (unsigned)n;
    }
    if (format.base != NULL && (f = reports_format_parse(format.base)) < 0)
        return EDGE_ADMIN_PARSE_EFORMAT;
    *fmt = (reports_format_t)f;
    return 0;
}

int edge_admin_parse_report_site(const edge_conf_t *conf, h2o_mem_pool_t *pool, h2o_iovec_t query, reports_query_t *q)
{
    h2o_iovec_t name = edge_admin_parse_form_value(pool, query, "site");
    if (name.base == NULL)
        return 0;
    for (size_t i = 0; i != conf->num_sites; ++i) {
        const edge_conf_site_t *s = &conf->sites[i];
        if (!h2o_memis(name.base, name.len, s->name, strlen(s->name)))
            continue;
        if (!s->any_host) {
            q->site = s->name;
            q->hosts = site_hosts(pool, s).base; /* (NUL-terminated: sprintf wrote it) */
        }
        return 0;
    }
    return EDGE_ADMIN_PARSE_ESITE;
}
