/*
 * edge/gen.c: configuration generations (edge/gen.h) — building one, and each loop's move from one to the
 * next.
 *
 * The invariant that is easy to break: nothing a request or a fetch points into (the configuration's
 * behaviors and error pages, the router, the HTTP pools) is freed while that request or fetch lives. A
 * loop's part counts its users; the loop frees a part it left only when the count is zero, and the
 * generation itself when its last part is gone. The published pointer is read without a lock to see
 * whether anything changed, and under `gen_lock` to take a reference, so a reload that swaps it at that
 * moment cannot free it under the loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"
#include "edge/gen.h"
#include "edge/thread.h"
#include "edge/tls.h"
#include "edge/tls_ocsp.h"
#include "edge/tls_tickets.h"
#include "reports/accounting.h"

static void free_parts(edge_gen_t *g)
{
    origin_router_free(g->router);
    for (size_t i = 0; g->origin_ssl_ctxs != NULL && i != g->conf.upstream.num_origins; ++i) {
        for (size_t j = 0; g->origin_ssl_ctxs[i] != NULL && j != g->conf.upstream.origins[i].num_servers; ++j)
            if (g->origin_ssl_ctxs[i][j] != NULL)
                SSL_CTX_free(g->origin_ssl_ctxs[i][j]);
        free(g->origin_ssl_ctxs[i]);
    }
    free(g->origin_ssl_ctxs);
    for (size_t i = 0; g->file_roots != NULL && i != g->conf.upstream.num_origins; ++i)
        if (g->file_roots[i] != NULL)
            origin_file_close(g->file_roots[i]);
    free(g->file_roots);
    for (size_t i = 0; g->listeners != NULL && i != g->conf.num_listens; ++i) {
        if (g->listeners[i].ssl_ctx != NULL)
            SSL_CTX_free(g->listeners[i].ssl_ctx);
        edge_listeners_release(g->listeners[i].sock);
    }
    free(g->listeners);
}

edge_gen_t *edge_gen_new(edge_conf_t *conf, const edge_gen_t *prev, size_t num_threads, uint64_t id, char *err, size_t errlen)
{
    edge_gen_t *g = calloc(1, sizeof(*g));
    const origin_conf_set_t *up = &conf->upstream;

    atomic_init(&g->refs, 1);
    g->id = id;
    g->conf = *conf; /* (given back on failure) */
    g->file_roots = calloc(up->num_origins + 1, sizeof(*g->file_roots));
    g->origin_ssl_ctxs = calloc(up->num_origins + 1, sizeof(*g->origin_ssl_ctxs));
    g->listeners = calloc(conf->num_listens + 1, sizeof(*g->listeners));

    /* the origins: file roots, client TLS per https:// server, then the router over them */
    for (size_t i = 0; i != up->num_origins; ++i) {
        const origin_conf_t *o = up->origins + i;
        char msg[256];
        if (strncmp(o->servers[0], "file:", 5) == 0 &&
            (g->file_roots[i] = origin_file_open(o->servers[0], msg, sizeof(msg))) == NULL) {
            snprintf(err, errlen, "origin %s: %s", o->name, msg);
            goto Fail;
        }
        g->origin_ssl_ctxs[i] = calloc(o->num_servers, sizeof(SSL_CTX *));
        for (size_t j = 0; j != o->num_servers; ++j)
            if (strncmp(o->servers[j], "https://", 8) == 0 &&
                (g->origin_ssl_ctxs[i][j] = edge_tls_origin_new(o, o->servers[j], err, errlen)) == NULL)
                goto Fail;
    }
    if ((g->router = origin_router_new(&g->conf.upstream, g->origin_ssl_ctxs)) == NULL) {
        snprintf(err, errlen, "out of memory building the origins");
        goto Fail;
    }
    if (prev != NULL)
        origin_router_inherit(g->router, prev->router);
    /* the process's TLS, which outlives the generation: the ticket keys (a key file read again) and the stapler's
     * settings (XXX: a generation that fails after this point leaves them set for the one still serving; both
     * are only ever what the file says) */
    char dir[4096];
    if (edge_tls_tickets_configure(conf->tls.ticket_key_file, conf->tls.ticket_rotate_ms, err, errlen) != 0)
        goto Fail;
    snprintf(dir, sizeof(dir), "%s/ocsp", conf->cache.path);
    edge_tls_ocsp_configure(conf->tls.ocsp_stapling, conf->tls.ocsp_responder,
                            conf->tls.ocsp_cache_dir != NULL ? conf->tls.ocsp_cache_dir : dir);
    /* the listeners: certificates read again, sockets kept for the addresses the previous one had */
    for (size_t i = 0; i != conf->num_listens; ++i) {
        const edge_conf_listen_t *l = conf->listens + i;
        if (l->tls_certificate != NULL && (g->listeners[i].ssl_ctx = edge_tls_server_new(conf, l, err, errlen)) == NULL)
            goto Fail;
        for (size_t j = 0; prev != NULL && j != prev->conf.num_listens && g->listeners[i].sock == NULL; ++j) {
            if (edge_listeners_is(prev->listeners[j].sock, l)) {
                g->listeners[i].sock = prev->listeners[j].sock;
                edge_listeners_hold(g->listeners[i].sock);
            }
        }
        if (g->listeners[i].sock == NULL && (g->listeners[i].sock = edge_listeners_open(l, num_threads, err, errlen)) == NULL)
            goto Fail;
    }
    return g;

