/*
 * edge/site.c: the site for a request's host, exact names first, then the longest wildcard, then unknown_host.
 *
 * The invariant that is easy to break: an exact name always wins over a wildcard, and a longer wildcard over a
 * shorter one, whatever the order of the file, so that "*.example.com" never takes "shop.example.com" from the
 * site that names it. The scan is linear in the hosts of every site: a few dozen compare in well under a
 * microsecond. XXX: an edge with thousands of hosts would want them sorted (or hashed) at load time.
 */
#include <string.h>
#include "cache/key.h"
#include "edge/site.h"

const edge_conf_site_t *edge_site_match(const edge_conf_t *conf, const char *host, size_t len)
{
    const edge_conf_site_t *best = NULL;
    size_t best_len = 0;
    h2o_iovec_t name = cache_key_host_name(h2o_iovec_init(host, len));

    if (conf->num_sites == 1 && conf->sites[0].any_host)
        return &conf->sites[0];
    for (size_t i = 0; i != conf->num_sites; ++i) {
        const edge_conf_site_t *s = &conf->sites[i];
        for (size_t j = 0; j != s->num_hosts; ++j) {
            size_t score = edge_site_host_score(s->hosts[j], name.base, name.len);
            if (score == SIZE_MAX)
                return s;
            if (score > best_len) {
                best = s;
                best_len = score;
            }
        }
    }
    if (best != NULL)
        return best;
    return conf->unknown_host.site != SIZE_MAX ? &conf->sites[conf->unknown_host.site] : NULL;
}

size_t edge_site_host_score(const char *pattern, const char *name, size_t len)
{
    size_t plen = strlen(pattern);

    if (pattern[0] != '*')
        return h2o_memis(pattern, plen, name, len) ? SIZE_MAX : 0;
    /* "*.example.com": a name longer than ".example.com" that ends with it */
    if (len > plen - 1 && memcmp(name + len - (plen - 1), pattern + 1, plen - 1) == 0)
        return plen;
    return 0;
}

const edge_conf_behavior_t *edge_site_behavior(const edge_conf_t *conf, const edge_conf_site_t *site, const char *path, size_t len)
{
    return edge_behavior_match(conf->behaviors + site->first_behavior, site->num_behaviors, path, len);
}
