/*
 * edge/httpc.c: the blocking HTTP/1.1 client of the command-line tools (see edge/httpc.h).
 *
 * Everything is bounded by one buffer per connection. The request is serialised into that buffer (it is
 * empty between requests: a response followed by unexpected bytes closes the connection), then the same
 * buffer receives the response. Its head is copied into the response (so that header pointers survive
 * the body), and the body streams through the buffer into the caller's sink.
 *
 * The invariant that is easy to break: a request is sent again only when it is idempotent, the
 * connection was a reused one, and not one byte of the response had arrived, so a request the server
 * has started answering, or a POST, is never repeated. The socket is non-blocking and every wait is a poll() bounded by the
 * request's one deadline; EINTR restarts the wait with the time that is left, never with the full timeout.
 */
#include "edge/httpc.h"
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int edge_httpc_resolve(const char *hostport, struct sockaddr_storage *addr, socklen_t *addrlen, char *err, size_t errlen)
{
    char host[256];
    const char *port, *host_start = hostport, *host_end;

    if (hostport[0] == '[') {
        host_start = hostport + 1;
        if ((host_end = strchr(host_start, ']')) == NULL || host_end[1] != ':') {
            snprintf(err, errlen, "\"%s\": expected \"[IPV6]:PORT\"", hostport);
            return -1;
        }
        port = host_end + 2;
    } else {
        if ((host_end = strrchr(hostport, ':')) == NULL) {
            snprintf(err, errlen, "\"%s\": expected \"HOST:PORT\"", hostport);
            return -1;
        }
        if (memchr(hostport, ':', host_end - hostport) != NULL) {
            snprintf(err, errlen, "\"%s\": an IPv6 address needs brackets, e.g. \"[::1]:8080\"", hostport);
            return -1;
        }
        port = host_end + 1;
    }
    size_t hlen = host_end - host_start;
    if (hlen == 0 || hlen >= sizeof(host)) {
        snprintf(err, errlen, "\"%s\": bad host", hostport);
        return -1;
    }
    memcpy(host, host_start, hlen);
    host[hlen] = '\0';
    unsigned long pnum = 0;
    size_t ndigits = strspn(port, "0123456789");
    if (ndigits == 0 || ndigits > 5 || port[ndigits] != '\0' || (pnum = strtoul(port, NULL, 10)) == 0 || pnum > 65535) {
        snprintf(err, errlen, "\"%s\": port is not in 1..65535", hostport);
        return -1;
    }

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "\"%s\": %s", hostport, gai_strerror(gai));
        return -1;
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

void edge_httpc_init(edge_httpc_t *c, const struct sockaddr *addr, socklen_t addrlen)
{
    c->sys_errno = 0;
    memset(&c->_addr, 0, sizeof(c->_addr));
    c->_addrlen = addrlen <= sizeof(c->_addr) ? addrlen : sizeof(c->_addr);
    memcpy(&c->_addr, addr, c->_addrlen);
    c->_fd = -1;
    c->_served = 0;
    c->_len = 0;
}

void edge_httpc_close(edge_httpc_t *c)
{
    if (c->_fd != -1) {
        /* close(2) may report EINTR, but on Linux the descriptor is released all the same: never retry */
        close(c->_fd);
        c->_fd = -1;
    }
    c->_served = 0;
    c->_len = 0;
}

/* --- I/O, each bounded by the deadline ---------------------------------------------------------- */

/* Waits until the socket is ready for `events`. 0, EDGE_HTTPC_ETIMEOUT or EDGE_HTTPC_EIO. */
static int wait_fd(edge_httpc_t *c, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline)
            return EDGE_HTTPC_ETIMEOUT;
        uint64_t left = deadline - now;
        struct pollfd p = {.fd = c->_fd, .events = events};
        int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r > 0)
            return 0; /* readiness, or POLLERR / POLLHUP, which the next call on the socket reports */
        if (r < 0 && errno != EINTR) {
            c->sys_errno = errno;
            return EDGE_HTTPC_EIO;
        }
    }
}

