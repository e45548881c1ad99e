#!/usr/bin/env bash
# h21-slowloris: with limits.header_timeout: 2s, 500 connections that send part of a request head and
# stall are all closed by the edge within a bounded time, while a normal client is served meanwhile; the
# edge's RSS is reported.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
EDGE_PORT=$(free_port)
cat >"$T/edge.yaml" <<YAML
listen: [{address: 127.0.0.1, port: $EDGE_PORT}]
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"]}
behaviors:
  - {path: "*"}
limits: {header_timeout: 2s}
YAML
start_edge_raw -c "$T/edge.yaml"
wait_edge
script /h21/ok '"body": "fine", "headers": {"Cache-Control": "max-age=600"}'

step "500 connections send a partial request head and stall"
mkfifo "$T/ready"
"$PYTHON" - 127.0.0.1 "$EDGE_PORT" 500 "$T/ready" >"$T/slow.out" 2>&1 <<'PY' &
import selectors, socket, sys, time
host, port, n, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sel = selectors.DefaultSelector()
socks = []
for i in range(n):
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"GET /h21/slow%d HTTP/1.1\r\nHost: edge\r\nX-Slow: " % i)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    socks.append(s)
start = time.time()
with open(ready, "w") as f:
    f.write("ready\n")
open_ = n
while open_ and time.time() - start < 30:
    for key, _ in sel.select(timeout=1):
        try:
            data = key.fileobj.recv(4096)
        except (ConnectionResetError, OSError):
            data = b""
        if not data:  # closed by the edge (a 408 first is fine too: the next recv sees the end)
            sel.unregister(key.fileobj)
            key.fileobj.close()
            open_ -= 1
print("closed %d of %d in %.1f s" % (n - open_, n, time.time() - start))
sys.exit(0 if open_ == 0 else 1)
PY
slow_pid=$!
PIDS+=("$slow_pid")
read -r _ <"$T/ready"

step "a normal client is served meanwhile"
fetch /h21/ok
assert_status 200
assert_body fine
echo "   edge RSS with 500 stalled connections: $(edge_rss_kb) KiB"

step "every stalled connection is closed by the edge within the bound"
wait "$slow_pid" || fail "stalled connections left open: $(cat "$T/slow.out")"
cat "$T/slow.out"

step "the edge is alive and serves a cached object"
fetch /h21/ok
assert_status 200
assert_header X-Cache HIT
assert_count /h21/ok 1
echo "   edge RSS: $(edge_rss_kb) KiB"
pass
