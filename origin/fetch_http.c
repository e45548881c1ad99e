/*
 * origin/fetch_http.c: the fetch's HTTP exchange with an origin server — CONNECT, HEAD and BODY —
 * driven by our own client (origin/client.h), so that no origin byte ever reaches libh2o's client.
 *
 * The client's callbacks arrive on the owner's loop; each checks the fetch's magic, maps the client's
 * error identity to the fetch's (origin_fetch_error_t) and moves the state through fetch_goto. The
 * invariant that is easy to break: a body is complete only when the client says so (on_done with no
 * error): a Content-Length the bytes disagree with, a reset or a timeout is never stored.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/log.h"
#include "errorpages/errorpages.h"
#include "origin/fetch_int.h"

/* --- the HTTP exchange: CONNECT → HEAD → BODY, driven by origin/client.h ------------------------------ */

/* What the client's error means to the fetch. Connection-class errors (no exchange took place) are
 * attempts that failed; the others are the server's answer, or the lack of one. */
static origin_fetch_error_t error_of(origin_client_error_t err)
{
    switch (err) {
    case ORIGIN_CLIENT_OK:
        return ORIGIN_FETCH_OK;
    case ORIGIN_CLIENT_ERR_CONNECT:
    case ORIGIN_CLIENT_ERR_TLS:
        return ORIGIN_FETCH_ERR_CONNECT;
    case ORIGIN_CLIENT_ERR_CONNECT_TIMEOUT:
        return ORIGIN_FETCH_ERR_TIMEOUT_CONNECT;
    case ORIGIN_CLIENT_ERR_POOL_FULL:
        return ORIGIN_FETCH_ERR_POOL_FULL;
    case ORIGIN_CLIENT_ERR_READ_TIMEOUT:
        return ORIGIN_FETCH_ERR_TIMEOUT_READ;
    case ORIGIN_CLIENT_ERR_MALFORMED_HEAD:
    case ORIGIN_CLIENT_ERR_HEAD_TOO_LARGE:
        return ORIGIN_FETCH_ERR_MALFORMED;
    case ORIGIN_CLIENT_ERR_BAD_TRANSFER_ENCODING:
    case ORIGIN_CLIENT_ERR_BAD_CONTENT_LENGTH:
    case ORIGIN_CLIENT_ERR_BAD_CHUNK:
    case ORIGIN_CLIENT_ERR_BODY_TOO_LONG:
        return ORIGIN_FETCH_ERR_BAD_FRAMING;
    case ORIGIN_CLIENT_ERR_TRUNCATED:
        return ORIGIN_FETCH_ERR_TRUNCATED;
    case ORIGIN_CLIENT_ERR_CANCELLED:
        return ORIGIN_FETCH_ERR_CANCELLED;
    default: /* WRITE, CLOSED, RESET */
        return ORIGIN_FETCH_ERR_RESET;
    }
}

/* The words for logs and the Cache-Status detail: the client's, but for the timeouts, whose words
 * operators (and tests) already know. `in_body`: the head was in. */
static const char *errstr_of(origin_client_error_t err, bool in_body)
{
    switch (err) {
    case ORIGIN_CLIENT_OK:
        return NULL;
    case ORIGIN_CLIENT_ERR_CONNECT_TIMEOUT:
        return "connection timeout";
    case ORIGIN_CLIENT_ERR_READ_TIMEOUT:
        return in_body ? "read timeout (body)" : "read timeout (no response)";
    default:
        return origin_client_strerror(err);
    }
}

static bool is_connect_error(origin_fetch_error_t e)
{
    return e == ORIGIN_FETCH_ERR_CONNECT || e == ORIGIN_FETCH_ERR_TIMEOUT_CONNECT || e == ORIGIN_FETCH_ERR_POOL_FULL;
}

/* The client failed before a final head. */
static void head_failed(fetch_t *f, origin_client_error_t err)
{
    origin_fetch_error_t error = error_of(err);
    const char *errstr = errstr_of(err, false);

    if (is_connect_error(error)) {
        fetch_route_attempt_failed(f, error, errstr); /* CONNECT → ROUTE (another attempt) or FAILED */
        return;
    }
    fetch_goto(f, ORIGIN_FETCH_HEAD); /* the request went out (or was being written) */
    /* no byte of a response came: most often a pooled keep-alive connection the origin had closed. Try
     * once more; a partial or malformed head, or a timeout, is the server's answer and is not retried */
    bool no_response = err == ORIGIN_CLIENT_ERR_CLOSED || err == ORIGIN_CLIENT_ERR_RESET || err == ORIGIN_CLIENT_ERR_WRITE;
    if (no_response && fetch_idempotent(f) && !f->retried_reset) {
        f->retried_reset = true;
        fetch_route_retry(f);
        return;
    }
    /* a slow or garbled answer says nothing of the server's health (only connection errors count passively) */
    fetch_route_origin_failed(f, error, errstr);
}

