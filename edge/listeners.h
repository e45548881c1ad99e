/*
 * edge/listeners.h: the client listening sockets, shared by configuration generations and handed over to
 * a new process on an upgrade.
 *
 * One edge_listen_sock_t is one configured address: a socket per event loop, all bound with SO_REUSEPORT
 * so that the kernel spreads connections without a shared accept lock. A socket is opened once and kept
 * for as long as some generation names its address, so a reload that keeps a listener never closes it:
 * closing one socket of a SO_REUSEPORT group resets the connections queued on it, which is a refused
 * connection for a client that did nothing wrong. Each loop accepts on a dup() of its socket, so that the
 * set of sockets (and what an upgrade passes on) never depends on which loops have caught up.
 *
 * Sockets can also be inherited, as systemd socket activation and nginx's binary upgrade do: LISTEN_FDS
 * descriptors from 3 on, for this very process (LISTEN_PID). Each is matched to a listener by its bound
 * address (getsockname), so the passing side needs no naming convention.
 */
#ifndef EDGE_LISTENERS_H
#define EDGE_LISTENERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <h2o.h>
#include "edge/config.h"

typedef struct st_edge_listen_sock_t {
    atomic_size_t refs;
    char name[80]; /* "ADDR:PORT" ("[V6]:PORT"), for logs */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    size_t num_fds;
    int *fds; /* one per loop or more: loop i accepts on a dup() of each fds[j] with j % loops == i (an upgrade from
               * a process with more loops hands over more sockets, and none may be closed); fewer only when
               * inherited sockets could not be joined (no SO_REUSEPORT): then loop i takes fds[i % num_fds] */
} edge_listen_sock_t;

/**
 * Opens `l` for `num_threads` loops. Every inherited socket bound to the same address is taken (see
 * edge_listeners_inherit), and more are opened with SO_REUSEPORT up to one per loop. Without an inherited
 * one, a probe with a plain bind comes first: it fails when anything else already listens there (a
 * forgotten edgecache sets SO_REUSEPORT too). Returns the socket set with one reference, or NULL with a
 * message in `err` that names the address. Main thread.
 */
edge_listen_sock_t *edge_listeners_open(const edge_conf_listen_t *l, size_t num_threads, char *err, size_t errlen);
/** A reference more. Any thread. */
void edge_listeners_hold(edge_listen_sock_t *ls);
/** A reference less; the last closes the sockets. Any thread. */
void edge_listeners_release(edge_listen_sock_t *ls);
/** Closes the sockets now (the edge stops: no loop accepts on them any more); what refers to `ls` stays valid.
 * Main thread. */
void edge_listeners_shutdown(edge_listen_sock_t *ls);
/** True when `ls` is bound to `l`'s address and port. */
bool edge_listeners_is(const edge_listen_sock_t *ls, const edge_conf_listen_t *l);

/**
 * Takes the sockets this process inherited (LISTEN_FDS and LISTEN_PID, as systemd sets them; the
 * variables are then removed from the environment) into a private table that edge_listeners_open and
 * edge_listeners_take_inherited draw from. Returns the number of sockets taken. Main thread, once, first.
 */
size_t edge_listeners_inherit(void);
/** An inherited socket bound to `l`'s address, removed from the table, or -1. */
int edge_listeners_take_inherited(const edge_conf_listen_t *l);
/** Closes the inherited sockets no listener took (an address the new configuration dropped). */
void edge_listeners_close_unclaimed(void);

/**
 * Opens, binds and listens on a non-blocking socket for `l`. With `reuseport` false this is the probe
 * that detects a port already served. Returns the descriptor, or -1 with a message in `err` that names
 * the address (and, for EADDRINUSE, suggests another edgecache).
 */
int edge_listeners_bind(const edge_conf_listen_t *l, bool reuseport, char *err, size_t errlen);
/** libh2o's read callback of a listening socket whose data is its h2o_accept_ctx_t: accepts what is queued. */
void edge_listeners_on_accept(h2o_socket_t *listener, const char *err);
/** The socket address of listener `l`. Returns 0, or -1 when the address is not numeric. Pure. */
int edge_listeners_sockaddr(const edge_conf_listen_t *l, struct sockaddr_storage *ss, socklen_t *len);

#endif
