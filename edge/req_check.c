/*
 * edge/req_check.c: the framing checks of a client request (see req_check.h).
 *
 * Invariant that is easy to break: every check reads what the client sent, never what libh2o made of it,
 * because the point is to refuse what two parsers could read two ways; libh2o's own view (req->authority,
 * req->entity) already picked one reading. So the fields libh2o hides (Host, Content-Length,
 * Transfer-Encoding) are counted in the raw head, and a raw head that cannot be trusted to be the request's
 * is not used at all rather than used in part.
 */
#include <string.h>
#include "edge/req_check.h"

/* The largest head libh2o 2.2.5 parses (H2O_MAX_REQLEN): a scan for the end of the head stops there. */
#define MAX_HEAD_BYTES (8192 + 4096 * 100)

const char *edge_req_check_reason(edge_req_check_t v)
{
    switch (v) {
    case EDGE_REQ_CHECK_OK:
        return "ok";
    case EDGE_REQ_CHECK_CL_AND_TE:
        return "content-length with transfer-encoding";
    case EDGE_REQ_CHECK_CL_CONFLICT:
        return "conflicting or invalid content-length";
    case EDGE_REQ_CHECK_TE_OBFUSCATED:
        return "transfer-encoding other than chunked";
    case EDGE_REQ_CHECK_OBS_FOLD:
        return "obsolete line folding";
    case EDGE_REQ_CHECK_BAD_FIELD_NAME:
        return "invalid header field name";
    case EDGE_REQ_CHECK_BARE_LF:
        return "bare LF line ending";
    case EDGE_REQ_CHECK_HOST_MISSING:
        return "missing host";
    case EDGE_REQ_CHECK_HOST_DUPLICATE:
        return "more than one host";
    case EDGE_REQ_CHECK_ABSOLUTE_FORM:
        return "absolute-form target not for this host";
    case EDGE_REQ_CHECK_FRAGMENT:
        return "fragment in the request target";
    case EDGE_REQ_CHECK_BAD_TARGET:
        return "invalid request target";
    case EDGE_REQ_CHECK_BAD_HOST:
        return "invalid host";
    }
    return "?";
}

