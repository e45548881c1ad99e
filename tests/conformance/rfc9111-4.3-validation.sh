#!/usr/bin/env bash
# rfc9111-4.3-validation: revalidation of a stale stored response (RFC 9111 §4.3.1) with If-None-Match
# and If-Modified-Since; the 304 freshens the stored headers (§4.3.4); clients' conditional requests
# are answered from the cache with RFC 9110 §13's comparisons (§4.3.2); a HEAD freshens the stored
# response (§4.3.5).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

step "§4.3.1 If-None-Match from the stored ETag; the 304 makes the stored body usable"
script /v/etag '"body": "etag body", "etag": "\"v1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=2"}'
forwarded /v/etag
sleep 3
forwarded /v/etag
assert_cache REVALIDATED 'edgecache; fwd=stale; fwd-status=304'
assert_body "etag body"
assert_eq '"v1"' "$(origin_requests /v/etag | json_get '[-1]["headers"].get("if-none-match")')" "If-None-Match"

step "§4.3.1 If-Modified-Since from the stored Last-Modified"
script /v/lm '"body": "lm body", "last_modified": 1700000000, "304_if_match": true, "headers": {"Cache-Control": "max-age=2"}'
forwarded /v/lm
sleep 3
forwarded /v/lm
assert_cache REVALIDATED 'edgecache; fwd=stale; fwd-status=304'
assert_body "lm body"
assert_eq 'Tue, 14 Nov 2023 22:13:20 GMT' "$(origin_requests /v/lm | json_get '[-1]["headers"].get("if-modified-since")')" "If-Modified-Since"

step "§4.3.4 the 304 updates the stored headers (new X-Version, new lifetime), and the next use is a hit"
script /v/update '"body": "u", "etag": "\"u1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=2", "X-Version": "1"}'
forwarded /v/update
assert_header X-Version 1
sleep 3
script /v/update '"body": "u", "etag": "\"u1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=600", "X-Version": "2"}'
forwarded /v/update
assert_header X-Version 2
reused /v/update
assert_header X-Version 2
assert_lifetime 600
assert_body u

step "§4.3.3 a 200 to the revalidation replaces the stored response"
script /v/changed '"body": "old", "etag": "\"c1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=2"}'
forwarded /v/changed
sleep 3
script /v/changed '"body": "new", "etag": "\"c2\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=600"}'
forwarded /v/changed
assert_body new
reused /v/changed
assert_body new

step "§4.3.2 a client's If-None-Match is answered 304 from the cache (weak comparison, RFC 9110 §13.1.2)"
script /v/client '"body": "cl", "etag": "W/\"w1\"", "last_modified": 1700000000, "headers": {"Cache-Control": "max-age=600"}'
forwarded /v/client
reused /v/client -H 'If-None-Match: "w1"'
assert_status 304
reused /v/client -H 'If-None-Match: "x", W/"w1"'
assert_status 304
reused /v/client -H 'If-None-Match: *'
assert_status 304
reused /v/client -H 'If-None-Match: "other"'
assert_status 200
assert_body cl

step "§4.3.2 If-Modified-Since, and If-None-Match taking precedence over it (RFC 9110 §13.2.2)"
reused /v/client -H 'If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT'
assert_status 304
reused /v/client -H 'If-Modified-Since: Mon, 13 Nov 2023 22:13:20 GMT'
assert_status 200
reused /v/client -H 'If-None-Match: "other"' -H 'If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT'
assert_status 200

step "§4.3.5 a HEAD freshens the stored response: the next GET is a hit with the new headers"
script /v/head '"body": "h", "etag": "\"h1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=2", "X-Version": "1"}'
forwarded /v/head
sleep 3
script /v/head '"body": "h", "etag": "\"h1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=600", "X-Version": "2"}'
forwarded /v/head -I
assert_header X-Version 2
reused /v/head
assert_header X-Version 2
assert_body h

pass
