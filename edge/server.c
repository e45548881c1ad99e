/*
 * edge/server.c: listeners, TLS, the event-loop threads, and graceful shutdown.
 *
 * Each thread runs its own libh2o loop with its own listening sockets on the same ports
 * (SO_REUSEPORT), so the kernel spreads connections across loops without a shared accept lock.
 * Because SO_REUSEPORT would just as silently share a port with a forgotten edgecache, every port is
 * first probed with a plain bind: a port that something already listens on is an error.
 *
 * Shutdown: SIGTERM/SIGINT are blocked in every thread and taken by sigwait in the main thread, which
 * sets `stopping`; each loop sees it within 100 ms. A loop then closes its listeners, asks libh2o to wind down its
 * connections (idle keep-alive connections close, HTTP/2 ones get GOAWAY), and runs until its last
 * connection is gone or the grace period ends. This file and cache/key.c are the only OpenSSL users.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <h2o.h>
#include <h2o/serverutil.h>
#include "cache/key.h"
#include "edge/admin.h"
#include "common/log.h"
#include "edge/req_fsm.h"
#include "edge/server.h"
#include "origin/fetch.h"
#include "reports/accounting.h"
#include "reports/stats.h"

#define GRACE_PERIOD_MS 30000

int edge_server_sockaddr(const edge_conf_listen_t *l, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, l->address, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(l->port);
        *len = sizeof(*sin);
        return 0;
    }
    if (inet_pton(AF_INET6, l->address, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(l->port);
        *len = sizeof(*sin6);
        return 0;
    }
    return -1;
}

int edge_server_listen(const edge_conf_listen_t *l, bool reuseport, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd, on = 1;

    if (edge_server_sockaddr(l, &ss, &sslen) != 0) {
        snprintf(err, errlen, "listen %s:%u: not a numeric address", l->address, l->port);
        return -1;
    }
    if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, errlen, "listen %s:%u: %s%s", l->address, l->port, strerror(errno),
                 errno == EADDRINUSE ? " (is another edgecache running on this port?)" : "");
        close(fd);
        return -1;
    }
    return fd;
}

static SSL_CTX *make_ssl_ctx(const edge_conf_listen_t *l, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        goto Fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, l->tls_certificate) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, l->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        goto Fail;
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
Fail : {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    snprintf(err, errlen, "TLS for %s:%u (%s, %s): %s", l->address, l->port, l->tls_certificate, l->tls_key, buf);
    if (ctx != NULL)
        SSL_CTX_free(ctx);
    return NULL;
}
}

/* The client TLS context of one https:// server: the system CA store or tls.ca_file, and peer
 * verification unless tls.verify is false. The name (tls.sni, else the server's host) is checked by
 * OpenSSL while it verifies the chain: libh2o 2.2.5 checks it itself only when the handshake ends with
 * nothing left to send, which is never the case in TLS 1.3, so any certificate a trusted CA issued to
 * any host would pass. Hence one context per server. */
SSL_CTX *edge_server_origin_tls_new(const origin_conf_t *o, const char *server, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        goto Fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (o->tls.verify) {
        h2o_url_t url;
        char host[256];
        if (h2o_url_parse(server, strlen(server), &url) != 0)
            goto Fail;
        if (o->tls.sni != NULL)
            snprintf(host, sizeof(host), "%s", o->tls.sni);
        else
            snprintf(host, sizeof(host), "%.*s", (int)url.host.len, url.host.base);
        X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
        struct in6_addr a6;
        struct in_addr a4;
        bool is_ip = inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
        if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host) : X509_VERIFY_PARAM_set1_host(param, host, 0)) != 1)
            goto Fail;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if ((o->tls.ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, o->tls.ca_file, NULL)
                                    : SSL_CTX_set_default_verify_paths(ctx)) != 1)
            goto Fail;
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
Fail : {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    snprintf(err, errlen, "origin %s: TLS set-up%s%s: %s", o->name, o->tls.ca_file != NULL ? " with " : "",
             o->tls.ca_file != NULL ? o->tls.ca_file : "", buf);
    if (ctx != NULL)
        SSL_CTX_free(ctx);
    return NULL;
}
}

/* --- the loops ------------------------------------------------------------------------------------ */

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    if (err != NULL)
        return;
    /* accept a few at a time, so one busy listener cannot starve the loop */
    for (int i = 0; i != 16 && (sock = h2o_evloop_socket_accept(listener)) != NULL; ++i)
        h2o_accept(listener->data, sock);
}

