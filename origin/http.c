/*
 * origin/http.c: per-loop HTTP/1.1 origin state (client pools, timeouts) and request serialisation.
 *
 * The invariant: an origin_http_t belongs to one loop. Its pools, their connections and the timeouts
 * they are linked on are that loop's, so sharing one between loops would corrupt both. The pools are
 * origin/client.h's: no byte from an origin reaches libh2o's own HTTP client (which aborts on some).
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "origin/http.h"

int origin_http_resolve(const origin_conf_t *conf, size_t index, struct sockaddr_storage *addr, socklen_t *addrlen, bool *is_tls,
                        char *name, size_t namelen, char *err, size_t errlen)
{
    const char *server = conf->servers[index];
    h2o_url_t url;
    if (h2o_url_parse(server, strlen(server), &url) != 0 || url.scheme == NULL) {
        snprintf(err, errlen, "origin %s: cannot parse %s", conf->name, server);
        return -1;
    }
    *is_tls = url.scheme == &H2O_URL_SCHEME_HTTPS;
    char host[256], port[8];
    snprintf(host, sizeof(host), "%.*s", (int)url.host.len, url.host.base);
    snprintf(port, sizeof(port), "%u", (unsigned)h2o_url_get_port(&url));
    snprintf(name, namelen, "%s", !*is_tls ? "" : conf->tls.sni != NULL ? conf->tls.sni : host);

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "origin %s: cannot resolve %s: %s", conf->name, host, gai_strerror(rc));
        return -2;
    }
    /* the first answer: getaddrinfo orders them by preference (RFC 6724) */
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int origin_http_init(origin_http_t *o, h2o_loop_t *loop, h2o_multithread_receiver_t *getaddr_receiver, const origin_conf_t *conf,
                     SSL_CTX **ssl_ctxs, char *err, size_t errlen)
{
    (void)getaddr_receiver;
    memset(o, 0, sizeof(*o));
    o->conf = conf;
    o->loop = loop;
    o->max_connections = ORIGIN_HTTP_DEFAULT_MAX_CONNECTIONS;
    h2o_timeout_init(loop, &o->zero_timeout, 0);
    h2o_timeout_init(loop, &o->read_timeout, conf->read_timeout_ms);
    h2o_timeout_init(loop, &o->connect_timeout, conf->connect_timeout_ms);
    h2o_timeout_init(loop, &o->keepalive_timeout, conf->keepalive_timeout_ms);
    o->client_ctx = (origin_client_ctx_t){.loop = loop,
                                          .zero_timeout = &o->zero_timeout,
                                          .connect_timeout = &o->connect_timeout,
                                          .read_timeout = &o->read_timeout,
                                          .keepalive_timeout = conf->keepalive_timeout_ms != 0 ? &o->keepalive_timeout : NULL};
    o->servers = h2o_mem_alloc(sizeof(*o->servers) * (conf->num_servers != 0 ? conf->num_servers : 1));
    o->outstanding = calloc(conf->num_servers != 0 ? conf->num_servers : 1, sizeof(*o->outstanding));
    for (size_t i = 0; i != conf->num_servers; ++i) {
        struct sockaddr_storage addr;
        socklen_t addrlen = 0;
        bool is_tls;
        char name[256];
        int rc = origin_http_resolve(conf, i, &addr, &addrlen, &is_tls, name, sizeof(name), err, errlen);
        if (rc == -1 || (rc == -2 && is_tls && conf->tls.sni != NULL)) {
            origin_http_dispose(o);
            return -1;
        }
        origin_http_server_t *s = o->servers + o->num_servers;
        h2o_url_t url;
        h2o_url_parse(conf->servers[i], strlen(conf->servers[i]), &url); /* parsed above */
        s->authority = url.authority;
        s->pool = NULL;
        if (rc == 0) {
            s->pool = origin_client_pool_new(&o->client_ctx, (struct sockaddr *)&addr, addrlen,
                                             is_tls && ssl_ctxs != NULL ? ssl_ctxs[i] : NULL, is_tls ? name : NULL,
                                             o->max_connections, o->max_connections);
        } else {
            common_log_warn("%s; requests to %s fail until the edge restarts", err, conf->servers[i]);
            if (errlen != 0)
                err[0] = '\0';
        }
        ++o->num_servers;
    }
    return 0;
}

void origin_http_dispose(origin_http_t *o)
{
    for (size_t i = 0; i != o->num_servers; ++i)
        if (o->servers[i].pool != NULL)
            origin_client_pool_free(o->servers[i].pool);
    free(o->servers);
    free(o->outstanding);
    h2o_timeout_dispose(o->loop, &o->zero_timeout);
    h2o_timeout_dispose(o->loop, &o->read_timeout);
    h2o_timeout_dispose(o->loop, &o->connect_timeout);
    h2o_timeout_dispose(o->loop, &o->keepalive_timeout);
    o->servers = NULL;
    o->outstanding = NULL;
    o->num_servers = 0;
}

h2o_iovec_t origin_http_serialize(h2o_mem_pool_t *pool, h2o_iovec_t method, h2o_iovec_t path, h2o_iovec_t host,
                                  const h2o_header_t *headers, size_t num, size_t body_len)
{
    size_t cap = method.len + path.len + host.len + sizeof(" HTTP/1.1\r\nhost: \r\ncontent-length: 18446744073709551615\r\n\r\n");
    for (size_t i = 0; i != num; ++i)
        cap += headers[i].name->len + headers[i].value.len + 4;
    char *buf = h2o_mem_alloc_pool(pool, cap), *p = buf;

#define APPEND(s, n) (memcpy(p, (s), (n)), p += (n))
    APPEND(method.base, method.len);
    *p++ = ' ';
    APPEND(path.base, path.len);
    APPEND(" HTTP/1.1\r\nhost: ", 17);
    APPEND(host.base, host.len);
    APPEND("\r\n", 2);
    for (size_t i = 0; i != num; ++i) {
        APPEND(headers[i].name->base, headers[i].name->len);
        APPEND(": ", 2);
        APPEND(headers[i].value.base, headers[i].value.len);
        APPEND("\r\n", 2);
    }
    if (body_len != SIZE_MAX)
        p += sprintf(p, "content-length: %zu\r\n", body_len);
    APPEND("\r\n", 2);
#undef APPEND
    return h2o_iovec_init(buf, (size_t)(p - buf));
}
