/*
 * edge/notify.h: tells the service manager (systemd, sd_notify(3)) how the edge's life goes: ready to
 * serve, reloading, stopping, its main pid, a one-line status. This module is the only file that
 * includes <systemd/sd-daemon.h>.
 *
 * Every call is a no-op that returns 0 when the environment has no NOTIFY_SOCKET (the edge was not
 * started by a service manager that asked for notifications: a terminal, a test, Type=simple), so
 * callers never test for systemd themselves. The environment is left as it is, so processes the edge
 * starts (an access log's "|command") see the same NOTIFY_SOCKET: that is harmless, they never send.
 *
 * Any thread may call any function: each sends one datagram on a socket of its own (libsystemd opens and
 * closes it per call), so calls never interleave. They are cheap, but not free: call them at the
 * edge's life events, never per request.
 *
 * Errors: 0 when sent (or when there is nothing to send to); a negative errno when the datagram could not
 * be sent (the socket is gone, the message is too long). Callers may ignore it: a missed notification
 * makes systemd time out the start, which is the service manager's business, and the edge serves on.
 */
#ifndef EDGE_NOTIFY_H
#define EDGE_NOTIFY_H

#include <sys/types.h>

/** READY=1: the listeners are bound and every loop runs; systemd then ends "activating" (Type=notify). */
int edge_notify_ready(void);
/** RELOADING=1 with MONOTONIC_USEC (systemd >= 253 needs the timestamp; older ones ignore it); send
 * edge_notify_ready() once the reload is done. */
int edge_notify_reloading(void);
/** STOPPING=1: the edge has taken its stop signal and drains in-flight responses before it exits. */
int edge_notify_stopping(void);
/** MAINPID=pid: which process systemd should watch, when it is not the one it started. */
int edge_notify_mainpid(pid_t pid);
/** STATUS=text: one line that `systemctl status` shows. printf-style; the text is cut at 255 bytes and
 * cut at its first newline, because STATUS= is one line of the datagram. */
int edge_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
