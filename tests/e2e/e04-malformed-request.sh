#!/usr/bin/env bash
# e04-malformed-request: malformed requests (a header line without a colon, a 100 KB header, binary
# garbage, a bad Content-Length, a bad version, a request cut off mid-header, a NUL in the path) get a
# 4xx answer or a closed connection, never reach the origin, and never take the edge down: after
# each one a normal request is still served (from the cache) and the process is alive.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

step "a normal object, cached"
fetch /e04/ok
assert_status 200
assert_body 'origin:/e04/ok'
assert_count /e04/ok 1

# bad NAME EXPR [WAIT]: send the bytes of the python expression EXPR on one connection, read for up to
# WAIT seconds (default 3); expect a 4xx answer or a closed connection.
bad() {
    local name=$1 expr=$2 wait=${3:-3} first
    "$PYTHON" -c "import sys; sys.stdout.buffer.write($expr)" | raw_request "$EDGE_PORT" "$wait" >"$T/raw.$name"
    first=$(head -n 1 "$T/raw.$name" | tr -d '\r')
    HDRS=/dev/null # what fail() should show is this raw answer, not the last curl fetch
    if [[ -s $T/raw.$name ]]; then
        [[ $first =~ ^HTTP/1\.[01]\ (4[0-9][0-9]|505)\  ]] ||
            fail "$name: expected a 4xx answer or a closed connection, got: $(head -c 300 "$T/raw.$name" | tr -c '[:print:]\n' '.')"
        echo "   $name: $first"
    else
        echo "   $name: connection closed without an answer"
    fi
    assert_alive
    fetch /e04/ok
    assert_status 200
    assert_body 'origin:/e04/ok'
    assert_cache HIT
}

step "malformed requests"
bad no-colon      'b"GET /e04/bad1 HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n"'
bad huge-header   'b"GET /e04/bad2 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"'
bad many-headers  'b"GET /e04/bad3 HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(2000)) + b"\r\n"'
bad garbage       'bytes(range(256)) * 8 + b"\r\n\r\n"'
bad bad-length    'b"POST /e04/bad4 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nhello"'
bad neg-length    'b"POST /e04/bad5 HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nhello"'
bad bad-version   'b"GET /e04/bad6 HTTP/9.9\r\nHost: x\r\n\r\n"'
bad space-in-uri  'b"GET /e04/bad 7 HTTP/1.1\r\nHost: x\r\n\r\n"'
bad nul-in-path   'b"GET /e04/bad8\x00x HTTP/1.1\r\nHost: x\r\n\r\n"'
bad half-header   'b"GET /e04/bad9 HTTP/1.1\r\nHost: x\r\nX-Partial: yes"' 1
bad bad-chunked   'b"POST /e04/bad10 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"'
bad huge-uri      'b"GET /e04/" + b"u" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"'

step "none of them reached the origin"
for p in /e04/bad1 /e04/bad2 /e04/bad3 /e04/bad4 /e04/bad5 /e04/bad6 /e04/bad8 /e04/bad9 /e04/bad10; do
    assert_count "$p" 0
done
assert_count "/e04/bad" 0
assert_count /e04/ok 1
# The origin accepts even 1 MiB header blocks, so anything forwarded would show in its total.
assert_eq 1 "$(origin_total)" "requests of any kind the origin received (only /e04/ok expected)"

step "50 clients that send half a request and vanish"
clients=()
for i in $(seq 1 50); do
    printf 'GET /e04/ok HTTP/1.1\r\nHo' | raw_request "$EDGE_PORT" 0.05 >/dev/null &
    clients+=($!)
done
for pid in "${clients[@]}"; do wait "$pid" || true; done
assert_alive
fetch /e04/ok
assert_status 200
assert_cache HIT
assert_count /e04/ok 1

pass
