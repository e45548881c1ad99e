#!/usr/bin/env bash
# bench/eviction.sh: how close edgecache's eviction comes to exact LRU (issue 5).
#
# Method
#   - A Zipf trace (bench/eviction.py trace): --requests (default 200,000) over --objects distinct objects
#     (20,000) of --size bytes (8 KB), exponent --alpha (0.9), seeded (--seed 1): the same trace each run.
#   - An nginx origin on 127.0.0.1 answers /e/N with the same --size body and "Cache-Control:
#     max-age=86400"; its access log counts the origin requests. /x/ answers 204 (no-store): the load
#     generator's idle requests once the trace is done, never counted.
#   - The budget: edgecache evicts on map pages (above 85 % of cache.max_size, down to 70 %), and an
#     object costs more pages than its body (the record's headers, overflow pages, the url/atime/lru
#     indexes). So a calibration edge first stores 1,000 objects of the same size and the script reads
#     the bytes per object from edgecache_store_bytes; then cache.max_size = --share (0.2) × objects ×
#     bytes per object / 0.775 (the middle of 70-85 %). --max-size skips the calibration.
#   - The replay: a fresh edge with that budget; wrk -t1 -c8 (one thread, so the 8 connections take the
#     trace's requests in order) with a Lua script reading the trace, paced by a delay per request so that
#     the replay lasts about --duration seconds (240): the one-second steps of edgecache's use order need
#     time to pass. Every 0.25 s the admin API's /metrics gives edgecache_store_objects and
#     edgecache_store_evictions_total.
#   - Hits = trace requests − origin requests for /e/ (wrk also counts `x-cache: HIT` answers, as a
#     check). bench/eviction.py report then simulates, on the same trace and cold-started like the edge,
#     exact LRU, FIFO and random eviction with a capacity equal to the mean number of objects edgecache held
#     after its first eviction, and two models of edgecache's policy that split the gap (see its header).
#   - Output: bench/results/eviction.md (--out to change it), also on stdout; progress on stderr.
#     Exit 1 when a request failed. Hit ratios are never asserted.
#
# Usage: bench/eviction.sh [--requests N] [--objects N] [--size BYTES] [--alpha A] [--seed S] [--share F]
#                          [--max-size SIZE] [--duration S] [--conns N] [--threads N] [--edgecache PATH]
#                          [--port BASE] [--out FILE] [--keep]
set -euo pipefail

# ---------------------------------------------------------------------------------------- options
top=$(cd "$(dirname "$0")/.." && pwd)
requests=200000 objects=20000 size=8192 alpha=0.9 seed=1 share=0.2 max_size="" duration=240 conns=8
threads=$(nproc) keep=0 edgecache=${EDGECACHE:-} base=${BENCH_PORT:-18600} out=$top/bench/results/eviction.md
cmdline="bench/eviction.sh $*"
usage() { sed -n '/^# Usage:/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
    --requests) requests=$2; shift ;;
    --objects) objects=$2; shift ;;
    --size) size=$2; shift ;;
    --alpha) alpha=$2; shift ;;
    --seed) seed=$2; shift ;;
    --share) share=$2; shift ;;
    --max-size) max_size=$2; shift ;;
    --duration) duration=$2; shift ;;
    --conns) conns=$2; shift ;;
    --threads) threads=$2; shift ;;
    --edgecache) edgecache=$2; shift ;;
    --port) base=$2; shift ;;
    --out) out=$2; shift ;;
    --keep) keep=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "eviction.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
. "$top/bench/common.sh"
for v in requests objects size seed duration conns threads base; do
    is_uint "${!v}" && [ "${!v}" -gt 0 ] || die "--$v must be a positive integer"
done
bench_init edgecache-eviction
bench_ports "$base" 3
p_origin=$base_port p_edge=$((base_port + 1)) p_admin=$((base_port + 2))

# --------------------------------------------------------------------------------- trace, origin
python3 "$top/bench/eviction.py" trace --requests "$requests" --objects "$objects" --alpha "$alpha" --seed "$seed" \
    --prefix /e/ >"$tmp/trace.txt"
