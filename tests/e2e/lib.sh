# tests/e2e/lib.sh: the harness every end-to-end scenario sources.
#
# A scenario starts the real binary ($EDGECACHE) in front of one or more scripted origins
# (tests/e2e/origin.py), talks to it with curl, and asserts on status, headers, body and the origin's
# request count (what proves a HIT). Everything a scenario starts is killed on exit, whatever the
# outcome, and everything lives in one temporary directory ($T), removed on exit unless E2E_KEEP=1.
#
# Exit codes follow the automake test driver: 0 pass, 1 fail, 77 skip, 99 hard error.
#
#   start_origin NAME [ARGS]   origin.py on a free port; exports NAME_PORT (the first one also
#                              becomes ORIGIN_PORT / ORIGIN_URL, which the helpers below use); ARGS go to
#                              origin.py (--name N, --tls CERT KEY: the helpers then speak HTTPS to it)
#   start_blackhole NAME       a port that accepts no connection: connect(2) hangs; exports NAME_PORT
#   start_extra_edge NAME ARGS another edgecache (tiered set-ups): serve --listen 127.0.0.1:<free port>
#                              --cache-dir $T/cache.NAME ARGS, logging to $T/edge.NAME.log; exports
#                              NAME_PORT and NAME_PID. pass stops it (and checks its log) like the edge
#   stop_extra_edge NAME       SIGTERM, wait, assert exit status 0
#   start_edge [ARGS...]       edgecache serve --listen 127.0.0.1:$EDGE_PORT --cache-dir $T/cache ARGS
#                              (a restart keeps the port it had: the host, port included, is in the cache key)
#   start_edge_raw [ARGS...]   edgecache serve --cache-dir $T/cache ARGS, EDGE_PORT chosen by the caller
#   stop_edge                  SIGTERM, wait, assert exit status 0
#   control METHOD PORT PATH [BODY]  one request to an origin's control endpoint; prints the answer's body
#   script PATH 'json fields'  POST /__script {"path": PATH, fields}
#   scripts 'JSON LIST'        POST /__script [{"path": ...}, ...]: many scripts in one request
#   origin_count PATH          requests the origin received for PATH (with a '?': that exact URL)
#   origin_counts / origin_sent PATH / origin_conns   JSON of all counts; body bytes sent; connections
#   wait_log REGEX N [S] [LOG] waits up to S seconds (default 10) until LOG (the edge log) has N lines
#                              matching the extended REGEX, or fails
#   release GATE [PORT]        opens the origin's gate GATE: the requests its "hold": GATE script holds go on
#   origin_held GATE [PORT]    requests that have reached the gate GATE so far, as text
#   wait_held GATE N [S] [PORT] waits up to S seconds (default 20) until N requests have reached the
#                              origin's gate GATE (held there, or let through once it is open), or fails
#   wait_until [-t S] CMD...   runs CMD (a command, or a shell function) until it succeeds, every 0.05 s,
#                              for up to S (whole) seconds (default 20), or fails naming CMD. How a scenario
#                              waits for an event; never a sleep that merely makes the event likely
#   edge_counter NAME [LOG]    a counter of the edge's last "counters:" line (logged when it stops)
#   edge_rss_kb [PID]          VmRSS of the edge (or PID) in KiB
#   fetch URL [CURL ARGS]      URL may be "/path" (the edge); sets STATUS HTTP_VERSION TIME_TOTAL
#                              HDRS BODY (files); fails the test when curl itself fails
#   try_fetch URL [CURL ARGS]  the same, but records curl's exit status in CURL_RC instead of failing
#   header NAME                a response header of the last fetch (last header block, CR stripped)
#   assert_*  fail  pass       see below
#
# On a loaded machine every process a helper starts costs tens of milliseconds or more, and a scenario
# makes hundreds of assertions: the helpers that run per fetch or per assertion (try_fetch, header,
# has_header, assert_header, assert_cache, and the origin's control calls) work in bash itself, starting
# nothing but curl for the fetch.

set -Eeuo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$E2E_DIR/../.." && pwd)}
if [[ -z ${EDGECACHE:-} ]]; then
    if [[ -x ./edgecache ]]; then EDGECACHE=$PWD/edgecache; else EDGECACHE=$TOP_SRCDIR/edgecache; fi
