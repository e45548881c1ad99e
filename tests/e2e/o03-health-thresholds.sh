#!/usr/bin/env bash
# o03-health-thresholds: active health checks (GET /healthz every 500 ms) mark a server DOWN after
# unhealthy_threshold (2) consecutive failed checks and UP again after healthy_threshold (3) consecutive
# good ones, each logged once; a DOWN server gets no traffic while the other serves every request; when
# every server is down the client gets the 502 page at once ("no healthy server"), never a hang.
# The origins' /healthz counts between a script change and the log line prove the thresholds (±1 for the
# check that may be in flight when the script changes or the log is read).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin A --name one
start_origin B --name two
cat >"$T/edge.yaml" <<YAML
origins:
  web:
    servers: ["http://127.0.0.1:$A_PORT", "http://127.0.0.1:$B_PORT"]
    balance: round_robin
    health_check: {path: /healthz, interval: 500ms, timeout: 400ms, unhealthy_threshold: 2, healthy_threshold: 3}
    connect_timeout: 1s
    read_timeout: 2s
behaviors:
  - {path: "*", origin: web}
YAML
start_edge -c "$T/edge.yaml"
down_b="origin web: server http://127.0.0.1:$B_PORT is DOWN"
up_b="origin web: server http://127.0.0.1:$B_PORT is UP"
down_a="origin web: server http://127.0.0.1:$A_PORT is DOWN"

# Traffic: every path is new (no HIT); the count per server leaves out its health checks.
n=0
traffic() { # N: N GETs, every one a 200 from one of the servers
    local i
    for ((i = 0; i < $1; i++)); do
        n=$((n + 1))
        fetch "/o03/$n"
        assert_status 200
        assert_body "origin:/o03/$n"
    done
}
served() { # the requests a server served, health checks left out, from one snapshot of its counts (two
    # separate reads would race with a check arriving in between)
    origin_counts "$1" | "$PYTHON" -c 'import json, sys; c = json.load(sys.stdin); print(sum(v for k, v in c.items() if k != "/healthz"))'
}
checks() { origin_count /healthz "$1"; }
within() { # LO HI VALUE WHAT
    (($3 >= $1 && $3 <= $2)) || fail "$4: $3, expected $1..$2"
}
# checks_within LO HI NORMAL_MS SINCE_NS VALUE WHAT: like within, but the checks keep coming every 500 ms
# while this test reads counts and waits for log lines; on a loaded machine that takes longer than the
# transition's NORMAL_MS, and each 500 ms beyond it may add one check to what the test counted.
checks_within() {
    local late_ms=$((($(date +%s%N) - $4) / 1000000 - $3))
    ((late_ms > 0)) || late_ms=0
    within "$1" $(($2 + late_ms / 500)) "$5" "$6"
}

step "both servers healthy: both get traffic"
sleep 0.6 # a round of checks or two
traffic 8
a0=$(served "$A_PORT") b0=$(served "$B_PORT")
echo "   served: one=$a0 two=$b0"
((a0 > 0 && b0 > 0)) || fail "round robin over two UP servers: one served $a0, two served $b0"
assert_eq 8 $((a0 + b0)) "requests served by the two servers"
grep -q 'is DOWN' "$T/edge.log" && fail "a server was marked DOWN while healthy"

step "server two fails its checks (500): DOWN after 2 failed checks"
t0=$(date +%s%N)
c0=$(checks "$B_PORT")
script /healthz '"status": 500, "body": "sick\n"' "$B_PORT"
wait_log "$down_b" 1 10
c1=$(checks "$B_PORT")
echo "   failed checks before DOWN: $((c1 - c0))"
checks_within 1 3 1500 "$t0" $((c1 - c0)) "checks of server two between its 500 script and the DOWN line"
grep -F "$down_b" "$T/edge.log" | grep -q 'health check answered 500' || fail "the DOWN line does not give the reason"

step "server two DOWN: no traffic for it, server one serves everything"
b1=$(served "$B_PORT") a1=$(served "$A_PORT")
traffic 8
assert_eq "$b1" "$(served "$B_PORT")" "requests server two served while DOWN"
assert_eq $((a1 + 8)) "$(served "$A_PORT")" "requests server one served while two is DOWN"

step "server two healthy again: UP after 3 good checks, and traffic returns"
t0=$(date +%s%N)
c2=$(checks "$B_PORT")
script /healthz '"remove": true' "$B_PORT"
wait_log "$up_b" 1 12
c3=$(checks "$B_PORT")
echo "   good checks before UP: $((c3 - c2))"
checks_within 2 4 2000 "$t0" $((c3 - c2)) "checks of server two between its recovery and the UP line"
assert_eq 1 "$(grep -cF "$down_b" "$T/edge.log")" "DOWN lines for server two"
traffic 8
b2=$(served "$B_PORT")
((b2 > b1)) || fail "server two served no request after it was UP again ($b1 before, $b2 after)"

step "every server DOWN: the 502 page at once, no request reaches either"
script /healthz '"status": 503, "body": "sick\n"' "$A_PORT"
script /healthz '"status": 503, "body": "sick\n"' "$B_PORT"
wait_log "$down_a" 1 10
wait_log "$down_b" 2 10
a3=$(served "$A_PORT") b3=$(served "$B_PORT")
fetch /o03/nobody
assert_status 502
assert_header X-Cache ERROR
assert_cache ERROR 'edgecache; fwd=miss; detail=connect-error'
assert_time_between 0 4 # at once: no connect or read timeout (1 s, 2 s) waited
fetch /o03/nobody2
assert_status 502
assert_time_between 0 4 # at once: no connect or read timeout (1 s, 2 s) waited
assert_eq "$a3 $b3" "$(served "$A_PORT") $(served "$B_PORT")" "requests served with every server DOWN"
wait_log 'no healthy server' 1 10
assert_alive

pass
