#!/usr/bin/env bash
# t02-sigterm-finishes-inflight: SIGTERM while a response is still coming from a slow origin lets that
# response finish: the client gets the complete body (sha256), the edge then exits with status 0
# promptly, stops accepting connections, and the object fetched during the shutdown was stored
# (a restart on the same cache directory answers it as a HIT). The origin holds the rest of the body at a
# gate until the edge has taken the signal: the response is provably in flight when SIGTERM arrives.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

size=$((1024 * 1024))
want=$(pattern_sha256 "$size")
first=65536
script /t02 "\"body_size\": $size, \"stall_after\": $first, \"stall_gate\": \"t02-rest\", \"headers\": {\"Cache-Control\": \"max-age=60\"}"

step "a client starts a transfer; the origin sends the head and $first bytes, then holds the rest"
curl -sS --max-time 60 -o "$T/slow.body" -D "$T/slow.hdr" -w '%{http_code}' \
    "http://127.0.0.1:$EDGE_PORT/t02" >"$T/slow.status" 2>"$T/slow.err" &
client=$!
wait_held t02-rest 1
assert_count /t02 1
client_has_bytes() { [[ -s $T/slow.body ]]; }
wait_until client_has_bytes

step "SIGTERM while the origin holds the body back; the rest comes once the edge is stopping"
started=$(date +%s.%N)
pid=$EDGE_PID
kill -TERM "$pid"
wait_log 'SIGTERM: finishing in-flight responses' 1 20
# every loop closes its listener when it sees the stop (within 100 ms): then it is winding down
edge_port_closed() { ! port_open "$EDGE_PORT"; }
wait_until edge_port_closed
(($(wc -c <"$T/slow.body") < size)) || fail "the whole body arrived before the origin's gate opened"
release t02-rest

rc=0
wait "$client" || rc=$?
[[ $rc == 0 ]] || fail "the in-flight client failed (curl exit $rc): $(cat "$T/slow.err")"
assert_eq 200 "$(cat "$T/slow.status")" "in-flight status"
assert_eq "$size" "$(wc -c <"$T/slow.body" | tr -d ' ')" "in-flight body size"
assert_eq "$want" "$(sha256sum <"$T/slow.body" | cut -d' ' -f1)" "in-flight body sha256"

step "the edge exits with status 0"
stop_rc=0
for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "edgecache still running 10 s after SIGTERM"
wait "$pid" || stop_rc=$?
EDGE_PID=
elapsed=$("$PYTHON" -c "import time; print('%.2f' % (time.time() - $started))")
echo "   exited with status $stop_rc, ${elapsed}s after SIGTERM"
[[ $stop_rc == 0 ]] || fail "edgecache exited with status $stop_rc after SIGTERM"
! port_open "$EDGE_PORT" || fail "something still accepts connections on the edge port"

step "the object completed during the shutdown was stored"
start_edge --origin "$ORIGIN_URL"
fetch /t02
assert_status 200
assert_cache HIT
assert_eq "$want" "$(body_sha256)" "body sha256 after the restart"
assert_count /t02 1

step "an idle edge also stops at once with status 0"
stop_edge 5

pass
