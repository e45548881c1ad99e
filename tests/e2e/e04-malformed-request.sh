#!/usr/bin/env bash
# e04-malformed-request: malformed requests (a header line without a colon, a 100 KB header, binary
# garbage, a bad Content-Length, a bad version, a request cut off mid-header, a NUL in the path) get a
# 4xx answer or a closed connection, never reach the origin, and never take the edge down: after
# each one a normal request is still served (from the cache) and the process is alive.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

step "a normal object, cached"
fetch /e04/ok -H 'Host: x' # the Host of the raw requests below: the host is in the key
assert_status 200
assert_body 'origin:/e04/ok'
assert_count /e04/ok 1

# Every case runs in one python process (its start-up costs a second on a loaded machine): it sends
# the bytes of a case on a fresh connection and reads until an event ends it: a whole answer has
# arrived (its Content-Length, or a chunked end) or the edge closed the connection. A request cut off
# mid-header is followed by a shutdown of our side, so the edge sees the end of it and closes rather
# than waits for its own header timeout. Then a normal request on a new connection shows that the edge
# still serves. The only clock is a backstop (10 s) against an edge that does neither; hitting it fails.
# Each case prints one line of fields separated by US (0x1f; a tab, being white space to `read`, would
# merge empty fields): NAME, OUTCOME (answer|closed|backstop), the first line of the answer, then the
# normal request's outcome, first line, X-Cache and body.
cases() {
    "$PYTHON" - "$EDGE_PORT" >"$T/cases" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
BACKSTOP = 10.0

def read_answer(s, deadline):
    """Reads until a whole answer is in or the peer closed; returns (outcome, bytes)."""
    out = b""
    while True:
        head_end = out.find(b"\r\n\r\n")
        if head_end >= 0:
            head = out[:head_end].decode("latin-1").lower().split("\r\n")
            fields = dict((l.split(":", 1)[0].strip(), l.split(":", 1)[1].strip()) for l in head[1:] if ":" in l)
            body = out[head_end + 4:]
            if "content-length" in fields and len(body) >= int(fields["content-length"]):
                return "answer", out
            if "chunked" in fields.get("transfer-encoding", "") and body.endswith(b"0\r\n\r\n"):
                return "answer", out
        left = deadline - time.time()
        if left <= 0:
            return "backstop", out
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except socket.timeout:
            return "backstop", out
        except OSError:
            return "closed", out
        if not b:
            return "closed", out
        out += b

def exchange(data, half_close):
    s = socket.create_connection(("127.0.0.1", port), timeout=BACKSTOP)
    try:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the edge may refuse the rest of a huge request and close: what it answered is still read
    try:
        return read_answer(s, time.time() + BACKSTOP)
    finally:
        s.close()

def first_line(b):
    return b.split(b"\r\n", 1)[0].decode("latin-1").replace("\x1f", " ")

CASES = [
    ("no-colon", b"GET /e04/bad1 HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n", False),
    ("huge-header", b"GET /e04/bad2 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n", False),
    ("many-headers", b"GET /e04/bad3 HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(2000)) + b"\r\n", False),
    ("garbage", bytes(range(256)) * 8 + b"\r\n\r\n", False),
    ("bad-length", b"POST /e04/bad4 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nhello", False),
    ("neg-length", b"POST /e04/bad5 HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nhello", False),
    ("bad-version", b"GET /e04/bad6 HTTP/9.9\r\nHost: x\r\n\r\n", False),
    ("space-in-uri", b"GET /e04/bad 7 HTTP/1.1\r\nHost: x\r\n\r\n", False),
    ("nul-in-path", b"GET /e04/bad8\x00x HTTP/1.1\r\nHost: x\r\n\r\n", False),
    ("half-header", b"GET /e04/bad9 HTTP/1.1\r\nHost: x\r\nX-Partial: yes", True),
    ("bad-chunked", b"POST /e04/bad10 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", False),
    ("huge-uri", b"GET /e04/" + b"u" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", False),
]
for name, data, half_close in CASES:
    outcome, got = exchange(data, half_close)
    try:
        ok_outcome, ok = exchange(b"GET /e04/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", False)
    except OSError as e:
        ok_outcome, ok = "refused: %s" % e, b""
    head, _, body = ok.partition(b"\r\n\r\n")
    xcache = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")[1:] if l.lower().startswith(b"x-cache:")]
    print("\x1f".join([name, outcome, first_line(got), ok_outcome, first_line(ok),
                     (xcache[0] if xcache else b"").decode("latin-1"), body.decode("latin-1")]))
    sys.stdout.flush()
PY
}

step "malformed requests"
HDRS=/dev/null # what fail() should show is the raw answers, not the last curl fetch
cases
[[ $(wc -l <"$T/cases") == 12 ]] || fail "the cases stopped after $(wc -l <"$T/cases") of 12: $(tail -n 1 "$T/cases")"
while IFS=$'\x1f' read -r name outcome first ok_outcome ok_first ok_xcache ok_body; do
    case $outcome in
    answer | closed)
        if [[ -n $first ]]; then
            [[ $first =~ ^HTTP/1\.[01]\ (4[0-9][0-9]|505)\  ]] ||
                fail "$name: expected a 4xx answer or a closed connection, got: $first"
            echo "   $name: $first"
        else
            echo "   $name: connection closed without an answer"
        fi
        ;;
    *) fail "$name: the edge neither answered nor closed the connection within the backstop (got: '$first')" ;;
    esac
    [[ $ok_outcome == answer || $ok_outcome == closed ]] || fail "$name: the normal request after it: $ok_outcome"
    assert_match 'HTTP/1\.1 200 .*' "$ok_first" "$name: the normal request after it"
    assert_eq HIT "$ok_xcache" "$name: X-Cache of the normal request after it"
    assert_eq 'origin:/e04/ok' "$ok_body" "$name: body of the normal request after it"
done <"$T/cases"
assert_alive

step "none of them reached the origin"
for p in /e04/bad1 /e04/bad2 /e04/bad3 /e04/bad4 /e04/bad5 /e04/bad6 /e04/bad8 /e04/bad9 /e04/bad10; do
    assert_count "$p" 0
done
assert_count "/e04/bad" 0
assert_count /e04/ok 1
# The origin accepts even 1 MiB header blocks, so anything forwarded would show in its total.
assert_eq 1 "$(origin_total)" "requests of any kind the origin received (only /e04/ok expected)"

step "50 clients that send half a request and vanish"
# One process, 50 connections open at once (not 50 python start-ups): each sends half a request line,
# then all of them close.
"$PYTHON" - "$EDGE_PORT" <<'PY'
import socket, sys
conns = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) for _ in range(50)]
for c in conns:
    c.sendall(b"GET /e04/ok HTTP/1.1\r\nHo")
for c in conns:
    c.close()
PY
assert_alive
fetch /e04/ok -H 'Host: x'
assert_status 200
assert_cache HIT
assert_count /e04/ok 1

pass
