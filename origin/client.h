/*
 * origin/client.h: edgecache's own HTTP/1.1 client for origins, with a keep-alive pool per server.
 *
 * libh2o's own HTTP/1 client aborts the process on some malformed origin heads (notes §12). This client
 * reads origin responses with picohttpparser on an h2o_socket_t and turns every bad byte into an error
 * value (origin_client_error_t); nothing an origin sends can abort the process.
 *
 * Threads and loops: a pool, its connections and its clients belong to the loop in their
 * origin_client_ctx_t. Every function here (but origin_client_strerror and the parser functions, which
 * are pure) must be called on that loop's thread.
 *
 * Callbacks: for each client exactly one of these sequences happens, never from inside
 * origin_client_start, origin_client_pause or origin_client_resume:
 *   on_head(err != 0)                                    the request failed before a final head;
 *   on_head(0, ...), on_body(...) * n, on_done(err)     err == 0 when the body was complete.
 * The client is freed right after the callback that ends its sequence returns; the handle is invalid
 * from then on. origin_client_cancel stops the sequence at any point, also from inside a callback.
 */
#ifndef ORIGIN_CLIENT_H
#define ORIGIN_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include <h2o.h>

/** Why a response failed. 0 is success; every other value has a static text (origin_client_strerror). */
typedef enum en_origin_client_error_t {
    ORIGIN_CLIENT_OK = 0,
    ORIGIN_CLIENT_ERR_CONNECT,               /* the TCP connection could not be made (refused, unreachable) */
    ORIGIN_CLIENT_ERR_CONNECT_TIMEOUT,       /* no TCP connection and TLS handshake within the connect timeout */
    ORIGIN_CLIENT_ERR_TLS,                   /* the TLS handshake or the certificate check failed */
    ORIGIN_CLIENT_ERR_POOL_FULL,             /* the server already has max_connections open (no queueing) */
    ORIGIN_CLIENT_ERR_WRITE,                 /* the request could not be written */
    ORIGIN_CLIENT_ERR_READ_TIMEOUT,          /* no first byte of the head, or a gap between reads, within the read timeout */
    ORIGIN_CLIENT_ERR_CLOSED,                /* the origin closed the connection before any byte of the response */
    ORIGIN_CLIENT_ERR_RESET,                 /* read error (e.g. connection reset) before the head was complete */
    ORIGIN_CLIENT_ERR_MALFORMED_HEAD,        /* not an HTTP/1.x response head (also obs-fold, 101, too many 1xx) */
    ORIGIN_CLIENT_ERR_HEAD_TOO_LARGE,        /* a response head longer than max_head_size */
    ORIGIN_CLIENT_ERR_BAD_TRANSFER_ENCODING, /* a Transfer-Encoding other than exactly "chunked" */
    ORIGIN_CLIENT_ERR_BAD_CONTENT_LENGTH,    /* Content-Length not plain digits, or several differing values */
    ORIGIN_CLIENT_ERR_BAD_CHUNK,             /* malformed chunked framing */
    ORIGIN_CLIENT_ERR_TRUNCATED,             /* EOF or reset inside the head or before the end of the body */
    ORIGIN_CLIENT_ERR_BODY_TOO_LONG,         /* bytes after the end of the response (beyond Content-Length or the last chunk) */
    ORIGIN_CLIENT_ERR_CANCELLED,             /* never passed to a callback; for callers that record why they stopped */
    ORIGIN_CLIENT_ERR__COUNT
} origin_client_error_t;

/** A static, lowercase text for logs; never NULL (unknown values give "unknown error"). */
const char *origin_client_strerror(origin_client_error_t err);

/** A response header as received (name case preserved, values with surrounding whitespace removed). */
typedef struct st_origin_client_header_t {
    h2o_iovec_t name;
    h2o_iovec_t value;
} origin_client_header_t;

