#!/usr/bin/env bash
# t03-pinned-chunk-slow-reader: a chunked body is sent straight from the LMDB map (a pinned read transaction
# per chunk in flight, edge/deliver.c). A client that stops reading in the middle of a 8 MB HIT keeps the
# chunk it was sent; meanwhile the object is purged and the map is refilled with other objects, so that the
# pages the purge freed would be written over if nothing held them. When the client reads on, every byte it
# gets is the original object's (the pinned chunk was never overwritten), and the transfer is either whole or
# aborted (the next chunks are gone), never a mix. Then a fresh HIT of the refetched object is whole again.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE=$((8 * 1024 * 1024))
start_origin O
CC='"Cache-Control": "max-age=600", "Content-Type": "application/octet-stream"'
script /t03/big "\"body_size\": $SIZE, \"headers\": {$CC}"
for i in 1 2 3 4; do script /t03/fill$i "\"body_size\": $((4 * 1024 * 1024)), \"headers\": {$CC}"; done

ADMIN_PORT=$(free_port)
TOKEN='t03-token-0123456789abcdef'
printf '%s\n' "$TOKEN" >"$T/admin.token"
printf 'origin: %s\nadmin: {listen: "127.0.0.1:%s", token_file: admin.token, purge_allow: [127.0.0.1]}\n' "$ORIGIN_URL" \
    "$ADMIN_PORT" >"$T/edge.yaml"
start_edge -c "$T/edge.yaml"
wait_edge "$ADMIN_PORT"
"$PYTHON" "$E2E_DIR/origin.py" --emit "$SIZE" >"$T/want.bin"

step "store the 8 MB object; a HIT is whole"
fetch /t03/big
assert_cache MISS
fetch /t03/big
assert_cache HIT
assert_eq "$(sha256sum <"$T/want.bin" | cut -d' ' -f1)" "$(body_sha256)" "body sha256"

step "a client reads 64 KB of a HIT and stops"
"$PYTHON" - "$EDGE_PORT" "$T" <<'EOF' &
import os, socket, sys, time
port, tmp = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # (before connect: a small window, so the edge stalls soon)
s.connect(("127.0.0.1", port))
s.sendall(b"GET /t03/big HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data or len(data) - data.index(b"\r\n\r\n") - 4 < 65536:
    d = s.recv(16384)
    if not d:
        break
    data += d
open(os.path.join(tmp, "stalled"), "w").close()
while not os.path.exists(os.path.join(tmp, "go")):  # the test's gate
    time.sleep(0.02)
s.settimeout(60)
try:
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        data += d
except OSError:
    pass  # an aborted transfer may end in a reset
head, body = data.split(b"\r\n\r\n", 1)
with open(os.path.join(tmp, "got.bin"), "wb") as f:
    f.write(body)
with open(os.path.join(tmp, "got.head"), "wb") as f:
    f.write(head)
EOF
CLIENT=$!
wait_until -t 30 test -e "$T/stalled"

step "meanwhile: purge it and store 16 MB of other objects"
fetch /t03/big -X PURGE
assert_status 200
id=$(json_get '["id"]' <"$BODY")
purged() { [[ $(curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$ADMIN_PORT/purge/$id" | json_get '["status"]') == done ]]; }
wait_until -t 20 purged
for i in 1 2 3 4; do
    fetch /t03/fill$i
    assert_cache MISS
done

step "the client reads on: the original bytes, whole or cut short, never overwritten"
touch "$T/go"
wait "$CLIENT" || fail "the slow client failed"
grep -q "^HTTP/1.1 200" "$T/got.head" || fail "the slow client got: $(head -c 200 "$T/got.head")"
got=$(stat -c %s "$T/got.bin")
((got >= 65536 && got <= SIZE)) || fail "the slow client got $got body bytes"
cmp -n "$got" "$T/got.bin" "$T/want.bin" || fail "the slow client's $got bytes differ from the original object's"
echo "   the slow client got $got of $SIZE bytes, all of them the original's"

step "the object is fetched again, and its HIT is whole"
fetch /t03/big
assert_cache MISS
fetch /t03/big
assert_cache HIT
assert_eq "$(sha256sum <"$T/want.bin" | cut -d' ' -f1)" "$(body_sha256)" "body sha256"
pass
