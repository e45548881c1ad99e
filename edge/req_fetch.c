/*
 * edge/req_fetch.c: what a client request asks of the origin — the arguments of its origin fetch.
 *
 * The request state machine (req_fsm.c) decides when to fetch; this file decides what is sent: the
 * method (a HEAD that may fill the cache fetches the whole object), the path in the one normal form the
 * key was made from, the headers origin/request.c allows through, the Host of the origin (never the
 * client's, which chose the site), the site's error pages, and where the answer may be stored. The invariant that is easy to
 * break: everything that can change the origin's answer must be either in the cache key or absent from
 * a cacheable request, or one client's answer is stored for another.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include "edge/deliver.h"
#include "edge/req_fsm_int.h"
#include "origin/request.h"

/* A fetch counts as a user of the generation its request started under, until it is freed. */
static void hold_tgen(void *data)
{
    atomic_fetch_add(&((edge_tgen_t *)data)->users, 1);
}

static void release_tgen(void *data)
{
    edge_tgen_release(data);
}

/* The origin request for this client request: `cacheable` (GET, filling the cache) or passed as is. */
void edge_req_fetch_args(edge_req_t *er, bool cacheable, origin_fetch_args_t *out)
{
    h2o_req_t *req = er->req;
    edge_server_t *server = er->thread->server;
    const edge_gen_t *gen = er->tgen->gen;
    size_t origin = er->behavior->route.origin_index;
    const origin_conf_t *oconf = gen->conf.upstream.origins + origin;
    h2o_headers_t headers = {NULL};

    struct sockaddr_storage ss;
    char addr[INET6_ADDRSTRLEN] = "unknown";
    socklen_t sslen = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sslen != 0 && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
    else if (sslen != 0 && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
    origin_request_t oreq = {.route = &er->behavior->route,
                             .key_headers = er->behavior->key.key_headers,
                             .num_key_headers = er->behavior->key.num_key_headers,
                             .client_headers = &req->headers,
                             .client_addr = addr,
                             .https = req->scheme == &H2O_URL_SCHEME_HTTPS,
                             .cacheable = cacheable};
    if (cacheable && er->have_rec) { /* revalidation: RFC 9111 §4.3.1 */
        oreq.etag = edge_deliver_record_header(&er->rec, H2O_STRLIT("etag"));
        oreq.last_modified = edge_deliver_record_header(&er->rec, H2O_STRLIT("last-modified"));
    }
    origin_request_headers(&req->pool, &oreq, &headers);

    *out = (origin_fetch_args_t){
        .loop = req->conn->ctx->loop,
        .zero_timeout = &req->conn->ctx->zero_timeout,
        .receiver = &er->thread->fetch_receiver,
        .router = gen->router,
        .http = er->tgen->http,
        .file_roots = gen->file_roots,
        .origin_index = origin,
        .group_index = er->behavior->route.group_index,
        /* a HEAD that may fill the cache fetches the whole object */
        .method = cacheable ? h2o_iovec_init(H2O_STRLIT("GET")) : req->method,
        .path = req->path,
        /* never the client's Host (which picked the site and starts the key): the origin's own name */
        .host =
            oconf->host_header != NULL ? h2o_iovec_init(oconf->host_header, strlen(oconf->host_header)) : h2o_iovec_init(NULL, 0),
        .headers = headers.entries,
        .num_headers = headers.size,
        .body = cacheable ? h2o_iovec_init(NULL, 0) : req->entity,
        .client_headers = &req->headers,
        .store = cacheable ? server->store : NULL,
        .hash = er->hash,
        .key = er->key,
        .ttl_rules = &er->behavior->ttl,
        .error_pages = gen->conf.error_pages + er->site->first_error_page, /* the site's own */
        .num_error_pages = er->site->num_error_pages,
        .background_fetch_max = gen->conf.cache.background_fetch_max,
        .stale = er->have_rec ? &er->rec : NULL,
        .compress = &er->behavior->compress,
        .compressor = server->compressor,
        /* the fetch may outlive the request (a background fetch): it holds the generation itself */
        .hold = hold_tgen,
        .release = release_tgen,
        .hold_data = er->tgen,
    };
}

/* The forwarded headers that are not in the behavior's key and not among the few origin/request.c forwards
 * by default (origin_request_default_header): they go into the key too, so that an origin whose answer
 * depends on one never has that answer served to a request that sent another value. */
h2o_iovec_t edge_req_forwarded_key(edge_req_t *er, h2o_iovec_t key)
{
    const origin_conf_route_t *route = &er->behavior->route;
    cache_key_rules_t extra = {.key_headers = NULL};

    for (size_t i = 0; i != route->num_forward_headers; ++i) {
        const char *name = route->forward_headers[i];
        bool keyed = origin_request_default_header(name, strlen(name));
        for (size_t j = 0; j != er->behavior->key.num_key_headers && !keyed; ++j)
            keyed = strcmp(er->behavior->key.key_headers[j], name) == 0;
        if (keyed)
            continue;
        if (extra.key_headers == NULL)
            extra.key_headers = h2o_mem_alloc_pool(&er->req->pool, route->num_forward_headers * sizeof(*extra.key_headers));
        extra.key_headers[extra.num_key_headers++] = route->forward_headers[i];
    }
    if (extra.num_key_headers == 0)
        return key;
    key = cache_key_add_headers(&er->req->pool, h2o_concat(&er->req->pool, key, h2o_iovec_init(H2O_STRLIT("\nforwarded"))), &extra,
                                &er->req->headers);
    return key;
}
