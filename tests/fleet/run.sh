#!/usr/bin/env bash
# tests/fleet/run.sh: the fleet test. Three real edgecache processes, the scripted origin and a real PowerDNS
# in Linux network namespaces (tests/fleet/netns.sh), with the fleet file tests/fleet/fleet.yaml:
#
#   client eu (10.1.0.100) --DNS--> PowerDNS (10.53.0.53) <--probes /edgecache/healthz-- every edge
#   client eu --HTTP--> eu-1 (10.1.0.10) --\
#                                          >--> parent-1 (10.9.0.10, tier parent) --> origin (127.0.0.1 there)
#   client us --HTTP--> us-1 (10.2.0.10) --/
#
# It proves, with `dig` and `curl` from each client's namespace: each client is answered its region's edge (A
# and AAAA), an EDNS Client Subnet overrides the resolver's address, a subnet in no network is placed by
# country or continent (a GeoIP database that tests/fleet/mkmmdb.py writes); a fetch through the answer is a MISS then a
# HIT; the parent fetches an object from the origin once whichever children ask; an edge killed with SIGKILL
# leaves its region's answers and the region falls back to the other one (the time it takes is measured and
# printed as "figures: failover N ms"), and is answered again once restarted; an edge put into drain leaves
# the answers while it still serves, before it stops, and comes back when undrained; after
# `edgecache purge --fleet`, no edge serves the old body.
#
#   bash tests/fleet/run.sh [EDGECACHE]     (default build/edgecache) as root; exit 0 pass, 1 fail, 77 skip
#
# FLEET_KEEP=1 keeps the temporary directory (configurations, zone, logs); FLEET_TIMEOUT (default 240) bounds
# the whole run. Every wait has its own bound and waits for the event itself (an answer, a count, a status).
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
EDGECACHE=${1:-${EDGECACHE:-$TOP/build/edgecache}}
[[ $EDGECACHE == /* ]] || EDGECACHE=$PWD/$EDGECACHE
. "$HERE/netns.sh"
# a sanitizer build's edges: the leaks of libraries that the suite already knows about are not this test's
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$TOP/tests/lsan.supp}

skip() {
    echo "SKIP: fleet: $*"
    exit 77
}
[[ -x $EDGECACHE ]] || skip "no binary at $EDGECACHE"
[[ $(id -u) == 0 ]] || skip "needs root (network namespaces)"
for tool in ip dig curl python3 pdns_server pdnsutil; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (tools/install-deps.sh)"
done
compgen -G "/usr/lib/*/pdns/libgeoipbackend.so" >/dev/null || skip "PowerDNS's GeoIP backend is not installed (pdns-backend-geoip)"
ip netns add "ecf$$-probe" 2>/dev/null || skip "cannot create a network namespace here"
ip netns del "ecf$$-probe"

P=ecf$$ # the namespaces' prefix: two runs never meet
T=$(mktemp -d /tmp/edgecache-fleet.XXXXXX)
declare -A PID=()
FAILED=0

# --- cleanup and reporting --------------------------------------------------------------------------------
cleanup() {
    local rc=$? name pid ns i
    trap - EXIT ERR
    for name in "${!PID[@]}"; do kill -TERM "${PID[$name]}" 2>/dev/null || true; done
    for name in "${!PID[@]}"; do
        pid=${PID[$name]}
        for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    # anything still in our namespaces was started by this test (a child of a process above)
    for ns in "${FLEET_ROLES[@]}"; do
        for pid in $(ip netns pids "$P-$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    done
    fleet_net_down "$P"
    if [[ ${FLEET_KEEP:-0} == 1 ]]; then echo "kept $T" >&2; else rm -rf "$T"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'echo "FAIL: fleet: timed out (watchdog, ${FLEET_TIMEOUT:-240} s)" >&2; exit 124' TERM
trap 'echo "ERROR: fleet: line $LINENO: command failed: $BASH_COMMAND" >&2' ERR
# the watchdog: one process, which leaves with us (a sleeping subshell would outlive us and hold our output open)
python3 -c '
import os, sys, time
parent, end = int(sys.argv[1]), time.time() + float(sys.argv[2])
while time.time() < end:
    time.sleep(0.5)
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        sys.exit(0)
os.kill(parent, 15)
' $$ "${FLEET_TIMEOUT:-240}" >/dev/null 2>&1 &
PID[watchdog]=$!

fail() {
    local log
    echo "FAIL: fleet (line ${BASH_LINENO[0]}): $*" >&2
    for log in "$T"/*.log; do
        [[ -s $log ]] || continue
        echo "--- $(basename "$log") (last 15 lines) ---" >&2
        tail -n 15 "$log" >&2
    done
    exit 1
}
step() { echo "== $*"; }
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# wait_until -t S CMD...: runs CMD every 50 ms until it succeeds, for up to S seconds, or fails naming it.
wait_until() {
    local limit=20
    [[ $1 == -t ]] && { limit=$2; shift 2; }
    local end=$(($(now_ms) + limit * 1000))
    until "$@"; do
        (($(now_ms) < end)) || fail "not within ${limit} s: $*"
        sleep 0.05
    done
}

# --- DNS and HTTP from a client's namespace -------------------------------------------------------------------
NAME=www.cdn.test

# answers ROLE QTYPE [DIG ARGS]: the addresses PowerDNS answers ROLE's client for $NAME, sorted, space-separated
answers() {
    local role=$1 qtype=$2
    shift 2
    fleet_in "$P" "$role" dig +short +time=1 +tries=1 @10.53.0.53 "$NAME" "$qtype" "$@" 2>/dev/null | sort | paste -sd' ' -
}
answer_is() { # ROLE QTYPE EXPECTED [DIG ARGS]
    local role=$1 qtype=$2 want=$3
    shift 3
    ANSWER=$(answers "$role" "$qtype" "$@")
    [[ $ANSWER == "$want" ]]
}
assert_answer() { # ROLE QTYPE EXPECTED [DIG ARGS]
    answer_is "$@" || fail "$1 $2${4:+ $4}: answered '$ANSWER', expected '$3'"
}

# get ROLE PATH [ADDRESS]: GET http://$NAME/PATH from ROLE's client, connecting to ADDRESS (default: the one
# address DNS answers it); sets STATUS, XCACHE, BODY
get() {
    local role=$1 path=$2 addr=${3:-}
    [[ -n $addr ]] || addr=$(answers "$role" A || true)
    [[ $addr != *' '* && -n $addr ]] || fail "$role: expected one address from DNS, got '$addr'"
    [[ $addr != *:* ]] || addr="[$addr]"
    fleet_in "$P" "$role" curl -sS -g --max-time 5 -D "$T/hdrs" -o "$T/body" --resolve "$NAME:80:$addr" \
        "http://$NAME$path" 2>"$T/curl.err" || fail "curl $path from $role via $addr: $(cat "$T/curl.err")"
    STATUS=$(head -n1 "$T/hdrs" | cut -d' ' -f2)
    XCACHE=$(tr -d '\r' <"$T/hdrs" | sed -n 's/^[Xx]-[Cc]ache: //p' | tail -n1)
    BODY=$(cat "$T/body")
}
expect() { # PATH STATUS XCACHE BODY: the last get
    [[ $STATUS == "$2" && $XCACHE == "$3" && $BODY == "$4" ]] ||
        fail "$1: got $STATUS, X-Cache '$XCACHE', body '$BODY'; expected $2, '$3', '$4'"
}

origin_count() { fleet_in "$P" par curl -sS --max-time 5 "http://127.0.0.1:$ORIGIN_PORT/__count?path=$1"; }
assert_origin_count() { # PATH N
    local n
    n=$(origin_count "$1")
    [[ $n == "$2" ]] || fail "the origin received $n requests for $1, expected $2"
}

# --- the edges ----------------------------------------------------------------------------------------------
# edge_config NAME V4 V6 ORIGIN-URL: the configuration of one edge, listening on its public addresses
edge_config() {
    cat >"$T/$1.yaml" <<YAML
listen:
  - {address: $2, port: 80}
  - {address: "$3", port: 80}
cache: {path: $T/cache.$1}
origins:
  up: {servers: ["$4"]}
admin: {listen: "$2:9090", token_file: $T/admin.token}
YAML
}
declare -A ROLE=([eu-1]=eu [us-1]=us [parent-1]=par)
declare -A ADDR=([eu-1]=10.1.0.10 [us-1]=10.2.0.10 [parent-1]=10.9.0.10)
healthz_ok() { [[ $(fleet_in "$P" "${ROLE[$1]}" curl -s --max-time 2 "http://${ADDR[$1]}/edgecache/healthz") == ok ]]; }
start_edge() { # NAME
    echo "+ edgecache serve -c $T/$1.yaml" >>"$T/$1.log"
    # (ip netns exec itself, not a shell function: $! must be the edge, which `ip netns exec` becomes)
    ip netns exec "$P-${ROLE[$1]}" "$EDGECACHE" serve -c "$T/$1.yaml" >>"$T/$1.log" 2>&1 &
    PID[$1]=$!
    wait_until -t 15 healthz_ok "$1"
}
stop_edge() { # NAME: SIGTERM, and it must exit 0
    local rc=0
    kill -TERM "${PID[$1]}"
    wait "${PID[$1]}" || rc=$?
    unset "PID[$1]"
    [[ $rc == 0 ]] || fail "$1 exited with status $rc after SIGTERM"
}
alive() { kill -0 "${PID[$1]}" 2>/dev/null; }

# ============================================================================================================
step "network namespaces $P-*: two regions, a parent, PowerDNS, a client per region"
fleet_net_up "$P"
cp "$HERE/fleet.yaml" "$T/fleet.yaml"
printf '%s\n' "fleet-token-0123456789abcdef" >"$T/admin.token"
python3 "$HERE/mkmmdb.py" "$T/geo.mmdb" 192.0.2.0/24=US/NA 198.51.100.0/24=FR/EU
"$EDGECACHE" check "$T/fleet.yaml" >"$T/check.out" 2>&1 || fail "edgecache check: $(cat "$T/check.out")"

step "the origin (in the parent's namespace), the parent tier, then the two edges in front of it"
ip netns exec "$P-par" python3 "$TOP/tests/e2e/origin.py" --port 0 --port-file "$T/origin.port" --parent-pid $$ \
    >"$T/origin.log" 2>&1 &
PID[origin]=$!
wait_until -t 15 test -s "$T/origin.port"
ORIGIN_PORT=$(cat "$T/origin.port")
edge_config parent-1 10.9.0.10 fd00:9::10 "http://127.0.0.1:$ORIGIN_PORT"
edge_config eu-1 10.1.0.10 fd00:1::10 "http://10.9.0.10:80"
edge_config us-1 10.2.0.10 fd00:2::10 "http://10.9.0.10:80"
start_edge parent-1
start_edge eu-1
start_edge us-1

step "PowerDNS with the zone of edgecache dns-zone"
mkdir -p "$T/pdns/pdns.d"
"$EDGECACHE" dns-zone "$T/fleet.yaml" -o "$T/pdns/cdn.test.zone" --pdns-conf "$T/pdns/pdns.d/edgecache.conf" \
    --named-conf "$T/pdns/named.conf" 2>"$T/dns-zone.err" || fail "edgecache dns-zone: $(cat "$T/dns-zone.err")"
cat >"$T/pdns/pdns.conf" <<CONF
# what Debian's pdns.conf and pdns.d/bind.conf hold, with this test's paths and addresses
launch=bind
bind-config=$T/pdns/named.conf
include-dir=$T/pdns/pdns.d
local-address=10.53.0.53, fd00:53::53
socket-dir=$T/pdns
loglevel=6
CONF
pdnsutil --config-dir="$T/pdns" check-zone cdn.test >"$T/check-zone.out" 2>&1 ||
    fail "pdnsutil check-zone: $(cat "$T/check-zone.out")"
grep -q ', 0 errors, 0 warnings' "$T/check-zone.out" || fail "pdnsutil check-zone: $(cat "$T/check-zone.out")"
ip netns exec "$P-dns" pdns_server --config-dir="$T/pdns" --daemon=no --guardian=no >"$T/pdns.log" 2>&1 &
PID[pdns]=$!
soa_answered() { [[ -n $(fleet_in "$P" ceu dig +short +time=1 +tries=1 @10.53.0.53 cdn.test SOA 2>/dev/null) ]]; }
wait_until -t 15 soa_answered

step "dig: each client gets its own region's edge (A and AAAA); never the parent"
# until the first probe of each edge completes, PowerDNS answers every edge of the chain: wait for it
wait_until -t 15 answer_is ceu A 10.1.0.10
wait_until -t 15 answer_is cus A 10.2.0.10
wait_until -t 15 answer_is ceu AAAA fd00:1::10
wait_until -t 15 answer_is cus AAAA fd00:2::10
NAME=cdn.test assert_answer cus A 10.2.0.10
step "dig +subnet: the client's subnet (ECS) decides over its resolver's address; then GeoIP; else default_region"
assert_answer ceu A 10.2.0.10 +subnet=10.2.0.0/24
assert_answer cus A 10.1.0.10 +subnet=fd00:1::/64
assert_answer ceu A 10.2.0.10 +subnet=192.0.2.0/24    # in the US, by the GeoIP database: region us's countries
assert_answer cus A 10.1.0.10 +subnet=198.51.100.0/24 # in Europe: region eu's continents
assert_answer cus A 10.1.0.10 +subnet=203.0.113.0/24  # nowhere: default_region eu
[[ $(fleet_in "$P" ceu dig +short +time=1 +tries=1 @10.53.0.53 cdn.test NS) == ns1.cdn.test. ]] || fail "NS"

step "curl through the DNS answer: MISS then HIT; the parent fetches from the origin once for both children"
get ceu /obj
expect /obj 200 MISS origin:/obj
assert_origin_count /obj 1
get ceu /obj
expect /obj 200 HIT origin:/obj
get cus /obj
expect /obj 200 MISS origin:/obj # us-1's own miss, filled by the parent's copy
assert_origin_count /obj 1
get cus /obj
expect /obj 200 HIT origin:/obj
get ceu /obj fd00:1::10 # the AAAA answer, over IPv6
expect /obj 200 HIT origin:/obj
assert_origin_count /obj 1

step "kill -9 us-1: it leaves the us answers, which fall back to eu-1 (measured)"
start=$(now_ms)
kill -KILL "${PID[us-1]}"
wait "${PID[us-1]}" 2>/dev/null || true
unset "PID[us-1]"
wait_until -t 20 answer_is cus A 10.1.0.10
FAILOVER_MS=$(($(now_ms) - start))
# within one health interval (1 s) and a probe's timeout (1 s), with room for a loaded machine: 6 s
((FAILOVER_MS < 6000)) || fail "the killed edge was answered for $FAILOVER_MS ms"
wait_until -t 10 answer_is cus AAAA fd00:1::10
get cus /obj
expect /obj 200 HIT origin:/obj # eu-1 serves the us client
step "us-1 restarted: answered again"
start=$(now_ms)
start_edge us-1
wait_until -t 20 answer_is cus A 10.2.0.10
RECOVERY_MS=$(($(now_ms) - start))
get cus /obj
expect /obj 200 HIT origin:/obj # its cache survived the kill

step "edgecache drain eu-1: it leaves the answers while it still serves, before it stops"
start=$(now_ms)
fleet_in "$P" eu "$EDGECACHE" drain -c "$T/eu-1.yaml" >"$T/drain.out" 2>&1 || fail "edgecache drain: $(cat "$T/drain.out")"
wait_until -t 20 answer_is ceu A 10.2.0.10
DRAIN_MS=$(($(now_ms) - start))
alive eu-1 || fail "eu-1 stopped: it must leave DNS before it stops"
get ceu /obj 10.1.0.10
expect /obj 200 HIT origin:/obj # a client that still holds the old answer is served
step "edgecache undrain eu-1: answered again"
fleet_in "$P" eu "$EDGECACHE" undrain -c "$T/eu-1.yaml" >"$T/drain.out" 2>&1 || fail "edgecache undrain: $(cat "$T/drain.out")"
wait_until -t 20 answer_is ceu A 10.1.0.10
step "drain again, then stop it (SIGTERM, exit 0) once DNS no longer answers it; restarted: answered again"
fleet_in "$P" eu "$EDGECACHE" drain -c "$T/eu-1.yaml" >"$T/drain.out" 2>&1 || fail "edgecache drain: $(cat "$T/drain.out")"
wait_until -t 20 answer_is ceu A 10.2.0.10
stop_edge eu-1
start_edge eu-1
wait_until -t 20 answer_is ceu A 10.1.0.10

# --- FLEET PURGE ------------------------------------------------------------------------------------------------
# `edgecache purge --fleet` (issue 14, part 4), run from a client's namespace, which routes to every admin API:
# the parent is purged before the children, so that no child refills from the parent's old copy.
step "the origin changes /obj: every edge keeps its copy until edgecache purge --fleet; then none serves it"
fleet_in "$P" par curl -sS --max-time 5 -o /dev/null "http://127.0.0.1:$ORIGIN_PORT/__script" \
    -d '{"path": "/obj", "body": "v2", "headers": {"Cache-Control": "max-age=600"}}'
get ceu /obj
expect /obj 200 HIT origin:/obj
get cus /obj
expect /obj 200 HIT origin:/obj
fleet_in "$P" ceu "$EDGECACHE" purge --fleet "$T/fleet.yaml" /obj >"$T/purge.out" 2>&1 ||
    fail "edgecache purge --fleet: $(cat "$T/purge.out")"
sed -n 2p "$T/purge.out" | grep -Eq '^parent-1 +parent +[0-9]+ +done' ||
    fail "the parent is not purged first: $(cat "$T/purge.out")"
get ceu /obj
expect /obj 200 MISS v2
get cus /obj
expect /obj 200 MISS v2
assert_origin_count /obj 2 # the parent refetched it once for both

step "figures"
echo "figures: failover $FAILOVER_MS ms (SIGKILL of us-1 to the first answer to a us client without it;" \
    "health_interval 1 s), drain $DRAIN_MS ms (edgecache drain to the first answer without the edge)," \
    "recovery $RECOVERY_MS ms (restart, healthz included, to the first answer with it again)"
for name in eu-1 us-1 parent-1; do stop_edge "$name"; done
if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' "$T"/*-1.log; then
    fail "a sanitizer report in an edge's log"
fi
echo "PASS: fleet"
