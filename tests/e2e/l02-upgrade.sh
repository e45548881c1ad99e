#!/usr/bin/env bash
# l02-upgrade: an upgrade without downtime (edge/upgrade.h). A 200 MB download (a HIT, rate-limited so it
# lasts across the handover) and a client loop (tests/e2e/loop.py) run while `edgecache upgrade` makes a
# new process take the listening sockets, the admin socket and the store's writer over. Asserted: the
# download completes byte-exact (from the old process, which drains); the loop saw 0 errors and 0 refused
# connections; the new process serves the old one's objects as hits and stores new ones (its writer
# works); the old process exits 0 once its download is done; and systemd-style inherited sockets are
# what the new one accepts on (the port never closed).
E2E_TIMEOUT=${E2E_TIMEOUT:-300}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE=$((200 * 1024 * 1024))
start_origin O
ADMIN_PORT=$(free_port)
EDGE_PORT=$(free_port)
printf '%s\n' 'l02-token-0123456789abcdef' >"$T/admin.token"
cat >"$T/edge.yaml" <<YAML
listen: 127.0.0.1:$EDGE_PORT
origin: $ORIGIN_URL
cache: {max_size: 1G}
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
YAML
script /hot '"body": "hot", "headers": {"Cache-Control": "max-age=3600"}'
script /big "\"body_size\": $SIZE, \"headers\": {\"Cache-Control\": \"max-age=3600\", \"Content-Type\": \"application/octet-stream\"}"
start_edge_raw -c "$T/edge.yaml"
wait_edge "$EDGE_PORT" "$ADMIN_PORT"
OLD_PID=$EDGE_PID

step "the hot object and the 200 MB one are cached by the old process"
fetch /hot
assert_cache MISS
CURL_MAX_TIME=120 fetch /big
assert_status 200
assert_eq "$SIZE" "$(body_size)" "the first download's size"
rm -f "$BODY"
fetch /big -I
assert_cache HIT
assert_count /big 1

step "a client loop and a rate-limited download of the HIT start"
"$PYTHON" "$E2E_DIR/loop.py" --port "$EDGE_PORT" --path /hot --stop "$T/loop.stop" --out "$T/loop.json" \
    --clients 4 --max-seconds 600 >"$T/loop.log" 2>&1 &
LOOP_PID=$!
PIDS+=("$LOOP_PID")
curl -sS --max-time 200 --limit-rate 25M -o "$T/big.body" "http://127.0.0.1:$EDGE_PORT/big" 2>"$T/big.err" &
BIG_PID=$!
big_started() { [[ -s $T/big.body ]] && (($(stat -c %s "$T/big.body") > 1048576)); }
wait_until -t 30 big_started

step "edgecache upgrade: a new process takes over"
"$EDGECACHE" upgrade -c "$T/edge.yaml" >"$T/upgrade.out" 2>&1 || fail "edgecache upgrade: $(cat "$T/upgrade.out")"
wait_log "upgrade: process [0-9]+ serves; this one stops accepting and drains" 1 60
NEW_PID=$(sed -n 's/.*upgrade: started .* as process \([0-9]*\);.*/\1/p' "$T/edge.log" | head -n 1)
[[ $NEW_PID =~ ^[0-9]+$ ]] || fail "no new process in the log"
PIDS+=("$NEW_PID") # (not our child: cleanup kills it, but only a kill -0 loop sees it go)
kill -0 "$NEW_PID" || fail "the new process $NEW_PID is not running"
kill -0 "$OLD_PID" 2>/dev/null || fail "the old process exited before its download was done"

step "the new process serves the old one's objects as hits, and stores new ones"
fetch /hot
assert_cache HIT
assert_count /hot 1
script /after '"body": "after", "headers": {"Cache-Control": "max-age=3600"}'
fetch /after
assert_cache MISS
wait_until -t 20 eval 'fetch /after && [[ $(header X-Cache) == HIT ]]'
assert_count /after 1
fetch "http://127.0.0.1:$ADMIN_PORT/healthz"
assert_status 200

step "the download started before the handover completes byte-exact; the old process then exits 0"
wait "$BIG_PID" || fail "the download failed: $(cat "$T/big.err")"
assert_eq "$SIZE" "$(stat -c %s "$T/big.body")" "the download's size"
assert_eq "$(pattern_sha256 "$SIZE")" "$(sha256sum <"$T/big.body" | cut -d' ' -f1)" "the download's sha256"
rm -f "$T/big.body"
wait "$OLD_PID" || fail "the old process exited with status $?"
EDGE_PID=$NEW_PID

step "the client loop saw 0 errors and 0 refused connections"
: >"$T/loop.stop"
wait "$LOOP_PID" || fail "the client loop failed: $(cat "$T/loop.log")"
echo "client loop: $(cat "$T/loop.json")"
requests=$(json_get '["requests"]' <"$T/loop.json")
((requests > 100)) || fail "the client loop made only $requests requests"
assert_eq 0 "$(json_get '["errors"]' <"$T/loop.json")" "errors seen by the clients"
assert_eq 0 "$(json_get '["refused"]' <"$T/loop.json")" "connections refused"
echo "figures: upgrade under load, $requests requests, 0 errors, 0 refused, longest request $(json_get '["max_ms"]' <"$T/loop.json") ms, $(json_get '["closed_idle"]' <"$T/loop.json") idle keep-alive connections closed by the old process (retried)"

step "the new process stops cleanly"
kill -TERM "$NEW_PID"
# gone, or a zombie that nobody reaps in this container
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
wait_until -t 40 gone "$NEW_PID"
EDGE_PID=
grep -q 'ERROR\|AddressSanitizer\|runtime error' "$T/edge.log" && fail "errors in the log: $(grep 'ERROR\|AddressSanitizer\|runtime error' "$T/edge.log" | head -3)"
pass
