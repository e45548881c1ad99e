#!/usr/bin/env bash
# o02-circuit-breaker: an origin group's breaker opens after `failures` consecutive primary failures;
# while it is open (cool_down) the primary gets no request at all and every client gets the secondary's
# answer; after the cool-down exactly one request probes the primary, even when several arrive at once;
# a failed probe reopens the breaker, a successful one closes it and the primary serves again. The
# origins' request counts prove each step; the edge log names each transition.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin P --name primary
start_origin S --name secondary
# The cool-down must outlast the work a scenario does while the breaker is open (a few curls, on a
# loaded machine), or a request meant to prove "still open" may become the probe. Every such request
# checks first that it is sent well within the cool-down (open_get); a run too slow to prove the point
# starts the scenario again with twice the cool-down (up to 32 s) instead of reporting a wrong origin.
# The waits for a cool-down to end sleep past it.
cool=${O02_COOL:-8} # seconds
cat >"$T/edge.yaml" <<YAML
origins:
  web: {servers: ["http://127.0.0.1:$P_PORT"], connect_timeout: 1s, read_timeout: 60s} # the probe waits at a gate
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
now() { date +%s%N; } # nanoseconds: shell arithmetic, no python start-up (a second on a loaded machine)
# open_get SINCE: get secondary, sent while the breaker that opened no earlier than SINCE is surely open.
open_get() {
    if (($(now) - $1 >= (cool * 1000 - 500) * 1000000)); then
        ((cool < 32)) || fail "too slow to prove anything even with a ${cool} s cool-down"
        echo "   too slow to prove anything with a ${cool} s cool-down: again with $((cool * 2)) s"
        stop_edge
        kill "${PIDS[0]}" # our watchdog: the new run has its own
        local rc=0
        O02_COOL=$((cool * 2)) bash "$0" || rc=$?
        exit $rc
    fi
    get secondary
}
# sleep_past T: until the cool-down of a breaker that opened no later than T is surely over.
sleep_past() {
    local ms=$((($1 - $(now)) / 1000000 + cool * 1000 + 300))
    ((ms <= 0)) || sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}
opened='circuit breaker opened for primary web'
closed='circuit breaker closed for primary web'

script '*' '"status": 503, "body": "primary down\n"' "$P_PORT"

step "three failures (each failed over) open the breaker"
get secondary
get secondary
assert_eq "2 2" "$(totals)" "primary/secondary requests after 2 failures"
opened_after=$(now) # the breaker opens during the next request: no earlier than this
get secondary
assert_eq "3 3" "$(totals)" "primary/secondary requests after 3 failures"
wait_log "$opened" 1
opened_before=$(now)

step "open: the primary gets nothing, the secondary everything"
for i in 1 2 3 4 5; do open_get "$opened_after"; done
assert_eq "3 8" "$(totals)" "primary/secondary requests while open"
step "a primary that has recovered still gets nothing before the cool-down ends"
script '*' '"remove": true' "$P_PORT" # back to the default answer
open_get "$opened_after"
assert_eq "3 9" "$(totals)" "primary/secondary requests while open"
grep -q "$closed" "$T/edge.log" && fail "the breaker closed during the cool-down"

# The probe is held at the primary's gate "probe" until the other four requests have been answered
# by the secondary: they are certainly concurrent with it, however slow the machine (read_timeout is
# long enough that the edge does not give up on it first). Released, the probe fails (503).
step "after the cool-down, 5 concurrent requests: exactly one probes the (held, failing) primary"
script '*' '"status": 503, "hold": "probe", "body": "primary down\n"' "$P_PORT"
sleep_past "$opened_before"
probes_sent=$(now) # the breaker reopens no earlier than this
pids=()
for i in 1 2 3 4 5; do
    curl -sS --max-time 60 -o "$T/p$i.body" -D "$T/p$i.hdr" -w '%{http_code}' \
        "http://127.0.0.1:$EDGE_PORT/o02/probe$i" >"$T/p$i.status" 2>"$T/p$i.err" &
    pids+=($!)
done
wait_held probe 1 20 "$P_PORT"
secondary_has() { [[ $(origin_total "$S_PORT") -ge $1 ]]; }
wait_until secondary_has 13 # the four that were not the probe
assert_eq "4 13" "$(totals)" "primary/secondary requests with the probe held"
release probe "$P_PORT"
for i in 1 2 3 4 5; do
    wait "${pids[$((i - 1))]}" || fail "probe client $i: curl failed: $(cat "$T/p$i.err")"
    assert_eq 200 "$(cat "$T/p$i.status")" "probe client $i status"
    assert_eq "origin:/o02/probe$i" "$(cat "$T/p$i.body")" "probe client $i body"
done
assert_eq "4 14" "$(totals)" "primary/secondary requests after the probe round"
step "the failed probe reopened the breaker: the primary gets nothing again"
wait_log "$opened" 2
opened_before=$(now)
open_get "$probes_sent"
open_get "$probes_sent"
assert_eq "4 16" "$(totals)" "primary/secondary requests after the breaker reopened"

step "the primary recovers; after the cool-down one probe succeeds and closes the breaker"
script '*' '"remove": true' "$P_PORT"
sleep_past "$opened_before"
get primary
assert_eq "5 16" "$(totals)" "primary/secondary requests after the successful probe"
wait_log "$closed" 1
step "closed: the primary serves every request again"
for i in 1 2 3; do get primary; done
assert_eq "8 16" "$(totals)" "primary/secondary requests with the breaker closed"
assert_eq 2 "$(grep -c "$opened" "$T/edge.log")" "times the breaker opened"
assert_eq 1 "$(grep -c "$closed" "$T/edge.log")" "times the breaker closed"
assert_alive

pass