Fail:
    free_parts(g);
    free(g);
    return NULL;
}

void edge_gen_release(edge_gen_t *g)
{
    if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1)
        return;
    common_log_debug("generation %llu: freed", (unsigned long long)g->id);
    free_parts(g);
    edge_config_dispose(&g->conf);
    free(g);
}

/* --- a loop's parts ------------------------------------------------------------------------------------ */

static edge_tgen_t *part_new(edge_thread_t *t, edge_gen_t *g)
{
    edge_tgen_t *tg = calloc(1, sizeof(*tg));
    char err[256];

    tg->gen = g;
    atomic_init(&tg->users, 0);
    tg->http = calloc(g->conf.upstream.num_origins + 1, sizeof(*tg->http));
    for (size_t i = 0; i != g->conf.upstream.num_origins; ++i)
        if (g->file_roots[i] == NULL &&
            origin_http_init(tg->http + i, t->ctx.loop, &t->ctx.receivers.hostinfo_getaddr, g->conf.upstream.origins + i,
                             g->origin_ssl_ctxs[i], err, sizeof(err)) != 0)
            common_log_error("thread %u: %s", t->index, err);
    tg->acct = reports_acct_new(&g->conf.reports, t->server->store, t->index);
    if (t->index == 0)
        tg->checker = origin_checker_start(g->router, &t->ctx);
    return tg;
}

/* What no new request starts under any more: the checks stop, and the reports are flushed, so a report misses
 * nothing of the time before the reload. The pools and the reports stay for the requests and fetches still
 * running under the part: they are counted under the behaviors they started with, and flushed again when
 * the part is freed (the fuller value replaces the earlier one: reports/accounting.h). */
