/*
 * edge/deliver.h: sending a request's answer — a stored object (whole, Range, HEAD, or 304 to a
 * conditional client), the origin fetch's response as it streams, or an error page — with the headers
 * every answer carries (Age, X-Cache, Cache-Status).
 *
 * All run on the request's loop, from the state machine's steps (edge/req_fsm.c) or from libh2o's
 * generator callbacks; none changes the request's state. Strings are from the request's pool.
 */
#ifndef EDGE_DELIVER_H
#define EDGE_DELIVER_H

#include "edge/req_fsm_int.h"

/** Installs the generator callbacks (proceed, stop) on a new request. */
void edge_deliver_init(edge_req_t *er);
/** Ends the pin on the chunk being sent, if any (edge/deliver.c, may_pin_chunk); at the request's dispose. */
void edge_deliver_release(edge_req_t *er);

/** The reason phrase of a status ("Not Found"); static storage. */
const char *edge_deliver_reason(int status);

/** The value of the stored header `name` (lower case) of `rec`, or base NULL. */
h2o_iovec_t edge_deliver_record_header(const cache_record_t *rec, const char *name, size_t len);

/** Whether the stored object can be revalidated rather than fetched anew (it has an ETag or a
 * Last-Modified). */
bool edge_deliver_has_validator(const cache_record_t *rec);

/**
 * Whether the client's If-None-Match (weak comparison) or, without it, If-Modified-Since is satisfied by
 * the stored object `rec` (status 200 only): then the answer is 304.
 */
bool edge_deliver_not_modified(const h2o_headers_t *client_headers, const cache_record_t *rec);

/**
 * A HIT on a compressible object (CACHE_TTL_COMPRESSIBLE, under a behavior with compress on): picks the best
 * coding the client's Accept-Encoding accepts whose variant is stored and was made from this very object
 * (its stamp, cache/compress.h), and switches er->rec's body (oid, lengths, inline bytes, checksum) to that
 * variant's, er->rec_hash to the variant's key hash and er->coding to the coding. Otherwise leaves er as it
 * is (identity): the variants may not be made yet. Never fetches. On the request's loop.
 */
void edge_deliver_choose_coding(edge_req_t *er);

/** Adds Age, X-Cache and Cache-Status for `answer` to the response, and notes the outcome on `er`. */
void edge_deliver_cache_headers(edge_req_t *er, int64_t age, const edge_cache_answer_t *answer);

/**
 * Starts the answer from the stored object `rec` (in the request's pool, or pinned): its headers, then its
 * body piece by piece as libh2o asks. Returns false, having sent nothing, when its body is gone (evicted,
 * or failing its checksum: counted and logged); the caller then fetches anew or fails.
 */
bool edge_deliver_record(edge_req_t *er, const cache_record_t *rec, int64_t age, const edge_cache_answer_t *answer);

/** Starts the answer from the request's origin fetch, whose response head is ready; the body follows as
 * the fetch receives it (a HEAD gets none: the caller may leave the fetch). */
void edge_deliver_fetch(edge_req_t *er, const edge_cache_answer_t *answer);

/** Sends the next bytes the fetch has, if libh2o is ready for them (on news from the fetch). */
void edge_deliver_fetch_news(edge_req_t *er);

/** Sends an error page: `status` and `body` (HTML), with Cache-Control: no-store. */
void edge_deliver_error_page(edge_req_t *er, int status, h2o_iovec_t body, const edge_cache_answer_t *answer);

/** Answers a request whose host no site claims as `conf`'s unknown_host says: its status (421 or 404) and its page (or a
 * line of text), with Cache-Control: no-store; not a cache answer (no X-Cache), and the connection stays. */
void edge_deliver_unknown_host(edge_req_t *er, const edge_conf_t *conf);

#endif
