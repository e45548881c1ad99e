#!/usr/bin/env bash
# o08-timeouts: the origin timeouts, each bounded by the edge and not by the client.
#   connect_timeout: a server whose accept queue is full never completes a connection: the error page
#     comes after connect_timeout x connect_attempts (1 s x 2), not later, and not at once;
#   read_timeout: an origin that never answers gives 504 after read_timeout (1 s);
#   a gap between body packets longer than read_timeout ends the client's transfer as an error, and
#     nothing is stored (the next request goes to the origin again);
#   keepalive_timeout: an idle pooled connection to the origin is closed by the edge after ~2 s.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_blackhole BH
cat >"$T/edge.yaml" <<YAML
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"], connect_timeout: 1s, read_timeout: 1s, keepalive_timeout: 2s}
  stuck: {servers: ["http://127.0.0.1:$BH_PORT"], connect_timeout: 1s, connect_attempts: 2, read_timeout: 1s}
behaviors:
  - {path: "/stuck/*", origin: stuck}
  - {path: "*", origin: default}
YAML
start_edge -c "$T/edge.yaml"

step "connect timeout: 2 attempts of 1 s, then the error page"
fetch /stuck/a
echo "   status $STATUS after ${TIME_TOTAL}s"
assert_status '502|504'
assert_header X-Cache ERROR
assert_cache ERROR 'edgecache; fwd=miss; detail=connect-error'
assert_time_between 1.8 7 # the bound only rules out a hang
wait_log 'GET /stuck/a: connection timeout' 1 2

step "read timeout: an origin that never answers: 504 after 1 s"
script /o08/hang '"hang": true'
fetch /o08/hang
assert_status 504
assert_cache ERROR 'edgecache; fwd=miss; detail=timeout'
assert_time_between 0.8 6 # read_timeout 1 s; the bound only rules out a hang (or a wait for the body)
assert_count /o08/hang 1

step "an 8 s gap mid-body (read_timeout 1 s): the transfer ends as an error, nothing stored"
size=300000
script /o08/gap "\"body_size\": $size, \"stall_after\": 100000, \"stall\": 8, \"headers\": {\"Cache-Control\": \"max-age=60\"}"
try_fetch /o08/gap
echo "   curl exit $CURL_RC, status $STATUS, $(body_size) bytes in ${TIME_TOTAL}s"
[[ $CURL_RC != 0 ]] || fail "the client's transfer completed ($(body_size) bytes) despite the origin's 8 s gap"
(($(body_size) < size)) || fail "the client got the whole body"
assert_time_between 0.8 6 # read_timeout 1 s; the bound only rules out a hang (or a wait for the body)
assert_count /o08/gap 1
wait_log 'GET /o08/gap: body failed after [0-9]+ bytes: read timeout' 1 3
script /o08/gap "\"body_size\": $size, \"headers\": {\"Cache-Control\": \"max-age=60\"}"
fetch /o08/gap
assert_status 200
assert_header X-Cache MISS
assert_eq "$(pattern_sha256 $size)" "$(body_sha256)" "body sha256"
assert_count /o08/gap 2

step "keepalive_timeout 2 s: the edge closes its idle origin connection after ~2 s"
fetch /o08/idle
assert_status 200
t_done=$(date +%s.%N)
"$PYTHON" - "$O_PORT" "$t_done" <<'PY' || fail "the idle origin connection was not closed by the edge 1.5..8 s after its last request"
import json, sys, time, urllib.request
port, done = int(sys.argv[1]), float(sys.argv[2])
while time.time() < done + 9:
    conns = json.load(urllib.request.urlopen("http://127.0.0.1:%d/__conns" % port, timeout=5))
    mine = [c for c in conns if "/o08/idle" in c["paths"]]
    if mine and mine[-1]["closed"]:
        c = mine[-1]
        idle = c["closed"] - done
        print("   closed %.2fs after the request, by the %s" % (idle, "edge" if c["peer_closed"] else "origin"))
        sys.exit(0 if c["peer_closed"] and 1.5 <= idle <= 8 else 1)
    time.sleep(0.1)
print("   still open after 9 s", file=sys.stderr)
sys.exit(1)
PY
assert_alive

pass
