/*
 * edge/tls_tickets.h: the session ticket keys of the process — one set, shared by every loop and every TLS
 * context, so that a ticket one loop issued resumes on another, after a reload (the contexts are new, the keys
 * are not) and after an upgrade (the old process hands its keys to the new one: edge/upgrade.h).
 *
 * Without a key file the process makes its own keys and rotates them on a schedule, keeping the previous key to
 * decrypt (and renew) the tickets it issued. With a key file (nginx's ssl_session_ticket_key format: 80 bytes a
 * key, 16 name + 32 HMAC secret + 32 AES-256 key; the first key encrypts, all decrypt), the keys are the file's,
 * the same on every edge of a fleet that has the file, and the operator rotates them by replacing it and
 * reloading.
 */
#ifndef EDGE_TLS_TICKETS_H
#define EDGE_TLS_TICKETS_H

#include <stddef.h>
#include <stdint.h>

struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

#define EDGE_TLS_TICKET_KEY_LEN 80
#define EDGE_TLS_TICKETS_MAX 16 /* keys in a file; a handover carries at most this many */

/**
 * Sets where the keys come from, at start and at every reload: `key_file` (NULL: the process's own keys, made
 * now if there are none yet or if they were a file's, then kept across reloads) and `rotate_ms` (the age at
 * which an own key is replaced). Returns 0, or -1 with a message in `err` (the file is unreadable or not a
 * whole number of keys), the keys unchanged. Main thread (or the reload's), before the contexts that use the
 * keys are published.
 */
int edge_tls_tickets_configure(const char *key_file, uint64_t rotate_ms, char *err, size_t errlen);

/** Makes server context `ctx` issue and accept tickets with the process's keys. Any thread; `ctx` not yet shared. */
void edge_tls_tickets_attach(struct ssl_ctx_st *ctx);

/**
 * The keys, for a handover: writes up to `len / 80` keys, the encrypting one first, into `buf` and returns how
 * many. Any thread.
 */
size_t edge_tls_tickets_export(unsigned char *buf, size_t len);
/**
 * Takes over `num` keys a previous process exported (the first encrypts), unless the keys come from a key
 * file, which this process has read itself. Any thread.
 */
void edge_tls_tickets_import(const unsigned char *buf, size_t num);

#endif