fi
[[ $EDGECACHE == /* ]] || EDGECACHE=$PWD/$EDGECACHE
TEST_NAME=$(basename "$0" .sh)
PYTHON=${PYTHON:-python3}
# A version manager's shim (pyenv's is a bash script) costs a second of start-up per call on a loaded
# machine, and the scenarios call python often: resolve the real interpreter once.
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)' 2>/dev/null) || PYTHON=${PYTHON:-python3}
[[ -n $PYTHON ]] || PYTHON=python3
CURL_MAX_TIME=${CURL_MAX_TIME:-10}

if [[ ! -x $EDGECACHE ]]; then
    echo "SKIP: $TEST_NAME: no binary at $EDGECACHE" >&2
    exit 77
fi
for tool in curl "$PYTHON"; do
    command -v "$tool" >/dev/null || { echo "ERROR: $TEST_NAME: $tool is required" >&2; exit 99; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/edgecache-e2e.$TEST_NAME.XXXXXX")
PIDS=()
EXTRA_EDGES=()
EDGE_PID=
EDGE_PORT=
FETCH_N=0
STATUS='' HTTP_VERSION='' TIME_TOTAL='' HDRS=/dev/null BODY=/dev/null CURL_RC=0 CURL_ERR=/dev/null
declare -A HDR_VALUE=() # the last header block of $HDRS_PARSED, by lower-cased name (see parse_headers)
HDRS_PARSED=

# --- cleanup: kill everything this test started, whatever happened ------------------------------
cleanup() {
    local rc=$? pid i
    trap - EXIT ERR
    for pid in ${EDGE_PID:+"$EDGE_PID"} "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in ${EDGE_PID:+"$EDGE_PID"} "${PIDS[@]}"; do
        for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ ${E2E_KEEP:-0} == 1 ]]; then
        echo "kept $T" >&2
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'echo "FAIL: $TEST_NAME: timed out (watchdog)" >&2; exit 124' TERM
trap 'echo "ERROR: $TEST_NAME: line $LINENO: command failed: $BASH_COMMAND" >&2' ERR

# A watchdog bounds the whole scenario: one process, gone with us. It catches a hang, not a slow run:
# E2E_TIMEOUT (default 120 s) is several times what the longest scenario takes on a busy machine.
"$PYTHON" -c '
import os, sys, time
parent, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + limit
while time.time() < end:
    time.sleep(0.5)
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        sys.exit(0)
os.kill(parent, 15)
' $$ "${E2E_TIMEOUT:-120}" &
PIDS+=($!)

# --- reporting ------------------------------------------------------------------------------------
log_tail() { # FILE LABEL
    [[ -s $1 ]] || return 0
    echo "--- $2 (last 30 lines of $1) ---" >&2
    tail -n 30 "$1" >&2
}

fail() {
    # Name the scenario's line, not the helper's: the first caller outside this file.
    local where="$0" i
    for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
        if [[ ${BASH_SOURCE[i]} != */lib.sh ]]; then
            where="${BASH_SOURCE[i]}:${BASH_LINENO[i - 1]}"
            break
        fi
    done
    echo "FAIL: $TEST_NAME ($where): $*" >&2
    if [[ -s $HDRS ]]; then
        echo "--- last response: status=$STATUS curl_rc=$CURL_RC http=$HTTP_VERSION time=${TIME_TOTAL}s ---" >&2
        tr -d '\r' <"$HDRS" >&2
        if [[ -s $BODY ]]; then
            echo "--- body (first 300 bytes of $(wc -c <"$BODY")) ---" >&2
            head -c 300 "$BODY" | tr -c '[:print:]\n' '.' >&2
            echo >&2
        fi
    fi
    log_tail "$CURL_ERR" "curl stderr"
    log_tail "$T/edge.log" "edge log"
    local log
    for log in "$T"/edge.*.log; do
        [[ -e $log ]] && log_tail "$log" "edge log"
    done
    exit 1
}

# pass: the scenario's assertions held; a running edge must still stop cleanly (SIGTERM, exit 0), and
# its log must hold no sanitizer report, before the scenario counts as passed.
pass() {
    local name pidvar
    [[ -z $EDGE_PID ]] || { assert_alive; stop_edge; }
    for name in "${EXTRA_EDGES[@]}"; do
        pidvar="${name}_PID"
        [[ -z ${!pidvar:-} ]] || stop_extra_edge "$name"
    done
    local log
    for log in "$T"/edge.log "$T"/edge.*.log; do
        [[ -e $log ]] || continue
        if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' "$log"; then
            log_tail "$log" "edge log with a sanitizer report"
            fail "sanitizer report in $log"
        fi
    done
    echo "PASS: $TEST_NAME${1:+: $1}"
    exit 0
}

