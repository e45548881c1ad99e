#!/usr/bin/env bash
# h01-origin-bad-framing: malformed and badly framed origin responses are errors of that request, never
# a reason for the process to stop, and never stored. libh2o's own HTTP client aborted the whole edge on
# some of them (Transfer-Encoding: foo with a Content-Length: an assertion), which took every cached
# object offline; the edge's own client (origin/client.c) turns each into an error value.
# Each case: the edge answers (502 for a bad head; a failed or short transfer for a bad body), the origin
# count proves nothing was stored (the next request goes to the origin again), and the edge is still
# running and still serves a cached object as a HIT (the origin count of that object does not move).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

step "a normal object, cached"
script /h01/ok '"body": "still here", "headers": {"Cache-Control": "max-age=3600"}'
fetch /h01/ok
assert_status 200
assert_cache MISS
fetch /h01/ok
assert_cache HIT
assert_count /h01/ok 1

# still_serving: the edge process is alive and the cached object is a HIT (no new origin request).
still_serving() {
    assert_alive
    kill -0 "$EDGE_PID" || fail "edge process $EDGE_PID is gone"
    fetch /h01/ok
    assert_status 200
    assert_body "still here"
    assert_cache HIT
    assert_count /h01/ok 1
}

# bad_head PATH RAW: the origin sends RAW; the edge answers 502 twice, asking the origin each time.
bad_head() {
    script "$1" "\"raw\": \"$2\""
    fetch "$1"
    assert_status 502
    assert_count "$1" 1
    still_serving
    fetch "$1"
    assert_status 502
    assert_count "$1" 2
    still_serving
}

# bad_body PATH RAW [incomplete]: the origin sends RAW, a head that promises a body it does not frame properly. The
# client may see a status and part of the body, or a failed transfer; the edge stores nothing (its
# Cache-Status may say "stored": that is decided at the head; the second origin request is the proof).
bad_body() {
    script "$1" "\"raw\": \"$2\""
    try_fetch "$1"
    echo "   $1: status $STATUS, curl exit $CURL_RC, $(body_size) bytes"
    if [[ ${3:-} == incomplete ]]; then
        [[ $CURL_RC != 0 || $STATUS =~ ^5 ]] || fail "$1: an incomplete body was delivered as a complete $STATUS"
    fi
    assert_count "$1" 1
    still_serving
    try_fetch "$1"
    assert_count "$1" 2
    still_serving
}

step "Transfer-Encoding: foo with a Content-Length (libh2o's client asserted on it)"
bad_head /h01/te-foo 'HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nTransfer-Encoding: foo\r\nContent-Length: 5\r\n\r\nhello'

step "Transfer-Encoding: gzip, chunked (not exactly chunked)"
bad_head /h01/te-list 'HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'

step "Content-Length: 5x"
bad_head /h01/cl-junk 'HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nContent-Length: 5x\r\n\r\nhello'

step "two different Content-Lengths"
bad_head /h01/cl-two 'HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'

step "a garbage status line"
bad_head /h01/garbage 'HTTP/1.1 two hundred OK\r\nCache-Control: max-age=3600\r\nContent-Length: 5\r\n\r\nhello'

step "not HTTP at all"
bad_head /h01/not-http 'SSH-2.0-OpenSSH_9.2\r\n'

step "a head over the size limit (64 KiB)"
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
bad_head /h01/big-head "HTTP/1.1 200 OK\\r\\nCache-Control: max-age=3600\\r\\nX-Big: $big\\r\\nContent-Length: 5\\r\\n\\r\\nhello"

step "Content-Length larger than the body, then close: truncated, not stored"
bad_body /h01/cl-short 'HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nContent-Length: 100\r\n\r\nonly twenty bytes...' incomplete

step "more bytes than Content-Length: not stored"
bad_body /h01/cl-long 'HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nContent-Length: 5\r\n\r\nhello and then some more'

step "chunked with a bad chunk size: not stored"
bad_body /h01/bad-chunk 'HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n' incomplete

step "100 Continue, then 200: served and stored"
script /h01/continue '"interim": [100], "body": "after continue", "headers": {"Cache-Control": "max-age=3600"}'
fetch /h01/continue
assert_status 200
assert_body "after continue"
assert_cache MISS 'edgecache; fwd=miss; stored'
fetch /h01/continue
assert_cache HIT
assert_body "after continue"
assert_count /h01/continue 1
still_serving

step "103 Early Hints, then 200: served and stored"
script /h01/hints '"interim": [[103, {"Link": "</s.css>; rel=preload"}]], "body": "after hints", "headers": {"Cache-Control": "max-age=3600"}'
fetch /h01/hints
assert_status 200
assert_body "after hints"
fetch /h01/hints
assert_cache HIT
assert_count /h01/hints 1
still_serving

step "100 Continue and 200 in one raw write"
script /h01/continue-raw '"raw": "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nContent-Length: 5\r\n\r\nhello"'
fetch /h01/continue-raw
assert_status 200
assert_body "hello"
fetch /h01/continue-raw
assert_cache HIT
assert_count /h01/continue-raw 1
still_serving

pass
