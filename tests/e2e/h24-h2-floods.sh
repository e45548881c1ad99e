#!/usr/bin/env bash
# h24-h2-floods: SETTINGS and PING floods over TLS (raw HTTP/2 frames, 5,000 of each, the answers left
# unread while they are sent): the edge stays alive, its memory stays bounded, and it serves; libh2o may
# close the flooding connection, which is fine.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v openssl >/dev/null || skip "no openssl"
start_origin O
make_cert "$T/cert.pem" "$T/key.pem"
EDGE_PORT=$(free_port)
TLS_PORT=$(free_port)
cat >"$T/edge.yaml" <<YAML
listen:
  - {address: 127.0.0.1, port: $EDGE_PORT}
  - {address: 127.0.0.1, port: $TLS_PORT, tls: {certificate: $T/cert.pem, key: $T/key.pem}}
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"]}
behaviors:
  - {path: "*"}
YAML
start_edge_raw -c "$T/edge.yaml"
wait_edge "$EDGE_PORT" "$TLS_PORT"
# one site name on both listeners: the host (a port other than 80/443 included) is in the key
HOST='Host: h24.example'
script /h24/ok '"body": "fine", "headers": {"Cache-Control": "max-age=600"}'
fetch /h24/ok -H "$HOST"
assert_status 200
rss_before=$(edge_rss_kb)

flood() { # KIND: settings | ping
    "$PYTHON" - 127.0.0.1 "$TLS_PORT" "$1" 5000 <<'PY'
import socket, ssl, struct, sys, time
host, port, kind, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["h2"])
s = ctx.wrap_socket(socket.create_connection((host, port), timeout=10), server_hostname="localhost")
assert s.selected_alpn_protocol() == "h2"
def frame(t, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([t, flags]) + struct.pack(">I", sid) + payload
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0))
sent = 0
try:
    for batch in range(0, n, 500):
        out = b""
        for i in range(batch, min(batch + 500, n)):
            out += frame(4, 0, 0, struct.pack(">HI", 4, 65535 + i % 7)) if kind == "settings" else frame(6, 0, 0, struct.pack(">Q", i))
        s.sendall(out)
        sent += 500
except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
    pass
got, deadline = 0, time.time() + 10  # now read what came back, until the end or a quiet second
s.settimeout(1)
try:
    while time.time() < deadline:
        d = s.recv(65536)
        if not d:
            break
        got += len(d)
except (socket.timeout, ConnectionResetError, ssl.SSLError, OSError):
    pass
print("%s flood: %d frames sent, %d bytes answered" % (kind, sent, got))
PY
}

step "a SETTINGS flood"
flood settings || fail "settings flood client failed"
assert_alive
fetch "https://127.0.0.1:$TLS_PORT/h24/ok" -H "$HOST" -k --http2
assert_status 200

step "a PING flood"
flood ping || fail "ping flood client failed"
assert_alive

step "memory stays bounded"
rss_after=$(edge_rss_kb)
echo "   edge RSS: $rss_before KiB before the floods, $rss_after KiB after"
((rss_after < rss_before + 64 * 1024)) || fail "RSS grew from $rss_before to $rss_after KiB"

step "the edge is alive and serves a cached object"
fetch "https://127.0.0.1:$TLS_PORT/h24/ok" -H "$HOST" -k --http2
assert_status 200
assert_header X-Cache HIT
assert_body fine
assert_count /h24/ok 1
pass
