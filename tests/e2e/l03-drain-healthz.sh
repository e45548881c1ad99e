#!/usr/bin/env bash
# l03-drain-healthz: what a load balancer or a DNS health check sees (edge/lifecycle.h). /healthz is
# served on the admin listener and, without a token, on the client listeners at admin.healthz_path; it
# answers 503 while the edge drains (POST /drain, `edgecache drain`; SIGTERM while in-flight responses
# finish) and when every origin is down, 200 again after DELETE /drain and when an origin comes back.
# A drained edge still serves whoever comes. A healthz_path changed by a reload moves; `~` turns it off.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
ADMIN_PORT=$(free_port)
EDGE_PORT=$(free_port)
DOWN_PORT=$(free_port) # nothing listens there
printf '%s\n' 'l03-token-0123456789abcdef' >"$T/admin.token"
write_config() { # HEALTHZ_PATH-LINE
    cat >"$T/edge.yaml" <<YAML
listen: 127.0.0.1:$EDGE_PORT
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"]}
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token${1:+, $1}}
YAML
}
write_config
script /a '"body": "a", "headers": {"Cache-Control": "max-age=600"}'
start_edge_raw -c "$T/edge.yaml"
wait_edge "$EDGE_PORT" "$ADMIN_PORT"
A="http://127.0.0.1:$ADMIN_PORT"

# healthz EXPECTED-STATUS EXPECTED-BODY: both the admin's and the client listener's
healthz() {
    fetch "$A/healthz"
    assert_status "$1"
    assert_body "$2"
    fetch /edgecache/healthz
    assert_status "$1"
    assert_body "$2"
    assert_header Cache-Control no-store
}

step "healthy: 200 ok on both listeners, no token needed; the origin never sees the path"
healthz 200 ok
assert_count /edgecache/healthz 0

step "edgecache drain: 503 draining, and traffic is still served"
"$EDGECACHE" drain -c "$T/edge.yaml" >"$T/drain.out" 2>&1 || fail "edgecache drain: $(cat "$T/drain.out")"
assert_eq draining "$(cat "$T/drain.out")"
healthz 503 draining
fetch /a
assert_status 200
assert_body a

step "edgecache undrain (DELETE /drain): 200 again; without the token, 401"
fetch "$A/drain" -X DELETE
assert_status 401
"$EDGECACHE" undrain -c "$T/edge.yaml" >"$T/undrain.out" 2>&1 || fail "edgecache undrain: $(cat "$T/undrain.out")"
healthz 200 ok

step "a reload moves healthz_path; '~' turns it off on the client listeners (the admin's stays)"
write_config 'healthz_path: /lb-check'
"$EDGECACHE" reload -c "$T/edge.yaml" >/dev/null || fail "reload"
fetch /lb-check
assert_status 200
assert_body ok
fetch /edgecache/healthz
assert_count /edgecache/healthz 1 # (now an ordinary path, sent to the origin)
write_config 'healthz_path: ~'
"$EDGECACHE" reload -c "$T/edge.yaml" >/dev/null || fail "reload"
fetch /lb-check
assert_count /lb-check 1
fetch "$A/healthz"
assert_status 200
write_config
"$EDGECACHE" reload -c "$T/edge.yaml" >/dev/null || fail "reload"

step "every origin down (by the health checks): 503; back up: 200"
cat >"$T/edge.yaml" <<YAML
listen: 127.0.0.1:$EDGE_PORT
origins:
  default:
    servers: ["http://127.0.0.1:$DOWN_PORT"]
    health_check: {path: /hc, interval: 200ms, timeout: 150ms, unhealthy_threshold: 1, healthy_threshold: 1}
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
YAML
"$EDGECACHE" reload -c "$T/edge.yaml" >/dev/null || fail "reload"
admin_says() { [[ $(curl -s "$A/healthz") == "$1" ]]; }
wait_until -t 20 admin_says "every origin is down"
fetch /edgecache/healthz
assert_status 503
write_config
"$EDGECACHE" reload -c "$T/edge.yaml" >/dev/null || fail "reload"
healthz 200 ok

step "SIGTERM: while a response is in flight, /healthz on the admin listener is 503; the response completes"
script /slow '"body": "slow", "hold": "slow"'
curl -sS --max-time 60 -o "$T/slow.body" "http://127.0.0.1:$EDGE_PORT/slow" 2>"$T/slow.err" &
SLOW=$!
wait_held slow 1
kill -TERM "$EDGE_PID"
wait_log "SIGTERM: finishing in-flight responses" 1
fetch "$A/healthz"
assert_status 503
assert_body draining
release slow
wait "$SLOW" || fail "the in-flight response failed: $(cat "$T/slow.err")"
assert_eq slow "$(cat "$T/slow.body")"
wait_until -t 40 eval '! kill -0 "$EDGE_PID" 2>/dev/null'
wait "$EDGE_PID" || fail "edgecache exited with status $?"
EDGE_PID=
pass