/* Copies the origin's headers into the fetch's pool as h2o headers (lower-case names, token names where
 * libh2o has one): the client's are valid only during on_head. Reads Age on the way. */
static h2o_header_t *copy_origin_headers(fetch_t *f, const origin_client_header_t *src, size_t num, bool *has_te)
{
    origin_fetch_t *o = &f->super;
    h2o_header_t *dst = h2o_mem_alloc_pool(&o->pool, sizeof(*dst) * (num != 0 ? num : 1));

    *has_te = false;
    bool age_seen = false;
    for (size_t i = 0; i != num; ++i) {
        h2o_iovec_t name = h2o_strdup(&o->pool, src[i].name.base, src[i].name.len);
        h2o_strtolower(name.base, name.len);
        const h2o_token_t *token = h2o_lookup_token(name.base, name.len);
        if (token == H2O_TOKEN_AGE) {
            /* several Age lines are one list, whose first member counts (RFC 9111 §5.1); an invalid one is
             * ignored, as if the field were absent (cache_ttl_parse_age returns -1) */
            if (!age_seen)
                f->age_value = cache_ttl_parse_age(src[i].value.base, src[i].value.len);
            age_seen = true;
        } else if (token == H2O_TOKEN_TRANSFER_ENCODING) {
            *has_te = true;
        }
        if (token != NULL) {
            dst[i].name = (h2o_iovec_t *)&token->buf;
        } else {
            h2o_iovec_t *n = h2o_mem_alloc_pool(&o->pool, sizeof(*n));
            *n = name;
            dst[i].name = n;
        }
        dst[i].orig_name = NULL;
        dst[i].value = h2o_strdup(&o->pool, src[i].value.base, src[i].value.len);
    }
    return dst;
}

/* The origin's final head is in (the client already checked its framing), or the client failed before it. */
static void on_head(origin_client_t *client, void *data, origin_client_error_t err, int status, h2o_iovec_t reason,
                    const origin_client_header_t *headers, size_t num_headers, int64_t content_length)
{
    fetch_t *f = fetch_checked(data);
    origin_fetch_t *o = &f->super;
    static const char *const drop[] = {"content-length", "age", NULL};

    if (err != ORIGIN_CLIENT_OK) {
        f->client = NULL; /* the client is freed when this returns */
        head_failed(f, err);
        return;
    }
    fetch_goto(f, ORIGIN_FETCH_HEAD);
    if (f->server != SIZE_MAX)
        origin_router_report(f->args.router, f->origin, f->server, true, true, "answered");
    const origin_conf_group_t *group = fetch_route_group(f);
    if (group != NULL && !f->on_secondary && fetch_idempotent(f)) {
        for (size_t i = 0; i != group->num_failover_on; ++i) {
            if (group->failover_on[i] == status) {
                char what[64];
                snprintf(what, sizeof(what), "status %d", status);
                origin_client_cancel(client); /* from inside its callback: freed when this returns */
                f->client = NULL;
                fetch_route_failover(f, what);
                return;
            }
        }
    }
    if (group != NULL && !f->on_secondary)
        fetch_route_breaker_report(f, true);

    bool has_te;
    h2o_header_t *copied = copy_origin_headers(f, headers, num_headers, &has_te);
    o->status = status;
    o->reason = h2o_strdup(&o->pool, reason.base, reason.len);
    f->no_body = h2o_memis(f->args.method.base, f->args.method.len, H2O_STRLIT("HEAD")) || status == 204 || status == 304;
    if (f->no_body) {
        f->close_delimited = false; /* no body at all: nothing can be truncated */
        o->content_length = content_length < 0 ? 0 : content_length;
    } else {
        f->close_delimited = content_length < 0 && !has_te;
        o->content_length = content_length;
    }
    origin_fetch_filter_headers(&o->pool, &o->headers, copied, num_headers, drop);

    fetch_retain(f);
    f->in_client_cb = true;
    fetch_head_decided(f);
    f->in_client_cb = false;
    /* the body is not needed when an error page or a 304 stands in for it, or nobody wants it */
    pthread_mutex_lock(&f->mutex);
    bool cancel = !f->no_body && (f->cancel_requested || o->error_page != NULL || o->not_modified ||
                                  (h2o_linklist_is_empty(&f->subs) && !o->stored));
    pthread_mutex_unlock(&f->mutex);
    fetch_release(f);
    if (cancel) {
        origin_client_cancel(client);
        f->client = NULL;
        fetch_finish_body(f, ORIGIN_FETCH_ERR_CANCELLED, "cancelled");
    }
}

