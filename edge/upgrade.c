/*
 * edge/upgrade.c: the handover of sockets and store to a new process (edge/upgrade.h).
 *
 * The easy thing to break: between fork and exec only async-signal-safe calls are allowed (another thread
 * may hold the allocator's lock at the fork), so the child's environment and descriptor plan are built
 * before the fork, and the child only moves descriptors, writes its pid into a prepared buffer and execs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "common/log.h"
#include "edge/gen.h"
#include "edge/thread.h"
#include "edge/tls_tickets.h"
#include "edge/upgrade.h"

#define STEP_TIMEOUT_MS 60000
#define FD_PARK 1000 /* descriptors are parked above this while the child renumbers them from 3 */

extern char **environ;

static char exe[PATH_MAX];
static char **args;

void edge_upgrade_init(char **argv)
{
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    /* a copy of the array: the option parser reorders the caller's */
    size_t argc = 0;
    while (argv[argc] != NULL)
        ++argc;
    args = calloc(argc + 1, sizeof(*args));
    memcpy(args, argv, argc * sizeof(*args));
}

/* Waits for one byte from `fd`: the byte, 0 at end of file (the peer is gone), or -1 after the timeout. */
static int read_step(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int rc;
    while ((rc = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (rc <= 0)
        return -1;
    unsigned char c;
    ssize_t n;
    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    return n == 1 ? c : 0;
}

static void write_step(int fd, char c)
{
    while (write(fd, &c, 1) < 0 && errno == EINTR)
        ;
}

/* The decimal digits of `v` into `buf` (async-signal-safe). */
static void put_uint(char *buf, unsigned long v)
{
    char tmp[24];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n != 0)
        *buf++ = tmp[--n];
    *buf = '\0';
}

static bool is_ours(const char *var)
{
    static const char *const names[] = {
        "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", "EDGECACHE_HANDOVER_FD=", "EDGECACHE_LOCK_FD="};
    for (size_t i = 0; i != sizeof(names) / sizeof(names[0]); ++i)
        if (strncmp(var, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

/* 'K', a count, then that many session ticket keys: the new process resumes the sessions this one issued. */
static void send_ticket_keys(int fd)
{
    unsigned char msg[2 + EDGE_TLS_TICKET_KEY_LEN * EDGE_TLS_TICKETS_MAX];
    size_t n = edge_tls_tickets_export(msg + 2, sizeof(msg) - 2), len = 2 + n * EDGE_TLS_TICKET_KEY_LEN, off = 0;
    ssize_t w;

    msg[0] = 'K';
    msg[1] = (unsigned char)n;
    while (off < len && ((w = write(fd, msg + off, len - off)) > 0 || (w < 0 && errno == EINTR)))
        off += w > 0 ? (size_t)w : 0;
    OPENSSL_cleanse(msg, sizeof(msg));
}

/* Reads exactly `len` bytes (each within the step timeout). 0, or -1 when the peer went or said nothing. */
static int read_full(int fd, unsigned char *buf, size_t len)
{
    for (size_t off = 0; off != len;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        if (poll(&p, 1, STEP_TIMEOUT_MS) <= 0)
            return -1;
        if ((n = read(fd, buf + off, len - off)) <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

pid_t edge_upgrade_start(edge_server_t *s, char *err, size_t errlen)
{
    int fds[1100], nfds = 0, sv[2], lock_fd = cache_store_lock_fd(s->store);
    char **envp = NULL;
    char listen_fds[32], listen_pid[40], lock_var[40], handover_var[40];
    pid_t pid = -1;
    bool released = false;

    if (exe[0] == '\0') {
        snprintf(err, errlen, "the binary's path is unknown (/proc/self/exe)");
        return -1;
    }
    /* the descriptors to pass on: every client socket of the published generation, then the admin socket */
    pthread_mutex_lock(&s->gen_lock);
    edge_gen_t *g = atomic_load(&s->gen);
    for (size_t i = 0; i != g->conf.num_listens; ++i)
        for (size_t j = 0; j != g->listeners[i].sock->num_fds && nfds < 900; ++j)
            fds[nfds++] = g->listeners[i].sock->fds[j];
    pthread_mutex_unlock(&s->gen_lock);
    if (s->admin_fd >= 0)
        fds[nfds++] = s->admin_fd;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return -1;
    }

    /* the child's environment: ours without the variables of a previous handover, then the new ones */
    size_t n = 0;
    while (environ[n] != NULL)
        ++n;
    envp = calloc(n + 5, sizeof(*envp));
    size_t k = 0;
    for (size_t i = 0; i != n; ++i)
        if (!is_ours(environ[i]))
            envp[k++] = environ[i];
    snprintf(listen_fds, sizeof(listen_fds), "LISTEN_FDS=%d", nfds);
    strcpy(listen_pid, "LISTEN_PID="); /* the child writes its pid after the '=' */
    snprintf(lock_var, sizeof(lock_var), "EDGECACHE_LOCK_FD=%d", lock_fd >= 0 ? 3 + nfds : -1);
    snprintf(handover_var, sizeof(handover_var), "EDGECACHE_HANDOVER_FD=%d", 4 + nfds);
    envp[k++] = listen_fds;
    envp[k++] = listen_pid;
    envp[k++] = lock_var;
    envp[k++] = handover_var;

    if ((pid = fork()) < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        goto Fail;
    }
    if (pid == 0) {
        /* the child: async-signal-safe calls only */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL); /* (exec keeps the mask, and ours blocks the stop signals) */
        int parked[1100], np = 0;
        for (int i = 0; i != nfds; ++i)
            parked[np++] = fcntl(fds[i], F_DUPFD, FD_PARK);
        parked[np++] = lock_fd >= 0 ? fcntl(lock_fd, F_DUPFD, FD_PARK) : -1;
        parked[np++] = fcntl(sv[1], F_DUPFD, FD_PARK);
        for (int i = 0; i != np; ++i)
            if (parked[i] >= 0)
                dup2(parked[i], 3 + i); /* (the copy does not have FD_CLOEXEC) */
        put_uint(listen_pid + strlen("LISTEN_PID="), (unsigned long)getpid());
        execve(exe, args, envp);
        _exit(127);
    }

    /* the old side of the handover */
    close(sv[1]);
    sv[1] = -1;
    common_log_info("upgrade: started %s as process %d; waiting for it to ask for the store", exe, (int)pid);
    int c = read_step(sv[0], STEP_TIMEOUT_MS);
    if (c != 'T') {
        snprintf(err, errlen, "the new process %s before asking for the store",
                 c == 0 ? "exited" : "did not answer within a minute");
        goto Fail;
    }
    cache_store_writer_release(s->store);
    released = true;
    send_ticket_keys(sv[0]);
    write_step(sv[0], 'W');
    common_log_info("upgrade: the store's writer is handed over to process %d", (int)pid);
    c = read_step(sv[0], STEP_TIMEOUT_MS);
    if (c != 'R') {
        snprintf(err, errlen, "the new process %s before serving", c == 0 ? "exited" : "did not answer within a minute");
        goto Fail;
    }
    close(sv[0]);
    free(envp);
    common_log_info("upgrade: process %d serves; this one stops accepting and drains", (int)pid);
    return pid;

Fail:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (released) {
        char why[256];
        if (cache_store_writer_resume(s->store, why, sizeof(why)) != 0)
            common_log_error("upgrade: cannot take the store's writer back: %s", why);
    }
    close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    free(envp);
    return -1;
}

int edge_upgrade_inherited(int *lock_fd)
{
    const char *h = getenv("EDGECACHE_HANDOVER_FD"), *l = getenv("EDGECACHE_LOCK_FD");
    int fd = h != NULL ? atoi(h) : -1;
    *lock_fd = l != NULL ? atoi(l) : -1;
    unsetenv("EDGECACHE_HANDOVER_FD");
    unsetenv("EDGECACHE_LOCK_FD");
    if (fd < 3 || fcntl(fd, F_GETFD) < 0) {
        *lock_fd = -1;
        return -1;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (*lock_fd >= 3)
        fcntl(*lock_fd, F_SETFD, FD_CLOEXEC);
    else
        *lock_fd = -1;
    return fd;
}

int edge_upgrade_take_writer(int fd, char *err, size_t errlen)
{
    write_step(fd, 'T');
    int c = read_step(fd, STEP_TIMEOUT_MS);
    if (c == 'K') {
        unsigned char keys[EDGE_TLS_TICKET_KEY_LEN * EDGE_TLS_TICKETS_MAX];
        int n = read_step(fd, STEP_TIMEOUT_MS);
        if (n < 0 || n > EDGE_TLS_TICKETS_MAX || read_full(fd, keys, (size_t)n * EDGE_TLS_TICKET_KEY_LEN) != 0) {
            snprintf(err, errlen, "upgrade: the previous process sent its session ticket keys incompletely");
            return -1;
        }
        edge_tls_tickets_import(keys, (size_t)n);
        OPENSSL_cleanse(keys, sizeof(keys));
        c = read_step(fd, STEP_TIMEOUT_MS);
    }
    if (c == 'W' || c == 0) /* (0: the old process is gone, and its writer with it) */
        return 0;
    snprintf(err, errlen, "upgrade: the previous process %s",
             c < 0 ? "did not release the store within a minute" : "answered nonsense");
    return -1;
}

void edge_upgrade_ready(int fd)
{
    write_step(fd, 'R');
    close(fd);
}
