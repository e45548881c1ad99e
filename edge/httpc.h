/*
 * edge/httpc.h: a tiny blocking HTTP/1.1 client for the command-line tools (`edgecache warm`, `edgecache
 * purge`), which talk to an edge's cleartext listener or to its admin listener.
 *
 * It is not for the server: each call blocks its thread until the response is complete or the deadline
 * passes, which is what a CLI worker thread wants and what an event loop must never do. One connection
 * (edge_httpc_t) is used by one thread at a time; different connections share nothing, so N threads with
 * N connections need no locks.
 *
 * A connection is opened on the first request and kept alive between requests while the server allows it
 * (HTTP/1.1 without "Connection: close", and a body whose end was framed by Content-Length or chunked
 * encoding). When a kept-alive connection turns out to have been closed by the server before any byte of
 * the next response arrived (the usual race with the server's idle timeout), an idempotent request (GET,
 * HEAD, OPTIONS, PUT, DELETE) is sent once more on a new connection; a request that was answered, even
 * partly, and a POST, are never repeated.
 *
 * Memory is bounded: a connection owns one fixed buffer (EDGE_HTTPC_BUFSIZE) and a response one fixed
 * head (EDGE_HTTPC_HEAD_MAX); the body goes to a caller-provided buffer, and what does not fit is
 * counted and discarded, never buffered.
 */
#ifndef EDGE_HTTPC_H
#define EDGE_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define EDGE_HTTPC_BUFSIZE 16384      /* the connection's buffer: a whole request (head + body) must fit in it */
#define EDGE_HTTPC_HEAD_MAX 8192      /* the largest response head accepted (status line + headers) */
#define EDGE_HTTPC_MAX_HEADERS 64     /* response header fields kept; a response with more is malformed */
#define EDGE_HTTPC_MAX_REQ_HEADERS 64 /* extra request header lines a request may carry */

/* Errors (negative); edge_httpc_strerror names them. */
#define EDGE_HTTPC_ECONNECT (-1) /* the connection could not be opened (refused, unreachable); see sys_errno */
#define EDGE_HTTPC_ETIMEOUT (-2) /* the deadline passed: connecting, sending, or waiting for the response */
#define EDGE_HTTPC_ECLOSED (-3)  /* the server closed or reset the connection before the response was complete */
#define EDGE_HTTPC_EPROTO (-4)   /* a malformed response: status line, header, framing or chunk syntax */
#define EDGE_HTTPC_ETOOBIG                                                                                                         \
    (-5)                       /* the request does not fit in EDGE_HTTPC_BUFSIZE, or the response head in                          \
                                * EDGE_HTTPC_HEAD_MAX */
#define EDGE_HTTPC_EIO (-6)    /* another socket error; see sys_errno */
#define EDGE_HTTPC_EINVAL (-7) /* the request is invalid: CR, LF or NUL in a field, or too many header lines */

typedef struct st_edge_httpc_t {
    int sys_errno; /* public, read-only: the errno behind the last ECONNECT / EIO / ECLOSED, else 0 */
    struct sockaddr_storage _addr;
    socklen_t _addrlen;
    int _fd;          /* -1: not connected */
    unsigned _served; /* responses completed on the current connection (> 0: it is a reused one) */
    size_t _len;      /* bytes in _buf not yet consumed */
    char _buf[EDGE_HTTPC_BUFSIZE];
} edge_httpc_t;

typedef struct st_edge_httpc_request_t {
    const char *method;         /* "GET", "POST", ... */
    const char *target;         /* origin-form: "/path?query"; no CR, LF or space */
    const char *host;           /* the Host header's value */
    const char *const *headers; /* extra lines "Name: value" (no CRLF), sent as given; may be NULL */
    size_t num_headers;         /* at most EDGE_HTTPC_MAX_REQ_HEADERS */
    const void *body;           /* sent with a Content-Length when non-NULL (even when body_len is 0) */
    size_t body_len;
} edge_httpc_request_t;

typedef struct st_edge_httpc_header_t {
    const char *name; /* both point into the response's _head; not NUL-terminated */
    size_t name_len;
    const char *value; /* leading and trailing whitespace removed */
    size_t value_len;
} edge_httpc_header_t;

typedef struct st_edge_httpc_response_t {
    /* set by the caller before the request: */
    char *body;      /* where to keep the body, NUL-terminated (NULL: discard it) */
    size_t body_cap; /* bytes of `body`, the NUL included; a longer body is truncated there (body_total says) */
    /* set by edge_httpc_request on success: */
    int status;
    int minor_version; /* HTTP/1.<minor_version> */
    edge_httpc_header_t headers[EDGE_HTTPC_MAX_HEADERS];
    size_t num_headers;
    size_t body_len;     /* bytes kept in `body` (< body_cap) */
    uint64_t body_total; /* bytes of body received, kept or not */
    char _head[EDGE_HTTPC_HEAD_MAX];
} edge_httpc_response_t;

/**
 * Resolves "HOST:PORT" ("[IPV6]:PORT" for an IPv6 address; HOST may be a name, resolved with
 * getaddrinfo, first answer wins) into `addr`. Returns 0, or -1 with a message in `err` (`errlen` bytes).
 * Blocking (name resolution); any thread.
 */
int edge_httpc_resolve(const char *hostport, struct sockaddr_storage *addr, socklen_t *addrlen, char *err, size_t errlen);

/** Prepares `c` to talk to `addr` (copied). No I/O; edge_httpc_close(c) is then always safe. */
void edge_httpc_init(edge_httpc_t *c, const struct sockaddr *addr, socklen_t addrlen);

/** Closes the connection, if open. `c` stays usable: the next request opens a new connection. */
void edge_httpc_close(edge_httpc_t *c);

/**
 * Sends `req` and reads the whole response into `res` within `timeout_ms` (connecting, sending and
 * receiving all count against that one deadline). Interim 1xx responses are skipped. The body of a
 * response to HEAD, and of a 204 or 304, is empty. Returns 0 when a complete response was read, whatever
 * its status; else a negative EDGE_HTTPC_E* value, and the connection is closed. `res->headers` point
 * into `res` and stay valid until `res` is reused. Not thread-safe for one `c`; SIGPIPE is never raised.
 */
int edge_httpc_request(edge_httpc_t *c, const edge_httpc_request_t *req, edge_httpc_response_t *res, uint64_t timeout_ms);

/**
 * The value of the first header field named `name` (case-insensitive) in `res`, with its length in
 * `*len`, or NULL when absent. The value is not NUL-terminated; it lives as long as `res`'s content.
 */
const char *edge_httpc_header(const edge_httpc_response_t *res, const char *name, size_t *len);

/** A short static text for an EDGE_HTTPC_E* value ("connection refused" detail is in sys_errno). */
const char *edge_httpc_strerror(int err);

#endif
