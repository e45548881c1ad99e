/*
 * edge/tls_cert.h: what `edgecache check` verifies of the certificates a configuration names — each matches its
 * key, a site's covers every host of the site, none has expired — and warns about (one that expires within 14
 * days). The server verifies the keys again when it loads them (edge/tls.h); the rest is check's, so that a
 * certificate about to expire never stops a reload.
 */
#ifndef EDGE_TLS_CERT_H
#define EDGE_TLS_CERT_H

#include <stddef.h>
#include <time.h>
#include "edge/config.h"

#define EDGE_TLS_CERT_WARN_DAYS 14

/**
 * Checks the pair `cert_file` (PEM; its first certificate) and `key_file`, and that the certificate names every
 * one of `hosts` (a site's patterns: "shop.example.com" is covered by a SAN dNSName "shop.example.com" or
 * "*.example.com", "*.example.com" only by "*.example.com"; an address by an iPAddress; the subject's CN does
 * not count, as browsers no longer count it). Returns 0 with the end of its validity in *not_after, or -1 with
 * the reason in `msg`. Any thread.
 */
int edge_tls_cert_check(const char *cert_file, const char *key_file, char *const *hosts, size_t num_hosts, time_t *not_after,
                        char *msg, size_t msglen);

/**
 * Checks every certificate of `conf` (each TLS listener's default, each site's) at time `now`, writing one line
 * per finding into `buf` (`len` bytes, truncated quietly): "SOURCE: error: WHERE: ..." or "SOURCE: warning:
 * WHERE: certificate FILE expires ...". Returns the number of errors, and the number of warnings in *warnings.
 */
size_t edge_tls_cert_check_all(const edge_conf_t *conf, time_t now, char *buf, size_t len, size_t *warnings);

#endif
