#!/usr/bin/env bash
# l05-socket-activation: systemd socket activation (LISTEN_FDS, LISTEN_PID). systemd-socket-activate
# binds the port and starts edgecache on the first connection, handing it the listening socket: the edge
# takes it for the listener with the same address (edge/listeners.h), serves the connection that woke it
# (queued on that socket, never refused), and its loops share the socket, which has no SO_REUSEPORT.
# An inherited socket whose address the configuration does not name is closed.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "no systemd-socket-activate"

start_origin O
EDGE_PORT=$(free_port)
SPARE_PORT=$(free_port)
cat >"$T/edge.yaml" <<YAML
listen: 127.0.0.1:$EDGE_PORT
threads: 2
origin: $ORIGIN_URL
YAML
script /a '"body": "activated", "headers": {"Cache-Control": "max-age=600"}'
echo "+ systemd-socket-activate -l 127.0.0.1:$EDGE_PORT -l 127.0.0.1:$SPARE_PORT edgecache serve -c edge.yaml" >>"$T/edge.log"
# (it passes the child only the environment it is told to: the sanitizers' options for the ASan run)
pass_env=()
for v in LSAN_OPTIONS ASAN_OPTIONS UBSAN_OPTIONS EDGECACHE_DEBUG; do [[ -z ${!v:-} ]] || pass_env+=(-E "$v"); done
systemd-socket-activate "${pass_env[@]}" -l "127.0.0.1:$EDGE_PORT" -l "127.0.0.1:$SPARE_PORT" \
    "$EDGECACHE" serve --cache-dir "$T/cache" -c "$T/edge.yaml" >>"$T/edge.log" 2>&1 &
EDGE_PID=$!
wait_log "Listening on" 1 20

step "the first connection starts the edge, which serves it"
fetch /a
assert_status 200
assert_body activated
assert_cache MISS
wait_log "listen 127.0.0.1:$EDGE_PORT: 1 inherited socket" 1
wait_log "the loops share 1 inherited socket" 1
wait_log "its address is not in the configuration: closed" 1

step "more requests, on new connections: a HIT; the spare socket was closed"
for i in 1 2 3 4; do
    fetch /a
    assert_status 200
    assert_cache HIT
done
assert_count /a 1
try_fetch "http://127.0.0.1:$SPARE_PORT/a"
[[ $CURL_RC == 7 ]] || fail "the spare inherited socket still accepts (curl exit $CURL_RC)"
stop_edge
pass
