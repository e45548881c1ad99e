/*
 * edge/https.h: HTTPS as a CDN edge enforces it — each behavior's viewer protocol policy (CloudFront's: allow
 * both, redirect cleartext to https://, or refuse cleartext) and each site's Strict-Transport-Security.
 *
 * "Over TLS" means the connection's socket is a TLS one: never the :scheme an HTTP/2 client sends, nor an
 * X-Forwarded-Proto, which a cleartext client could write to dodge the policy. Reads the configuration only;
 * any loop.
 */
#ifndef EDGE_HTTPS_H
#define EDGE_HTTPS_H

#include <stdbool.h>
#include <h2o.h>
#include "edge/config.h"
#include "reports/counters.h"

/** Whether `req` came over a TLS connection. */
bool edge_https_is_tls(h2o_req_t *req);

/**
 * Applies behavior `b`'s viewer protocol policy to `req`. Over TLS, or with allow_all, does nothing and
 * returns false. Over cleartext: redirect_to_https answers 301 (GET, HEAD) or 308 (any other method, which
 * must be repeated as it was) with `Location: https://HOST[:PORT]PATH[?QUERY]` — `host` the request's
 * normalised host without its port, PORT b->https_port, else the first TLS listener's of `conf`, left out
 * when 443 — and https_only answers 403 (as does a redirect without a host to send it to); then it returns
 * true: the request is done, and counted in `counters` (the calling loop's: https_redirects or
 * https_refused). The path is req->path, the normalised one the cache and the origin see.
 */
bool edge_https_enforce(h2o_req_t *req, const edge_conf_t *conf, const edge_conf_behavior_t *b, h2o_iovec_t host,
                        reports_counters_t *counters);

/** Adds `site`'s Strict-Transport-Security header to `req`'s response when it has one and `req` came over TLS. */
void edge_https_add_hsts(h2o_req_t *req, const edge_conf_site_t *site);

#endif