skip() {
    echo "SKIP: $TEST_NAME: $*"
    exit 77
}

step() { echo "== $*"; }

# --- processes ------------------------------------------------------------------------------------
free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# True once something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_origin() { # NAME [ORIGIN.PY ARGS...]
    local name=$1 pf="$T/origin.$1.port" i port tls=0 a
    shift
    for a in "$@"; do [[ $a == --tls ]] && tls=1; done
    "$PYTHON" "$E2E_DIR/origin.py" --port 0 --port-file "$pf" --parent-pid $$ "$@" >"$T/origin.$name.log" 2>&1 &
    PIDS+=($!)
    for ((i = 0; i < 100; i++)); do
        [[ -s $pf ]] && break
        sleep 0.1
    done
    [[ -s $pf ]] || { log_tail "$T/origin.$name.log" "origin $name"; fail "origin $name did not start"; }
    port=$(<"$pf")
    ((tls)) && : >"$T/origin.tls.$port"
    printf -v "${name}_PORT" '%s' "$port"
    export "${name}_PORT"
    if [[ -z ${ORIGIN_PORT:-} ]]; then
        ORIGIN_PORT=$port
        ORIGIN_URL=$(origin_base "$port")
    fi
}

# origin_base PORT: the origin's URL prefix, https:// for one started with --tls.
origin_base() {
    if [[ -e $T/origin.tls.$1 ]]; then echo "https://127.0.0.1:$1"; else echo "http://127.0.0.1:$1"; fi
}

start_blackhole() { # NAME
    local name=$1 pf="$T/blackhole.$1.port" i
    "$PYTHON" "$E2E_DIR/origin.py" --blackhole --port 0 --port-file "$pf" --parent-pid $$ >"$T/blackhole.$name.log" 2>&1 &
    PIDS+=($!)
    for ((i = 0; i < 100; i++)); do
        [[ -s $pf ]] && break
        sleep 0.1
    done
    [[ -s $pf ]] || fail "blackhole $name did not start"
    printf -v "${name}_PORT" '%s' "$(<"$pf")"
    export "${name}_PORT"
}

# Waits until the edge accepts connections on every port given (default $EDGE_PORT), or fails.
wait_edge() {
    local port i
    for port in "${@:-$EDGE_PORT}"; do
        for ((i = 0; i < 100; i++)); do
            port_open "$port" && break
            kill -0 "$EDGE_PID" 2>/dev/null || fail "edgecache exited during startup (port $port)"
            sleep 0.1
        done
        port_open "$port" || fail "edgecache does not accept connections on port $port after 10 s"
    done
}

start_edge_raw() { # ARGS... (the caller has set EDGE_PORT and put it on the command line or in the config)
    [[ -z $EDGE_PID ]] || fail "start_edge: an edge is already running (pid $EDGE_PID)"
    echo "+ edgecache serve --cache-dir $T/cache $*" >>"$T/edge.log"
    "$EDGECACHE" serve --cache-dir "$T/cache" "$@" >>"$T/edge.log" 2>&1 &
    EDGE_PID=$!
}

start_edge() { # [ARGS...]
    local attempt
    for attempt in 1 2 3; do
        # A restart listens on the port it had: the Host (with its port) is in the cache key, so a restarted edge
        # on another port would find none of the objects it stored.
        [[ $attempt == 1 && -n $EDGE_PORT ]] || EDGE_PORT=$(free_port)
        start_edge_raw --listen "127.0.0.1:$EDGE_PORT" "$@"
        # Another process may take the port between free_port and the bind: try another one.
        if ! wait_edge_quietly && grep -qi 'in use' "$T/edge.log"; then
            wait "$EDGE_PID" 2>/dev/null || true
            EDGE_PID=
            continue
        fi
        wait_edge
        return 0
    done
    fail "could not start edgecache on a free port"
}

