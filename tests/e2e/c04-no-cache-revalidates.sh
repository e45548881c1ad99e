#!/usr/bin/env bash
# c04-no-cache-revalidates: a no-cache response is stored but revalidated on every request with a
# conditional request (If-None-Match from the ETag, If-Modified-Since from Last-Modified); the
# origin's 304 lets the edge answer the stored body (X-Cache REVALIDATED, Cache-Status fwd=stale;
# fwd-status=304) and each revalidation is counted at the origin. A changed object (200 to the
# conditional request) replaces the stored one. An expired max-age object with a validator is
# revalidated the same way.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

step "no-cache + ETag: first request is a MISS, stored"
script /c04/etag '"body": "etag body v1", "etag": "\"v1\"", "304_if_match": true, "headers": {"Cache-Control": "no-cache", "Content-Type": "text/plain"}'
fetch /c04/etag
assert_status 200
assert_body "etag body v1"
assert_cache MISS 'edgecache; fwd=miss; stored'
assert_count /c04/etag 1

for i in 2 3; do
    step "request $i: revalidated with If-None-Match, 304 from the origin"
    fetch /c04/etag
    assert_status 200
    assert_body "etag body v1"
    assert_cache REVALIDATED 'edgecache; fwd=stale; fwd-status=304'
    assert_header ETag '"v1"'
    assert_header Content-Type text/plain
    assert_count /c04/etag "$i"
    reqs=$(origin_requests /c04/etag)
    assert_eq GET "$(json_get '[-1]["method"]' <<<"$reqs")" "revalidation method"
    assert_eq '"v1"' "$(json_get '[-1]["headers"].get("if-none-match")' <<<"$reqs")" "If-None-Match sent to the origin"
done

step "the object changes: the origin answers 200, the new body is served and stored"
script /c04/etag '"body": "etag body v2", "etag": "\"v2\"", "304_if_match": true, "headers": {"Cache-Control": "no-cache"}'
fetch /c04/etag
assert_status 200
assert_body "etag body v2"
assert_header ETag '"v2"'
[[ $(header X-Cache) != HIT && $(header X-Cache) != REVALIDATED ]] || fail "changed object answered as $(header X-Cache)"
assert_count /c04/etag 4
fetch /c04/etag
assert_body "etag body v2"
assert_cache REVALIDATED 'edgecache; fwd=stale; fwd-status=304'
assert_eq '"v2"' "$(origin_requests /c04/etag | json_get '[-1]["headers"].get("if-none-match")')" "If-None-Match after the change"
assert_count /c04/etag 5

step "no-cache + Last-Modified only: revalidated with If-Modified-Since"
script /c04/lm '"body": "lm body", "last_modified": 1700000000, "304_if_match": true, "headers": {"Cache-Control": "no-cache"}'
fetch /c04/lm
assert_cache MISS 'edgecache; fwd=miss; stored'
assert_header Last-Modified 'Tue, 14 Nov 2023 22:13:20 GMT'
fetch /c04/lm
assert_status 200
assert_body "lm body"
assert_cache REVALIDATED 'edgecache; fwd=stale; fwd-status=304'
assert_eq 'Tue, 14 Nov 2023 22:13:20 GMT' "$(origin_requests /c04/lm | json_get '[-1]["headers"].get("if-modified-since")')" "If-Modified-Since sent to the origin"
assert_count /c04/lm 2

step "an expired max-age=2 object with an ETag is revalidated, then fresh again"
script /c04/exp '"body": "exp body", "etag": "\"e1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=2"}'
fetch /c04/exp
assert_cache MISS 'edgecache; fwd=miss; stored; ttl=[0-2]'
assert_count /c04/exp 1
sleep 3 # past its expiry (a wait that only has to be long enough holds on any machine)
# The origin's 304 now says max-age=600: the edge takes the 304's fields as the object's (RFC 9111
# §4.3.4), so the next request is a HIT however long it takes to come, and the 600 proves the refresh.
script /c04/exp '"body": "exp body", "etag": "\"e1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=600"}'
fetch /c04/exp
assert_status 200
assert_body "exp body"
assert_cache REVALIDATED 'edgecache; fwd=stale; fwd-status=304'
assert_count /c04/exp 2
fetch /c04/exp
assert_cache HIT
assert_lifetime 600
assert_body "exp body"
assert_count /c04/exp 2

step "a conditional client request on a fresh object gets a 304 from the edge"
fetch /c04/exp -H 'If-None-Match: "e1"'
assert_status 304
assert_eq 0 "$(body_size)" "304 body size"
assert_count /c04/exp 2

pass
