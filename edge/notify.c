/*
 * edge/notify.c: sd_notify(3) through libsystemd, for a Type=notify unit (debian/edgecache.service).
 *
 * The invariant that is easy to break: nothing is sent, and nothing fails, when NOTIFY_SOCKET is unset.
 * libsystemd already returns 0 then, but we test it first ourselves: the check is the contract of
 * edge/notify.h, and it must not hang on a library detail. The environment is never unset
 * (sd_notify(0, ...)), so a later call still finds the socket: READY=1 and STOPPING=1 come from one
 * process at two moments.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-daemon.h>
#include "edge/notify.h"

#define STATUS_MAX 256

static int send_state(const char *state)
{
    const char *sock = getenv("NOTIFY_SOCKET");

    if (sock == NULL || *sock == '\0')
        return 0;
    int r = sd_notify(0, state);
    return r < 0 ? r : 0;
}

int edge_notify_ready(void)
{
    return send_state("READY=1");
}

int edge_notify_reloading(void)
{
    /* systemd 253's Type=notify-reload wants the CLOCK_MONOTONIC time the reload started at */
    struct timespec ts;
    char msg[64];

    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    return send_state(msg);
}

int edge_notify_stopping(void)
{
    return send_state("STOPPING=1");
}

int edge_notify_mainpid(pid_t pid)
{
    char msg[32];

    snprintf(msg, sizeof(msg), "MAINPID=%lu", (unsigned long)pid);
    return send_state(msg);
}

int edge_notify_status(const char *fmt, ...)
{
    char msg[sizeof("STATUS=") - 1 + STATUS_MAX];
    va_list ap;

    memcpy(msg, "STATUS=", sizeof("STATUS=") - 1);
    va_start(ap, fmt);
    vsnprintf(msg + sizeof("STATUS=") - 1, STATUS_MAX, fmt, ap);
    va_end(ap);
    msg[strcspn(msg, "\n")] = '\0'; /* one line: a newline would start another assignment */
    return send_state(msg);
}