bool edge_req_check_closes(edge_req_check_t v)
{
    /* all of them: a request the edge cannot read one way is a request after which the next one's start is in
     * doubt too (a smuggled request hides behind a folded, duplicated or mis-terminated field as well) */
    return v != EDGE_REQ_CHECK_OK;
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* `v` without the spaces and tabs around it. */
static h2o_iovec_t trim(const char *p, const char *end)
{
    while (p != end && (*p == ' ' || *p == '\t'))
        ++p;
    while (end != p && (end[-1] == ' ' || end[-1] == '\t'))
        --end;
    return h2o_iovec_init(p, (size_t)(end - p));
}

edge_req_check_t edge_req_check_head(h2o_iovec_t head, int minor_version)
{
    const char *p = head.base, *end = head.base + head.len;
    size_t hosts = 0, tes = 0, cls = 0;
    h2o_iovec_t cl = {NULL, 0};
    bool te_ok = true;

    for (bool first = true;; first = false) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        if (lf == NULL)
            return EDGE_REQ_CHECK_OK; /* (the caller gave a head without its empty line: nothing more to see) */
        if (lf == p || lf[-1] != '\r')
            return EDGE_REQ_CHECK_BARE_LF;
        const char *eol = lf - 1, *line = p;
        p = lf + 1;
        if (eol == line)
            break; /* the empty line: the end of the head */
        if (first)
            continue; /* the request line: libh2o parsed the method, target and version */
        if (*line == ' ' || *line == '\t')
            return EDGE_REQ_CHECK_OBS_FOLD;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL || colon == line)
            return EDGE_REQ_CHECK_BAD_FIELD_NAME;
        for (const char *c = line; c != colon; ++c)
            if (!is_tchar((unsigned char)*c))
                return EDGE_REQ_CHECK_BAD_FIELD_NAME;
        size_t nlen = (size_t)(colon - line);
        if (h2o_lcstris(line, nlen, H2O_STRLIT("host"))) {
            ++hosts;
        } else if (h2o_lcstris(line, nlen, H2O_STRLIT("content-length"))) {
            h2o_iovec_t v = trim(colon + 1, eol);
            if (v.len == 0)
                return EDGE_REQ_CHECK_CL_CONFLICT;
            for (size_t i = 0; i != v.len; ++i)
                if (v.base[i] < '0' || v.base[i] > '9')
                    return EDGE_REQ_CHECK_CL_CONFLICT; /* (a list "5, 5" included: one value per field line) */
            if (cls++ != 0 && !h2o_memis(v.base, v.len, cl.base, cl.len))
                return EDGE_REQ_CHECK_CL_CONFLICT;
            cl = v;
        } else if (h2o_lcstris(line, nlen, H2O_STRLIT("transfer-encoding"))) {
            /* exactly "chunked", spaces allowed around it but no tab: stricter than OWS (RFC 9110 §5.6.3), because a
             * tab, a list or a look-alike is how one hop is made to see chunked and the next not */
            const char *v = colon + 1, *ve = eol;
            while (v != ve && *v == ' ')
                ++v;
            while (ve != v && ve[-1] == ' ')
                --ve;
            ++tes;
            if (!h2o_lcstris(v, (size_t)(ve - v), H2O_STRLIT("chunked")))
                te_ok = false;
        }
    }
    if (tes != 0 && cls != 0)
        return EDGE_REQ_CHECK_CL_AND_TE;
    if (tes > 1 || !te_ok)
        return EDGE_REQ_CHECK_TE_OBFUSCATED;
    if (hosts > 1)
        return EDGE_REQ_CHECK_HOST_DUPLICATE;
    if (hosts == 0 && minor_version >= 1)
        return EDGE_REQ_CHECK_HOST_MISSING;
    return EDGE_REQ_CHECK_OK;
}

static bool inside(h2o_iovec_t outer, const char *p, size_t len)
{
    return p >= outer.base && p + len <= outer.base + outer.len;
}

h2o_iovec_t edge_req_check_raw_head(const h2o_req_t *req)
{
    if (req->version >= 0x200 || req->input.method.base == NULL || req->input.path.base == NULL)
        return h2o_iovec_init(NULL, 0);
    /* the request line starts with the method; the head ends with the first empty line after it. libh2o
     * parsed it in the socket's receive buffer and keeps it there while the request is handled (consumed or
     * not), so the scan is bounded by that buffer: it never reads outside it, whatever is there now. */
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock == NULL || sock->input == NULL)
        return h2o_iovec_init(NULL, 0);
    /* XXX: a request with a body has had its head consumed and its buffer replaced by the time the handler runs;
     * the head is then out of reach, and the caller must treat the framing as unverified */
    const char *lo = sock->input->_buf, *hi = sock->input->bytes + sock->input->size;
    const char *start = req->input.method.base, *p = req->input.path.base + req->input.path.len;
    if (start < lo || p > hi || p < start)
        return h2o_iovec_init(NULL, 0);
    /* what follows the target must still be the request line's version, or the buffer has been reused */
    if ((size_t)(hi - p) < 9 || memcmp(p, " HTTP/1.", 8) != 0)
        return h2o_iovec_init(NULL, 0);
    const char *end = NULL;
    for (const char *limit = hi - start > MAX_HEAD_BYTES ? start + MAX_HEAD_BYTES : hi; p + 1 < limit; ++p) {
        if (p[0] != '\n')
            continue;
        if (p[1] == '\n') {
            end = p + 2;
            break;
        }
        if (p[1] == '\r' && p + 2 < limit && p[2] == '\n') {
            end = p + 3;
            break;
        }
    }
    if (end == NULL)
        return h2o_iovec_init(NULL, 0);
    h2o_iovec_t head = h2o_iovec_init(start, (size_t)(end - start));
    /* the proof that this is the request's head: every field libh2o kept points into it */
    for (size_t i = 0; i != req->headers.size; ++i) {
        const h2o_header_t *h = req->headers.entries + i;
        if (!inside(head, h->value.base, h->value.len))
            return h2o_iovec_init(NULL, 0);
    }
    return head;
}

