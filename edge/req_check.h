/*
 * edge/req_check.h: the framing checks a client request must pass before anything is keyed or forwarded
 * (RFC 9112), for what libh2o 2.2.5's HTTP/1 parser lets through to the handler.
 *
 * libh2o accepts, and leaves to the handler, requests that two parsers in a chain may read differently:
 * Content-Length with Transfer-Encoding, two different Content-Lengths, obs-fold continuation lines, two Host
 * fields, a missing Host, absolute-form targets of any scheme, bare LF line ends, and a Transfer-Encoding with a
 * tab before "chunked" (see /work/shared/notes/libh2o-2.2.5.md §12). It also keeps Host, Content-Length and
 * Transfer-Encoding out of req->headers, so those can only be seen in the raw request head:
 * edge_req_check_raw_head finds it in the connection's receive buffer, where libh2o 2.2.5 leaves it (and points
 * every header value into it) until the response is done — for a request without a body. A request with a body
 * has its head consumed before the handler runs, so for it only the checks on req->headers and the target can
 * be made; edge_req_check then closes its connection after the answer (req->http1_is_persistent = 0), so a
 * second request smuggled behind an ambiguous body is never read.
 */
#ifndef EDGE_REQ_CHECK_H
#define EDGE_REQ_CHECK_H

#include <stdbool.h>
#include <h2o.h>

/* Why a request is refused; EDGE_REQ_CHECK_OK when it is not. Each refusal is answered 400. */
typedef enum en_edge_req_check_t {
    EDGE_REQ_CHECK_OK = 0,
    EDGE_REQ_CHECK_CL_AND_TE,      /* Content-Length and Transfer-Encoding (RFC 9112 §6.1) */
    EDGE_REQ_CHECK_CL_CONFLICT,    /* Content-Length values that differ, or that are not plain digits (§6.3) */
    EDGE_REQ_CHECK_TE_OBFUSCATED,  /* a Transfer-Encoding other than one field saying exactly "chunked" */
    EDGE_REQ_CHECK_OBS_FOLD,       /* a continuation line (§5.2) */
    EDGE_REQ_CHECK_BAD_FIELD_NAME, /* a field name that is not a token (white space before the colon: §5.1) */
    EDGE_REQ_CHECK_BARE_LF,        /* a line ended by LF alone (§2.2) */
    EDGE_REQ_CHECK_HOST_MISSING,   /* HTTP/1.1 without Host (§3.2) */
    EDGE_REQ_CHECK_HOST_DUPLICATE, /* more than one Host (§3.2) */
    EDGE_REQ_CHECK_ABSOLUTE_FORM,  /* an absolute-form target that is not http(s) for the request's own Host */
    EDGE_REQ_CHECK_FRAGMENT,       /* a '#' in the target: a fragment is never sent, so never keyed nor forwarded */
    EDGE_REQ_CHECK_BAD_TARGET,     /* neither origin-form nor an acceptable absolute-form ("*" included) */
    EDGE_REQ_CHECK_BAD_HOST,       /* a Host (or :authority) that cache_key_normalize_host refuses */
} edge_req_check_t;

/** A short lower-case text for `v`, for the log and the 400 body; a static string. */
const char *edge_req_check_reason(edge_req_check_t v);

/** Whether a request refused for `v` must also close its connection: the framing of what follows it on the
 * connection is in doubt (request smuggling), so nothing more may be read from it. */
bool edge_req_check_closes(edge_req_check_t v);

/**
 * Checks a raw HTTP/1 request head: the request line, the field lines and the empty line that ends it (the
 * body, if any, may follow; it is not read). `minor_version` is the request's HTTP/1.x minor version (Host is
 * required from 1.1 on). Pure; any thread.
 */
edge_req_check_t edge_req_check_head(h2o_iovec_t head, int minor_version);

/**
 * The raw head of an HTTP/1 request, from its first byte to the end of the empty line, or {NULL, 0} when it
 * cannot be found (HTTP/2, or a buffer that does not hold what libh2o 2.2.5 leaves there: then the header
 * values would not all lie inside it). Points into the connection's buffer: valid while the request is being
 * handled, before the response starts. Call from the request's loop.
 */
h2o_iovec_t edge_req_check_raw_head(const h2o_req_t *req);

/**
 * All the checks, for a request as the handler gets it: the raw head (when edge_req_check_raw_head finds it),
 * the header list (obs-fold shows there as a field with an empty name) and the target. On EDGE_REQ_CHECK_OK,
 * sets *target to the origin-form target to use (the path from a '/', then the query): req->input.path, or
 * the path part of an accepted absolute-form target (RFC 9112 §3.2.2: "http" or "https" whose authority is
 * the request's Host; the absolute URI itself is never forwarded), allocated from req->pool then. Clears
 * req->http1_is_persistent when the raw head cannot be found (see above).
 */
edge_req_check_t edge_req_check(h2o_req_t *req, h2o_iovec_t *target);

/**
 * The host the client named: its Host field (HTTP/1) or :authority (HTTP/2), as sent; {"", 0} when it named
 * none (HTTP/1.0 without Host), rather than the name libh2o supplies then. Points into the request. Call from
 * the request's loop.
 */
h2o_iovec_t edge_req_check_host(const h2o_req_t *req);

#endif
