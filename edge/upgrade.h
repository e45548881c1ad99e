/*
 * edge/upgrade.h: replacing the running process with a new one (a new binary, or the same one with a
 * configuration a reload cannot apply) without refusing a connection or losing a write.
 *
 * The old process forks and runs the binary again with its command line, passing on, as systemd socket
 * activation does (LISTEN_FDS and LISTEN_PID, descriptors from 3 on): every listening socket, the admin
 * socket, the descriptor of the cache directory's lock, and one end of a socket pair for the handover.
 * Then, over that pair:
 *
 *     new -> old  'T'   the new process has its configuration and asks for the store's writer
 *     old -> new  'K'   N (one byte), then N session ticket keys of 80 bytes (edge/tls_tickets.h), so that the
 *                       new process resumes the sessions the old one issued. (A new process too old to know 'K',
 *                       a downgrade, takes it for nonsense and exits; the old one serves on.)
 *     old -> new  'W'   the old process committed its queue and stopped writing (cache_store_writer_release)
 *     new -> old  'R'   the new process opened the store and its loops accept on the inherited sockets
 *
 * after which the old process stops accepting and drains. LMDB lets both processes read the same
 * environment; only the writer moves, because object ids are allocated by the process that writes. The
 * sockets are the same kernel objects in both processes, so a connection queued on one is accepted by
 * whichever process accepts next: none is refused. If the new process fails before 'R', the old one takes
 * its writer back and goes on serving.
 */
#ifndef EDGE_UPGRADE_H
#define EDGE_UPGRADE_H

#include <stddef.h>
#include <sys/types.h>

struct st_edge_server_t;

/** Remembers the binary (/proc/self/exe, resolved now, so a package upgrade's new file is what runs) and the
 * command line. Main thread, at start. */
void edge_upgrade_init(char **argv);

/**
 * The old side: starts the new process and runs the handover up to 'R' (waiting at most a minute for each
 * step). Returns the new process's id, after which the caller drains and exits; or -1 with a message in
 * `err`, the writer taken back, and the caller serving on. Main thread; blocks.
 */
pid_t edge_upgrade_start(struct st_edge_server_t *s, char *err, size_t errlen);

/**
 * The new side, at start: the handover descriptor and the inherited lock descriptor, from the environment
 * (then cleared). Returns the handover descriptor, or -1 when this process is not an upgrade.
 */
int edge_upgrade_inherited(int *lock_fd);
/** Asks for the writer and waits until the old process has released it (or has gone). Returns 0, or -1
 * with a message (the old process answered something else, or nothing within a minute). */
int edge_upgrade_take_writer(int fd, char *err, size_t errlen);
/** Tells the old process that this one serves, and closes `fd`. */
void edge_upgrade_ready(int fd);

#endif
