/*
 * edge/server.c: the event-loop threads, the signals, and graceful shutdown.
 *
 * Each thread runs its own libh2o loop and accepts on its own sockets of every listening address
 * (SO_REUSEPORT, edge/listeners.h), so the kernel spreads connections across loops without a shared accept
 * lock. What the configuration builds lives in a generation (edge/gen.h) that a reload replaces; the loops
 * pick the new one up at their next request.
 *
 * Signals are blocked in every thread and taken by sigwait in the main thread: SIGHUP reloads (and reopens
 * the access log), SIGUSR2 upgrades (edge/upgrade.h), SIGTERM and SIGINT stop. Stopping sets `stopping`;
 * each loop sees it within 100 ms, closes its client listeners, asks libh2o to wind down its connections
 * (idle keep-alive connections close, HTTP/2 ones get GOAWAY), and runs until its last connection is gone
 * or the grace period ends. While it drains, the admin listener stays open so that /healthz says 503,
 * except after an upgrade, when the new process answers there.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <h2o.h>
#include <h2o/serverutil.h>
#include "cache/key.h"
#include "common/log.h"
#include "edge/admin.h"
#include "edge/gen.h"
#include "edge/lifecycle.h"
#include "edge/listeners.h"
#include "edge/notify.h"
#include "edge/req_fsm.h"
#include "edge/server.h"
#include "edge/tls.h"
#include "edge/upgrade.h"
#include "origin/fetch.h"
#include "reports/accounting.h"
#include "reports/stats.h"

#define GRACE_PERIOD_MS 30000

/* --- the loops ------------------------------------------------------------------------------------ */

static void close_admin_listener(edge_thread_t *t)
{
    if (t->admin_listener != NULL) {
        h2o_socket_read_stop(t->admin_listener);
        h2o_socket_close(t->admin_listener);
        t->admin_listener = NULL;
    }
}

/* Stops accepting and asks libh2o to wind down this loop's connections. */
static void begin_shutdown(edge_thread_t *t)
{
    edge_gen_stop_accepting(t);
    atomic_fetch_sub(&t->server->threads_up, 1);
    if (atomic_load(&t->server->handed_over))
        close_admin_listener(t);
    h2o_context_request_shutdown(&t->ctx);
}

static bool has_connections(edge_thread_t *t)
{
    return !h2o_linklist_is_empty(&t->ctx.http1._conns) || !h2o_linklist_is_empty(&t->ctx.http2._conns);
}

/* The loop's lag: a timer due every LAG_PERIOD_MS, and how late it fires against its due time on the loop's
 * own clock. libh2o runs the timers of an iteration after its I/O callbacks, with the time read before them,
 * so a loop held by a long callback (or starved of CPU) fires it late by that much: what a request arriving
 * then waits before it is even read. A healthy loop fires it within the clock's millisecond. */
#define LAG_PERIOD_MS 100

static void arm_lag(edge_thread_t *t)
{
    t->lag_due_ms = h2o_now(t->ctx.loop) + LAG_PERIOD_MS; /* (libh2o zeroes the entry's registered_at before its call) */
    h2o_timeout_link(t->ctx.loop, &t->lag_timeout, &t->lag_entry);
}

static void on_lag_tick(h2o_timeout_entry_t *entry)
{
    edge_thread_t *t = H2O_STRUCT_FROM_MEMBER(edge_thread_t, lag_entry, entry);
    struct timeval tv;
    gettimeofday(&tv, NULL); /* (the clock of h2o_now, fresh) */
    uint64_t now_us = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec, due_us = t->lag_due_ms * 1000;
    reports_hist_observe(&t->loop_lag, now_us > due_us ? now_us - due_us : 0); /* (a clock stepped back: 0) */
    arm_lag(t);
}