static int open_conn(edge_httpc_t *c, uint64_t deadline)
{
    int fd, ret, soerr = 0, on = 1;
    socklen_t len = sizeof(soerr);

    if ((fd = socket(c->_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
        c->sys_errno = errno;
        return EDGE_HTTPC_ECONNECT;
    }
    c->_fd = fd;
    c->_served = 0; /* _len is not touched: it holds the request, built before the connection is opened */
    /* small requests must not wait for Nagle; a failure only costs latency */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (connect(fd, (const struct sockaddr *)&c->_addr, c->_addrlen) == 0)
        return 0;
    /* EINTR on a non-blocking connect: the handshake goes on asynchronously, as with EINPROGRESS */
    if (errno != EINPROGRESS && errno != EINTR) {
        c->sys_errno = errno;
        return EDGE_HTTPC_ECONNECT;
    }
    if ((ret = wait_fd(c, POLLOUT, deadline)) != 0)
        return ret;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr != 0) {
        c->sys_errno = soerr;
        return EDGE_HTTPC_ECONNECT;
    }
    return 0;
}

static int send_all(edge_httpc_t *c, const char *p, size_t len, uint64_t deadline)
{
    while (len != 0) {
        ssize_t n = send(c->_fd, p, len, MSG_NOSIGNAL);
        if (n >= 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int ret = wait_fd(c, POLLOUT, deadline);
            if (ret != 0)
                return ret;
            continue;
        }
        c->sys_errno = errno;
        return errno == EPIPE || errno == ECONNRESET ? EDGE_HTTPC_ECLOSED : EDGE_HTTPC_EIO;
    }
    return 0;
}

/* Appends what the socket has to the buffer (which must have room). 1: bytes added; 0: EOF; or an error. */
static int fill(edge_httpc_t *c, uint64_t deadline)
{
    for (;;) {
        ssize_t n = recv(c->_fd, c->_buf + c->_len, sizeof(c->_buf) - c->_len, 0);
        if (n > 0) {
            c->_len += (size_t)n;
            return 1;
        }
        if (n == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int ret = wait_fd(c, POLLIN, deadline);
            if (ret != 0)
                return ret;
            continue;
        }
        c->sys_errno = errno;
        return errno == ECONNRESET ? EDGE_HTTPC_ECLOSED : EDGE_HTTPC_EIO;
    }
}

static void consume(edge_httpc_t *c, size_t n)
{
    memmove(c->_buf, c->_buf + n, c->_len - n);
    c->_len -= n;
}

/* --- the request ---------------------------------------------------------------------------------- */

typedef struct st_out_t {
    char *p;
    size_t len, cap;
    bool overflow;
} out_t;

static void put(out_t *o, const void *s, size_t n)
{
    if (o->overflow || n > o->cap - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void puts_(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

/* A field of the request line or a header line: no byte that could split it into two. */
static bool field_ok(const char *s, bool allow_space)
{
    for (; *s != '\0'; ++s)
        if (*s == '\r' || *s == '\n' || (!allow_space && *s == ' '))
            return false;
    return true;
}

static int build(edge_httpc_t *c, const edge_httpc_request_t *req)
{
    out_t o = {.p = c->_buf, .cap = sizeof(c->_buf)};
    char num[32];

    if (!field_ok(req->method, false) || !field_ok(req->target, false) || !field_ok(req->host, false) ||
        req->num_headers > EDGE_HTTPC_MAX_REQ_HEADERS)
        return EDGE_HTTPC_EINVAL;
    for (size_t i = 0; i != req->num_headers; ++i)
        if (!field_ok(req->headers[i], true))
            return EDGE_HTTPC_EINVAL;

    puts_(&o, req->method);
    puts_(&o, " ");
    puts_(&o, req->target);
    puts_(&o, " HTTP/1.1\r\nHost: ");
    puts_(&o, req->host);
    puts_(&o, "\r\n");
    for (size_t i = 0; i != req->num_headers; ++i) {
        puts_(&o, req->headers[i]);
        puts_(&o, "\r\n");
    }
    if (req->body != NULL) {
        snprintf(num, sizeof(num), "%zu", req->body_len);
        puts_(&o, "Content-Length: ");
        puts_(&o, num);
        puts_(&o, "\r\n");
    }
    puts_(&o, "\r\n");
    if (req->body != NULL)
        put(&o, req->body, req->body_len);
    if (o.overflow)
        return EDGE_HTTPC_ETOOBIG;
    c->_len = o.len;
    return 0;
}

/* --- the response head ---------------------------------------------------------------------------- */

/* The length of the head (up to and including its empty line) at the start of `p`, or 0 if incomplete. */
static size_t head_end(const char *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; ++i) {
        if (p[i] != '\n')
            continue;
        if (p[i + 1] == '\n')
            return i + 2;
        if (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Parses res->_head[0, len) (a whole head, as head_end measured it) into status and headers. */
static int parse_head(edge_httpc_response_t *res, size_t len)
{
    const char *p = res->_head, *end = res->_head + len;

    res->num_headers = 0;
    /* status line: "HTTP/1.x NNN[ reason]" */
    const char *eol = memchr(p, '\n', end - p);
    size_t l = eol - p;
    if (l > 0 && p[l - 1] == '\r')
        --l;
    if (l < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ' || p[9] < '1' || p[9] > '5' ||
        p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' || (l > 12 && p[12] != ' '))
        return EDGE_HTTPC_EPROTO;
    res->minor_version = p[7] - '0';
    res->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');

    for (p = eol + 1; p < end; p = eol + 1) {
        eol = memchr(p, '\n', end - p);
        l = eol - p;
        if (l > 0 && p[l - 1] == '\r')
            --l;
        if (l == 0)
            return 0; /* the empty line that ends the head */
        const char *colon = memchr(p, ':', l);
        if (colon == NULL || colon == p || res->num_headers == EDGE_HTTPC_MAX_HEADERS)
            return EDGE_HTTPC_EPROTO;
        for (const char *q = p; q != colon; ++q)
            if (!is_tchar((unsigned char)*q))
                return EDGE_HTTPC_EPROTO; /* obs-fold (a leading space) lands here too: RFC 9112 lets a client reject it */
        const char *v = colon + 1, *ve = p + l;
        while (v < ve && (*v == ' ' || *v == '\t'))
            ++v;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            --ve;
        edge_httpc_header_t *h = &res->headers[res->num_headers++];
        *h = (edge_httpc_header_t){.name = p, .name_len = colon - p, .value = v, .value_len = ve - v};
    }
    return EDGE_HTTPC_EPROTO; /* head_end guaranteed the empty line: unreachable, but never trust that blindly */
}

const char *edge_httpc_header(const edge_httpc_response_t *res, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i != res->num_headers; ++i) {
        const edge_httpc_header_t *h = &res->headers[i];
        if (h->name_len == nlen && strncasecmp(h->name, name, nlen) == 0) {
            *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}

/* True when the comma-separated list `v` holds `token` (case-insensitive). With `last_only`, only its last
 * element counts (Transfer-Encoding: the final coding decides the framing). */
static bool has_token(const char *v, size_t len, const char *token, bool last_only)
{
    size_t tlen = strlen(token);
    const char *p = v, *end = v + len;
    bool found = false;
    while (p <= end) {
        const char *comma = memchr(p, ',', end - p), *e = comma != NULL ? comma : end;
        const char *b = p;
        while (b < e && (*b == ' ' || *b == '\t'))
            ++b;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            --e;
        bool match = (size_t)(e - b) == tlen && strncasecmp(b, token, tlen) == 0;
        if (last_only)
            found = match;
        else if (match)
            return true;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return found;
}

/* --- the response body ---------------------------------------------------------------------------- */

static void sink(edge_httpc_response_t *res, const char *p, size_t n)
{
    res->body_total += n;
    if (res->body == NULL || res->body_cap == 0)
        return;
    size_t room = res->body_cap - 1 - res->body_len;
    if (n > room)
        n = room;
    memcpy(res->body + res->body_len, p, n);
    res->body_len += n;
    res->body[res->body_len] = '\0';
}

typedef enum en_chunk_state_t {
    C_SIZE,
    C_EXT,
    C_SIZE_LF,
    C_DATA,
    C_DATA_CR,
    C_DATA_LF,
    C_TRAILER_START,
    C_TRAILER_LINE,
    C_END_LF
} chunk_state_t;

typedef struct st_chunked_t {
    chunk_state_t state;
    uint64_t size; /* of the current chunk: while parsing its size line, the value so far; in C_DATA, what is left */
    unsigned digits;
} chunked_t;

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes p[0, n) and passes the data to `res`. Returns 1 when the last chunk and the trailer ended, with
 * the bytes used in `*used`; 0 when it needs more; EDGE_HTTPC_EPROTO on a syntax error. */
static int dechunk(chunked_t *d, edge_httpc_response_t *res, const char *p, size_t n, size_t *used)
{
    size_t i = 0;
    while (i < n) {
        char ch = p[i];
        switch (d->state) {
        case C_SIZE: {
            int v = hexval(ch);
            if (v >= 0) {
                if (++d->digits > 15)
                    return EDGE_HTTPC_EPROTO; /* beyond 2^60: nobody sends that, and the arithmetic would overflow */
                d->size = d->size * 16 + (uint64_t)v;
            } else if (d->digits == 0) {
                return EDGE_HTTPC_EPROTO;
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                d->state = C_EXT;
            } else if (ch == '\r') {
                d->state = C_SIZE_LF;
            } else if (ch == '\n') {
                d->state = d->size == 0 ? C_TRAILER_START : C_DATA;
            } else {
                return EDGE_HTTPC_EPROTO;
            }
            ++i;
            break;
        }
        case C_EXT: /* chunk extensions are ignored (RFC 9112 §7.1.1) */
            if (ch == '\n')
                d->state = d->size == 0 ? C_TRAILER_START : C_DATA;
            ++i;
            break;
        case C_SIZE_LF:
            if (ch != '\n')
                return EDGE_HTTPC_EPROTO;
            d->state = d->size == 0 ? C_TRAILER_START : C_DATA;
            ++i;
            break;
        case C_DATA: {
            size_t take = n - i < d->size ? n - i : (size_t)d->size;
            sink(res, p + i, take);
            i += take;
            if ((d->size -= take) == 0)
                d->state = C_DATA_CR;
            break;
        }
        case C_DATA_CR:
        case C_DATA_LF:
            if (ch == '\r' && d->state == C_DATA_CR) {
                d->state = C_DATA_LF;
            } else if (ch == '\n') {
                d->state = C_SIZE;
                d->digits = 0;
            } else {
                return EDGE_HTTPC_EPROTO;
            }
            ++i;
            break;
        case C_TRAILER_START:
            ++i;
            if (ch == '\n') {
                *used = i;
                return 1;
            }
            d->state = ch == '\r' ? C_END_LF : C_TRAILER_LINE;
            break;
        case C_TRAILER_LINE: /* trailer fields are ignored */
            if (ch == '\n')
                d->state = C_TRAILER_START;
            ++i;
            break;
        case C_END_LF:
            if (ch != '\n')
                return EDGE_HTTPC_EPROTO;
            *used = i + 1;
            return 1;
        }
    }
    *used = i;
    return 0;
}

typedef enum en_framing_t { F_NONE, F_LENGTH, F_CHUNKED, F_CLOSE } framing_t;

/* How the body ends (RFC 9112 §6.3), and whether the connection may be reused after it. */
static int framing(const edge_httpc_request_t *req, const edge_httpc_response_t *res, framing_t *f, uint64_t *length, bool *keep)
{
    const char *v;
    size_t len;

    v = edge_httpc_header(res, "connection", &len);
    if (res->minor_version >= 1)
        *keep = v == NULL || !has_token(v, len, "close", false);
    else
        *keep = v != NULL && has_token(v, len, "keep-alive", false);
    if (strcmp(req->method, "HEAD") == 0 || res->status == 204 || res->status == 304) {
        *f = F_NONE;
        return 0;
    }
    if ((v = edge_httpc_header(res, "transfer-encoding", &len)) != NULL) {
        /* a Content-Length beside it is ignored, and the connection is not trusted for another request */
        *f = has_token(v, len, "chunked", true) ? F_CHUNKED : F_CLOSE;
        *keep = *keep && *f == F_CHUNKED && edge_httpc_header(res, "content-length", &len) == NULL;
        return 0;
    }
    bool seen = false;
    for (size_t i = 0; i != res->num_headers; ++i) {
        const edge_httpc_header_t *h = &res->headers[i];
        if (h->name_len != 14 || strncasecmp(h->name, "content-length", 14) != 0)
            continue;
        if (h->value_len == 0 || h->value_len > 18)
            return EDGE_HTTPC_EPROTO;
        uint64_t n = 0;
        for (size_t j = 0; j != h->value_len; ++j) {
            if (h->value[j] < '0' || h->value[j] > '9')
                return EDGE_HTTPC_EPROTO;
            n = n * 10 + (uint64_t)(h->value[j] - '0');
        }
        if (seen && n != *length)
            return EDGE_HTTPC_EPROTO; /* two different lengths: a smuggling attempt or a broken server */
        seen = true;
        *length = n;
    }
    if (seen) {
        *f = F_LENGTH;
        return 0;
    }
    *f = F_CLOSE;
    *keep = false;
    return 0;
}

static int read_body(edge_httpc_t *c, edge_httpc_response_t *res, framing_t f, uint64_t length, uint64_t deadline)
{
    chunked_t dec = {.state = C_SIZE};
    int r;

    switch (f) {
    case F_NONE:
        return 0;
    case F_LENGTH:
        for (;;) {
            size_t take = c->_len < length ? c->_len : (size_t)length;
            sink(res, c->_buf, take);
            consume(c, take);
            if ((length -= take) == 0)
                return 0;
            if ((r = fill(c, deadline)) <= 0)
                return r == 0 ? EDGE_HTTPC_ECLOSED : r;
        }
    case F_CHUNKED:
        for (;;) {
            size_t used;
            int done = dechunk(&dec, res, c->_buf, c->_len, &used);
            if (done < 0)
                return done;
            consume(c, used);
            if (done)
                return 0;
            if ((r = fill(c, deadline)) <= 0)
                return r == 0 ? EDGE_HTTPC_ECLOSED : r;
        }
    case F_CLOSE:
        for (;;) {
            sink(res, c->_buf, c->_len);
            c->_len = 0;
            if ((r = fill(c, deadline)) <= 0)
                return r;
        }
    }
    return EDGE_HTTPC_EPROTO;
}

/* One attempt on the current (or a new) connection. `*answered` becomes true once a response byte came. */
static int exchange(edge_httpc_t *c, const edge_httpc_request_t *req, edge_httpc_response_t *res, uint64_t deadline, bool *answered)
{
    int r;

    /* the request is built (and checked) before any connection is opened for it */
    if ((r = build(c, req)) != 0)
        return r;
    if (c->_fd == -1 && (r = open_conn(c, deadline)) != 0)
        return r;
    r = send_all(c, c->_buf, c->_len, deadline);
    c->_len = 0;
    if (r != 0)
        return r;

    for (;;) {
        size_t hl;
        while ((hl = head_end(c->_buf, c->_len)) == 0) {
            if (c->_len >= EDGE_HTTPC_HEAD_MAX)
                return EDGE_HTTPC_ETOOBIG;
            if ((r = fill(c, deadline)) <= 0)
                return r == 0 ? EDGE_HTTPC_ECLOSED : r;
            *answered = true;
        }
        if (hl > EDGE_HTTPC_HEAD_MAX)
            return EDGE_HTTPC_ETOOBIG;
        memcpy(res->_head, c->_buf, hl);
        consume(c, hl);
        if ((r = parse_head(res, hl)) != 0)
            return r;
        if (res->status >= 200)
            break;
        if (res->status == 101)
            return EDGE_HTTPC_EPROTO; /* never asked for an upgrade */
        /* an interim response (100 Continue, 103 Early Hints): the final one follows */
    }

    framing_t f;
    uint64_t length = 0;
    bool keep;
    if ((r = framing(req, res, &f, &length, &keep)) != 0)
        return r;
    if ((r = read_body(c, res, f, length, deadline)) != 0)
        return r;
    ++c->_served;
    if (!keep || c->_len != 0) /* bytes nobody asked for: the connection is out of step, do not reuse it */
        edge_httpc_close(c);
    return 0;
}

static bool idempotent(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 || strcmp(method, "OPTIONS") == 0 ||
           strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0;
}

int edge_httpc_request(edge_httpc_t *c, const edge_httpc_request_t *req, edge_httpc_response_t *res, uint64_t timeout_ms)
{
    uint64_t deadline = now_ms() + timeout_ms;

    c->sys_errno = 0;
    if (c->_fd != -1 && c->_len != 0)
        edge_httpc_close(c);
    for (unsigned attempt = 0;; ++attempt) {
        bool reused = c->_fd != -1 && c->_served != 0, answered = false;
        res->status = 0;
        res->num_headers = 0;
        res->body_len = 0;
        res->body_total = 0;
        if (res->body != NULL && res->body_cap != 0)
            res->body[0] = '\0';
        int r = exchange(c, req, res, deadline, &answered);
        if (r == 0)
            return 0;
        edge_httpc_close(c);
        /* the server closed an idle kept-alive connection as we sent on it and nothing was answered: send
         * once more, but only a request that may be repeated (RFC 9110 §9.2.2) — a server that processed a
         * POST and died before answering would otherwise see it twice */
        if (!(r == EDGE_HTTPC_ECLOSED && reused && !answered && attempt == 0 && idempotent(req->method)))
            return r;
        c->sys_errno = 0;
    }
}

const char *edge_httpc_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case EDGE_HTTPC_ECONNECT:
        return "cannot connect";
    case EDGE_HTTPC_ETIMEOUT:
        return "timeout";
    case EDGE_HTTPC_ECLOSED:
        return "connection closed before the response was complete";
    case EDGE_HTTPC_EPROTO:
        return "malformed response";
    case EDGE_HTTPC_ETOOBIG:
        return "request or response head too large";
    case EDGE_HTTPC_EIO:
        return "socket error";
    case EDGE_HTTPC_EINVAL:
        return "invalid request";
    default:
        return "unknown error";
    }
}
