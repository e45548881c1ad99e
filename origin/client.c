/*
 * origin/client.c: the HTTP/1.1 client edgecache uses to talk to origins, and its keep-alive pools.
 *
 * Two halves: a pure parser (head, then Content-Length, chunked or close-delimited framing) that
 * reports events and never touches a socket, so a fuzzer can drive it; and the client, which moves bytes
 * between an h2o_socket_t and that parser, runs the connect and read timeouts, and pools connections.
 *
 * The invariant that is easy to break: a connection goes back to the pool only after a response that
 * was complete and well framed on a connection that allows reuse (parser said DONE, nothing left in the
 * buffer, HTTP/1.1, no Connection: close, not both Content-Length and Transfer-Encoding). Every other
 * ending closes the socket, because the next response read from it could start inside this one's body
 * (response splitting into the cache). The second one: a callback may cancel its own client, so after
 * every callback the code checks whether the client is still wanted before it touches it again.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "origin/client.h"

/* picohttpparser as exported by libh2o-evloop (the header is not packaged): declared from its API */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_response(const char *buf, size_t len, int *minor_version, int *status, const char **msg, size_t *msg_len,
                       struct phr_header *headers, size_t *num_headers, size_t last_len);
struct phr_chunked_decoder {
    size_t bytes_left_in_chunk;
    char consume_trailer;
    char _hex_count;
    char _state;
    /* newer picohttpparsers append counters here; room for them, so any version writes inside our storage */
    char _room[32];
};
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);

_Static_assert(sizeof(struct phr_chunked_decoder) <= sizeof(((origin_client_parser_t *)0)->_chunked),
               "parser storage too small for the chunked decoder");

static const char *const error_texts[ORIGIN_CLIENT_ERR__COUNT] = {
    [ORIGIN_CLIENT_OK] = "ok",
    [ORIGIN_CLIENT_ERR_CONNECT] = "connection to origin failed",
    [ORIGIN_CLIENT_ERR_CONNECT_TIMEOUT] = "connection to origin timed out",
    [ORIGIN_CLIENT_ERR_TLS] = "tls handshake with origin failed",
    [ORIGIN_CLIENT_ERR_POOL_FULL] = "too many connections to origin",
    [ORIGIN_CLIENT_ERR_WRITE] = "writing the request to origin failed",
    [ORIGIN_CLIENT_ERR_READ_TIMEOUT] = "origin read timed out",
    [ORIGIN_CLIENT_ERR_CLOSED] = "origin closed the connection before responding",
    [ORIGIN_CLIENT_ERR_RESET] = "origin connection reset",
    [ORIGIN_CLIENT_ERR_MALFORMED_HEAD] = "malformed response head from origin",
    [ORIGIN_CLIENT_ERR_HEAD_TOO_LARGE] = "response head from origin too large",
    [ORIGIN_CLIENT_ERR_BAD_TRANSFER_ENCODING] = "unsupported transfer-encoding from origin",
    [ORIGIN_CLIENT_ERR_BAD_CONTENT_LENGTH] = "invalid content-length from origin",
    [ORIGIN_CLIENT_ERR_BAD_CHUNK] = "malformed chunked body from origin",
    [ORIGIN_CLIENT_ERR_TRUNCATED] = "response from origin truncated",
    [ORIGIN_CLIENT_ERR_BODY_TOO_LONG] = "origin sent bytes after the end of the response",
    [ORIGIN_CLIENT_ERR_CANCELLED] = "cancelled",
};

const char *origin_client_strerror(origin_client_error_t err)
{
    if ((unsigned)err >= ORIGIN_CLIENT_ERR__COUNT || error_texts[err] == NULL)
        return "unknown error";
    return error_texts[err];
}

/* ================================ the parser ================================ */

enum { P_HEAD, P_BODY_CL, P_BODY_CHUNKED, P_BODY_CLOSE, P_DONE, P_FINISHED, P_ERROR };

void origin_client_parser_init(origin_client_parser_t *p, bool is_head, size_t max_head_size)
{
    memset(p, 0, offsetof(origin_client_parser_t, _headers));
    p->_state = P_HEAD;
    p->_is_head = is_head;
    p->_max_head = max_head_size != 0 ? max_head_size : ORIGIN_CLIENT_DEFAULT_MAX_HEAD_SIZE;
}

