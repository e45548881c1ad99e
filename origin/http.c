/*
 * origin/http.c: per-loop HTTP/1.1 origin state (socket pools, timeouts) and request serialisation.
 *
 * The invariant: an origin_http_t belongs to one loop. libh2o's socket pool binds its idle-connection
 * sweeper to the loop given to h2o_socketpool_set_timeout, and its timeouts are per loop too, so sharing
 * one between loops would corrupt both.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "origin/http.h"

int origin_http_init(origin_http_t *o, h2o_loop_t *loop, h2o_multithread_receiver_t *getaddr_receiver,
                     const origin_conf_t *conf, SSL_CTX **ssl_ctxs, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->conf = conf;
    o->loop = loop;
    /* a day: libh2o's I/O timeout cannot be stopped while we pause a response for a slow client */
    h2o_timeout_init(loop, &o->io_timeout, 86400 * 1000);
    h2o_timeout_init(loop, &o->read_timeout, conf->read_timeout_ms);
    h2o_timeout_init(loop, &o->connect_timeout, conf->connect_timeout_ms);
    o->client_ctx.loop = loop;
    o->client_ctx.getaddr_receiver = getaddr_receiver;
    o->client_ctx.io_timeout = &o->io_timeout;
    o->servers = h2o_mem_alloc(sizeof(*o->servers) * (conf->num_servers != 0 ? conf->num_servers : 1));
    o->outstanding = calloc(conf->num_servers != 0 ? conf->num_servers : 1, sizeof(*o->outstanding));
    for (size_t i = 0; i != conf->num_servers; ++i) {
        h2o_url_t url;
        if (h2o_url_parse(conf->servers[i], strlen(conf->servers[i]), &url) != 0 || url.scheme == NULL) {
            snprintf(err, errlen, "origin %s: cannot parse %s", conf->name, conf->servers[i]);
            origin_http_dispose(o);
            return -1;
        }
        int is_ssl = url.scheme == &H2O_URL_SCHEME_HTTPS;
        origin_http_server_t *s = o->servers + o->num_servers;
        if (is_ssl && conf->tls.sni != NULL) {
            /* libh2o names the peer by the pool's host for SNI and the certificate check: connect by
             * address, and name the pool after the SNI host */
            struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
            char host[256], port[8];
            snprintf(host, sizeof(host), "%.*s", (int)url.host.len, url.host.base);
            snprintf(port, sizeof(port), "%u", (unsigned)h2o_url_get_port(&url));
            int rc = getaddrinfo(host, port, &hints, &res);
            if (rc != 0) {
                snprintf(err, errlen, "origin %s: cannot resolve %s: %s", conf->name, host, gai_strerror(rc));
                origin_http_dispose(o);
                return -1;
            }
            h2o_socketpool_init_by_address(&s->pool, res->ai_addr, res->ai_addrlen, 1, SIZE_MAX);
            freeaddrinfo(res);
            free(s->pool.peer.host.base);
            s->pool.peer.host = h2o_strdup(NULL, conf->tls.sni, SIZE_MAX);
        } else {
            h2o_socketpool_init_by_hostport(&s->pool, url.host, h2o_url_get_port(&url), is_ssl, SIZE_MAX);
        }
        h2o_socketpool_set_timeout(&s->pool, loop, conf->keepalive_timeout_ms);
        s->client_ctx = o->client_ctx;
        s->client_ctx.ssl_ctx = ssl_ctxs != NULL ? ssl_ctxs[i] : NULL;
        s->authority = url.authority;
        ++o->num_servers;
    }
    return 0;
}

void origin_http_dispose(origin_http_t *o)
{
    for (size_t i = 0; i != o->num_servers; ++i)
        h2o_socketpool_dispose(&o->servers[i].pool);
    free(o->servers);
    free(o->outstanding);
    h2o_timeout_dispose(o->loop, &o->io_timeout);
    h2o_timeout_dispose(o->loop, &o->read_timeout);
    h2o_timeout_dispose(o->loop, &o->connect_timeout);
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

void origin_http_pause(h2o_http1client_t *client, h2o_socket_cb *saved)
{
    *saved = client->sock->_cb.read;
    h2o_socket_read_stop(client->sock);
}

void origin_http_resume(h2o_http1client_t *client, h2o_socket_cb saved)
{
    h2o_socket_read_start(client->sock, saved);
}
