#!/usr/bin/env bash
# o02-circuit-breaker: an origin group's breaker opens after `failures` consecutive primary failures;
# while it is open (cool_down) the primary gets no request at all and every client gets the secondary's
# answer; after the cool-down exactly one request probes the primary, even when several arrive at once;
# a failed probe reopens the breaker, a successful one closes it and the primary serves again. The
# origins' request counts prove each step; the edge log names each transition.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin P --name primary
start_origin S --name secondary
cool=2 # seconds
cat >"$T/edge.yaml" <<YAML
origins:
  web: {servers: ["http://127.0.0.1:$P_PORT"], connect_timeout: 1s, read_timeout: 3s}
  backup: {servers: ["http://127.0.0.1:$S_PORT"], connect_timeout: 1s, read_timeout: 3s}
origin_groups:
  main: {primary: web, secondary: backup, failover_on: [503], circuit_breaker: {failures: 3, cool_down: ${cool}s}}
behaviors:
  - {path: "*", origin: main}
YAML
start_edge -c "$T/edge.yaml"

# Every path is new, so that the cache never answers; the primary fails them all (the "*" script).
n=0
get() { # EXPECTED-ORIGIN-NAME: one GET of a new path; the client always gets a 200
    n=$((n + 1))
    fetch "/o02/$n"
    assert_status 200
    assert_body "origin:/o02/$n"
    assert_header X-Origin-Name "$1"
}
totals() { echo "$(origin_total "$P_PORT") $(origin_total "$S_PORT")"; }
opened='circuit breaker opened for primary web'
closed='circuit breaker closed for primary web'

script '*' '"status": 503, "body": "primary down\n"' "$P_PORT"

step "three failures (each failed over) open the breaker"
get secondary
get secondary
assert_eq "2 2" "$(totals)" "primary/secondary requests after 2 failures"
get secondary
t_open=$(date +%s.%N)
assert_eq "3 3" "$(totals)" "primary/secondary requests after 3 failures"
wait_log "$opened" 1 5

step "open: the primary gets nothing, the secondary everything"
for i in 1 2 3 4 5; do get secondary; done
assert_eq "3 8" "$(totals)" "primary/secondary requests while open"
step "a primary that has recovered still gets nothing before the cool-down ends"
script '*' '"remove": true' "$P_PORT" # back to the default answer
get secondary
assert_eq "3 9" "$(totals)" "primary/secondary requests while open"
elapsed=$("$PYTHON" -c "import time; print(time.time() - $t_open)")
"$PYTHON" -c "import sys; sys.exit(not $elapsed < $cool)" ||
    fail "the open-breaker checks took ${elapsed}s, longer than the ${cool}s cool-down: they prove nothing"
grep -q "$closed" "$T/edge.log" && fail "the breaker closed during the cool-down"

step "after the cool-down, 5 concurrent requests: exactly one probes the (slow, failing) primary"
script '*' '"status": 503, "delay": 1, "body": "primary down\n"' "$P_PORT"
sleep "$("$PYTHON" -c "import time; print(max(0, $t_open + $cool + 0.3 - time.time()))")"
pids=()
for i in 1 2 3 4 5; do
    curl -sS --max-time 10 -o "$T/p$i.body" -D "$T/p$i.hdr" -w '%{http_code}' \
        "http://127.0.0.1:$EDGE_PORT/o02/probe$i" >"$T/p$i.status" 2>"$T/p$i.err" &
    pids+=($!)
done
for i in 1 2 3 4 5; do
    wait "${pids[$((i - 1))]}" || fail "probe client $i: curl failed: $(cat "$T/p$i.err")"
    assert_eq 200 "$(cat "$T/p$i.status")" "probe client $i status"
    assert_eq "origin:/o02/probe$i" "$(cat "$T/p$i.body")" "probe client $i body"
done
assert_eq "4 14" "$(totals)" "primary/secondary requests after the probe round"
step "the failed probe reopened the breaker: the primary gets nothing again"
wait_log "$opened" 2 5
t_open=$(date +%s.%N)
get secondary
get secondary
assert_eq "4 16" "$(totals)" "primary/secondary requests after the breaker reopened"

step "the primary recovers; after the cool-down one probe succeeds and closes the breaker"
script '*' '"remove": true' "$P_PORT"
sleep "$("$PYTHON" -c "import time; print(max(0, $t_open + $cool + 0.3 - time.time()))")"
get primary
assert_eq "5 16" "$(totals)" "primary/secondary requests after the successful probe"
wait_log "$closed" 1 5
step "closed: the primary serves every request again"
for i in 1 2 3; do get primary; done
assert_eq "8 16" "$(totals)" "primary/secondary requests with the breaker closed"
assert_eq 2 "$(grep -c "$opened" "$T/edge.log")" "times the breaker opened"
assert_eq 1 "$(grep -c "$closed" "$T/edge.log")" "times the breaker closed"
assert_alive

pass