static size_t fail(origin_client_parser_t *p, origin_client_event_t *ev, origin_client_error_t err)
{
    p->_state = P_ERROR;
    p->_error = err;
    ev->kind = ORIGIN_CLIENT_EV_ERROR;
    ev->error = err;
    return 0;
}

static h2o_iovec_t trim(const char *s, size_t len)
{
    while (len != 0 && (*s == ' ' || *s == '\t'))
        ++s, --len;
    while (len != 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        --len;
    return h2o_iovec_init(s, len);
}

static bool name_is(const origin_client_header_t *h, const char *lit)
{
    size_t n = strlen(lit);
    return h->name.len == n && strncasecmp(h->name.base, lit, n) == 0;
}

/* Plain digits only, no sign, no list, no overflow: anything else could be read differently by a cache
 * in front of or behind us, which is how responses get split. */
static bool parse_length(h2o_iovec_t v, int64_t *out)
{
    if (v.len == 0)
        return false;
    int64_t n = 0;
    for (size_t i = 0; i != v.len; ++i) {
        if (v.base[i] < '0' || v.base[i] > '9' || n > (INT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (v.base[i] - '0');
    }
    *out = n;
    return true;
}

static bool list_has_token(h2o_iovec_t v, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = v.base, *end = v.base + v.len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma != NULL ? comma : end;
        h2o_iovec_t t = trim(p, (size_t)(stop - p));
        if (t.len == tlen && strncasecmp(t.base, token, tlen) == 0)
            return true;
        p = stop + 1;
    }
    return false;
}

/* Decides the framing of the body from the final head (RFC 9112 §6.3). */
static origin_client_error_t decide_framing(origin_client_parser_t *p, int status, int minor_version, size_t num_headers,
                                            int64_t *content_length)
{
    int64_t cl = -1;
    size_t num_te = 0;
    bool chunked = false;
    p->_keepalive = minor_version >= 1;
    for (size_t i = 0; i != num_headers; ++i) {
        const origin_client_header_t *h = p->_headers + i;
        if (name_is(h, "content-length")) {
            int64_t v;
            if (!parse_length(h->value, &v) || (cl != -1 && v != cl))
                return ORIGIN_CLIENT_ERR_BAD_CONTENT_LENGTH;
            cl = v;
        } else if (name_is(h, "transfer-encoding")) {
            /* one header, exactly "chunked": "gzip, chunked", "chunked, chunked" or two headers are refused */
            if (++num_te != 1 || !(h->value.len == 7 && strncasecmp(h->value.base, "chunked", 7) == 0))
                return ORIGIN_CLIENT_ERR_BAD_TRANSFER_ENCODING;
            chunked = true;
        } else if (name_is(h, "connection")) {
            if (list_has_token(h->value, "close"))
                p->_keepalive = false;
        }
    }
    if (p->_is_head || status == 204 || status == 304) {
        *content_length = p->_is_head ? cl : 0;
        p->_state = P_DONE;
        if (chunked && cl != -1)
            p->_keepalive = false;
        return ORIGIN_CLIENT_OK;
    }
    if (chunked) {
        if (cl != -1)
            p->_keepalive = false; /* both: TE wins, and the connection is not trusted again */
        struct phr_chunked_decoder *d = (struct phr_chunked_decoder *)p->_chunked.bytes;
        memset(d, 0, sizeof(*d));
        d->consume_trailer = 1;
        p->_state = P_BODY_CHUNKED;
        *content_length = -1;
    } else if (cl != -1) {
        p->_remaining = (uint64_t)cl;
        p->_state = cl == 0 ? P_DONE : P_BODY_CL;
        *content_length = cl;
    } else {
        p->_keepalive = false;
        p->_state = P_BODY_CLOSE;
        *content_length = -1;
    }
    return ORIGIN_CLIENT_OK;
}

static size_t feed_head(origin_client_parser_t *p, char *buf, size_t len, origin_client_event_t *ev)
{
    size_t skipped = 0;
    for (;;) {
        struct phr_header hdrs[ORIGIN_CLIENT_MAX_HEADERS];
        size_t num_headers = ORIGIN_CLIENT_MAX_HEADERS, reason_len;
        const char *reason;
        int minor_version, status;
        size_t avail = len - skipped;
        int r = phr_parse_response(buf + skipped, avail, &minor_version, &status, &reason, &reason_len, hdrs, &num_headers,
                                   p->_last_len);
        if (r == -2) {
            if (avail >= p->_max_head)
                return fail(p, ev, ORIGIN_CLIENT_ERR_HEAD_TOO_LARGE);
            p->_last_len = avail;
            ev->kind = ORIGIN_CLIENT_EV_NEED_MORE;
            return skipped;
        }
        p->_last_len = 0;
        if (r < 0)
            return fail(p, ev, ORIGIN_CLIENT_ERR_MALFORMED_HEAD);
        if ((size_t)r > p->_max_head)
            return fail(p, ev, ORIGIN_CLIENT_ERR_HEAD_TOO_LARGE);
        if (status < 100 || status == 101)
            return fail(p, ev, ORIGIN_CLIENT_ERR_MALFORMED_HEAD); /* we never ask for an upgrade */
        for (size_t i = 0; i != num_headers; ++i) {
            if (hdrs[i].name == NULL) /* obs-fold: could hide a framing header; refused */
                return fail(p, ev, ORIGIN_CLIENT_ERR_MALFORMED_HEAD);
            p->_headers[i].name = h2o_iovec_init(hdrs[i].name, hdrs[i].name_len);
            p->_headers[i].value = trim(hdrs[i].value, hdrs[i].value_len);
        }
        if (status < 200) { /* 100 Continue, 102, 103 Early Hints: interim, read on */
            if (++p->_interim > ORIGIN_CLIENT_MAX_INTERIM)
                return fail(p, ev, ORIGIN_CLIENT_ERR_MALFORMED_HEAD);
            skipped += (size_t)r;
            continue;
        }
        int64_t content_length;
        origin_client_error_t err = decide_framing(p, status, minor_version, num_headers, &content_length);
        if (err != ORIGIN_CLIENT_OK)
            return fail(p, ev, err);
        ev->kind = ORIGIN_CLIENT_EV_HEAD;
        ev->status = status;
        ev->minor_version = minor_version;
        ev->reason = h2o_iovec_init(reason, reason_len);
        ev->headers = p->_headers;
        ev->num_headers = num_headers;
        ev->content_length = content_length;
        return skipped + (size_t)r;
    }
}

size_t origin_client_parser_feed(origin_client_parser_t *p, char *buf, size_t len, origin_client_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    switch (p->_state) {
    case P_HEAD:
        return feed_head(p, buf, len, ev);
    case P_BODY_CL: {
        if (len == 0) {
            ev->kind = ORIGIN_CLIENT_EV_NEED_MORE;
            return 0;
        }
        size_t n = len < p->_remaining ? len : (size_t)p->_remaining;
        p->_remaining -= n;
        if (p->_remaining == 0)
            p->_state = P_DONE;
        ev->kind = ORIGIN_CLIENT_EV_BODY;
        ev->body = h2o_iovec_init(buf, n);
        return n;
    }
    case P_BODY_CHUNKED: {
        if (len == 0) {
            ev->kind = ORIGIN_CLIENT_EV_NEED_MORE;
            return 0;
        }
        size_t decoded = len;
        ssize_t r = phr_decode_chunked((struct phr_chunked_decoder *)p->_chunked.bytes, buf, &decoded);
        if (r == -1)
            return fail(p, ev, ORIGIN_CLIENT_ERR_BAD_CHUNK);
        size_t consumed = len;
        if (r >= 0) {
            /* the decoder left what follows the last chunk right after the decoded bytes: move it to the
             * end, so that "drop `consumed` bytes from the front" leaves exactly it */
            consumed = len - (size_t)r;
            memmove(buf + consumed, buf + decoded, (size_t)r);
            p->_state = P_DONE;
        }
        ev->kind = decoded != 0 ? ORIGIN_CLIENT_EV_BODY : ORIGIN_CLIENT_EV_NEED_MORE;
        ev->body = h2o_iovec_init(buf, decoded);
        if (decoded == 0 && p->_state == P_DONE)
            return consumed + origin_client_parser_feed(p, buf + consumed, len - consumed, ev);
        return consumed;
    }
    case P_BODY_CLOSE:
        ev->kind = len != 0 ? ORIGIN_CLIENT_EV_BODY : ORIGIN_CLIENT_EV_NEED_MORE;
        ev->body = h2o_iovec_init(buf, len);
        return len;
    case P_DONE:
        if (len != 0)
            return fail(p, ev, ORIGIN_CLIENT_ERR_BODY_TOO_LONG);
        p->_state = P_FINISHED;
        ev->kind = ORIGIN_CLIENT_EV_DONE;
        return 0;
    case P_FINISHED:
        if (len != 0)
            return fail(p, ev, ORIGIN_CLIENT_ERR_BODY_TOO_LONG);
        ev->kind = ORIGIN_CLIENT_EV_DONE;
        return 0;
    default: /* P_ERROR: the error sticks */
        ev->kind = ORIGIN_CLIENT_EV_ERROR;
        ev->error = p->_error;
        return 0;
    }
}

void origin_client_parser_eof(origin_client_parser_t *p, bool reset, origin_client_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    switch (p->_state) {
    case P_HEAD:
        fail(p, ev,
             p->_last_len != 0 || p->_interim != 0 ? ORIGIN_CLIENT_ERR_TRUNCATED
             : reset                               ? ORIGIN_CLIENT_ERR_RESET
                                                   : ORIGIN_CLIENT_ERR_CLOSED);
        break;
    case P_BODY_CLOSE:
        if (reset) { /* a reset may have thrown away bytes the origin sent: the end is unknown */
            fail(p, ev, ORIGIN_CLIENT_ERR_TRUNCATED);
            break;
        }
        p->_state = P_FINISHED;
        p->_keepalive = false;
        ev->kind = ORIGIN_CLIENT_EV_DONE;
        break;
    case P_DONE:
    case P_FINISHED:
        p->_state = P_FINISHED;
        p->_keepalive = false;
        ev->kind = ORIGIN_CLIENT_EV_DONE;
        break;
    case P_ERROR:
        ev->kind = ORIGIN_CLIENT_EV_ERROR;
        ev->error = p->_error;
        break;
    default:
        fail(p, ev, ORIGIN_CLIENT_ERR_TRUNCATED);
        break;
    }
}

bool origin_client_parser_can_keepalive(const origin_client_parser_t *p)
{
    return p->_state == P_FINISHED && p->_keepalive;
}

/* ================================ pools and clients ================================ */

struct st_origin_client_pool_t {
    const origin_client_ctx_t *ctx;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    SSL_CTX *ssl_ctx;
    char *server_name; /* never NULL with TLS: h2o takes a NULL name for the server side of a handshake */
    size_t max_idle;
    size_t max_connections;
    size_t num_connections;
    size_t num_idle;
    size_t num_clients;
    h2o_linklist_t idle; /* conn_t, the most recently used last */
};

typedef struct st_conn_t {
    origin_client_pool_t *pool;
    h2o_socket_t *sock; /* sock->data is the client while busy, the conn_t while idle */
    h2o_linklist_t link;
    h2o_timeout_entry_t idle_timer;
} conn_t;

enum { C_CONNECTING, C_HANDSHAKE, C_WRITING, C_READING, C_ENDED };

struct st_origin_client_t {
    origin_client_pool_t *pool;
    conn_t *conn;
    const origin_client_callbacks_t *cb;
    void *data;
    h2o_iovec_t bufs[2];
    size_t num_bufs;
    int state;
    bool reused;
    bool paused;
    bool cancelled;
    bool head_done;
    unsigned depth;                /* > 0 while one of our callbacks runs: cancel then only marks */
    origin_client_error_t pending; /* a failure found inside origin_client_start, reported from `defer` */
    h2o_timeout_entry_t timer;     /* the connect timeout, then the read timeout */
    h2o_timeout_entry_t defer;     /* zero timeout: callbacks that must not run inside start/resume */
    origin_client_parser_t parser;
};

origin_client_pool_t *origin_client_pool_new(const origin_client_ctx_t *ctx, const struct sockaddr *addr, socklen_t addrlen,
                                             SSL_CTX *ssl_ctx, const char *server_name, size_t max_idle, size_t max_connections)
{
    origin_client_pool_t *pool = calloc(1, sizeof(*pool));
    if (pool == NULL || addrlen > sizeof(pool->addr)) {
        free(pool);
        return NULL;
    }
    pool->ctx = ctx;
    memcpy(&pool->addr, addr, addrlen);
    pool->addrlen = addrlen;
    pool->ssl_ctx = ssl_ctx;
    if (ssl_ctx != NULL) {
        char host[NI_MAXHOST];
        if (server_name == NULL) {
            if (h2o_socket_getnumerichost((struct sockaddr *)&pool->addr, addrlen, host) == SIZE_MAX)
                strcpy(host, "localhost");
            server_name = host;
        }
        if ((pool->server_name = strdup(server_name)) == NULL) {
            free(pool);
            return NULL;
        }
    }
    pool->max_idle = max_idle;
    pool->max_connections = max_connections;
    h2o_linklist_init_anchor(&pool->idle);
    return pool;
}

static void conn_close(conn_t *conn)
{
    origin_client_pool_t *pool = conn->pool;
    if (h2o_linklist_is_linked(&conn->link)) {
        h2o_linklist_unlink(&conn->link);
        --pool->num_idle;
    }
    if (h2o_timeout_is_linked(&conn->idle_timer))
        h2o_timeout_unlink(&conn->idle_timer);
    h2o_socket_close(conn->sock);
    --pool->num_connections;
    free(conn);
}

void origin_client_pool_free(origin_client_pool_t *pool)
{
    while (!h2o_linklist_is_empty(&pool->idle))
        conn_close(H2O_STRUCT_FROM_MEMBER(conn_t, link, pool->idle.next));
    free(pool->server_name);
    free(pool);
}

size_t origin_client_pool_num_connections(const origin_client_pool_t *pool)
{
    return pool->num_connections;
}

size_t origin_client_pool_num_idle(const origin_client_pool_t *pool)
{
    return pool->num_idle;
}

static void on_idle_event(h2o_socket_t *sock, const char *err)
{
    /* an idle connection has nothing to say: EOF, an error or stray bytes all end it (a TLS record
     * without application data, such as a session ticket, leaves input empty and is fine) */
    conn_t *conn = sock->data;
    if (err != NULL || sock->input->size != 0)
        conn_close(conn);
}

static void on_idle_timeout(h2o_timeout_entry_t *entry)
{
    conn_close(H2O_STRUCT_FROM_MEMBER(conn_t, idle_timer, entry));
}

/* Gives a connection whose response ended well back to the pool, or closes it. */
static void conn_release(conn_t *conn, bool reusable)
{
    origin_client_pool_t *pool = conn->pool;
    if (!reusable || pool->ctx->keepalive_timeout == NULL || pool->num_idle >= pool->max_idle || conn->sock->input->size != 0 ||
        h2o_socket_is_writing(conn->sock)) {
        conn_close(conn);
        return;
    }
    conn->sock->data = conn;
    h2o_socket_read_start(conn->sock, on_idle_event);
    h2o_linklist_insert(&pool->idle, &conn->link);
    ++pool->num_idle;
    conn->idle_timer.cb = on_idle_timeout;
    h2o_timeout_link(pool->ctx->loop, pool->ctx->keepalive_timeout, &conn->idle_timer);
}

/* The FIN of an origin that closed an idle connection may not have been seen by the loop yet. */
static bool conn_is_alive(conn_t *conn)
{
    char c;
    if (conn->sock->input->size != 0)
        return false;
    ssize_t r = recv(h2o_socket_get_fd(conn->sock), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void destroy(origin_client_t *c)
{
    if (h2o_timeout_is_linked(&c->timer))
        h2o_timeout_unlink(&c->timer);
    if (h2o_timeout_is_linked(&c->defer))
        h2o_timeout_unlink(&c->defer);
    if (c->conn != NULL)
        conn_close(c->conn);
    --c->pool->num_clients;
    free(c);
}

/* Ends the sequence: hands the connection back or closes it, calls the last callback, frees. */
static void finish(origin_client_t *c, origin_client_error_t err)
{
    conn_t *conn = c->conn;
    c->conn = NULL;
    c->state = C_ENDED;
    if (h2o_timeout_is_linked(&c->timer))
        h2o_timeout_unlink(&c->timer);
    if (conn != NULL)
        conn_release(conn, err == ORIGIN_CLIENT_OK && origin_client_parser_can_keepalive(&c->parser));
    if (!c->cancelled) {
        ++c->depth;
        if (c->head_done)
            c->cb->on_done(c, c->data, err);
        else
            c->cb->on_head(c, c->data, err, 0, h2o_iovec_init(NULL, 0), NULL, 0, -1);
        --c->depth;
    }
    destroy(c);
}

/* After a callback that does not end the sequence: false when the callback cancelled (c is freed). */
static bool survived(origin_client_t *c)
{
    --c->depth;
    if (!c->cancelled)
        return true;
    destroy(c);
    return false;
}

static void link_read_timer(origin_client_t *c);

/* Feeds the buffered bytes to the parser and calls back. 1: wants more bytes; 0: paused; -1: c is gone. */
static int process(origin_client_t *c)
{
    while (!c->paused) {
        h2o_socket_t *sock = c->conn->sock;
        origin_client_event_t ev;
        size_t n = origin_client_parser_feed(&c->parser, sock->input->bytes, sock->input->size, &ev);
        switch (ev.kind) {
        case ORIGIN_CLIENT_EV_NEED_MORE:
            h2o_buffer_consume(&sock->input, n);
            return 1;
        case ORIGIN_CLIENT_EV_HEAD:
            c->head_done = true;
            ++c->depth;
            c->cb->on_head(c, c->data, ORIGIN_CLIENT_OK, ev.status, ev.reason, ev.headers, ev.num_headers, ev.content_length);
            h2o_buffer_consume(&sock->input, n);
            if (!survived(c))
                return -1;
            break;
        case ORIGIN_CLIENT_EV_BODY:
            ++c->depth;
            c->cb->on_body(c, c->data, ev.body);
            h2o_buffer_consume(&sock->input, n);
            if (!survived(c))
                return -1;
            break;
        case ORIGIN_CLIENT_EV_DONE:
            finish(c, ORIGIN_CLIENT_OK);
            return -1;
        case ORIGIN_CLIENT_EV_ERROR:
            finish(c, ev.error);
            return -1;
        }
    }
    return 0;
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    origin_client_t *c = sock->data;
    if (h2o_timeout_is_linked(&c->timer))
        h2o_timeout_unlink(&c->timer);
    if (process(c) != 1)
        return;
    if (err != NULL) {
        origin_client_event_t ev;
        origin_client_parser_eof(&c->parser, err != h2o_socket_error_closed, &ev);
        finish(c, ev.kind == ORIGIN_CLIENT_EV_DONE ? ORIGIN_CLIENT_OK : ev.error);
        return;
    }
    link_read_timer(c);
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    origin_client_t *c = H2O_STRUCT_FROM_MEMBER(origin_client_t, timer, entry);
    finish(c, c->state <= C_HANDSHAKE ? ORIGIN_CLIENT_ERR_CONNECT_TIMEOUT : ORIGIN_CLIENT_ERR_READ_TIMEOUT);
}

static void link_read_timer(origin_client_t *c)
{
    /* resume may run inside a callback of process(), which links the timer again when it returns */
    if (h2o_timeout_is_linked(&c->timer))
        h2o_timeout_unlink(&c->timer);
    c->timer.cb = on_timeout;
    h2o_timeout_link(c->pool->ctx->loop, c->pool->ctx->read_timeout, &c->timer);
}

static void on_write(h2o_socket_t *sock, const char *err)
{
    origin_client_t *c = sock->data;
    if (err != NULL) {
        finish(c, ORIGIN_CLIENT_ERR_WRITE);
        return;
    }
    c->state = C_READING;
    if (!c->paused)
        h2o_socket_read_start(sock, on_read);
}

/* The read timeout runs from here: an origin that does not read the request is as stuck as a silent one. */
static void write_request(origin_client_t *c)
{
    c->state = C_WRITING;
    c->conn->sock->data = c;
    h2o_socket_write(c->conn->sock, c->bufs, c->num_bufs, on_write);
    if (!c->paused)
        link_read_timer(c);
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    origin_client_t *c = sock->data;
    h2o_timeout_unlink(&c->timer);
    if (err != NULL) {
        finish(c, ORIGIN_CLIENT_ERR_TLS);
        return;
    }
    write_request(c);
}

static void on_connect(h2o_socket_t *sock, const char *err)
{
    origin_client_t *c = sock->data;
    if (err != NULL) {
        finish(c, ORIGIN_CLIENT_ERR_CONNECT);
        return;
    }
    if (c->pool->ssl_ctx != NULL) {
        c->state = C_HANDSHAKE; /* the connect timeout keeps running through the handshake */
        h2o_socket_ssl_handshake(sock, c->pool->ssl_ctx, c->pool->server_name, on_handshake);
        return;
    }
    h2o_timeout_unlink(&c->timer);
    write_request(c);
}

static void on_defer(h2o_timeout_entry_t *entry)
{
    origin_client_t *c = H2O_STRUCT_FROM_MEMBER(origin_client_t, defer, entry);
    if (c->pending != ORIGIN_CLIENT_OK) {
        finish(c, c->pending);
        return;
    }
    if (c->state == C_READING && !c->paused)
        process(c);
}

static void defer(origin_client_t *c)
{
    if (!h2o_timeout_is_linked(&c->defer)) {
        c->defer.cb = on_defer;
        h2o_timeout_link(c->pool->ctx->loop, c->pool->ctx->zero_timeout, &c->defer);
    }
}

origin_client_t *origin_client_start(origin_client_pool_t *pool, h2o_iovec_t head, h2o_iovec_t body, bool is_head,
                                     const origin_client_callbacks_t *callbacks, void *data)
{
    origin_client_t *c = h2o_mem_alloc(sizeof(*c));
    memset(c, 0, offsetof(origin_client_t, parser));
    c->pool = pool;
    c->cb = callbacks;
    c->data = data;
    c->bufs[c->num_bufs++] = head;
    if (body.len != 0)
        c->bufs[c->num_bufs++] = body;
    origin_client_parser_init(&c->parser, is_head, pool->ctx->max_head_size);
    ++pool->num_clients;

    /* the most recently used idle connection is the least likely to have been closed by the origin */
    while (!h2o_linklist_is_empty(&pool->idle)) {
        conn_t *conn = H2O_STRUCT_FROM_MEMBER(conn_t, link, pool->idle.prev);
        if (!conn_is_alive(conn)) {
            conn_close(conn);
            continue;
        }
        h2o_linklist_unlink(&conn->link);
        --pool->num_idle;
        h2o_timeout_unlink(&conn->idle_timer);
        h2o_socket_read_stop(conn->sock);
        c->conn = conn;
        c->reused = true;
        write_request(c);
        return c;
    }

    if (pool->max_connections != 0 && pool->num_connections >= pool->max_connections) {
        c->pending = ORIGIN_CLIENT_ERR_POOL_FULL;
        defer(c);
        return c;
    }
    h2o_socket_t *sock = h2o_socket_connect(pool->ctx->loop, (struct sockaddr *)&pool->addr, pool->addrlen, on_connect);
    if (sock == NULL) {
        c->pending = ORIGIN_CLIENT_ERR_CONNECT;
        defer(c);
        return c;
    }
    conn_t *conn = h2o_mem_alloc(sizeof(*conn));
    memset(conn, 0, sizeof(*conn));
    conn->pool = pool;
    conn->sock = sock;
    ++pool->num_connections;
    sock->data = c;
    c->conn = conn;
    c->state = C_CONNECTING;
    c->timer.cb = on_timeout;
    h2o_timeout_link(pool->ctx->loop, pool->ctx->connect_timeout, &c->timer);
    return c;
}

void origin_client_pause(origin_client_t *c)
{
    if (c->paused || c->state == C_ENDED)
        return;
    c->paused = true;
    if (c->state >= C_WRITING && h2o_timeout_is_linked(&c->timer))
        h2o_timeout_unlink(&c->timer);
    if (c->state == C_READING)
        h2o_socket_read_stop(c->conn->sock);
}

void origin_client_resume(origin_client_t *c)
{
    if (!c->paused || c->state == C_ENDED)
        return;
    c->paused = false;
    if (c->state == C_WRITING) {
        link_read_timer(c);
    } else if (c->state == C_READING) {
        h2o_socket_read_start(c->conn->sock, on_read);
        link_read_timer(c);
        /* bytes may wait in the buffer, or the parser may owe a DONE: nothing would read them otherwise */
        defer(c);
    }
}

void origin_client_cancel(origin_client_t *c)
{
    if (c->depth != 0) {
        c->cancelled = true;
        return;
    }
    destroy(c);
}

bool origin_client_is_reused(const origin_client_t *c)
{
    return c->reused;
}
