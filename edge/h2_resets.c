/*
 * edge/h2_resets.c: early stream resets per HTTP/2 connection, and the connections closed for them (see
 * h2_resets.h).
 *
 * libh2o 2.2.5 gives a connection no slot for user data and no close callback of its own, so the state of a
 * connection hangs on its socket: h2o_socket_t's on_close hook, which libh2o calls after it has closed the
 * socket, and which 2.2.5 uses only for the sockets of its client pool (lib/common/socketpool.c), never for
 * an accepted connection. The block is found again through that hook (cb == on_socket_close) and freed by
 * it, so it lives exactly as long as the connection: no table to sweep, no pointer that can outlive it, at
 * most one block per connection that has reset a stream early. If anything else ever holds the hook, the
 * connection is simply not tracked.
 *
 * Closing: shutdown(2) on the descriptor, never a call into libh2o's connection from inside its own stream
 * teardown (we run inside handle_rst_stream_frame → h2o_http2_stream_close → request dispose). After it the
 * socket reads end-of-stream and writes fail, and libh2o's on_read / on_write_complete take their ordinary
 * error path (close_connection, lib/http2/connection.c), which closes the streams and then the socket. The
 * frames already read in the same buffer are still parsed: their requests are refused at once
 * (edge_h2_resets_closing), so they start no origin fetch.
 *
 * What counts as a reset: a request disposed before its response was complete. libh2o's connection struct
 * cannot be read from here (<h2o/http2_internal.h> includes khash.h, which Debian does not install), so the
 * streams libh2o closes when the whole connection goes away are counted too: a client that closes a
 * connection with requests in flight has ended them early as surely as with RST_STREAM. At most
 * limits.h2_max_concurrent_streams of them are in flight, so a connection closing alone cannot pass the
 * default limit; and a connection that is already going away loses nothing by a shutdown(2).
 */
#include <stdlib.h>
#include <sys/socket.h>
#include "common/log.h"
#include "edge/h2_resets.h"

typedef struct st_conn_resets_t {
    uint64_t window_start; /* ms, loop clock */
    unsigned count;        /* early resets since window_start */
    bool closing;          /* the socket was shut down */
} conn_resets_t;

static void on_socket_close(void *data)
{
    free(data);
}

/* The socket of `req`'s HTTP/2 connection, or NULL (HTTP/1, and the request an h2c upgrade started with: in
 * 2.2.5 only the HTTP/2 server sets version 0x200). */
static h2o_socket_t *h2_socket(h2o_req_t *req)
{
    if (req->version < 0x200 || req->conn->callbacks->get_socket == NULL)
        return NULL;
    return req->conn->callbacks->get_socket(req->conn);
}

/* The connection's block, created when `create`; NULL when there is none or the hook is taken. */
static conn_resets_t *state_of(h2o_socket_t *sock, bool create)
{
    if (sock->on_close.cb == on_socket_close)
        return sock->on_close.data;
    if (!create || sock->on_close.cb != NULL)
        return NULL;
    conn_resets_t *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    sock->on_close.cb = on_socket_close;
    sock->on_close.data = st;
    return st;
}

void edge_h2_resets_note(h2o_req_t *req, bool early, unsigned limit, uint64_t window_ms, reports_counters_t *counters)
{
    h2o_socket_t *sock = h2_socket(req);
    if (sock == NULL || !early)
        return;
    ++counters->h2_resets;
    if (limit == 0)
        return;
    conn_resets_t *st = state_of(sock, true);
    if (st == NULL || st->closing)
        return;
    uint64_t now = h2o_now(req->conn->ctx->loop);
    if (st->count == 0 || now - st->window_start > window_ms) {
        st->window_start = now;
        st->count = 0;
    }
    if (++st->count <= limit)
        return;
    st->closing = true;
    ++counters->h2_abusive_closes;
    common_log_warn("http2: closing connection %llu: %u streams reset early within %llu ms", (unsigned long long)req->conn->id,
                    st->count, (unsigned long long)window_ms);
    shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
}

bool edge_h2_resets_closing(h2o_req_t *req)
{
    h2o_socket_t *sock = h2_socket(req);
    if (sock == NULL)
        return false;
    conn_resets_t *st = state_of(sock, false);
    return st != NULL && st->closing;
}