static void *thread_main(void *arg)
{
    edge_thread_t *t = arg;
    edge_server_t *s = t->server;

    /* set-up: the loop, a store reader, the generation (its listeners, origins and reports), the admin API */
    h2o_context_init(&t->ctx, h2o_evloop_create(), &s->h2o);
    edge_tls_count_into(&t->counters);
    h2o_multithread_register_receiver(t->ctx.queue, &t->fetch_receiver, origin_fetch_receive);
    t->reader = cache_store_reader_new(s->store);
    h2o_timeout_init(t->ctx.loop, &t->lag_timeout, LAG_PERIOD_MS);
    t->lag_entry = (h2o_timeout_entry_t){.cb = on_lag_tick};
    arm_lag(t);
    t->accepting = true;
    edge_gen_adopt(t);
    if (t->index == 0 && s->admin_fd >= 0) {
        t->admin_accept = (h2o_accept_ctx_t){.ctx = &t->ctx, .hosts = s->admin_h2o.hosts};
        t->admin_listener = h2o_evloop_socket_create(t->ctx.loop, s->admin_fd, H2O_SOCKET_FLAG_DONT_READ);
        t->admin_listener->data = &t->admin_accept;
        h2o_socket_read_start(t->admin_listener, edge_listeners_on_accept);
    }
    atomic_fetch_add(&s->threads_up, 1);

    /* serve until asked to stop, then until the last connection has gone or the grace period ends; the
     * loop wakes at least every 100 ms, which bounds how long a stop request waits to be seen */
    uint64_t stop_at = 0, next_tick = 0, ticks = 0;
    for (;;) {
        h2o_evloop_run(t->ctx.loop, 100);
        edge_gen_adopt(t); /* (a reload wakes the loop: new connections get its listeners and certificates) */
        if (h2o_now(t->ctx.loop) >= next_tick) {
            /* once a second: a reload's listeners and checks, the parts of old generations nothing holds, this
             * loop's batched bookkeeping (uses of stored objects), and the reports: a bucket that ended is
             * flushed, and the current one every minute, so that a report is never more than a minute behind */
            next_tick = h2o_now(t->ctx.loop) + 1000;
            edge_gen_adopt(t);
            edge_gen_collect(t);
            cache_store_reader_tick(t->reader);
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            reports_acct_tick(t->cur->acct, (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000, ++ticks % 60 == 0);
        }
        if (atomic_load(&s->stopping)) {
            if (stop_at == 0) {
                stop_at = h2o_now(t->ctx.loop) + GRACE_PERIOD_MS;
                begin_shutdown(t);
            }
            /* the admin loop (the first) stays while any other drains: /healthz answers 503 until the end */
            bool others = t->index == 0 && t->admin_listener != NULL && atomic_load(&s->loops_running) > 1;
            if ((!has_connections(t) && !others) || h2o_now(t->ctx.loop) >= stop_at)
                break;
        }
    }

    /* tear-down */
    atomic_fetch_sub(&s->loops_running, 1);
    h2o_timeout_unlink(&t->lag_entry);
    cache_store_reader_tick(t->reader);
    close_admin_listener(t);
    edge_gen_thread_exit(t); /* (which flushes the reports) */
    cache_store_reader_free(t->reader);
    cache_key_thread_dispose();
    /* XXX: the h2o context and loop are not disposed: libh2o 2.2.5 asserts in h2o_timeout_dispose when a
     * connection it is still closing has a timer linked, and the process exits right after this anyway.
     * tests/lsan.supp names the allocations this leaves. */
    return NULL;
}

/* --- set-up and the main thread ---------------------------------------------------------------------- */

static void fixed_from(edge_server_fixed_t *f, const edge_conf_t *conf, size_t num_threads)
{
    *f = (edge_server_fixed_t){.threads = (unsigned)num_threads,
                               .cache_path = strdup(conf->cache.path),
                               .cache_max_size = conf->cache.max_size,
                               .admin_address = conf->admin.address != NULL ? strdup(conf->admin.address) : NULL,
                               .admin_port = conf->admin.port,
                               .access_log_path = conf->access_log.path != NULL ? strdup(conf->access_log.path) : NULL,
                               .access_log_format = conf->access_log.format != NULL ? strdup(conf->access_log.format) : NULL,
                               .access_log_json = conf->access_log.json,
                               .header_timeout_ms = conf->limits.header_timeout_ms,
                               .h2_max_streams = conf->limits.h2_max_streams,
                               .background_fetches = conf->limits.background_fetches};
}

static void fixed_dispose(edge_server_fixed_t *f)
{
    free(f->cache_path);
    free(f->admin_address);
    free(f->access_log_path);
    free(f->access_log_format);
}

static void teardown(edge_server_t *s)
{
    edge_gen_release(atomic_load(&s->gen));
    cache_key_thread_dispose();         /* the balancers hashed on this thread */
    cache_compress_stop(s->compressor); /* (what it has queued is stored first: it writes through the store) */
    if (s->store != NULL)
        cache_store_close(s->store);
    free(s->threads);
    h2o_config_dispose(&s->h2o);
    h2o_config_dispose(&s->admin_h2o);
    fixed_dispose(&s->fixed);
    pthread_mutex_destroy(&s->gen_lock);
    pthread_mutex_destroy(&s->reload_lock);
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
    const char *path = s->fixed.access_log_path;
    const char *format = s->fixed.access_log_format != NULL ? s->fixed.access_log_format
                         : s->fixed.access_log_json         ? EDGE_CONF_ACCESS_LOG_JSON
                                                            : EDGE_CONF_ACCESS_LOG_FORMAT;
    struct stat a, b;

    s->access_log_fd = -1;
    if (path == NULL)
        return 0;
    int expected = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (expected >= 0)
        close(expected);
    h2o_access_log_filehandle_t *fh =
        h2o_access_log_open_handle(path, format, s->fixed.access_log_json ? H2O_LOGCONF_ESCAPE_JSON : H2O_LOGCONF_ESCAPE_APACHE);
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
    int fd = open(s->fixed.access_log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || dup2(fd, s->access_log_fd) < 0) {
        common_log_error("access_log: cannot reopen %s: %s", s->fixed.access_log_path, strerror(errno));
    } else {
        fcntl(s->access_log_fd, F_SETFD, FD_CLOEXEC);
        common_log_info("SIGHUP: reopened the access log %s", s->fixed.access_log_path);
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

/* Waits (briefly) until every loop accepts: what a new process of an upgrade waits for before it tells the
 * old one to stop accepting. */
static void wait_threads_up(edge_server_t *s)
{
    for (int i = 0; i != 5000 && atomic_load(&s->threads_up) < s->num_threads; ++i)
        usleep(1000);
}

/* The cache: a directory another edgecache holds is an error (two edges would share it); any other
 * failure leaves the edge serving without a cache, every request passed through to the origin. */
static int open_store(edge_server_t *s, const edge_conf_t *conf, int lock_fd)
{
    char err[512];
    cache_store_config_t store_conf = {.map_size = conf->cache.max_size,
                                       .max_readers = (unsigned)s->num_threads * (CACHE_STORE_MAX_PINS + 2) + 64,
                                       .max_variants = conf->cache.max_variants,
                                       .reset = conf->cache.reset && lock_fd < 0,
                                       .move_aside = lock_fd < 0,
                                       .inherit_lock = lock_fd >= 0,
                                       .lock_fd = lock_fd};
    int why;
    if ((s->store = cache_store_open_with(conf->cache.path, &store_conf, &why, err, sizeof(err))) == NULL) {
        common_log_error("cache: %s", err);
        if (why == CACHE_STORE_ELOCKED)
            return -1;
        common_log_error("cache: %s cannot be used: serving without a cache, every request goes to the origin "
                         "(edgecache_store_usable 0); fix the directory and restart",
                         conf->cache.path);
        s->store = cache_store_open_unusable(conf->cache.path);
    }
    if (cache_store_usable(s->store) && (s->compressor = cache_compress_start(s->store, err, sizeof(err))) == NULL)
        common_log_error("cache: %s: objects are stored and served uncompressed", err); /* (serving goes on) */
    return 0;
}

int edge_server_run(edge_conf_t *conf, const edge_server_opts_t *opts)
{
    edge_server_t server = {.opts = opts, .admin_fd = -1, .access_log_fd = -1}, *s = &server;
    char err[512];
    sigset_t sigs;
    int ret = 1, lock_fd = -1, handover = edge_upgrade_inherited(&lock_fd);
    bool conf_owned = true;

    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&s->gen_lock, NULL);
    pthread_mutex_init(&s->reload_lock, NULL);
    s->num_threads = conf->threads != 0 ? conf->threads : h2o_numproc();
    fixed_from(&s->fixed, conf, s->num_threads);
    h2o_config_init(&s->h2o);
    s->h2o.server_name = h2o_iovec_init(H2O_STRLIT("")); /* the origin's Server header passes through */
    apply_limits(s, conf);
    h2o_hostconf_t *host = h2o_config_register_host(&s->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    edge_req_fsm_register(pathconf);
    h2o_config_init(&s->admin_h2o);
    s->admin_h2o.server_name = h2o_iovec_init(H2O_STRLIT("edgecache-admin"));
    edge_admin_register(&s->admin_h2o, s);
    s->threads = calloc(s->num_threads, sizeof(*s->threads));
    if (open_access_log(s, pathconf, err, sizeof(err)) != 0) {
        common_log_error("%s", err);
        goto Exit;
    }

    /* the sockets a previous process handed over (or systemd opened), then the first generation */
    edge_listeners_inherit();
    edge_gen_t *g = edge_gen_new(conf, NULL, s->num_threads, 1, err, sizeof(err));
    if (g == NULL) {
        common_log_error("%s", err);
        goto Exit;
    }
    conf_owned = false;
    conf = &g->conf;
    atomic_init(&s->gen, g);
    if (conf->admin.address != NULL) {
        edge_conf_listen_t admin = {.address = conf->admin.address, .port = conf->admin.port};
        /* one loop serves it, so no SO_REUSEPORT: the bind itself refuses a port already in use */
        if ((s->admin_fd = edge_listeners_take_inherited(&admin)) < 0 &&
            (s->admin_fd = edge_listeners_bind(&admin, false, err, sizeof(err))) < 0) {
            common_log_error("admin %s", err);
            goto Exit;
        }
        if (conf->admin.token == NULL)
            common_log_warn("admin: no token_file: every admin endpoint but /healthz answers 401");
    }
    edge_listeners_close_unclaimed();

    /* an upgrade: the previous process stops writing before this one opens the store */
    if (handover >= 0 && edge_upgrade_take_writer(handover, err, sizeof(err)) != 0) {
        common_log_error("%s", err);
        goto Exit;
    }
    if (open_store(s, conf, lock_fd) != 0)
        goto Exit;

    /* only the main thread takes the signals */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    atomic_init(&s->loops_running, (unsigned)s->num_threads);
    for (size_t i = 0; i != s->num_threads; ++i) {
        s->threads[i].server = s;
        s->threads[i].index = (unsigned)i;
        h2o_multithread_create_thread(&s->threads[i].tid, NULL, thread_main, s->threads + i);
    }
    wait_threads_up(s);
    for (size_t i = 0; i != conf->num_listens; ++i)
        common_log_info("listening on %s://%s (%zu threads), cache %s", g->listeners[i].ssl_ctx != NULL ? "https" : "http",
                        g->listeners[i].sock->name, s->num_threads, conf->cache.path);
    if (s->admin_fd >= 0)
        common_log_info("admin API on http://%s:%u", conf->admin.address, conf->admin.port);
    if (handover >= 0) {
        edge_upgrade_ready(handover);
        handover = -1;
    }
    conf = NULL;         /* (a reload frees it: from here on, the published generation's) */
    edge_notify_ready(); /* every loop accepts: connections queue and are served from now on */

    int sig = 0;
    while (sigwait(&sigs, &sig) == 0) {
        if (sig == SIGHUP) {
            edge_notify_reloading();
            reopen_access_log(s); /* logrotate: the file was moved away; a new one takes its descriptor */
            if (edge_lifecycle_reload(s, err, sizeof(err)) < 0)
                common_log_error("SIGHUP: reload refused, the running configuration stays: %s", err);
            edge_notify_ready();
        } else if (sig == SIGUSR2) {
            pid_t pid;
            pthread_mutex_lock(&s->reload_lock);
            atomic_store(&s->draining, 1); /* (/healthz: the old process is on its way out) */
            pid = edge_upgrade_start(s, err, sizeof(err));
            if (pid < 0)
                atomic_store(&s->draining, 0);
            pthread_mutex_unlock(&s->reload_lock);
            if (pid < 0) {
                common_log_error("SIGUSR2: upgrade failed, this process serves on: %s", err);
                continue;
            }
            atomic_store(&s->handed_over, 1);
            edge_notify_mainpid(pid); /* systemd follows the new process (NotifyAccess=all in the unit) */
            edge_notify_stopping();
            break;
        } else {
            common_log_info("%s: finishing in-flight responses", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            edge_notify_stopping();
            break;
        }
    }
    atomic_store(&s->draining, 1);
    pthread_mutex_lock(&s->reload_lock); /* (no reload from now on: a stopping edge opens nothing) */
    atomic_store(&s->stopping, 1);
    /* once no loop accepts any more, the ports close: a client is refused at once rather than queued on a
     * socket nobody will accept from (after an upgrade, the new process holds its own copies) */
    for (int i = 0; i != 5000 && atomic_load(&s->threads_up) != 0; ++i)
        usleep(1000);
    edge_gen_t *last = atomic_load(&s->gen);
    for (size_t i = 0; i != last->conf.num_listens; ++i)
        edge_listeners_shutdown(last->listeners[i].sock);
    pthread_mutex_unlock(&s->reload_lock);
    for (size_t i = 0; i != s->num_threads; ++i)
        pthread_join(s->threads[i].tid, NULL);
    log_counters(s);
    ret = 0;

Exit:
    if (handover >= 0)
        close(handover);
    if (ret != 0 && s->admin_fd >= 0)
        close(s->admin_fd);
    if (conf_owned)
        edge_config_dispose(conf);
    teardown(s);
    return ret;
}