/* ---- the pure response parser (no sockets; the fuzz target drives it) ---------------------------- */

#define ORIGIN_CLIENT_MAX_HEADERS 100
#define ORIGIN_CLIENT_DEFAULT_MAX_HEAD_SIZE 65536
#define ORIGIN_CLIENT_MAX_INTERIM 16

typedef enum en_origin_client_event_kind_t {
    ORIGIN_CLIENT_EV_NEED_MORE, /* feed more bytes (or call origin_client_parser_eof) */
    ORIGIN_CLIENT_EV_HEAD,      /* the final head (1xx interim heads are skipped) */
    ORIGIN_CLIENT_EV_BODY,      /* decoded body bytes */
    ORIGIN_CLIENT_EV_DONE,      /* the response is complete and well framed */
    ORIGIN_CLIENT_EV_ERROR      /* ev.error says why; the parser stays in error */
} origin_client_event_kind_t;

typedef struct st_origin_client_event_t {
    origin_client_event_kind_t kind;
    origin_client_error_t error; /* EV_ERROR */
    /* EV_HEAD: everything points into the bytes given to feed, valid until they are changed or freed */
    int status;
    int minor_version;
    h2o_iovec_t reason;
    const origin_client_header_t *headers; /* in the parser, valid until the next feed */
    size_t num_headers;
    int64_t content_length; /* -1 when the body is chunked or close-delimited; 0 for HEAD/204/304 */
    /* EV_BODY: points into the bytes given to feed */
    h2o_iovec_t body;
} origin_client_event_t;

typedef struct st_origin_client_parser_t {
    /* all private */
    int _state;
    origin_client_error_t _error;
    bool _is_head;
    bool _keepalive;
    unsigned _interim;
    size_t _max_head;
    size_t _last_len;
    uint64_t _remaining;
    union {
        uint64_t align;
        char bytes[64];
    } _chunked; /* picohttpparser's struct phr_chunked_decoder */
    origin_client_header_t _headers[ORIGIN_CLIENT_MAX_HEADERS];
} origin_client_parser_t;

/** Ready for one response to a request that was a HEAD (`is_head`) or not. 0 for max_head_size means the default. */
void origin_client_parser_init(origin_client_parser_t *p, bool is_head, size_t max_head_size);
/**
 * Parses `buf[0..len)` and reports one event in *ev. Returns how many bytes of buf the caller must drop
 * from the front once it is done with the event (it may be less than len; call again with the rest,
 * also with len == 0, until EV_NEED_MORE, EV_DONE or EV_ERROR). The bytes are changed in place (chunked
 * decoding), so buf must be writable. Bytes that arrive after the end of a response give
 * ORIGIN_CLIENT_ERR_BODY_TOO_LONG.
 */
size_t origin_client_parser_feed(origin_client_parser_t *p, char *buf, size_t len, origin_client_event_t *ev);
/** The origin's end of stream (`reset`: a read error rather than a clean EOF): EV_DONE or EV_ERROR. */
void origin_client_parser_eof(origin_client_parser_t *p, bool reset, origin_client_event_t *ev);
/** After EV_DONE: may the connection carry another request (HTTP/1.1, no Connection: close, CL or chunked only)? */
bool origin_client_parser_can_keepalive(const origin_client_parser_t *p);

/* ---- pools and clients --------------------------------------------------------------------------- */

/**
 * Per-loop settings shared by the pools of that loop. The caller owns it and the timeouts (one
 * h2o_timeout_t per duration per loop, initialised on `loop`); they must outlive every pool using them.
 */
typedef struct st_origin_client_ctx_t {
    h2o_loop_t *loop;
    h2o_timeout_t *zero_timeout;      /* 0 ms: defers callbacks out of origin_client_start/resume */
    h2o_timeout_t *connect_timeout;   /* TCP connect + TLS handshake */
    h2o_timeout_t *read_timeout;      /* from the request write to the first byte, and every gap between reads */
    h2o_timeout_t *keepalive_timeout; /* how long an idle connection is kept; NULL: no keep-alive */
    size_t max_head_size;             /* 0: ORIGIN_CLIENT_DEFAULT_MAX_HEAD_SIZE */
} origin_client_ctx_t;

