#!/usr/bin/env bash
# b03-post-passes-through: a POST is forwarded to the origin with its body intact (small and 200 KB),
# is never answered from the cache nor stored (Cache-Status fwd=bypass; the count grows each time),
# and does not disturb caching of GETs for the same URL.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

# Cacheable-looking answers: only the method keeps them out of the cache.
script /b03 '"body": "posted", "headers": {"Cache-Control": "max-age=60", "Content-Type": "text/plain"}'

step "POST with a form body"
fetch /b03 -X POST --data-binary 'a=1&b=2' -H 'Content-Type: application/x-www-form-urlencoded'
assert_status 200
assert_body posted
assert_cache MISS 'edgecache; fwd=bypass'
assert_header X-Cache MISS
assert_count /b03 1
reqs=$(origin_requests /b03)
assert_eq POST "$(json_get '[-1]["method"]' <<<"$reqs")" "method at the origin"
assert_eq 'a=1&b=2' "$(json_get '[-1]["body"]' <<<"$reqs")" "body at the origin"
assert_eq 7 "$(json_get '[-1]["body_len"]' <<<"$reqs")" "body length at the origin"
assert_eq application/x-www-form-urlencoded "$(json_get '[-1]["headers"]["content-type"]' <<<"$reqs")" "Content-Type at the origin"

step "the same POST again reaches the origin again"
fetch /b03 -X POST --data-binary 'a=1&b=2'
assert_status 200
assert_cache MISS 'edgecache; fwd=bypass'
assert_count /b03 2

step "a 200 KB POST body arrives byte for byte"
"$PYTHON" "$E2E_DIR/origin.py" --emit 204800 >"$T/post.bin"
want=$(sha256sum <"$T/post.bin" | cut -d' ' -f1)
fetch /b03 -X POST --data-binary "@$T/post.bin" -H 'Content-Type: application/octet-stream'
assert_status 200
assert_count /b03 3
reqs=$(origin_requests /b03)
assert_eq 204800 "$(json_get '[-1]["body_len"]' <<<"$reqs")" "large body length at the origin"
assert_eq "$want" "$(json_get '[-1]["body_sha256"]' <<<"$reqs")" "large body sha256 at the origin"

step "the POSTs stored nothing: GET is a MISS, then a HIT"
fetch /b03
assert_status 200
assert_body posted
assert_cache MISS
assert_count /b03 4
fetch /b03
assert_cache HIT
assert_count /b03 4

step "a POST to a cached URL still goes to the origin"
fetch /b03 -X POST --data-binary 'x'
assert_cache MISS 'edgecache; fwd=bypass'
assert_count /b03 5
assert_eq POST "$(origin_requests /b03 | json_get '[-1]["method"]')" "method at the origin"

step "PUT and DELETE pass through too"
fetch /b03 -X PUT --data-binary 'put-body'
assert_cache MISS 'edgecache; fwd=bypass'
assert_count /b03 6
fetch /b03 -X DELETE
assert_cache MISS 'edgecache; fwd=bypass'
assert_count /b03 7
assert_eq DELETE "$(origin_requests /b03 | json_get '[-1]["method"]')" "method at the origin"

pass
