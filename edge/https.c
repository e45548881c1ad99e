/*
 * edge/https.c: the viewer protocol policy and HSTS (edge/https.h).
 *
 * The invariant that is easy to break: the policy is decided on the connection (its socket has TLS or not),
 * before the cache is looked up, so a cleartext request never gets a stored body, and HSTS goes out only over
 * TLS (RFC 6797 §7.2: a host must not send it over cleartext, where an attacker could forge or strip it).
 */
#include <stdio.h>
#include <string.h>
#include "edge/https.h"

bool edge_https_is_tls(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    return sock != NULL && sock->ssl != NULL;
}

/* The port of the https:// URL: the behavior's, else the first TLS listener's, else 443 (a TLS terminator in
 * front of the edge). */
static uint16_t https_port(const edge_conf_t *conf, const edge_conf_behavior_t *b)
{
    if (b->https_port != 0)
        return b->https_port;
    for (size_t i = 0; i != conf->num_listens; ++i)
        if (conf->listens[i].tls_certificate != NULL)
            return conf->listens[i].port;
    return 443;
}

/* `host` without its ":port" (an IPv6 literal keeps its brackets). */
static h2o_iovec_t strip_port(h2o_iovec_t host)
{
    size_t end = host.len;
    if (host.len != 0 && host.base[0] == '[') {
        const char *close = memchr(host.base, ']', host.len);
        if (close != NULL)
            end = (size_t)(close - host.base) + 1;
    } else {
        const char *colon = memchr(host.base, ':', host.len);
        if (colon != NULL)
            end = (size_t)(colon - host.base);
    }
    return h2o_iovec_init(host.base, end);
}

static void answer(h2o_req_t *req, int status, const char *reason)
{
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
    req->res.content_length = strlen(reason);
    h2o_send_inline(req, reason, strlen(reason));
}

bool edge_https_enforce(h2o_req_t *req, const edge_conf_t *conf, const edge_conf_behavior_t *b, h2o_iovec_t host,
                        reports_counters_t *counters)
{
    if (b->viewer_policy == EDGE_VIEWER_ALLOW_ALL || edge_https_is_tls(req))
        return false;
    host = strip_port(host);
    if (b->viewer_policy == EDGE_VIEWER_HTTPS_ONLY || host.len == 0) {
        ++counters->https_refused;
        answer(req, 403, "Forbidden");
        return true;
    }
    /* 308 keeps the method and body (RFC 9110 §15.4.9); a 301 may turn a POST into a GET */
    bool safe = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
                h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    uint16_t port = https_port(conf, b);
    char portbuf[8] = "";
    if (port != 443)
        snprintf(portbuf, sizeof(portbuf), ":%u", (unsigned)port);
    h2o_iovec_t location =
        h2o_concat(&req->pool, h2o_iovec_init(H2O_STRLIT("https://")), host, h2o_iovec_init(portbuf, strlen(portbuf)), req->path);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, location.base, location.len);
    /* the request body, if any, is not read: the client repeats it over TLS */
    req->http1_is_persistent = 0;
    ++counters->https_redirects;
    if (safe)
        answer(req, 301, "Moved Permanently");
    else
        answer(req, 308, "Permanent Redirect");
    return true;
}

void edge_https_add_hsts(h2o_req_t *req, const edge_conf_site_t *site)
{
    if (site == NULL || site->hsts == NULL || !edge_https_is_tls(req))
        return;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("strict-transport-security"), 0, NULL, site->hsts,
                          strlen(site->hsts));
}