wait_edge_quietly() {
    local i
    for ((i = 0; i < 100; i++)); do
        port_open "$EDGE_PORT" && return 0
        kill -0 "$EDGE_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

stop_edge() { # [TIMEOUT_S]: SIGTERM, wait, assert a clean exit
    local limit=${1:-10} i rc=0
    [[ -n $EDGE_PID ]] || fail "stop_edge: no edge running"
    kill -TERM "$EDGE_PID" 2>/dev/null || fail "stop_edge: edgecache (pid $EDGE_PID) was already gone"
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$EDGE_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$EDGE_PID" 2>/dev/null; then
        kill -KILL "$EDGE_PID" 2>/dev/null || true
        wait "$EDGE_PID" 2>/dev/null || true
        EDGE_PID=
        fail "edgecache did not exit within ${limit}s of SIGTERM"
    fi
    wait "$EDGE_PID" || rc=$?
    EDGE_PID=
    [[ $rc == 0 ]] || fail "edgecache exited with status $rc after SIGTERM (expected 0)"
}

edge_alive() { [[ -n $EDGE_PID ]] && kill -0 "$EDGE_PID" 2>/dev/null; }

# A second edge, for tiered set-ups: its own port, cache directory and log; killed on exit like the rest.
start_extra_edge() { # NAME [ARGS...]
    local name=$1 port pid i
    shift
    port=$(free_port)
    echo "+ edgecache serve --listen 127.0.0.1:$port --cache-dir $T/cache.$name $*" >>"$T/edge.$name.log"
    "$EDGECACHE" serve --listen "127.0.0.1:$port" --cache-dir "$T/cache.$name" "$@" >>"$T/edge.$name.log" 2>&1 &
    pid=$!
    PIDS+=($pid)
    EXTRA_EDGES+=("$name")
    for ((i = 0; i < 100; i++)); do
        port_open "$port" && break
        kill -0 "$pid" 2>/dev/null || { log_tail "$T/edge.$name.log" "edge $name"; fail "edge $name exited during startup"; }
        sleep 0.1
    done
    port_open "$port" || fail "edge $name does not accept connections on port $port after 10 s"
    printf -v "${name}_PORT" '%s' "$port"
    printf -v "${name}_PID" '%s' "$pid"
    export "${name}_PORT" "${name}_PID"
}

stop_extra_edge() { # NAME [TIMEOUT_S]
    local name=$1 limit=${2:-10} pidvar="${1}_PID" pid i rc=0
    pid=${!pidvar:-}
    [[ -n $pid ]] || fail "stop_extra_edge: no edge $name"
    kill -TERM "$pid" 2>/dev/null || fail "stop_extra_edge: edge $name (pid $pid) was already gone"
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        fail "edge $name did not exit within ${limit}s of SIGTERM"
    fi
    wait "$pid" || rc=$?
    printf -v "$pidvar" '%s' ''
    [[ $rc == 0 ]] || { log_tail "$T/edge.$name.log" "edge $name"; fail "edge $name exited with status $rc after SIGTERM (expected 0)"; }
}

edge_rss_kb() { # [PID]
    awk '/^VmRSS:/ { print $2 }' "/proc/${1:-$EDGE_PID}/status"
}

# wait_log REGEX N [TIMEOUT_S] [LOG]: until LOG has at least N lines matching REGEX.
wait_log() {
    local re=$1 n=$2 limit=${3:-10} log=${4:-$T/edge.log} i have=0
    for ((i = 0; i < limit * 20; i++)); do
        have=$(grep -Ec -- "$re" "$log" 2>/dev/null) || true
        ((have >= n)) && return 0
        sleep 0.05
    done
    fail "the log $log has $have lines matching /$re/ after ${limit}s, expected $n"
}

# wait_until [-t TIMEOUT_S] CMD...: the generic event wait. CMD's output is discarded; a CMD that calls
# fail (an assert_*) ends the scenario at once, so pass a predicate that only returns a status.
wait_until() {
    local limit=20 end
    if [[ ${1:-} == -t ]]; then
        limit=$2
        shift 2
    fi
    end=$((${EPOCHREALTIME/./} + limit * 1000000))
    while ! "$@" >/dev/null 2>&1; do
        ((${EPOCHREALTIME/./} < end)) || fail "waited ${limit}s for: $*"
        sleep 0.05
    done
}

edge_counter() { # NAME [LOG]: from the last "counters:" line, which the edge logs when it stops
    local line
    line=$(grep 'counters:' "${2:-$T/edge.log}" | tail -n 1)
    [[ -n $line ]] || fail "edge_counter $1: no counters line in ${2:-$T/edge.log} (stop the edge first)"
    sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$line"
}

# --- the origin's control endpoints ----------------------------------------------------------------
# control METHOD PORT PATH [BODY]: one request to the origin's control endpoint PATH (its query already
# encoded, see urlencode); prints the answer's body, whatever its status; fails (status 1) only when the
# origin does not answer. Bash speaks to a plain-HTTP origin itself over /dev/tcp: a scenario makes
# hundreds of these calls, and a curl start-up costs 100 ms and more on a loaded machine. A TLS origin
# gets curl.
control() {
    local method=$1 port=$2 path=$3 body=${4:-} LC_ALL=C fd line len=0 status
    if [[ -e $T/origin.tls.$port ]]; then
        curl -ksS --max-time 10 -X "$method" ${4+--data-binary "$body"} "https://127.0.0.1:$port$path"
        return
    fi
    exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s' \
        "$method" "$path" "$port" "${#body}" "$body" >&"$fd" || { exec {fd}>&-; return 1; }
    if ! IFS= read -r -t 10 status <&"$fd" || [[ $status != HTTP/* ]]; then
        exec {fd}>&-
        return 1
    fi
    while IFS= read -r -t 10 line <&"$fd"; do
        line=${line%$'\r'}
        [[ -n $line ]] || break
        if [[ ${line,,} =~ ^content-length:[[:space:]]*([0-9]+) ]]; then len=${BASH_REMATCH[1]}; fi
    done
    body=
    if ((len > 0)) && ! IFS= read -r -t 10 -N "$len" body <&"$fd"; then
        exec {fd}>&-
        return 1
    fi
    exec {fd}>&-
    printf '%s' "$body"
}

# urlencode TEXT: REPLY becomes TEXT percent-encoded for a query value (no subshell: see the header)
urlencode() {
    local LC_ALL=C s=$1 i c n
    REPLY=
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
        [a-zA-Z0-9._~/-]) REPLY+=$c ;;
        *)
            printf -v n '%d' "'$c"
            ((n >= 0)) || n=$((n + 256))
            printf -v c '%%%02X' "$n"
            REPLY+=$c
            ;;
        esac
    done
}

scripts() { # 'JSON LIST OF SCRIPTS' [ORIGIN_PORT]
    local out
    out=$(control POST "${2:-$ORIGIN_PORT}" /__script "$1") || fail "scripts: origin unreachable"
    [[ $out == ok* ]] || fail "scripts: origin said: $out"
}

script() { # PATH 'JSON FIELDS' [ORIGIN_PORT]
    local path=$1 fields=${2:-} port=${3:-$ORIGIN_PORT} out
    out=$(control POST "$port" /__script "{\"path\": \"$path\"${fields:+, $fields}}") || fail "script $path: origin unreachable"
    [[ $out == ok* ]] || fail "script $path: origin said: $out"
}

origin_count() { # PATH [ORIGIN_PORT]: with a '?' in PATH, that exact URL only
    local path=$1 port=${2:-$ORIGIN_PORT} key=path
    [[ $path == *\?* ]] && key=url
    urlencode "$path"
    control GET "$port" "/__count?$key=$REPLY" || fail "origin_count: origin unreachable"
}

origin_total() { # [ORIGIN_PORT]: every request the origin received, malformed ones included
    control GET "${1:-$ORIGIN_PORT}" /__count || fail "origin_total: origin unreachable"
}

origin_requests() { # PATH [ORIGIN_PORT]: JSON list
    urlencode "$1"
    control GET "${2:-$ORIGIN_PORT}" "/__requests?path=$REPLY" || fail "origin_requests: origin unreachable"
}

origin_counts() { # [ORIGIN_PORT]: JSON {path: count}
    control GET "${1:-$ORIGIN_PORT}" /__counts || fail "origin_counts: origin unreachable"
}

origin_sent() { # PATH [ORIGIN_PORT]: response body bytes the origin has written for PATH
    urlencode "$1"
    control GET "${2:-$ORIGIN_PORT}" "/__sent?path=$REPLY" || fail "origin_sent: origin unreachable"
}

origin_conns() { # [ORIGIN_PORT]: JSON list of the origin's connections (see origin.py)
    control GET "${1:-$ORIGIN_PORT}" /__conns || fail "origin_conns: origin unreachable"
}

release() { # GATE [ORIGIN_PORT]
    local out
    out=$(control POST "${2:-$ORIGIN_PORT}" /__release "{\"gate\": \"$1\"}") || fail "release $1: origin unreachable"
    [[ $out == ok* ]] || fail "release $1: origin said: $out"
}

origin_held() { # GATE [ORIGIN_PORT]: requests that have reached the gate so far
    urlencode "$1"
    control GET "${2:-$ORIGIN_PORT}" "/__held?gate=$REPLY" || fail "origin_held: origin unreachable"
}

wait_held() { # GATE N [TIMEOUT_S] [ORIGIN_PORT]
    local gate=$1 n=$2 limit=${3:-20} port=${4:-$ORIGIN_PORT} end have=0
    end=$((${EPOCHREALTIME/./} + limit * 1000000))
    while :; do
        have=$(origin_held "$gate" "$port")
        ((have >= n)) && return 0
        ((${EPOCHREALTIME/./} < end)) || fail "the origin's gate $gate holds $have requests after ${limit}s, expected $n"
        sleep 0.05
    done
}

origin_reset() { control POST "${1:-$ORIGIN_PORT}" /__reset >/dev/null; }

# json_get EXPR: reads JSON on stdin, prints data EXPR, e.g. origin_requests /x | json_get '[-1]["method"]'
json_get() {
    "$PYTHON" -c 'import json, sys
v = eval("d" + sys.argv[1], {"d": json.load(sys.stdin)})
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1"
}

# The sha256 of the origin's N-byte body_size pattern.
pattern_sha256() { "$PYTHON" "$E2E_DIR/origin.py" --emit "$1" | sha256sum | cut -d' ' -f1; }

# make_cert CERT KEY [CN]: a self-signed certificate (RSA 2048, one day) and its key, for a TLS listener.
make_cert() {
    command -v openssl >/dev/null || skip "no openssl"
    timeout 30 openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=${3:-localhost}" -days 1 \
        -keyout "$2" -out "$1" >"$T/openssl.log" 2>&1 || fail "openssl: $(cat "$T/openssl.log")"
}

# make_ca DIR: a test certificate authority (DIR/ca.pem, DIR/ca.key) and an empty index for `openssl ocsp`.
make_ca() {
    mkdir -p "$1"
    : >"$1/index.txt"
    timeout 30 openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=edgecache test CA" -days 2 \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$1/ca.key" -out "$1/ca.pem" >"$T/openssl.log" 2>&1 || fail "openssl: $(cat "$T/openssl.log")"
}

# make_site_cert CA_DIR OUT rsa|ec CN "DNS:a,DNS:b" [EXTRA EXTENSION LINES]: OUT.pem (the certificate, then the
# CA: the chain an edge loads) and OUT.key, signed by the CA and listed as valid in its index (OCSP "good").
make_site_cert() {
    local ca=$1 out=$2 type=$3 cn=$4 san=$5 extra=${6:-} serial end
    local newkey=(-newkey rsa:2048)
    [[ $type == ec ]] && newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n%b\n' "$san" "$extra" >"$out.ext"
    { timeout 30 openssl req -new "${newkey[@]}" -nodes -subj "/CN=$cn" -keyout "$out.key" -out "$out.csr" &&
        timeout 30 openssl x509 -req -in "$out.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" -CAcreateserial -days 1 \
            -extfile "$out.ext" -out "$out.leaf"; } >"$T/openssl.log" 2>&1 || fail "openssl: $(cat "$T/openssl.log")"
    cat "$out.leaf" "$ca/ca.pem" >"$out.pem"
    serial=$(openssl x509 -noout -serial -in "$out.leaf" | sed 's/serial=//')
    end=$(date -u -d "$(openssl x509 -noout -enddate -in "$out.leaf" | sed 's/notAfter=//')" +%y%m%d%H%M%SZ)
    printf 'V\t%s\t\t%s\tunknown\t/CN=%s\n' "$end" "$serial" "$cn" >>"$ca/index.txt"
}

# tls_subject PORT SERVERNAME [OPENSSL ARGS...]: the CN of the certificate a new TLS connection gets ("" when
# the handshake fails); without SERVERNAME ("-"), no SNI at all.
tls_subject() {
    local port=$1 name=$2
    shift 2
    local sni=(-servername "$name")
    [[ $name == - ]] && sni=(-noservername)
    { timeout 20 openssl s_client -connect "127.0.0.1:$port" "${sni[@]}" "$@" </dev/null 2>/dev/null |
        openssl x509 -noout -subject 2>/dev/null | sed 's/.*CN *= *//'; } || true
}

# --- client side -------------------------------------------------------------------------------------
# try_fetch URL [CURL ARGS...]: URL "/path" means the edge over HTTP/1.1 cleartext.
try_fetch() {
    local url=$1
    shift
    [[ $url == /* ]] && url="http://127.0.0.1:$EDGE_PORT$url"
    FETCH_N=$((FETCH_N + 1))
    HDRS="$T/fetch.$FETCH_N.headers"
    BODY="$T/fetch.$FETCH_N.body"
    CURL_ERR="$T/fetch.$FETCH_N.curl-err"
    : >"$HDRS"
    : >"$BODY"
    CURL_RC=0
    curl -sS --max-time "$CURL_MAX_TIME" -D "$HDRS" -o "$BODY" \
        -w '%{http_code} %{http_version} %{time_total}' "$@" "$url" >"$T/fetch.$FETCH_N.w" 2>"$CURL_ERR" || CURL_RC=$?
    read -r STATUS HTTP_VERSION TIME_TOTAL <"$T/fetch.$FETCH_N.w" || true
    parse_headers
}

fetch() {
    try_fetch "$@"
    [[ $CURL_RC == 0 ]] || fail "curl $* failed (exit $CURL_RC): $(cat "$T/curl.err")"
}

# parse_headers: HDR_VALUE becomes the fields of $HDRS's last header block (so not a 100 Continue's),
# each name lower-cased, its first line's value with leading blanks removed, CRs dropped. Done once per
# fetch; header and has_header parse again only when HDRS has been pointed at another file.
parse_headers() {
    local line name val
    HDR_VALUE=()
    HDRS_PARSED=$HDRS
    [[ -r $HDRS ]] || return 0
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line//$'\r'/}
        if [[ $line == HTTP/* ]]; then
            HDR_VALUE=()
            continue
        fi
        [[ $line == ?*:* ]] || continue
        name=${line%%:*}
        name=${name,,}
        val=${line#*:}
        val=${val#"${val%%[!$' \t']*}"}
        [[ -v HDR_VALUE[$name] ]] || HDR_VALUE[$name]=$val
    done <"$HDRS"
}

# header NAME: the value in the last response's last header block (so not a 100 Continue's).
header() {
    [[ $HDRS_PARSED == "$HDRS" ]] || parse_headers
    local name=${1,,}
    [[ ! -v HDR_VALUE[$name] ]] || printf '%s\n' "${HDR_VALUE[$name]}"
}

has_header() {
    [[ $HDRS_PARSED == "$HDRS" ]] || parse_headers
    local name=${1,,}
    [[ -v HDR_VALUE[$name] ]]
}

body() { cat "$BODY"; }
body_sha256() {
    local sum
    sum=$(sha256sum <"$BODY")
    echo "${sum%% *}"
}
body_size() {
    local n
    n=$(wc -c <"$BODY")
    echo $((n))
}

# The ttl=N parameter of the last response's Cache-Status, or empty.
cache_ttl() {
    has_header Cache-Status || return 0
    [[ ! ${HDR_VALUE[cache-status]} =~ \;[[:space:]]*ttl=(-?[0-9]*) ]] || echo "${BASH_REMATCH[1]}"
}

# --- assertions ---------------------------------------------------------------------------------------
assert_eq() { # EXPECTED ACTUAL [WHAT]
    [[ $1 == "$2" ]] || fail "${3:-value}: expected '$1', got '$2'"
}

assert_match() { # REGEX ACTUAL [WHAT]: the whole of ACTUAL must match the extended regex
    [[ $2 =~ ^($1)$ ]] || fail "${3:-value}: '$2' does not match /^($1)\$/"
}

assert_status() { # CODE-REGEX
    [[ $STATUS =~ ^($1)$ ]] || fail "status: expected $1, got $STATUS"
}

assert_header() { # NAME VALUE-REGEX: present, and the whole value matches
    has_header "$1" || fail "header $1: missing (expected /^($2)\$/)"
    local v=${HDR_VALUE[${1,,}]}
    [[ $v =~ ^($2)$ ]] || fail "header $1: '$v' does not match /^($2)\$/"
}

assert_no_header() { # NAME
    ! has_header "$1" || fail "header $1: expected absent, got '$(header "$1")'"
}

assert_body() { # EXACT TEXT
    local b
    b=$(body)
    [[ $b == "$1" ]] || fail "body: expected '$1', got '$(head -c 200 "$BODY")'"
}

assert_body_contains() { grep -qF -- "$1" "$BODY" || fail "body does not contain '$1'"; }
assert_body_lacks() { ! grep -qF -- "$1" "$BODY" || fail "body contains '$1'"; }

assert_count() { # PATH N [ORIGIN_PORT]: the origin received exactly N requests for PATH
    local n
    n=$(origin_count "$1" "${3:-}")
    [[ $n == "$2" ]] || fail "origin count for $1: expected $2, got $n"
}

# trim TEXT: REPLY becomes TEXT without leading and trailing blanks (no subshell: see the header)
trim() {
    REPLY=${1#"${1%%[![:space:]]*}"}
    REPLY=${REPLY%"${REPLY##*[![:space:]]}"}
}

# assert_cache X-CACHE-VALUE [CACHE-STATUS]: the edge's own verdict on the last response. CACHE-STATUS
# lists the RFC 9211 member the edge must have sent, as "edgecache; param; param=value-regex; ...": the
# cache id must match and every parameter listed must be present (others may be too, e.g. fwd-status,
# ttl, detail). "fwd=miss" also accepts the more specific "uri-miss" (RFC 9211 §2.2).
assert_cache() {
    assert_header X-Cache "$1"
    [[ -n ${2:-} ]] || return 0
    local actual p found a
    actual=${HDR_VALUE[cache-status]:-}
    local -a wanted
    IFS=';' read -ra wanted <<<"$2"
    local -a have
    IFS=';' read -ra have <<<"$actual"
    trim "${have[0]:-}"
    a=$REPLY
    trim "${wanted[0]}"
    [[ $a == "$REPLY" ]] || fail "Cache-Status '$actual': cache id is not '${wanted[0]}'"
    for p in "${wanted[@]:1}"; do
        trim "$p"
        p=$REPLY
        [[ $p == fwd=miss ]] && p='fwd=(uri-)?miss'
        found=0
        for a in "${have[@]:1}"; do
            trim "$a"
            a=$REPLY
            if [[ $a =~ ^($p)$ ]]; then found=1; break; fi
        done
        ((found)) || fail "Cache-Status '$actual' lacks the parameter /$p/"
    done
}

assert_not_stored() { # the last response's Cache-Status must not say "stored"
    local cs
    cs=$(header Cache-Status)
    [[ ! $cs =~ (^|;)[[:space:]]*stored([[:space:]]*(;|$)) ]] || fail "Cache-Status '$cs' says stored"
}

# assert_lifetime L: the object's freshness lifetime as the last response shows it, ttl= of Cache-Status
# plus Age, is L (within rounding: L-2..L+1). Unlike a bound on ttl alone, this holds however long a
# loaded machine took between storing the object and this request.
assert_lifetime() {
    local ttl age
    ttl=$(cache_ttl)
    age=$(header Age)
    [[ $ttl =~ ^-?[0-9]+$ ]] || fail "Cache-Status '$(header Cache-Status)' has no ttl="
    [[ $age =~ ^[0-9]+$ ]] || fail "Age '$age' is not a number"
    ((ttl + age >= $1 - 2 && ttl + age <= $1 + 1)) ||
        fail "lifetime ttl=$ttl + Age=$age = $((ttl + age)), expected $1 (-2..+1)"
}

assert_ttl_between() { # LO HI: the Cache-Status ttl= of the last response
    local ttl
    ttl=$(cache_ttl)
    [[ $ttl =~ ^-?[0-9]+$ ]] || fail "Cache-Status '$(header Cache-Status)' has no ttl="
    ((ttl >= $1 && ttl <= $2)) || fail "Cache-Status ttl=$ttl, expected between $1 and $2"
}

assert_alive() { edge_alive || fail "edgecache is no longer running"; }

# Elapsed seconds as a decimal comparison: assert_time_between LO HI (uses TIME_TOTAL).
assert_time_between() {
    "$PYTHON" -c 'import sys; lo, hi, t = map(float, sys.argv[1:]); sys.exit(not lo <= t <= hi)' "$1" "$2" "$TIME_TOTAL" ||
        fail "elapsed ${TIME_TOTAL}s, expected between $1 and $2 s"
}

# raw_request PORT TIMEOUT < request bytes: sends stdin as is on one connection, prints the response
# bytes received until the server closes or TIMEOUT seconds pass. The exit status is 0 in both cases.
raw_request() {
    "$PYTHON" -c '
import socket, sys, time
port, timeout = int(sys.argv[1]), float(sys.argv[2])
data = sys.stdin.buffer.read()
s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
try:
    s.sendall(data)
except OSError:
    pass
out, end = b"", time.time() + timeout
while time.time() < end:
    s.settimeout(max(0.01, end - time.time()))
    try:
        b = s.recv(65536)
    except socket.timeout:
        break
    except OSError:
        break
    if not b:
        break
    out += b
sys.stdout.buffer.write(out)
' "$1" "$2"
}