/* Stops accepting and asks libh2o to wind down this loop's connections. */
static void begin_shutdown(edge_thread_t *t)
{
    for (size_t i = 0; i != t->server->conf->num_listens; ++i) {
        if (t->listeners[i] != NULL) {
            h2o_socket_read_stop(t->listeners[i]);
            h2o_socket_close(t->listeners[i]);
            t->listeners[i] = NULL;
        }
    }
    if (t->admin_listener != NULL) {
        h2o_socket_read_stop(t->admin_listener);
        h2o_socket_close(t->admin_listener);
        t->admin_listener = NULL;
    }
    h2o_context_request_shutdown(&t->ctx);
}

static bool has_connections(edge_thread_t *t)
{
    return !h2o_linklist_is_empty(&t->ctx.http1._conns) || !h2o_linklist_is_empty(&t->ctx.http2._conns);
}

static void *thread_main(void *arg)
{
    edge_thread_t *t = arg;
    edge_server_t *s = t->server;
    const edge_conf_t *conf = s->conf;
    char err[256];

    /* set-up: the loop, the listeners, a store reader, the origins */
    h2o_context_init(&t->ctx, h2o_evloop_create(), &s->h2o);
    h2o_multithread_register_receiver(t->ctx.queue, &t->fetch_receiver, origin_fetch_receive);
    t->reader = cache_store_reader_new(s->store);
    t->acct = reports_acct_new(&conf->reports, s->store, t->index);
    t->http = h2o_mem_alloc(sizeof(*t->http) * conf->upstream.num_origins);
    for (size_t i = 0; i != conf->upstream.num_origins; ++i) {
        memset(t->http + i, 0, sizeof(t->http[i]));
        if (s->file_roots[i] == NULL && origin_http_init(t->http + i, t->ctx.loop, &t->ctx.receivers.hostinfo_getaddr,
                                                         conf->upstream.origins + i, s->origin_ssl_ctxs[i], err, sizeof(err)) != 0)
            common_log_error("thread %u: %s", t->index, err);
    }
    if (t->index == 0) {
        t->checker = origin_checker_start(s->router, &t->ctx);
        if (s->admin_fd >= 0) {
            t->admin_accept = (h2o_accept_ctx_t){.ctx = &t->ctx, .hosts = s->admin_h2o.hosts};
            t->admin_listener = h2o_evloop_socket_create(t->ctx.loop, s->admin_fd, H2O_SOCKET_FLAG_DONT_READ);
            t->admin_listener->data = &t->admin_accept;
            h2o_socket_read_start(t->admin_listener, on_accept);
        }
    }
    t->accept_ctxs = h2o_mem_alloc(sizeof(*t->accept_ctxs) * conf->num_listens);
    t->listeners = h2o_mem_alloc(sizeof(*t->listeners) * conf->num_listens);
    for (size_t i = 0; i != conf->num_listens; ++i) {
        int fd = t->index == 0 ? s->listen_fds[i] : edge_server_listen(conf->listens + i, true, err, sizeof(err));
        t->listeners[i] = NULL;
        if (fd < 0) {
            common_log_error("thread %u: %s", t->index, err);
            continue;
        }
        t->accept_ctxs[i] = (h2o_accept_ctx_t){.ctx = &t->ctx, .hosts = s->h2o.hosts, .ssl_ctx = s->ssl_ctxs[i]};
        t->listeners[i] = h2o_evloop_socket_create(t->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        t->listeners[i]->data = t->accept_ctxs + i;
        h2o_socket_read_start(t->listeners[i], on_accept);
    }

    /* serve until asked to stop, then until the last connection has gone or the grace period ends; the
     * loop wakes at least every 100 ms, which bounds how long a stop request waits to be seen */
    uint64_t stop_at = 0, next_tick = 0, ticks = 0;
    for (;;) {
        h2o_evloop_run(t->ctx.loop, 100);
        if (h2o_now(t->ctx.loop) >= next_tick) {
            /* once a second: hand this loop's batched bookkeeping over (uses of stored objects) */
            next_tick = h2o_now(t->ctx.loop) + 1000;
            cache_store_reader_tick(t->reader);
            /* the reports: a bucket that ended is flushed, and the current one every minute, so that a
             * report is never more than a minute behind */
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            reports_acct_tick(t->acct, (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000, ++ticks % 60 == 0);
        }
        if (atomic_load(&s->stopping)) {
            if (stop_at == 0) {
                stop_at = h2o_now(t->ctx.loop) + GRACE_PERIOD_MS;
                begin_shutdown(t);
            }
            if (!has_connections(t) || h2o_now(t->ctx.loop) >= stop_at)
                break;
        }
    }

    /* tear-down */
    cache_store_reader_tick(t->reader);
    reports_acct_free(t->acct); /* (which flushes the current bucket) */
    origin_checker_stop(t->checker);
    for (size_t i = 0; i != conf->upstream.num_origins; ++i)
        if (s->file_roots[i] == NULL && t->http[i].servers != NULL)
            origin_http_dispose(t->http + i);
    cache_store_reader_free(t->reader);
    cache_key_thread_dispose();
    /* XXX: the h2o context and loop are not disposed: libh2o 2.2.5 asserts in h2o_timeout_dispose when a
     * connection it is still closing has a timer linked, and the process exits right after this anyway.
     * tests/lsan.supp names the allocations this leaves. */
    free(t->http);
    free(t->accept_ctxs);
    free(t->listeners);
    return NULL;
}

/* --- set-up and the main thread ---------------------------------------------------------------------- */

static void teardown(edge_server_t *s)
{
    origin_router_free(s->router);
    for (size_t i = 0; s->origin_ssl_ctxs != NULL && i != s->conf->upstream.num_origins; ++i) {
        for (size_t j = 0; j != s->conf->upstream.origins[i].num_servers; ++j)
            if (s->origin_ssl_ctxs[i][j] != NULL)
                SSL_CTX_free(s->origin_ssl_ctxs[i][j]);
        free(s->origin_ssl_ctxs[i]);
    }
    free(s->origin_ssl_ctxs);
    cache_key_thread_dispose(); /* the balancers hashed on this thread */
    for (size_t i = 0; s->file_roots != NULL && i != s->conf->upstream.num_origins; ++i)
        if (s->file_roots[i] != NULL)
            origin_file_close(s->file_roots[i]);
    for (size_t i = 0; s->ssl_ctxs != NULL && i != s->conf->num_listens; ++i)
        if (s->ssl_ctxs[i] != NULL)
            SSL_CTX_free(s->ssl_ctxs[i]);
    if (s->store != NULL)
        cache_store_close(s->store);
    free(s->file_roots);
    free(s->ssl_ctxs);
    free(s->listen_fds);
    free(s->threads);
    h2o_config_dispose(&s->h2o);
    h2o_config_dispose(&s->admin_h2o);
}

static void log_counters(edge_server_t *s)
{
    reports_counters_t sum = {0};
    char line[1024];
    size_t off = 0;
    for (size_t i = 0; i != s->num_threads; ++i)
        reports_stats_add(&sum, &s->threads[i].counters);
    for (size_t i = 0; i != reports_counter_count && off < sizeof(line) - 64; ++i)
        off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%s=%llu", i == 0 ? "" : " ", reports_counter_table[i].name,
                                (unsigned long long)reports_stats_get(&sum, reports_counter_table + i));
    common_log_info("counters: %s", line);
}

/* Opens the access log through libh2o's logger and registers it on `pathconf`. libh2o 2.2.5 has no way to
 * reopen it, so the descriptor it opened is found (open(2) takes the lowest free number, and this runs
 * before any other thread) and checked to be that file; SIGHUP then reopens the path onto it with dup2. */
static int open_access_log(edge_server_t *s, h2o_pathconf_t *pathconf, char *err, size_t errlen)
{
    const char *path = s->conf->access_log.path;
    const char *format = s->conf->access_log.format != NULL ? s->conf->access_log.format
                         : s->conf->access_log.json         ? EDGE_CONF_ACCESS_LOG_JSON
                                                            : EDGE_CONF_ACCESS_LOG_FORMAT;
    struct stat a, b;

    s->access_log_fd = -1;
    if (path == NULL)
        return 0;
    int expected = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (expected >= 0)
        close(expected);
    h2o_access_log_filehandle_t *fh =
        h2o_access_log_open_handle(path, format, s->conf->access_log.json ? H2O_LOGCONF_ESCAPE_JSON : H2O_LOGCONF_ESCAPE_APACHE);
    if (fh == NULL) {
        snprintf(err, errlen, "access_log: cannot open %s with format \"%s\" (see the message above)", path, format);
        return -1;
    }
    h2o_access_log_register(pathconf, fh);
    if (path[0] != '|' && expected >= 0 && fstat(expected, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        s->access_log_fd = expected;
    else if (path[0] != '|')
        common_log_warn("access_log: %s will not be reopened on SIGHUP (its descriptor was not found)", path);
    return 0;
}

static void reopen_access_log(edge_server_t *s)
{
    if (s->access_log_fd < 0)
        return;
    int fd = open(s->conf->access_log.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || dup2(fd, s->access_log_fd) < 0) {
        common_log_error("access_log: cannot reopen %s: %s", s->conf->access_log.path, strerror(errno));
    } else {
        fcntl(s->access_log_fd, F_SETFD, FD_CLOEXEC);
        common_log_info("SIGHUP: reopened the access log %s", s->conf->access_log.path);
    }
    if (fd >= 0)
        close(fd);
}

/* A fetch beyond limits.background_fetches was cancelled: count it on its owner's loop, whose thread it is. */
static void on_background_drop(h2o_multithread_receiver_t *owner)
{
    ++H2O_STRUCT_FROM_MEMBER(edge_thread_t, fetch_receiver, owner)->counters.background_fetches_dropped;
}

/* What one connection may cost (the "limits" section): how long a request head, a TLS handshake or an idle
 * HTTP/2 connection may take, and how many requests of one HTTP/2 connection run at once. A configuration
 * built without the parser (0) keeps libh2o's defaults (10 s, 100). */
static void apply_limits(edge_server_t *s, const edge_conf_t *conf)
{
    if (conf->limits.header_timeout_ms != 0) {
        s->h2o.http1.req_timeout = conf->limits.header_timeout_ms;
        s->h2o.handshake_timeout = conf->limits.header_timeout_ms;
        s->h2o.http2.idle_timeout = conf->limits.header_timeout_ms;
    }
    if (conf->limits.h2_max_streams != 0)
        s->h2o.http2.max_concurrent_requests_per_connection = conf->limits.h2_max_streams;
    origin_fetch_set_background_limit(conf->limits.background_fetches, on_background_drop);
}

int edge_server_run(const edge_conf_t *conf)
{
    edge_server_t server = {.conf = conf, .admin_fd = -1, .access_log_fd = -1}, *s = &server;
    char err[512];
    sigset_t sigs;
    int ret = 1;

    signal(SIGPIPE, SIG_IGN);
    h2o_config_init(&s->h2o);
    s->h2o.server_name = h2o_iovec_init(H2O_STRLIT("")); /* the origin's Server header passes through */
    apply_limits(s, conf);
    h2o_hostconf_t *host = h2o_config_register_host(&s->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    edge_req_fsm_register(pathconf);
    if (open_access_log(s, pathconf, err, sizeof(err)) != 0) {
        common_log_error("%s", err);
        h2o_config_dispose(&s->h2o);
        return 1;
    }
    h2o_config_init(&s->admin_h2o);
    s->admin_h2o.server_name = h2o_iovec_init(H2O_STRLIT("edgecache-admin"));
    edge_admin_register(&s->admin_h2o, s);

    s->num_threads = conf->threads != 0 ? conf->threads : h2o_numproc();
    s->file_roots = calloc(conf->upstream.num_origins, sizeof(*s->file_roots));
    s->ssl_ctxs = calloc(conf->num_listens, sizeof(*s->ssl_ctxs));
    s->listen_fds = calloc(conf->num_listens, sizeof(*s->listen_fds));
    s->threads = calloc(s->num_threads, sizeof(*s->threads));

    s->origin_ssl_ctxs = calloc(conf->upstream.num_origins, sizeof(*s->origin_ssl_ctxs));
    for (size_t i = 0; i != conf->upstream.num_origins; ++i) {
        if (strncmp(conf->upstream.origins[i].servers[0], "file:", 5) == 0 &&
            (s->file_roots[i] = origin_file_open(conf->upstream.origins[i].servers[0], err, sizeof(err))) == NULL) {
            common_log_error("origin %s: %s", conf->upstream.origins[i].name, err);
            goto Exit;
        }
        s->origin_ssl_ctxs[i] = calloc(conf->upstream.origins[i].num_servers, sizeof(SSL_CTX *));
        for (size_t j = 0; j != conf->upstream.origins[i].num_servers; ++j) {
            if (strncmp(conf->upstream.origins[i].servers[j], "https://", 8) == 0 &&
                (s->origin_ssl_ctxs[i][j] = edge_server_origin_tls_new(
                     conf->upstream.origins + i, conf->upstream.origins[i].servers[j], err, sizeof(err))) == NULL) {
                common_log_error("%s", err);
                goto Exit;
            }
        }
    }
    s->router = origin_router_new(&conf->upstream, s->origin_ssl_ctxs);
    for (size_t i = 0; i != conf->num_listens; ++i) {
        const edge_conf_listen_t *l = conf->listens + i;
        if (l->tls_certificate != NULL && (s->ssl_ctxs[i] = make_ssl_ctx(l, err, sizeof(err))) == NULL) {
            common_log_error("%s", err);
            goto Exit;
        }
        /* the probe: a plain bind fails if anything already listens here, even with SO_REUSEPORT */
        int probe = edge_server_listen(l, false, err, sizeof(err));
        if (probe < 0) {
            common_log_error("%s", err);
            goto Exit;
        }
        close(probe);
        if ((s->listen_fds[i] = edge_server_listen(l, true, err, sizeof(err))) < 0) {
            common_log_error("%s", err);
            goto Exit;
        }
    }
    if (conf->admin.address != NULL) {
        edge_conf_listen_t admin = {.address = conf->admin.address, .port = conf->admin.port};
        /* one loop serves it, so no SO_REUSEPORT: the bind itself refuses a port already in use */
        if ((s->admin_fd = edge_server_listen(&admin, false, err, sizeof(err))) < 0) {
            common_log_error("admin %s", err);
            goto Exit;
        }
        if (conf->admin.token == NULL)
            common_log_warn("admin: no token_file: every admin endpoint but /healthz answers 401");
    }
    /* the cache: a directory another edgecache holds is an error (two edges would share it); any other
     * failure leaves the edge serving without a cache, every request passed through to the origin */
    cache_store_config_t store_conf = {.map_size = conf->cache.max_size,
                                       .max_readers = (unsigned)s->num_threads * (CACHE_STORE_MAX_PINS + 2) + 64,
                                       .max_variants = conf->cache.max_variants,
                                       .reset = conf->cache.reset,
                                       .move_aside = true};
    int why;
    if ((s->store = cache_store_open_with(conf->cache.path, &store_conf, &why, err, sizeof(err))) == NULL) {
        common_log_error("cache: %s", err);
        if (why == CACHE_STORE_ELOCKED)
            goto Exit;
        common_log_error("cache: %s cannot be used: serving without a cache, every request goes to the origin "
                         "(edgecache_store_usable 0); fix the directory and restart",
                         conf->cache.path);
        s->store = cache_store_open_unusable(conf->cache.path);
    }

    /* only the main thread takes the stop signals */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    for (size_t i = 0; i != s->num_threads; ++i) {
        s->threads[i].server = s;
        s->threads[i].index = (unsigned)i;
        h2o_multithread_create_thread(&s->threads[i].tid, NULL, thread_main, s->threads + i);
    }
    for (size_t i = 0; i != conf->num_listens; ++i)
        common_log_info("listening on %s://%s:%u (%zu threads), cache %s", s->ssl_ctxs[i] != NULL ? "https" : "http",
                        conf->listens[i].address, conf->listens[i].port, s->num_threads, conf->cache.path);
    if (s->admin_fd >= 0)
        common_log_info("admin API on http://%s:%u", conf->admin.address, conf->admin.port);

    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
        reopen_access_log(s); /* logrotate: the file was moved away; a new one takes its descriptor */
    common_log_info("%s: finishing in-flight responses", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    atomic_store(&s->stopping, 1);
    for (size_t i = 0; i != s->num_threads; ++i)
        pthread_join(s->threads[i].tid, NULL);
    log_counters(s);
    ret = 0;

Exit:
    if (ret != 0)
        for (size_t i = 0; i != conf->num_listens; ++i)
            if (s->listen_fds[i] > 0) /* calloc'd: 0 means never opened (fd 0 is stdin) */
                close(s->listen_fds[i]);
    if (ret != 0 && s->admin_fd >= 0)
        close(s->admin_fd);
    teardown(s);
    return ret;
}