static void on_body(origin_client_t *client, void *data, h2o_iovec_t chunk)
{
    fetch_t *f = fetch_checked(data);

    fetch_append_body(f, chunk.base, chunk.len);
    fetch_retain(f);
    f->in_client_cb = true;
    fetch_notify(f);
    f->in_client_cb = false;
    pthread_mutex_lock(&f->mutex);
    bool cancel = f->cancel_requested || fetch_unwanted(f); /* unwanted: nobody left and past background_fetch_max */
    if (!cancel && !f->paused && fetch_behind_window(f)) {
        f->paused = true; /* the client stops reading, and its read timeout: a slow client is not a slow origin */
        origin_client_pause(client);
    }
    fetch_release_blocks(f);
    pthread_mutex_unlock(&f->mutex);
    if (cancel) {
        origin_client_cancel(client);
        f->client = NULL;
        fetch_finish_body(f, ORIGIN_FETCH_ERR_CANCELLED, "cancelled");
    }
    fetch_release(f);
}

/* The body ended: complete and well framed (err == 0), or not (never stored). */
static void on_done(origin_client_t *client, void *data, origin_client_error_t err)
{
    fetch_t *f = fetch_checked(data);
    f->client = NULL; /* freed when this returns */
    pthread_mutex_lock(&f->mutex);
    f->cancel_requested = false;
    pthread_mutex_unlock(&f->mutex);
    fetch_finish_body(f, error_of(err), errstr_of(err, true));
}

static const origin_client_callbacks_t client_callbacks = {on_head, on_body, on_done};

/* ROUTE → CONNECT was done by the caller: sends the request on `pool`. From now on the client's connect
 * and read timeouts run; every outcome comes back through the callbacks above, on a later loop turn. */
void fetch_http_start(fetch_t *f, origin_client_pool_t *pool)
{
    f->request_time = fetch_now_sec(f);
    f->purge_seq = f->args.store != NULL ? cache_store_purge_seq(f->args.store) : 0;
    f->paused = false;
    f->client = origin_client_start(pool, f->request, f->args.body,
                                    h2o_memis(f->args.method.base, f->args.method.len, H2O_STRLIT("HEAD")), &client_callbacks, f);
}

/* The origin exchange is over: no timer of the owner's loop stays linked, so the fetch may now be freed
 * on any loop. Drops the exchange's reference. */
void fetch_end_exchange(fetch_t *f)
{
    if (!f->active)
        return;
    fetch_route_leave_server(f);
    if (h2o_timeout_is_linked(&f->defer))
        h2o_timeout_unlink(&f->defer);
    fetch_background_leave(f);
    f->active = false;
    fetch_release(f);
}

/* BODY → DONE (error == ORIGIN_FETCH_OK and every byte Content-Length announced came) or FAILED; a body
 * that is not complete is never stored. Drops the exchange's reference. */
void fetch_finish_body(fetch_t *f, origin_fetch_error_t error, const char *errstr)
{
    origin_fetch_t *o = &f->super;

    if (error == ORIGIN_FETCH_OK && !f->no_body && o->content_length >= 0 && (uint64_t)o->content_length != o->received) {
        error = ORIGIN_FETCH_ERR_TRUNCATED; /* the client checks this too; a second guard costs nothing */
        errstr = "body shorter than content-length";
    }
    origin_fetch_state_t state = ORIGIN_FETCH_DONE;
    if (o->error_page != NULL || o->not_modified) {
        /* the origin's body was not wanted */
    } else if (error == ORIGIN_FETCH_OK) {
        if (f->storing)
            fetch_store_complete(f);
    } else {
        state = ORIGIN_FETCH_FAILED;
        if (error != ORIGIN_FETCH_ERR_CANCELLED)
            common_log_warn("origin: %.*s %.*s: body failed after %llu bytes: %s", (int)f->args.method.len, f->args.method.base,
                            (int)f->args.path.len, f->args.path.base, (unsigned long long)o->received, errstr);
        if (f->storing && f->oid != 0)
            cache_store_discard(f->args.store, f->oid, f->chunks_stored);
    }
    pthread_mutex_lock(&f->mutex);
    f->storing = false;
    if (state == ORIGIN_FETCH_FAILED) {
        o->error = error;
        o->errstr = errstr;
    }
    fetch_goto(f, state);
    fetch_table_remove(f);
    pthread_mutex_unlock(&f->mutex);
    if (f->file_fd >= 0) {
        close(f->file_fd);
        f->file_fd = -1;
    }
    fetch_notify(f);
    fetch_end_exchange(f);
}
