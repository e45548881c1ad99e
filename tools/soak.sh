#!/usr/bin/env bash
# tools/soak.sh: a chaos soak of the real edgecache, bounded in time, on 127.0.0.1 only.
#
# It starts the edge (a 16M cache, so it evicts) in front of tools/soak_origin.py (an origin that
# flaps, resets bodies, and changes them over time), runs tools/soak_load.py against it (client threads
# with Range, HEAD and Accept-Language variants, and a purger: url, prefix, soft) and, every minute,
# kills the edge with SIGKILL and restarts it on the same cache directory and port. Every response is
# judged by its body (see tools/soak_common.py); the summary table is printed and written to
# build/soak-summary.md, and the run's logs stay in build/soak-run/.
#
# Invariant: whatever happens (an error, ^C, the watchdog), every process this script started is gone
# when it exits, and it exits within DURATION + 180 s. Exit status: 0 no violation and no edge exit of
# its own; 1 otherwise; 2 a usage error.
#
# Usage: tools/soak.sh [--duration S] [--edgecache PATH] [--clients N] [--urls N] [--restart-every S]
set -Eeuo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
DURATION=600
EDGECACHE=$TOP/build/edgecache
CLIENTS=4
URLS=300
RESTART_EVERY=60
usage() {
    sed -n '/^# Usage:/s/^# //p' "$0" >&2
    exit 2
}
while (($#)); do
    case $1 in
    --duration) DURATION=${2:-}; shift 2 || usage ;;
    --edgecache) EDGECACHE=${2:-}; shift 2 || usage ;;
    --clients) CLIENTS=${2:-}; shift 2 || usage ;;
    --urls) URLS=${2:-}; shift 2 || usage ;;
    --restart-every) RESTART_EVERY=${2:-}; shift 2 || usage ;;
    -h | --help) usage ;;
    *) echo "soak: unknown argument $1" >&2; usage ;;
    esac
done
for v in DURATION CLIENTS URLS RESTART_EVERY; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "soak: $v must be a whole number" >&2; exit 2; }
done
((DURATION >= 20 && DURATION <= 7200)) || { echo "soak: --duration must be 20..7200 s" >&2; exit 2; }
((CLIENTS >= 1 && CLIENTS <= 32)) || { echo "soak: --clients must be 1..32" >&2; exit 2; }
((URLS >= 10 && URLS <= 5000)) || { echo "soak: --urls must be 10..5000" >&2; exit 2; }
((RESTART_EVERY >= 10)) || { echo "soak: --restart-every must be >= 10 s" >&2; exit 2; }
[[ -x $EDGECACHE ]] || { echo "soak: no binary at $EDGECACHE (sh tools/build.sh build)" >&2; exit 2; }
EDGECACHE=$(cd "$(dirname "$EDGECACHE")" && pwd)/$(basename "$EDGECACHE")
PYTHON=$(python3 -c 'import sys; print(sys.executable)')
command -v curl >/dev/null || { echo "soak: curl is required" >&2; exit 2; }

D=$TOP/build/soak-run
rm -rf "$D"
mkdir -p "$D"
PIDS=()
EDGE_PID=
LIFE=0

now() { date +%s.%N; }

