/*
 * edge/listeners.c: the client listening sockets (edge/listeners.h): opened once per address, shared by the
 * generations that name it, inherited from a previous process.
 *
 * The invariant: a socket is closed only when no generation and no loop refers to it any more, and an
 * inherited socket is either taken by a listener or closed on purpose (its address left the
 * configuration). Nothing here closes a socket that clients may be queued on while a listener still wants it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <h2o.h>
#include "common/log.h"
#include "edge/listeners.h"

#define MAX_INHERITED 1024

/* The inherited sockets not taken yet: -1 once taken. Main thread only. */
static struct {
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
} inherited[MAX_INHERITED];
static size_t num_inherited;

int edge_listeners_sockaddr(const edge_conf_listen_t *l, struct sockaddr_storage *ss, socklen_t *len)
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

int edge_listeners_bind(const edge_conf_listen_t *l, bool reuseport, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd, on = 1;

    if (edge_listeners_sockaddr(l, &ss, &sslen) != 0) {
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

/* Same family, address and port: what getsockname of an inherited socket is compared with. */
static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return false;
}

bool edge_listeners_is(const edge_listen_sock_t *ls, const edge_conf_listen_t *l)
{
    struct sockaddr_storage ss;
    socklen_t len;
    return edge_listeners_sockaddr(l, &ss, &len) == 0 && same_addr(&ls->addr, &ss);
}

size_t edge_listeners_inherit(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    char *end;

    if (pid == NULL || fds == NULL)
        return 0;
    long p = strtol(pid, &end, 10);
    if (*end != '\0' || p != (long)getpid())
        return 0; /* meant for another process (a parent that forgot to unset them) */
    long n = strtol(fds, &end, 10);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (*end != '\0' || n < 0 || n > MAX_INHERITED) {
        common_log_warn("LISTEN_FDS=%s: not a count of descriptors; none inherited", fds);
        return 0;
    }
    for (int fd = 3; fd < 3 + (int)n; ++fd) {
        int type = 0, listening = 0;
        socklen_t optlen = sizeof(type);
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &optlen) != 0 || type != SOCK_STREAM ||
            (optlen = sizeof(listening), getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen)) != 0 || !listening ||
            getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
            common_log_warn("inherited descriptor %d is not a listening TCP socket: ignored", fd);
            continue;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        inherited[num_inherited].fd = fd;
        inherited[num_inherited].addr = ss;
        inherited[num_inherited].addrlen = len;
        ++num_inherited;
    }
    return num_inherited;
}

int edge_listeners_take_inherited(const edge_conf_listen_t *l)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (edge_listeners_sockaddr(l, &ss, &len) != 0)
        return -1;
    for (size_t i = 0; i != num_inherited; ++i) {
        if (inherited[i].fd >= 0 && same_addr(&inherited[i].addr, &ss)) {
            int fd = inherited[i].fd;
            inherited[i].fd = -1;
            return fd;
        }
    }
    return -1;
}

void edge_listeners_close_unclaimed(void)
{
    for (size_t i = 0; i != num_inherited; ++i) {
        if (inherited[i].fd >= 0) {
            common_log_info("inherited socket %d: its address is not in the configuration: closed", inherited[i].fd);
            close(inherited[i].fd);
            inherited[i].fd = -1;
        }
    }
    num_inherited = 0;
}

edge_listen_sock_t *edge_listeners_open(const edge_conf_listen_t *l, size_t num_threads, char *err, size_t errlen)
{
    edge_listen_sock_t *ls = calloc(1, sizeof(*ls));
    size_t cap = num_threads + MAX_INHERITED;
    int fd;

    ls->fds = malloc(sizeof(*ls->fds) * cap);
    atomic_init(&ls->refs, 1);
    snprintf(ls->name, sizeof(ls->name), strchr(l->address, ':') != NULL ? "[%s]:%u" : "%s:%u", l->address, l->port);
    edge_listeners_sockaddr(l, &ls->addr, &ls->addrlen);
    while ((fd = edge_listeners_take_inherited(l)) >= 0)
        ls->fds[ls->num_fds++] = fd;
    if (ls->num_fds == 0) {
        /* the probe: a plain bind fails if anything already listens here, even with SO_REUSEPORT */
        int probe = edge_listeners_bind(l, false, err, errlen);
        if (probe < 0)
            goto Fail;
        close(probe);
    } else {
        common_log_info("listen %s: %zu inherited socket%s", ls->name, ls->num_fds, ls->num_fds == 1 ? "" : "s");
    }
    while (ls->num_fds < num_threads) {
        if ((fd = edge_listeners_bind(l, true, err, errlen)) < 0) {
            if (ls->num_fds == 0)
                goto Fail;
            /* an inherited socket without SO_REUSEPORT (systemd's): no other can share its port, so the
             * loops share the inherited ones */
            common_log_info("listen %s: the loops share %zu inherited socket%s", ls->name, ls->num_fds,
                            ls->num_fds == 1 ? "" : "s");
            break;
        }
        ls->fds[ls->num_fds++] = fd;
    }
    return ls;
Fail:
    edge_listeners_release(ls);
    return NULL;
}

void edge_listeners_shutdown(edge_listen_sock_t *ls)
{
    for (size_t i = 0; i != ls->num_fds; ++i)
        close(ls->fds[i]);
    ls->num_fds = 0;
}

void edge_listeners_hold(edge_listen_sock_t *ls)
{
    atomic_fetch_add(&ls->refs, 1);
}

void edge_listeners_release(edge_listen_sock_t *ls)
{
    if (ls == NULL || atomic_fetch_sub(&ls->refs, 1) != 1)
        return;
    for (size_t i = 0; i != ls->num_fds; ++i)
        close(ls->fds[i]);
    free(ls->fds);
    free(ls);
}

void edge_listeners_on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    if (err != NULL)
        return;
    /* a few at a time, so one busy listener cannot starve the loop */
    for (int i = 0; i != 16 && (sock = h2o_evloop_socket_accept(listener)) != NULL; ++i)
        h2o_accept(listener->data, sock);
}
