#!/usr/bin/env bash
# c07-truncated-not-stored: a body that ends early is never stored and never looks complete to the
# client: the origin resets the connection mid-body (with Content-Length, and chunked), or declares a
# Content-Length it does not send and closes. Each time the client's transfer fails (or it gets an
# error status, never a short 200 that curl accepts), and the next request goes to the origin again.
# Once the origin behaves, the object is stored as usual.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

size=200000
want=$(pattern_sha256 "$size")

# truncated PATH N: the Nth request for PATH; the client must see a failed transfer, and the origin N requests.
truncated() {
    try_fetch "$1"
    if [[ $CURL_RC == 0 ]]; then
        # The only acceptable complete-looking answer is an error status, never the object itself.
        [[ $STATUS =~ ^5[0-9][0-9]$ ]] ||
            fail "$1: truncated origin body delivered as a complete $STATUS ($(body_size) bytes, curl exit 0)"
        echo "   $1: edge answered $STATUS (X-Cache: $(header X-Cache))"
    else
        echo "   $1: client transfer failed as expected (curl exit $CURL_RC, $(body_size) bytes, status $STATUS)"
        [[ $(body_size) -lt $size ]] || fail "$1: curl failed but received all $size bytes"
    fi
    assert_alive
    assert_count "$1" "$2"
}

step "reset after 50 KB of a 200 KB Content-Length body"
script /c07/reset "\"body_size\": $size, \"reset_after\": 50000, \"headers\": {\"Cache-Control\": \"max-age=60\"}"
truncated /c07/reset 1
truncated /c07/reset 2
truncated /c07/reset 3

step "reset after 50 KB of a chunked body"
script /c07/chunked "\"body_size\": $size, \"chunked\": true, \"reset_after\": 50000, \"headers\": {\"Cache-Control\": \"max-age=60\"}"
truncated /c07/chunked 1
truncated /c07/chunked 2

step "Content-Length: 1000 declared, 10 bytes sent, connection closed"
script /c07/lie '"body": "short body", "content_length": 1000, "headers": {"Cache-Control": "max-age=60"}'
truncated /c07/lie 1
truncated /c07/lie 2

step "a small body reset after 5 bytes"
script /c07/small '"body": "0123456789abcdef", "reset_after": 5, "headers": {"Cache-Control": "max-age=60"}'
truncated /c07/small 1
truncated /c07/small 2

step "the origin recovers: the complete object is stored and served"
script /c07/reset "\"body_size\": $size, \"headers\": {\"Cache-Control\": \"max-age=60\"}"
fetch /c07/reset
assert_status 200
assert_cache MISS 'edgecache; fwd=miss; stored'
assert_eq "$want" "$(body_sha256)" "sha256 of the complete body"
assert_count /c07/reset 4
fetch /c07/reset
assert_status 200
assert_cache HIT
assert_eq "$want" "$(body_sha256)" "sha256 of the cached body"
assert_count /c07/reset 4

script /c07/lie '"body": "short body", "headers": {"Cache-Control": "max-age=60"}'
fetch /c07/lie
assert_body "short body"
assert_count /c07/lie 3
fetch /c07/lie
assert_body "short body"
assert_cache HIT
assert_count /c07/lie 3

pass