# shellcheck disable=SC2317  # (called by the EXIT trap)
cleanup() {
    local rc=$? pid i
    trap - EXIT ERR INT TERM
    for pid in ${EDGE_PID:+"$EDGE_PID"} "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in ${EDGE_PID:+"$EDGE_PID"} "${PIDS[@]}"; do
        for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'echo "soak: stopped by the watchdog or a signal" >&2; exit 124' TERM
trap 'echo "soak: line $LINENO: command failed: $BASH_COMMAND" >&2' ERR

# The watchdog: whatever hangs, this script is told to stop DURATION + 180 s after it started.
"$PYTHON" -c '
import os, sys, time
parent, end = int(sys.argv[1]), time.time() + float(sys.argv[2])
while time.time() < end:
    time.sleep(0.5)
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        sys.exit(0)
os.kill(parent, 15)
' $$ $((DURATION + 180)) &
PIDS+=($!)

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_file() { # FILE SECONDS
    local i
    for ((i = 0; i < $2 * 20; i++)); do [[ -s $1 ]] && return 0; sleep 0.05; done
    echo "soak: $1 did not appear" >&2
    return 1
}

"$PYTHON" "$TOP/tools/soak_origin.py" --urls "$URLS" --port-file "$D/origin.port" \
    --control-port-file "$D/control.port" --log "$D/origin.jsonl" --parent-pid $$ 2>"$D/origin.err" &
PIDS+=($!)
wait_file "$D/origin.port" 10
ORIGIN_PORT=$(<"$D/origin.port")
CONTROL_PORT=$(<"$D/control.port")
EDGE_PORT=$(free_port)
ADMIN_PORT=$(free_port)
TOKEN="soak-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$TOKEN" >"$D/admin.token"
cat >"$D/edge.yaml" <<EOF
listen: 127.0.0.1:$EDGE_PORT
threads: 2
cache: {path: $D/cache, max_size: 16M}
origins:
  default:
    servers: [http://127.0.0.1:$ORIGIN_PORT]
    connect_timeout: 2s
    connect_attempts: 2
    read_timeout: 5s
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
access_log: $D/access.log
EOF
"$EDGECACHE" check -c "$D/edge.yaml" >"$D/check.out" 2>&1 || { cat "$D/check.out" >&2; exit 2; }

AUTH="Authorization: Bearer $TOKEN"
healthy() { curl -s --max-time 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/healthz" | grep -q 200; }

start_edge() {
    local i
    LIFE=$((LIFE + 1))
    echo "=== soak: edge life $LIFE starts at $(now)" >>"$D/edge.log"
    "$EDGECACHE" serve -c "$D/edge.yaml" >>"$D/edge.log" 2>&1 &
    EDGE_PID=$!
    for ((i = 0; i < 400; i++)); do
        healthy && { echo "up $(now)" >>"$D/restarts.log"; return 0; }
        kill -0 "$EDGE_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "soak: the edge (life $LIFE) did not come up; last lines of its log:" >&2
    tail -n 20 "$D/edge.log" >&2
    return 1
}

scrape() { # keeps the last complete scrape of this edge's life: its counters die with it
    if curl -s --max-time 2 -H "$AUTH" "http://127.0.0.1:$ADMIN_PORT/metrics" >"$D/metrics.tmp" 2>/dev/null &&
        grep -q '^edgecache_store_evictions_total' "$D/metrics.tmp"; then
        mv "$D/metrics.tmp" "$D/metrics.$LIFE.txt"
    fi
}

: >"$D/restarts.log"
start_edge
echo "soak: edge on 127.0.0.1:$EDGE_PORT (admin $ADMIN_PORT), origin $ORIGIN_PORT, ${DURATION}s, logs in $D"

"$PYTHON" "$TOP/tools/soak_load.py" --edge-port "$EDGE_PORT" --admin-port "$ADMIN_PORT" \
    --token-file "$D/admin.token" --control-port "$CONTROL_PORT" --out "$D" --urls "$URLS" \
    --clients "$CLIENTS" --duration "$DURATION" >"$D/load.out" 2>"$D/load.err" &
LOAD_PID=$!
PIDS+=("$LOAD_PID")

START=$SECONDS
next_kill=$((START + RESTART_EVERY))
next_scrape=$SECONDS
while kill -0 "$LOAD_PID" 2>/dev/null; do
    if ! kill -0 "$EDGE_PID" 2>/dev/null; then
        rc=0
        wait "$EDGE_PID" || rc=$?
        echo "exited $(now) status $rc (life $LIFE)" >>"$D/restarts.log"
        echo "soak: the edge exited by itself (status $rc, life $LIFE); restarting it" >&2
        tail -n 20 "$D/edge.log" >&2
        start_edge
    fi
    if ((SECONDS >= next_scrape)); then
        scrape
        next_scrape=$((SECONDS + 5))
    fi
    # no kill in the last 15 s: the run ends on an edge that has been up a while
    if ((SECONDS >= next_kill && SECONDS < START + DURATION - 15)); then
        scrape
        echo "kill $(now)" >>"$D/restarts.log"
        kill -KILL "$EDGE_PID"
        wait "$EDGE_PID" 2>/dev/null || true
        echo "=== soak: edge life $LIFE killed (SIGKILL) at $(now)" >>"$D/edge.log"
        start_edge
        next_kill=$((SECONDS + RESTART_EVERY))
    fi
    sleep 0.2
done
wait "$LOAD_PID" || echo "soak: soak_load.py failed (see $D/load.err)" >&2
scrape
curl -s --max-time 5 "http://127.0.0.1:$CONTROL_PORT/stats" >"$D/origin-stats.json" || true

# A clean stop: SIGTERM, exit status 0 within 30 s.
kill -TERM "$EDGE_PID"
stop_rc=timeout
for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$EDGE_PID" 2>/dev/null; then
        stop_rc=0
        wait "$EDGE_PID" || stop_rc=$?
        break
    fi
    sleep 0.1
done
EDGE_PID=
echo "SIGTERM: exit status $stop_rc" >"$D/edge-stop.txt"
[[ -s $D/load.err ]] && { echo "--- soak_load.py stderr ---" >&2; tail -n 20 "$D/load.err" >&2; }

rc=0
"$PYTHON" "$TOP/tools/soak_report.py" "$D" "$TOP/build/soak-summary.md" "$DURATION" || rc=$?
[[ $stop_rc == 0 ]] || rc=1
if [[ -s $D/violations.jsonl ]]; then
    echo "--- first violations ($D/violations.jsonl) ---" >&2
    head -n 5 "$D/violations.jsonl" >&2
fi
echo "soak: summary in $TOP/build/soak-summary.md, logs in $D"
exit "$rc"