static void part_leave(edge_tgen_t *tg)
{
    origin_checker_stop(tg->checker);
    tg->checker = NULL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    reports_acct_tick(tg->acct, (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000, true);
}

static void part_free(edge_tgen_t *tg)
{
    for (size_t i = 0; i != tg->gen->conf.upstream.num_origins; ++i)
        if (tg->gen->file_roots[i] == NULL && tg->http[i].servers != NULL)
            origin_http_dispose(tg->http + i);
    free(tg->http);
    reports_acct_free(tg->acct);
    edge_gen_release(tg->gen);
    free(tg);
}

static void listener_close(edge_thread_listener_t *l)
{
    for (size_t i = 0; i != l->num_socks; ++i) {
        h2o_socket_read_stop(l->socks[i]);
        h2o_socket_close(l->socks[i]); /* (a dup: the shared socket stays open for the other loops) */
    }
    edge_listeners_release(l->sock);
    free(l);
}

static edge_thread_listener_t *listener_open(edge_thread_t *t, edge_listen_sock_t *ls)
{
    size_t loops = t->server->num_threads, n = 0, first = t->index;
    if (ls->num_fds != 0 && ls->num_fds < loops) /* (inherited sockets that could not be joined: the loops share them) */
        first = t->index % ls->num_fds, loops = ls->num_fds;
    for (size_t j = first; j < ls->num_fds; j += loops)
        ++n;
    edge_thread_listener_t *l = calloc(1, offsetof(edge_thread_listener_t, socks) + sizeof(l->socks[0]) * (n + 1));
    l->sock = ls;
    edge_listeners_hold(ls);
    l->accept = (h2o_accept_ctx_t){.ctx = &t->ctx, .hosts = t->server->h2o.hosts};
    for (size_t j = first; j < ls->num_fds; j += loops) {
        int fd = dup(ls->fds[j]);
        if (fd < 0) {
            common_log_error("thread %u: listen %s: dup: %s", t->index, ls->name, strerror(errno));
            continue;
        }
        h2o_socket_t *sock = h2o_evloop_socket_create(t->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        sock->data = &l->accept;
        h2o_socket_read_start(sock, edge_listeners_on_accept);
        l->socks[l->num_socks++] = sock;
    }
    return l;
}

/* Accepts on the listeners of `g`: keeps the sockets of the addresses this loop already accepts on (with
 * the new TLS context for new connections), opens the new ones, closes those `g` does not name. */
static void sync_listeners(edge_thread_t *t, const edge_gen_t *g)
{
    size_t n = t->accepting ? g->conf.num_listens : 0;
    edge_thread_listener_t **next = calloc(n + 1, sizeof(*next));

    for (size_t i = 0; i != n; ++i) {
        for (size_t j = 0; j != t->num_listeners; ++j) {
            if (t->listeners[j] != NULL && t->listeners[j]->sock == g->listeners[i].sock) {
                next[i] = t->listeners[j];
                t->listeners[j] = NULL;
                break;
            }
        }
        if (next[i] == NULL)
            next[i] = listener_open(t, g->listeners[i].sock);
        next[i]->accept.ssl_ctx = g->listeners[i].ssl_ctx;
    }
    for (size_t j = 0; j != t->num_listeners; ++j)
        if (t->listeners[j] != NULL)
            listener_close(t->listeners[j]);
    free(t->listeners);
    t->listeners = next;
    t->num_listeners = n;
}

void edge_gen_adopt(edge_thread_t *t)
{
    edge_server_t *s = t->server;
    if (t->cur != NULL && atomic_load_explicit(&s->gen, memory_order_acquire) == t->cur->gen)
        return;
    pthread_mutex_lock(&s->gen_lock);
    edge_gen_t *g = atomic_load(&s->gen);
    atomic_fetch_add(&g->refs, 1);
    pthread_mutex_unlock(&s->gen_lock);

    if (t->cur != NULL) {
        part_leave(t->cur);
        t->cur->next = t->left;
        t->left = t->cur;
        common_log_debug("thread %u: generation %llu -> %llu", t->index, (unsigned long long)t->left->gen->id,
                         (unsigned long long)g->id);
    }
    t->cur = part_new(t, g);
    sync_listeners(t, g);
    edge_gen_collect(t);
    atomic_store(&t->adopted, g->id);
}

void edge_gen_collect(edge_thread_t *t)
{
    for (edge_tgen_t **p = &t->left; *p != NULL;) {
        edge_tgen_t *tg = *p;
        if (atomic_load(&tg->users) == 0) {
            *p = tg->next;
            part_free(tg);
        } else {
            p = &tg->next;
        }
    }
}

void edge_gen_stop_accepting(edge_thread_t *t)
{
    t->accepting = false;
    if (t->cur != NULL)
        sync_listeners(t, t->cur->gen);
}

void edge_gen_thread_exit(edge_thread_t *t)
{
    t->accepting = false;
    if (t->cur != NULL) {
        sync_listeners(t, t->cur->gen);
        part_leave(t->cur);
        t->cur->next = t->left;
        t->left = t->cur;
        t->cur = NULL;
    }
    /* the loop has ended. A part still held (a request the grace period cut, or a fetch another loop still
     * reads) is left to the process's exit: a late release from another loop would write into it. */
    edge_gen_collect(t);
    if (t->left != NULL)
        common_log_warn("thread %u: generation %llu still in use at exit", t->index, (unsigned long long)t->left->gen->id);
    free(t->listeners);
    t->listeners = NULL;
}

edge_tgen_t *edge_tgen_hold(edge_thread_t *t)
{
    edge_gen_adopt(t);
    atomic_fetch_add_explicit(&t->cur->users, 1, memory_order_relaxed);
    return t->cur;
}

void edge_tgen_release(edge_tgen_t *tg)
{
    atomic_fetch_sub_explicit(&tg->users, 1, memory_order_release);
}
