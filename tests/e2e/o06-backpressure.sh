#!/usr/bin/env bash
# o06-backpressure: a slow client does not make the edge buffer the object. A 200 MB cacheable object
# read at ~1 MB/s through a 64 KiB receive buffer for ~12 s: the edge's RSS stays within 100 MB of its
# idle RSS, the origin is paused (it has sent little more than the client read, far from 200 MB), the
# transfer is not cut by read_timeout (1 s: the origin is paused, not slow), and every byte is right.
# When the client leaves, the fetch is cancelled (200 MB > background_fetch_max 1M): the origin's
# connection is closed, it sends nothing more, and nothing is stored.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

size=$((200 * 1024 * 1024))
read_for=12 # seconds
start_origin O
cat >"$T/edge.yaml" <<YAML
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"], connect_timeout: 2s, read_timeout: 1s}
behaviors:
  - {path: "*"}
cache: {background_fetch_max: 1M}
YAML
# Under AddressSanitizer every freed block waits in a quarantine (256 MB by default) before its memory is
# reused, so RSS would grow with every byte that passed through. A small quarantine keeps the RSS a
# measure of what the edge holds; without ASan the variable means nothing.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
start_edge -c "$T/edge.yaml"
script /o06 "\"body_size\": $size, \"headers\": {\"Cache-Control\": \"max-age=600\"}"

fetch /o06/warm-up # the first request's allocations are part of "idle"
assert_status 200
sleep 0.5
idle=$(edge_rss_kb)
echo "   idle RSS: $((idle / 1024)) MiB"

step "a client reads the 200 MB object at ~1 MB/s for ${read_for}s, the edge's RSS sampled meanwhile"
"$PYTHON" - "$EDGE_PORT" "$EDGE_PID" "$read_for" "$E2E_DIR" "$O_PORT" >"$T/slow.json" <<'PY' || fail "the slow client failed"
import json, socket, sys, time, urllib.request
port, pid, duration, e2e_dir, oport = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, e2e_dir)
from origin import pattern_bytes

def rss():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # before connect: bounds the window
s.connect(("127.0.0.1", port))
s.sendall(b"GET /o06 HTTP/1.1\r\nHost: edge\r\n\r\n")
s.settimeout(5)
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(65536)
    if not d:
        break
    buf += d
head, _, body = buf.partition(b"\r\n\r\n")
status = int(head.split(b" ")[1]) if head else 0
got, bad_at, max_rss, samples, eof = 0, None, 0, [], False
rate = 1024 * 1024
start = time.time()
next_sample = start

def take(data):
    global got, bad_at
    if bad_at is None and data != pattern_bytes(got, len(data)):
        bad_at = got
    got += len(data)

take(body)
while time.time() - start < duration:
    now = time.time()
    if now >= next_sample:
        r = rss()
        max_rss = max(max_rss, r)
        samples.append([round(now - start, 1), r, got])
        next_sample += 0.5
    # pace: never more than `rate` bytes per second since the start
    ahead = got - (now - start) * rate
    if ahead > 0:
        time.sleep(min(0.1, ahead / rate))
        continue
    try:
        d = s.recv(64 * 1024)
    except socket.timeout:
        break
    if not d:
        eof = True
        break
    take(d)
sent = int(urllib.request.urlopen("http://127.0.0.1:%d/__sent?path=/o06" % oport, timeout=5).read())
s.close()  # the client leaves mid-body
json.dump({"closed_at": time.time(), "status": status, "read": got, "bad_at": bad_at, "eof": eof, "max_rss": max_rss,
           "origin_sent": sent, "samples": samples, "elapsed": time.time() - start}, sys.stdout)
PY
eval "$("$PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))
for k in ("closed_at", "status", "read", "bad_at", "eof", "max_rss", "origin_sent"):
    print("%s=%s" % (k, d[k]))' "$T/slow.json")"
echo "   read $((read / 1048576)) MiB; origin sent $((origin_sent / 1048576)) MiB; max RSS $((max_rss / 1024)) MiB (idle $((idle / 1024)) MiB)"
assert_eq 200 "$status" "status of the slow GET"
assert_eq None "$bad_at" "offset of the first wrong byte"
assert_eq False "$eof" "the transfer ended early (read_timeout while paused?)"
((read >= 4 * 1048576)) || fail "the client read only $read bytes in ${read_for}s"
((max_rss - idle < 100 * 1024)) || fail "the edge's RSS grew by $(((max_rss - idle) / 1024)) MiB (limit 100 MiB)"
((origin_sent < 80 * 1048576)) || fail "the origin sent $origin_sent bytes while the client read $read: the edge did not pause it"
((origin_sent - read < 48 * 1048576)) || fail "the origin is $(((origin_sent - read) / 1048576)) MiB ahead of the client: the edge buffers"

step "the client left: the fetch is cancelled (200 MB > background_fetch_max), the origin's connection closed"
"$PYTHON" - "$O_PORT" "$closed_at" <<'PY' || fail "the origin's connection for /o06 was not closed within 5 s of the client leaving"
import json, sys, time, urllib.request
port, closed_at = int(sys.argv[1]), float(sys.argv[2])
while time.time() < closed_at + 5:
    conns = json.load(urllib.request.urlopen("http://127.0.0.1:%d/__conns" % port, timeout=5))
    mine = [c for c in conns if "/o06" in c["paths"]]
    if mine and all(c["closed"] for c in mine):
        print("   origin connection closed %.1fs after the client left" % (max(c["closed"] for c in mine) - closed_at))
        sys.exit(0)
    time.sleep(0.1)
sys.exit(1)
PY
s1=$(origin_sent /o06)
sleep 1
s2=$(origin_sent /o06)
assert_eq "$s1" "$s2" "bytes the origin sent for /o06, 1 s apart after the cancel"
((s2 < size)) || fail "the origin sent the whole object"
assert_count /o06 1

step "nothing was stored: a HEAD is a MISS that asks the origin again"
fetch /o06 -I
assert_status 200
assert_header X-Cache MISS
assert_count /o06 2
assert_alive

pass