/* An absolute-form target (RFC 9112 §3.2.2) whose scheme is http or https and whose authority is the request's
 * Host: its path and query (a '/' first), in `pool`. Otherwise {NULL, 0}. */
static h2o_iovec_t absolute_to_origin_form(h2o_mem_pool_t *pool, h2o_iovec_t target, h2o_iovec_t host)
{
    size_t skip;
    if (target.len > 7 && h2o_lcstris(target.base, 7, H2O_STRLIT("http://")))
        skip = 7;
    else if (target.len > 8 && h2o_lcstris(target.base, 8, H2O_STRLIT("https://")))
        skip = 8;
    else
        return h2o_iovec_init(NULL, 0);
    const char *auth = target.base + skip, *end = target.base + target.len, *rest = auth;
    while (rest != end && *rest != '/' && *rest != '?')
        ++rest;
    if (rest == auth || !h2o_lcstris(auth, (size_t)(rest - auth), host.base, host.len) || memchr(auth, '@', (size_t)(rest - auth)))
        return h2o_iovec_init(NULL, 0);
    size_t len = (size_t)(end - rest);
    if (len != 0 && *rest == '/')
        return h2o_strdup(pool, rest, len);
    char *buf = h2o_mem_alloc_pool(pool, len + 2);
    buf[0] = '/';
    memcpy(buf + 1, rest, len);
    buf[len + 1] = '\0';
    return h2o_iovec_init(buf, len + 1);
}

edge_req_check_t edge_req_check(h2o_req_t *req, h2o_iovec_t *target)
{
    edge_req_check_t v;

    for (size_t i = 0; i != req->headers.size; ++i)
        if (req->headers.entries[i].name->len == 0)
            return EDGE_REQ_CHECK_OBS_FOLD; /* libh2o's form of a continuation line */
    if (req->version < 0x200) {
        h2o_iovec_t head = edge_req_check_raw_head(req);
        /* XXX: without the raw head (libh2o 2.2.5: a request with a body) the checks on Host, Content-Length,
         * Transfer-Encoding and line ends cannot be made; the rest still are, and such a request's connection is
         * closed after the answer, so nothing that follows it is read under a framing in doubt */
        if (head.base == NULL)
            req->http1_is_persistent = 0;
        else if ((v = edge_req_check_head(head, req->version & 0xff)) != EDGE_REQ_CHECK_OK)
            return v;
    }
    h2o_iovec_t t = req->input.path;
    if (memchr(t.base, '#', t.len) != NULL)
        return EDGE_REQ_CHECK_FRAGMENT;
    if (t.len != 0 && t.base[0] == '/') {
        *target = t;
        return EDGE_REQ_CHECK_OK;
    }
    if (memchr(t.base, ':', t.len) == NULL)
        return EDGE_REQ_CHECK_BAD_TARGET; /* "*", or no form at all */
    if ((t = absolute_to_origin_form(&req->pool, t, req->authority)).base == NULL)
        return EDGE_REQ_CHECK_ABSOLUTE_FORM;
    *target = t;
    return EDGE_REQ_CHECK_OK;
}

h2o_iovec_t edge_req_check_host(const h2o_req_t *req)
{
    /* libh2o 2.2.5 fills a missing Host with its host configuration's own name, the very pointer: that is not
     * a host the client named */
    if (req->input.authority.base == NULL ||
        (req->hostconf != NULL && req->input.authority.base == req->hostconf->authority.hostport.base))
        return h2o_iovec_init("", 0);
    return req->input.authority;
}
