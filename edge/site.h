/*
 * edge/site.h: the choice of a site (a CloudFront distribution) for a request's host.
 *
 * The configuration loader (edge/config*.c) builds the sites and guarantees that no host is claimed twice; this
 * module only reads them, so it is safe from any thread once the configuration is built.
 */
#ifndef EDGE_SITE_H
#define EDGE_SITE_H

#include <stddef.h>
#include "edge/config.h"

/**
 * The site for `host` (`len` bytes, normalised by cache_key_normalize_host: lower case, no trailing dot; a port,
 * if any, is ignored): the site that names it exactly, else the one with the longest wildcard that covers it
 * ("*.example.com" covers "a.example.com" and "a.b.example.com", not "example.com", as CloudFront), else the
 * site of unknown_host.site; NULL when none and unknown_host says to answer a status. In a file without "sites",
 * always its one site. The result points into conf->sites. Pure; any thread.
 */
const edge_conf_site_t *edge_site_match(const edge_conf_t *conf, const char *host, size_t len);

/**
 * How well host pattern `pattern` (as a site lists it: lower case, "name" or "*.suffix") matches `name` (`len`
 * bytes, lower case, no port): 0 not at all, SIZE_MAX exactly, else the pattern's length (a longer wildcard is
 * the better match). The one rule edge_site_match and the TLS listeners' choice of a certificate by SNI follow.
 * Pure; any thread.
 */
size_t edge_site_host_score(const char *pattern, const char *name, size_t len);

/** The behavior of `site` for `path` (edge_behavior_match over the site's range). Never NULL. Pure. */
const edge_conf_behavior_t *edge_site_behavior(const edge_conf_t *conf, const edge_conf_site_t *site, const char *path, size_t len);

#endif