log "trace: $requests requests, $(sort -u "$tmp/trace.txt" | wc -l) distinct of $objects objects (alpha $alpha, seed $seed)"
mkdir -p "$tmp/www"
head -c "$size" /dev/urandom >"$tmp/www/obj"
bench_origin $p_origin "        location /e/ { add_header Cache-Control \"max-age=86400\"; rewrite ^ /obj break; }
        location /cal/ { add_header Cache-Control \"max-age=86400\"; rewrite ^ /obj break; }
        location /x/ { add_header Cache-Control \"no-store\"; return 204; }"
wait_http origin "http://127.0.0.1:$p_origin/e/0"
: >"$origin_log"

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/admin.token"
edge_conf() { # DIR MAX_SIZE
    cat >"$tmp/edgecache.yaml" <<EOF
listen: ["127.0.0.1:$p_edge"]
threads: $threads
cache: {path: $1, max_size: $2}
origin: http://127.0.0.1:$p_origin
admin: {listen: 127.0.0.1:$p_admin, token_file: $tmp/admin.token}
EOF
    "$edgecache" check -c "$tmp/edgecache.yaml" >/dev/null || die "edgecache refuses $tmp/edgecache.yaml"
}
metrics() { # the three store figures this script reads, on one line: objects evictions bytes
    curl -sf --max-time 2 -H "Authorization: Bearer $(cat "$tmp/admin.token")" "http://127.0.0.1:$p_admin/metrics" |
        awk '$1 == "edgecache_store_objects" { o = $2 } $1 == "edgecache_store_evictions_total" { e = $2 }
             $1 == "edgecache_store_bytes" { b = $2 } END { printf "%.0f %.0f %.0f\n", o, e, b }'
}
stop_edge() {
    kill -TERM "${pid_of[edgecache]}"
    wait "${pid_of[edgecache]}" || die "edgecache exited with $? on SIGTERM"
}

# ----------------------------------------------------------------------------------- calibration
if [ -z "$max_size" ]; then
    edge_conf "$tmp/cal" 1G
    bench_start edgecache "$edgecache" serve -c "$tmp/edgecache.yaml"
    wait_http edgecache "http://127.0.0.1:$p_admin/healthz"
    read -r _ _ b0 < <(metrics)
    for i in $(seq 0 999); do printf 'url = "http://127.0.0.1:%s/cal/%s"\noutput = /dev/null\n' $p_edge "$i"; done >"$tmp/cal.cfg"
    curl -s -K "$tmp/cal.cfg"
    for _ in $(seq 50); do
        read -r o _ b1 < <(metrics)
        [ "$o" -ge 1000 ] && break
        sleep 0.2
    done
    stop_edge
    per_object=$(((b1 - b0) / 1000))
    max_size=$(awk -v s="$share" -v n="$objects" -v p="$per_object" 'BEGIN { printf "%.0fK", s * n * p / 0.775 / 1024 }')
    log "calibration: $per_object bytes of map per object of $size bytes; cache.max_size $max_size"
    sizing="calibrated: 1,000 objects of $size bytes took $per_object bytes of map each, so \`cache.max_size\` = $share × $objects × $per_object / 0.775 = $max_size"
else
    sizing="given (--max-size)"
fi
: >"$origin_log"

# ---------------------------------------------------------------------------------------- replay
edge_conf "$tmp/cache" "$max_size"
bench_start edgecache "$edgecache" serve -c "$tmp/edgecache.yaml"
wait_http edgecache "http://127.0.0.1:$p_admin/healthz"
curl -sf -o /dev/null "http://127.0.0.1:$p_edge/x/warm" || true
: >"$origin_log"

# One thread: its connections take the trace's requests in trace order. The first call returns the
# idle request: wrk calls request() once to check the script and drops what it returns.
cat >"$tmp/trace.lua" <<'EOF'
local reqs, n, nxt, answered, hits, first = {}, 0, 0, 0, 0, true
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
    for line in io.lines(args[1]) do
        n = n + 1
        reqs[n] = wrk.format("GET", line)
    end
    pause, marker = tonumber(args[2]), args[3]
    idle = wrk.format("GET", "/x/idle")
end
function delay() return pause end
function request()
    if first or nxt >= n then
        first = false
        return idle
    end
    nxt = nxt + 1
    return reqs[nxt]
end
function response(status, headers, body)
    if status == 204 then return end
    answered = answered + 1
    if headers["x-cache"] == "HIT" then hits = hits + 1 end
    if status ~= 200 then bad = (bad or 0) + 1 end
    wrk.thread:set("answered", answered)
    wrk.thread:set("hits", hits)
    wrk.thread:set("bad", bad or 0)
    if answered == n then -- the trace is done: tell the script, which stops wrk (its main thread sleeps for -d)
        local f = io.open(marker, "w")
        f:write("done\n")
        f:close()
        wrk.thread:stop()
    end
end
function done(summary, latency, requests)
    local a, h, b = 0, 0, 0
    for _, t in ipairs(threads) do
        a = a + (t:get("answered") or 0); h = h + (t:get("hits") or 0); b = b + (t:get("bad") or 0)
    end
    io.write(string.format("TRACE answered=%d hits=%d bad=%d sockerr=%d p99_us=%.0f\n", a, h, b,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
        latency:percentile(99)))
end
EOF
# The delay per request on each connection so that the replay lasts about --duration seconds.
pause=$((duration * 1000 * conns / requests))
[ $pause -ge 1 ] || pause=1
log "replay: wrk -t1 -c$conns, $pause ms between the requests of each connection (about $duration s)"
samples=$tmp/samples.txt
(
    while :; do
        echo "$(date +%s.%N) $(metrics)"
        sleep 0.25
    done
) >"$samples" 2>/dev/null &
bench_track $!
sampler=$!
t0=$(date +%s.%N)
wrk -t1 -c"$conns" -d$((duration * 3))s --timeout 10s -s "$tmp/trace.lua" \
    "http://127.0.0.1:$p_edge/" -- "$tmp/trace.txt" "$pause" "$tmp/trace.done" >"$tmp/logs/wrk.out" 2>&1 &
wpid=$!
bench_track $wpid
last=$(date +%s)
while kill -0 $wpid 2>/dev/null; do
    sleep 0.2
    [ -e "$tmp/trace.done" ] && { kill -INT $wpid 2>/dev/null || true; break; }
    now=$(date +%s)
    if [ $((now - last)) -ge 30 ]; then
        last=$now
        log "replay: $(origin_count /e/) origin requests so far; store: $(tail -n 1 "$samples" | cut -d' ' -f2-) (objects evictions bytes)"
    fi
done
wait $wpid 2>/dev/null || true
secs=$(awk -v t0="$t0" -v t="$(date +%s.%N)" 'BEGIN { printf "%.1f", t - t0 }')
sleep 1.5
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
line=$(grep '^TRACE ' "$tmp/logs/wrk.out") || die "wrk failed: $(tr '\n' ' ' <"$tmp/logs/wrk.out" | cut -c1-300)"
kv() { echo "$line" | sed -n 's/.*\b'"$1"'=\([0-9]*\).*/\1/p'; }
answered=$(kv answered) wrk_hits=$(kv hits) bad=$(kv bad) sockerr=$(kv sockerr)
origin=$(origin_count /e/)
hits=$((requests - origin))
log "replay: $secs s, $answered answers ($wrk_hits x-cache HIT, $bad not 200, $sockerr socket errors); origin $origin requests for /e/"
grep -h 'evicted' "$tmp/logs/edgecache.log" | tail -n 3 >&2 || true
stop_edge

report=$(python3 "$top/bench/eviction.py" report --trace "$tmp/trace.txt" --samples "$samples" --objects "$objects" \
    --origin "$origin" --edge-hits "$hits" --wrk-hits "$wrk_hits" --duration "$secs")
{
    echo "# edgecache eviction against exact LRU, FIFO and random eviction"
    echo
    echo "\`$cmdline\` (bench/eviction.sh; method in its header and in bench/README.md)"
    echo
    bench_machine
    echo "- trace: $requests requests, Zipf alpha $alpha over $objects objects of $size bytes, seed $seed;" \
        "replayed in $secs s by wrk -t1 -c$conns ($pause ms between the requests of a connection), $threads edgecache loops"
    echo "- budget: \`cache.max_size: $max_size\`, $sizing"
    echo "- answers: $answered of $requests ($bad not 200, $sockerr socket errors)"
    echo
    echo "$report"
} >"$tmp/eviction.md"
mkdir -p "$(dirname "$out")"
cp "$tmp/eviction.md" "$out"
cat "$out"
[ "$answered" = "$requests" ] && [ "$bad" = 0 ] && [ "$sockerr" = 0 ] || exit 1
