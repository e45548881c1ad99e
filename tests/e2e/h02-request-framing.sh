#!/usr/bin/env bash
# h02-request-framing: requests that two HTTP/1 parsers could read two ways (RFC 9112) are refused with 400
# before anything is keyed or forwarded, and their connection is closed: obs-fold, two Host fields, no Host
# on HTTP/1.1, bare LF line ends, absolute-form targets for another host or scheme, a fragment in the target.
# Content-Length with Transfer-Encoding (followed on the connection by a second request): libh2o 2.2.5 has
# consumed the head of a request with a body before the handler runs, so the edge cannot see both fields; it
# answers the first request from its chunked body and closes the connection, so the smuggled second request
# is never read, and the origin receives a single Content-Length. The origin's record proves what reached it.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

"$PYTHON" - "$EDGE_PORT" >"$T/cases" <<'PY'
import socket, sys
port = int(sys.argv[1])
def exchange(data):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data)
    out = b""
    while True:  # the edge closes the connection after a refusal (or the backstop timeout fails the case)
        try:
            b = s.recv(65536)
        except OSError:
            break
        if not b:
            break
        out += b
    return out
cases = [
    ("obs-fold", b"GET /h02/fold HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n"),
    ("two-hosts", b"GET /h02/hosts HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
    ("no-host", b"GET /h02/nohost HTTP/1.1\r\n\r\n"),
    ("bare-lf", b"GET /h02/lf HTTP/1.1\nHost: x\n\n"),
    ("absolute-other-host", b"GET http://evil.com/h02/abs HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("absolute-ftp", b"GET ftp://x/h02/ftp HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("fragment", b"GET /h02/frag#x HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("cl-te", b"POST /h02/clte HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
              b"GET /h02/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
]
for name, data in cases:
    out = exchange(data)
    print(name, out.split(b"\r\n", 1)[0].decode("latin-1").replace(" ", "_"), out.count(b"HTTP/1.1 "))
PY
cat "$T/cases"
while read -r name line answers; do
    step "$name"
    case $name in
    cl-te) assert_match 'HTTP/1.1_200_OK' "$line" "$name: first answer"
           assert_eq 1 "$answers" "$name: answers on the connection (the second request must not be read)" ;;
    *) assert_match 'HTTP/1.1_400_.*' "$line" "$name: answer"
       assert_eq 1 "$answers" "$name: answers" ;;
    esac
done <"$T/cases"

step "nothing refused, and nothing smuggled, reached the origin"
for p in /h02/fold /h02/hosts /h02/nohost /h02/lf /h02/abs /h02/ftp /h02/frag /h02/smuggled; do
    assert_count "$p" 0
done
assert_count /h02/clte 1
assert_eq "<absent>" "$(origin_requests /h02/clte | json_get '[0]["headers"].get("transfer-encoding", "<absent>")')" "TE at the origin"

step "an absolute-form target for the request's own host is served as its path, never forwarded as a URI"
"$PYTHON" - "$EDGE_PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET http://x/h02/own HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
while s.recv(65536):
    pass
PY
assert_count /h02/own 1
assert_eq /h02/own "$(origin_requests /h02/own | json_get '[0]["path"]')" "path the origin received"
assert_alive
pass
