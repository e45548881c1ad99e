#!/usr/bin/env bash
# h25-send-timeout: limits.send_timeout closes an HTTP/1 connection whose client stops reading a response
# (edge/deliver.c, the send watch), so that a stalled client cannot keep a pin on the map (a read transaction,
# behind which LMDB reuses no freed page), a fetch's blocks or a connection for ever. A client that reads
# slowly but steadily gets the whole body; the edge carries on. Over TLS too: the watch is on the connection.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE=$((8 * 1024 * 1024))
start_origin O
CC='"Cache-Control": "max-age=600", "Content-Type": "application/octet-stream"'
script /h25/big "\"body_size\": $SIZE, \"headers\": {$CC}"
script /h25/inline "\"body_size\": $((200 * 1024)), \"headers\": {$CC}"
make_cert "$T/cert.pem" "$T/key.pem"
TLS_PORT=$(free_port)
ADMIN_PORT=$(free_port)
TOKEN='h25-token-0123456789abcdef'
printf '%s\n' "$TOKEN" >"$T/admin.token"
EDGE_PORT=$(free_port)
cat >"$T/edge.yaml" <<EOF
origin: $ORIGIN_URL
listen:
  - {address: 127.0.0.1, port: $EDGE_PORT}
  - {address: 127.0.0.1, port: $TLS_PORT, tls: {certificate: $T/cert.pem, key: $T/key.pem}}
admin: {listen: "127.0.0.1:$ADMIN_PORT", token_file: admin.token}
limits: {send_timeout: 2s}
EOF
start_edge_raw -c "$T/edge.yaml"
wait_edge "$ADMIN_PORT"
"$PYTHON" "$E2E_DIR/origin.py" --emit "$SIZE" >"$T/want.bin"
metric() { curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$ADMIN_PORT/metrics" |
    sed -n "s/^$1 \([0-9]*\)$/\1/p"; }

step "store an 8 MB and a 200 KB object"
for p in /h25/big /h25/inline; do
    fetch $p
    assert_cache MISS
done
stored() { [[ $(metric edgecache_store_objects) == 2 ]]; }
wait_until -t 30 stored # (committed: a request now cannot join the fetch or start another)
assert_count /h25/big 1
assert_count /h25/inline 1
assert_eq 0 "$(metric edgecache_send_timeouts_total)" "send timeouts before"

# stall.py PORT PATH TLS OUT HOST: reads 64 KB of the body, stops reading, and once the edge logged the timeout
# reads on: what it got is written to OUT (the body bytes) and OUT.end (how the transfer ended)
cat >"$T/stall.py" <<'EOF'
import os, socket, ssl, sys, time
port, path, tls, out, host = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", sys.argv[4], sys.argv[5]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # a small window, so that the edge's send stalls soon
s.connect(("127.0.0.1", port))
if tls:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    s = ctx.wrap_socket(s)
s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
data = b""
while b"\r\n\r\n" not in data or len(data) - data.index(b"\r\n\r\n") - 4 < 65536:
    d = s.recv(16384)
    if not d:
        break
    data += d
open(out + ".stalled", "w").close()
while not os.path.exists(out + ".go"):  # the test's gate: the edge has logged the timeout
    time.sleep(0.02)
s.settimeout(30)
end = "eof"
try:
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        data += d
except (OSError, ssl.SSLError) as e:
    end = "error: %s" % e
open(out, "wb").write(data.split(b"\r\n\r\n", 1)[1])
open(out + ".end", "w").write(end)
EOF

stall() { # N PORT PATH TLS: a stalled client, cut by the edge
    local n=$1 out="$T/stall$1"
    "$PYTHON" "$T/stall.py" "$2" "$3" "$4" "$out" "127.0.0.1:$EDGE_PORT" & # (the Host curl sends: the same key)
    local pid=$!
    wait_until -t 30 test -e "$out.stalled"
    wait_log 'limits.send_timeout' "$n" 30
    touch "$out.go"
    wait "$pid" || fail "the stalled client failed"
    local got
    got=$(stat -c %s "$out")
    ((got < $5)) || fail "the stalled client got all $got bytes: its connection was not closed"
    cmp -n "$got" "$out" "$T/want.bin" || fail "the stalled client's $got bytes differ from the object's"
    echo "   cut after $got of $5 bytes ($(cat "$out.end"))"
}

step "a cleartext client stops reading a chunked HIT: its connection is closed after send_timeout"
stall 1 "$EDGE_PORT" /h25/big 0 "$SIZE"
assert_eq 1 "$(metric edgecache_send_timeouts_total)" "send timeouts"

step "the same over TLS"
stall 2 "$TLS_PORT" /h25/big 1 "$SIZE"
assert_eq 2 "$(metric edgecache_send_timeouts_total)" "send timeouts"

step "a client reading slowly but steadily (~1 MB/s, each piece well within 2 s) gets the whole body"
"$PYTHON" - "$EDGE_PORT" "$T/slow.bin" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b"GET /h25/big HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n" % sys.argv[1].encode())
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
    time.sleep(0.05)
open(sys.argv[2], "wb").write(data.split(b"\r\n\r\n", 1)[1])
EOF
assert_eq "$(sha256sum <"$T/want.bin" | cut -d' ' -f1)" "$(sha256sum <"$T/slow.bin" | cut -d' ' -f1)" "slow reader's body"
assert_eq 2 "$(metric edgecache_send_timeouts_total)" "send timeouts after the slow reader"

step "the edge carries on: both objects are HITs, whole, and the origin saw one request for each"
fetch /h25/big
assert_cache HIT
assert_eq "$(sha256sum <"$T/want.bin" | cut -d' ' -f1)" "$(body_sha256)" "body sha256"
fetch /h25/inline
assert_cache HIT
assert_count /h25/big 1
assert_count /h25/inline 1
pass
