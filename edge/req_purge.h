/*
 * edge/req_purge.h: the requests that remove stored objects: the PURGE method (Varnish, Fastly) and the
 * invalidation after an unsafe method (RFC 9111 §4.4). Called from the request state machine's steps, on
 * the request's loop; neither changes the request's state.
 */
#ifndef EDGE_REQ_PURGE_H
#define EDGE_REQ_PURGE_H

#include "edge/req_fsm_int.h"

/**
 * Answers a PURGE at once: 200 with the invalidation's status (JSON, as the admin API's) after
 * invalidating the request's URL and all its variants when the client's address is in
 * admin.purge_allow; 403 otherwise.
 */
void edge_req_purge_answer(edge_req_t *er);

/**
 * After the origin's response `f` to an unsafe method (anything but GET, HEAD, OPTIONS, TRACE): when it
 * is not an error (2xx, 3xx), removes the stored responses for the target URI and for the same-origin
 * URIs in Location and Content-Location. Does nothing otherwise.
 */
void edge_req_purge_after_unsafe(edge_req_t *er, const origin_fetch_t *f);

#endif