typedef struct st_origin_client_pool_t origin_client_pool_t;
typedef struct st_origin_client_t origin_client_t;

/**
 * A pool of connections to one server (`addr` is copied). `ssl_ctx` NULL means plain TCP; else TLS with
 * that context (its verify mode decides whether the certificate is checked), and `server_name` (copied;
 * may be NULL) is sent as SNI and checked against the certificate. At most `max_idle` idle connections
 * are kept and at most `max_connections` are open at once (0: no cap). NULL only when out of memory.
 */
origin_client_pool_t *origin_client_pool_new(const origin_client_ctx_t *ctx, const struct sockaddr *addr, socklen_t addrlen,
                                             SSL_CTX *ssl_ctx, const char *server_name, size_t max_idle, size_t max_connections);
/** Closes the idle connections and frees the pool. Every client of the pool must have ended or been cancelled. */
void origin_client_pool_free(origin_client_pool_t *pool);
/** Open connections (connecting, busy and idle): the gauge for metrics. */
size_t origin_client_pool_num_connections(const origin_client_pool_t *pool);
/** Idle keep-alive connections. */
size_t origin_client_pool_num_idle(const origin_client_pool_t *pool);

typedef void (*origin_client_head_cb)(origin_client_t *client, void *data, origin_client_error_t err, int status,
                                      h2o_iovec_t reason, const origin_client_header_t *headers, size_t num_headers,
                                      int64_t content_length);
typedef void (*origin_client_body_cb)(origin_client_t *client, void *data, h2o_iovec_t chunk);
typedef void (*origin_client_done_cb)(origin_client_t *client, void *data, origin_client_error_t err);

/**
 * on_head: `reason` and `headers` (names and values) are valid ONLY during the callback; copy what you
 * keep. content_length is the declared length, or -1 (chunked or close-delimited), 0 for HEAD/204/304.
 * on_body: the decoded bytes, valid only during the callback.
 * Any callback may call origin_client_pause, _resume or _cancel on its own client.
 */
typedef struct st_origin_client_callbacks_t {
    origin_client_head_cb on_head;
    origin_client_body_cb on_body;
    origin_client_done_cb on_done;
} origin_client_callbacks_t;

/**
 * Sends one request on an idle connection of `pool` (checked for EOF first) or a new one. `head` (the
 * request line and headers, CRLF CRLF included) and `body` (may be {NULL, 0}) are not copied: they must
 * stay valid until on_head is called. `is_head`: the request is a HEAD (the response has no body).
 * `callbacks` must outlive the client. Never NULL (out of memory aborts, as everywhere in h2o); errors,
 * also immediate ones, come through on_head on a later loop iteration.
 */
origin_client_t *origin_client_start(origin_client_pool_t *pool, h2o_iovec_t head, h2o_iovec_t body, bool is_head,
                                     const origin_client_callbacks_t *callbacks, void *data);
/** Stops reading from the origin (backpressure); the read timeout does not run while paused. */
void origin_client_pause(origin_client_t *client);
/** Reads again; bytes already buffered are delivered on a later loop iteration, not inside this call. */
void origin_client_resume(origin_client_t *client);
/**
 * Abandons the request: no callback is called afterwards, the connection is closed (never pooled, as the
 * response was not read to its end) and the client is freed, at once or, from inside one of its
 * callbacks, when that callback returns. Calling it from the callback that ends the sequence is harmless.
 */
void origin_client_cancel(origin_client_t *client);
/** Whether the client is on a connection that served an earlier request (for retry decisions and tests). */
bool origin_client_is_reused(const origin_client_t *client);

#endif
