#!/usr/bin/env bash
# o01-failover: an origin group sends a GET to its primary and, when the primary answers a status in
# failover_on, refuses the connection or times out, to its secondary; the client sees the secondary's
# answer, and the edge logs the failover. A POST never fails over: it gets the primary's answer (or the
# 502 page when the primary is down). A status not in failover_on (404) is the primary's answer.
# The circuit breaker is off here (o02 covers it), so every request tries the primary first.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin P --name primary
start_origin S --name secondary
dead=$(free_port) # nothing listens there
cat >"$T/edge.yaml" <<YAML
origins:
  web: {servers: ["http://127.0.0.1:$P_PORT"], connect_timeout: 1s, read_timeout: 1s}
  gone: {servers: ["http://127.0.0.1:$dead"], connect_timeout: 5s, read_timeout: 1s}
  backup: {servers: ["http://127.0.0.1:$S_PORT"], connect_timeout: 1s, read_timeout: 2s}
origin_groups:
  main: {primary: web, secondary: backup, failover_on: [500, 502, 503, 504], circuit_breaker: {failures: 0}}
  down: {primary: gone, secondary: backup, circuit_breaker: {failures: 0}}
behaviors:
  - {path: "/dead/*", origin: down}
  - {path: "*", origin: main}
YAML
start_edge -c "$T/edge.yaml"

step "the primary answers 503: the client gets the secondary's 200"
script /o01/a '"status": 503, "body": "primary is sick\n", "headers": {"Cache-Control": "no-store"}' "$P_PORT"
script /o01/a '"body": "from the secondary\n", "headers": {"Cache-Control": "max-age=60"}' "$S_PORT"
fetch /o01/a
assert_status 200
assert_body "from the secondary"
assert_header X-Origin-Name secondary
assert_cache MISS
assert_count /o01/a 1 "$P_PORT"
assert_count /o01/a 1 "$S_PORT"
wait_log "origin group main: /o01/a failed over to backup: status 503" 1 5
step "... and the secondary's answer was stored: a HIT asks neither"
fetch /o01/a
assert_status 200
assert_body "from the secondary"
assert_cache HIT
assert_count /o01/a 1 "$P_PORT"
assert_count /o01/a 1 "$S_PORT"

step "HEAD fails over too"
script /o01/head '"status": 502, "body": "primary 502\n"' "$P_PORT"
fetch /o01/head -I
assert_status 200
assert_header X-Origin-Name secondary
assert_count /o01/head 1 "$P_PORT"
assert_count /o01/head 1 "$S_PORT"

step "the primary refuses connections: the secondary answers, quickly"
fetch /dead/x
assert_status 200
assert_body "origin:/dead/x"
assert_header X-Origin-Name secondary
assert_time_between 0 4.5 # refused at once: no connect timeout (5 s) waited
assert_count /dead/x 1 "$S_PORT"
wait_log "origin group down: /dead/x failed over to backup" 1 5

step "the primary never answers: after read_timeout (1 s), the secondary"
script /o01/hang '"hang": true' "$P_PORT"
fetch /o01/hang
assert_status 200
assert_body "origin:/o01/hang"
assert_header X-Origin-Name secondary
assert_time_between 0.8 7 # read_timeout 1 s, then the secondary; the bound only rules out a hang
assert_count /o01/hang 1 "$P_PORT"
assert_count /o01/hang 1 "$S_PORT"

step "a POST is not failed over: the primary's 503 reaches the client"
script /o01/post '"status": 503, "body": "primary 503 for the post\n"' "$P_PORT"
fetch /o01/post -X POST --data-binary 'payload=1'
assert_status 503
assert_body "primary 503 for the post"
assert_header X-Origin-Name primary
assert_count /o01/post 1 "$P_PORT"
assert_count /o01/post 0 "$S_PORT"

step "a POST to a primary that refuses connections: 502, the secondary not asked"
fetch /dead/post -X POST --data-binary 'payload=2'
assert_status 502
assert_header X-Cache ERROR
assert_time_between 0 4.5 # refused at once: no connect timeout (5 s) waited
assert_count /dead/post 0 "$S_PORT"

step "a status not in failover_on (404) is the primary's answer"
script /o01/missing '"status": 404, "body": "primary says not found\n", "headers": {"Cache-Control": "no-store"}' "$P_PORT"
fetch /o01/missing
assert_status 404
assert_body "primary says not found"
assert_header X-Origin-Name primary
assert_count /o01/missing 1 "$P_PORT"
assert_count /o01/missing 0 "$S_PORT"

step "a healthy primary answers by itself"
fetch /o01/fine
assert_status 200
assert_body "origin:/o01/fine"
assert_header X-Origin-Name primary
assert_count /o01/fine 1 "$P_PORT"
assert_count /o01/fine 0 "$S_PORT"
assert_alive

pass
