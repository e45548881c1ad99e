#!/usr/bin/env bash
# rfc9111-4.2.2-heuristic: without explicit freshness (RFC 9111 §4.2.2), only a heuristically cacheable
# status with a validator is stored: for default_ttl when the behavior wrote it (CloudFront), else for
# 10 % of the Last-Modified age capped at default_ttl, else (an ETag only) for min_ttl, revalidated on
# every use. With no validator either, nothing is stored unless min_ttl sets a floor; any other status
# needs explicit freshness.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
edge_config 'behaviors:
  - {path: "/written/*", default_ttl: 120}
  - {path: "/floor/*", min_ttl: 30}
  - {path: "*"}'
now=$(date +%s)

step "§4.2.2 heuristic: 10 % of Last-Modified age (Last-Modified 1000 s before Date: 100 s)"
script /h/lm "\"body\": \"lm\", \"last_modified\": $((now - 1000))"
forwarded /h/lm
assert_cache MISS 'edgecache; fwd=miss; stored'
reused /h/lm
assert_cache HIT
assert_lifetime 100

step "§4.2.2 heuristic: capped at default_ttl (86400) for a 30-day-old Last-Modified"
script /h/old "\"body\": \"old\", \"last_modified\": $((now - 30 * 86400))"
forwarded /h/old
reused /h/old
assert_lifetime 86400

step "§4.2.2 heuristic: a default_ttl the behavior writes replaces it (CloudFront)"
script /written/lm "\"body\": \"w\", \"last_modified\": $((now - 1000))"
forwarded /written/lm
reused /written/lm
assert_lifetime 120

step "§4.2.2 heuristic: the other heuristically cacheable codes (204, 404, 405, 410, 414, 501)"
for code in 204 404 405 410 414 501; do
    script "/h/status-$code" "\"status\": $code, \"body\": \"\", \"last_modified\": $((now - 86400))"
    forwarded "/h/status-$code"
    assert_status "$code"
    reused "/h/status-$code"
    assert_status "$code"
done

step "§4.2.2 heuristic: not for other codes (201, 202, 302, 403, 500, 502, 503, 504, 599)"
for code in 201 202 302 403 500 502 503 504 599; do
    script "/h/status-$code" "\"status\": $code, \"body\": \"x\", \"last_modified\": $((now - 86400))"
    forwarded "/h/status-$code"
    forwarded "/h/status-$code"
done

step "§4.2.2 an ETag only: stored for min_ttl (0), so revalidated on every use"
script /h/etag '"body": "e", "etag": "\"e1\"", "304_if_match": true'
forwarded /h/etag
assert_cache MISS 'edgecache; fwd=miss; stored'
forwarded /h/etag
assert_cache REVALIDATED 'edgecache; fwd=stale; fwd-status=304'
assert_body e

step "§4 no freshness and no validator: never reused (detail=no-freshness)"
script /h/none '"body": "n"'
forwarded /h/none
assert_cache MISS 'edgecache; fwd=miss; detail=no-freshness'
forwarded /h/none

step "§4.2.2 no freshness and no validator, but min_ttl 30: the operator's floor"
script /floor/none '"body": "f"'
forwarded /floor/none
reused /floor/none
assert_lifetime 30

pass
