#!/usr/bin/env bash
# h22-idle-connections: 10,000 idle keep-alive connections (one request each, then silence) are held by
# the edge while a normal request is served; its RSS is printed and must stay under a generous bound.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=10000
ulimit -n 20000 2>/dev/null || skip "cannot raise the descriptor limit to 20000 (hard limit $(ulimit -Hn))"
start_origin O
EDGE_PORT=$(free_port)
cat >"$T/edge.yaml" <<YAML
threads: 1
listen: [{address: 127.0.0.1, port: $EDGE_PORT}]
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"]}
behaviors:
  - {path: "*"}
limits: {header_timeout: 120s}
YAML
start_edge_raw -c "$T/edge.yaml"
wait_edge
script /h22/ok '"body": "fine", "headers": {"Cache-Control": "max-age=600"}'
fetch /h22/ok
assert_status 200
rss_before=$(edge_rss_kb)

step "$N keep-alive connections, one request each, then idle"
mkfifo "$T/ready" "$T/done"
"$PYTHON" - 127.0.0.1 "$EDGE_PORT" $N "$T/ready" "$T/done" >"$T/idle.out" 2>&1 <<'PY' &
import selectors, socket, sys
host, port, n, ready, done = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
sel = selectors.DefaultSelector()
socks, answered = [], 0
for i in range(n):
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(b"GET /h22/ok HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host.encode(), port))  # curl's Host: it is in the key
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    socks.append(s)
    if i % 500 == 499:  # read the answers as they come, so no socket buffer fills
        for key, _ in sel.select(timeout=0):
            if key.fileobj.recv(65536):
                answered += 1
while answered < n:
    events = sel.select(timeout=30)
    if not events:
        break
    for key, _ in events:
        if key.fileobj.recv(65536):
            answered += 1
        sel.unregister(key.fileobj)
print("answered on %d of %d connections; all still open" % (answered, n))
with open(ready, "w") as f:
    f.write("%d\n" % answered)
open(done).read()  # hold them until the test is done
PY
idle_pid=$!
PIDS+=("$idle_pid")
read -r answered <"$T/ready"
cat "$T/idle.out"
((answered == N)) || fail "only $answered of $N connections were answered"
fds=$(ls "/proc/$EDGE_PID/fd" | wc -l)
echo "   edge descriptors: $fds"
((fds >= N)) || fail "the edge holds $fds descriptors: the idle connections were closed"

step "a normal request is served; RSS stays bounded"
fetch /h22/ok
assert_status 200
assert_header X-Cache HIT
rss=$(edge_rss_kb)
echo "   edge VmRSS: $rss_before KiB before, $rss KiB with $N idle connections ($(((rss - rss_before) * 1024 / N)) bytes each)"
((rss < 512 * 1024)) || fail "VmRSS is $rss KiB with $N idle connections"
echo done >"$T/done"
wait "$idle_pid" || true

step "the edge is alive and serves a cached object"
assert_alive
fetch /h22/ok
assert_status 200
assert_header X-Cache HIT
assert_count /h22/ok 1
pass
