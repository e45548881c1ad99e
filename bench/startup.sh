#!/usr/bin/env bash
# bench/startup.sh: how long edgecache takes to start on a cache of 1,000,000 small objects (issue 5).
#
# Method
#   - An nginx origin on 127.0.0.1 answers any /s/... path at once with the same small body
#     (`return 200`, --body bytes, default 200) and "Cache-Control: max-age=86400". Its access log has
#     one line per request: the origin's request count.
#   - edgecache (cache.max_size --max-size, default 4G, so nothing is evicted) is filled through its
#     client listener: wrk (-t2 -c32) with a Lua script that asks for /s/0 .. /s/N-1, each once, split
#     over the threads. Progress every 10 s. The fill ends when the origin has seen N requests and the
#     store (edgecache_store_objects on the admin API) holds them; dropped writes are reported.
#   - Memory after the fill: VmRSS and RssAnon, and the private RSS without the LMDB map (Private_Clean +
#     Private_Dirty over /proc/PID/smaps, the data.mdb mapping left out: its pages are file-backed page
#     cache, "private" there only because no other process maps them), when the store counts every object
#     and again 2.5 s later (the writer returns freed heap when idle, at most once a second). Issue 15's
#     target: under 64 MB after 1,000,000 objects.
#   - SIGTERM; the time to exit and the size of data.mdb (apparent and allocated).
#   - --runs restarts (default 5) with data.mdb in the page cache ("warm": a restart of the process),
#     then as many with data.mdb dropped from the page cache first ("cold", with posix_fadvise on that
#     file only: close to a reboot, though the kernel's own metadata stays cached). Each run times from
#     just before the fork+exec to the first answer "200, x-cache: HIT" for a random stored object,
#     polled every 10 ms on a fresh connection (bench/startup_probe.py); then reads the RSS, asks for
#     --sample random stored objects (default 1000) over one keep-alive connection, each of which must be
#     a HIT with no origin request, and sends SIGTERM.
#   - Output: bench/results/startup.md (figures, the command, the machine; --out to change it), also on
#     stdout. Progress goes to stderr. Exit 1 when a run had no HIT, a sampled object was not a HIT, or
#     the origin was asked anything after the fill. Timings are never asserted.
#
# Usage: bench/startup.sh [--objects N] [--runs N] [--sample N] [--body BYTES] [--max-size SIZE]
#                         [--threads N] [--fill-max S] [--edgecache PATH] [--port BASE] [--out FILE] [--keep]
set -euo pipefail

# ---------------------------------------------------------------------------------------- options
top=$(cd "$(dirname "$0")/.." && pwd)
objects=1000000 runs=5 sample=1000 body=200 max_size=4G threads=$(nproc) fill_max=1800 keep=0
edgecache=${EDGECACHE:-} base=${BENCH_PORT:-18500} out=$top/bench/results/startup.md
cmdline="bench/startup.sh $*"
usage() { sed -n '/^# Usage:/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
    --objects) objects=$2; shift ;;
    --runs) runs=$2; shift ;;
    --sample) sample=$2; shift ;;
    --body) body=$2; shift ;;
    --max-size) max_size=$2; shift ;;
    --threads) threads=$2; shift ;;
    --fill-max) fill_max=$2; shift ;;
    --edgecache) edgecache=$2; shift ;;
    --port) base=$2; shift ;;
    --out) out=$2; shift ;;
    --keep) keep=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "startup.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
. "$top/bench/common.sh"
for v in objects runs sample body threads fill_max base; do
    is_uint "${!v}" && [ "${!v}" -gt 0 ] || die "--${v/_/-} must be a positive integer"
done
[ "$body" -le 4000 ] || die "--body: at most 4000 bytes (an nginx return string)"
bench_init edgecache-startup
bench_ports "$base" 3
p_origin=$base_port p_edge=$((base_port + 1)) p_admin=$((base_port + 2))

# ------------------------------------------------------------------------------ origin and edge
body_text=$(head -c "$body" /dev/zero | tr '\0' x)
bench_origin $p_origin "        location /s/ { add_header Cache-Control \"max-age=86400\"; return 200 \"$body_text\"; }"
wait_http origin "http://127.0.0.1:$p_origin/s/probe"

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/admin.token"
cat >"$tmp/edgecache.yaml" <<EOF
listen: ["127.0.0.1:$p_edge"]
threads: $threads
cache: {path: $tmp/cache, max_size: $max_size}
origin: http://127.0.0.1:$p_origin
admin: {listen: 127.0.0.1:$p_admin, token_file: $tmp/admin.token}
EOF
"$edgecache" check -c "$tmp/edgecache.yaml" >/dev/null || die "edgecache refuses $tmp/edgecache.yaml"
bench_start edgecache "$edgecache" serve -c "$tmp/edgecache.yaml"
wait_http edgecache "http://127.0.0.1:$p_edge/s/h"
metric() { # NAME: a value from the admin API's /metrics
    curl -sf -H "Authorization: Bearer $(cat "$tmp/admin.token")" "http://127.0.0.1:$p_admin/metrics" |
        awk -v m="$1" '$1 == m { printf "%.0f\n", $2 }'
}
log "origin :$p_origin, edgecache :$p_edge (admin :$p_admin), $threads threads, max_size $max_size; temp $tmp"

# ------------------------------------------------------------------------------------------ fill
# Keys 0..N-1 split over the threads, each once; then /s/h (stored above) until the origin's count shows
# every key and this script stops wrk. The first call returns /s/h too: wrk calls request() once on
# thread 1 to check the script and drops what it returns, so no key is lost.
cat >"$tmp/fill.lua" <<'EOF'
local nthreads, first = 0, true
function setup(thread)
    nthreads = nthreads + 1
    thread:set("id", nthreads)
end
function init(args)
    local count, nt = tonumber(args[1]), tonumber(args[2])
    local per = math.ceil(count / nt)
    hit = wrk.format("GET", "/s/h")
    nxt = (id - 1) * per
    hi = math.min(count, nxt + per)
end
function request()
    if first or nxt >= hi then
        first = false
        return hit
    end
    nxt = nxt + 1
    return wrk.format("GET", "/s/" .. (nxt - 1))
end
EOF
o0=$(origin_count)
target=$((o0 + objects))
t0=$(date +%s.%N)
wrk -t2 -c32 -d"${fill_max}s" --timeout 10s -s "$tmp/fill.lua" "http://127.0.0.1:$p_edge/" -- "$objects" 2 \
    >"$tmp/logs/fill.out" 2>&1 &
wpid=$!
bench_track $wpid
last=$(date +%s) peak_backlog=0
while kill -0 $wpid 2>/dev/null; do
    sleep 0.5
    b=$(metric edgecache_store_backlog_bytes || true) # (what the writer has queued: the heap's high-water mark follows it)
    [ "${b:-0}" -gt $peak_backlog ] && peak_backlog=$b
    n=$(origin_count)
    [ "$n" -ge $target ] && { kill -INT $wpid 2>/dev/null || true; break; }
    now=$(date +%s)
    if [ $((now - last)) -ge 10 ]; then
        last=$now
        log "fill: $((n - o0)) / $objects objects ($(awk -v n=$((n - o0)) -v t0="$t0" -v t="$(date +%s.%N)" 'BEGIN { printf "%.0f", n / (t - t0) }') objects/s)"
    fi
done
wait $wpid 2>/dev/null || true
fill_s=$(awk -v t0="$t0" -v t="$(date +%s.%N)" 'BEGIN { printf "%.1f", t - t0 }')
filled=$(($(origin_count) - o0))
log "fill: the origin saw $filled requests for $objects objects in $fill_s s"
[ $filled -ge $objects ] || die "the fill stopped at $filled of $objects objects (--fill-max $fill_max s): see $tmp/logs/fill.out"
# The writer may still be committing: wait until the store counts every object (plus /s/h), at most 60 s.
for _ in $(seq 120); do
    stored=$(metric edgecache_store_objects)
    [ "${stored:-0}" -ge $((objects + 1)) ] && break
    sleep 0.5
done
stored=$(metric edgecache_store_objects) dropped=$(metric edgecache_store_dropped_writes_total)
store_bytes=$(metric edgecache_store_bytes)
committed_s=$(awk -v t0="$t0" -v t="$(date +%s.%N)" 'BEGIN { printf "%.1f", t - t0 }')
rss_filled=$(status_kb VmRSS "${pid_of[edgecache]}") anon_filled=$(status_kb RssAnon "${pid_of[edgecache]}")
private_filled=$(private_kb "${pid_of[edgecache]}" /data.mdb)
# the writer gives freed heap back at most once a second, when idle: read the private RSS again after that
sleep 2.5
private_settled=$(private_kb "${pid_of[edgecache]}" /data.mdb)
log "store: $stored objects, $store_bytes bytes in use, $dropped dropped writes; RSS ${rss_filled} kB (anon $anon_filled kB)," \
    "private RSS without data.mdb $private_filled kB, $private_settled kB 2.5 s later; peak backlog seen $peak_backlog bytes"
[ "$stored" -ge $((objects + 1)) ] || log "warning: the store holds $stored objects, not $((objects + 1))"

t1=$(date +%s.%N)
kill -TERM "${pid_of[edgecache]}"
wait "${pid_of[edgecache]}" || die "edgecache exited with $? on SIGTERM after the fill"
stop_s=$(awk -v t0="$t1" -v t="$(date +%s.%N)" 'BEGIN { printf "%.2f", t - t0 }')
mdb_apparent=$(stat -c %s "$tmp/cache/data.mdb") mdb_alloc=$(($(stat -c %b "$tmp/cache/data.mdb") * $(stat -c %B "$tmp/cache/data.mdb")))
log "stopped in $stop_s s; data.mdb: $mdb_apparent bytes ($mdb_alloc allocated)"

# ------------------------------------------------------------------------------------- restarts
probe() { # LABEL [--cold FILE]
    local label=$1
    shift
    python3 "$top/bench/startup_probe.py" --edgecache "$edgecache" --config "$tmp/edgecache.yaml" --port $p_edge \
        --prefix /s/ --objects "$objects" --runs "$runs" --sample "$sample" --origin-log "$origin_log" \
        --log "$tmp/logs/restarts.log" --label "$label" --seed $((RANDOM + 1)) "$@"
}
status=0
warm_table=$(probe warm) || status=1
cold_table=$(probe cold --cold "$tmp/cache/data.mdb") || status=1
after=$(($(origin_count) - o0 - filled))

thousands() { echo "$1" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta'; }
median_of() { echo "$1" | sed -n 's/^| \*\*median\*\* | \*\*\([^*]*\)\*\*.*/\1/p'; } # a probe table's median start
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
{
    echo "# edgecache start-up on a cache of $(thousands "$objects") small objects"
    echo
    echo "\`$cmdline\` (bench/startup.sh; method in its header and in bench/README.md)"
    echo
    bench_machine
    echo "- edgecache: $threads event loops, \`cache.max_size: $max_size\`; objects of $body bytes" \
        "(\`Cache-Control: max-age=86400\`) from an nginx origin, all on 127.0.0.1"
    echo
    echo "## Fill"
    echo
    echo "- $(thousands "$filled") origin requests for $(thousands "$objects") distinct objects in $fill_s s" \
        "($(awk -v n="$filled" -v s="$fill_s" 'BEGIN { printf "%.0f", n / s }') objects/s, wrk -t2 -c32 through the edge);" \
        "the store counted them all after $committed_s s"
    echo "- store: $stored objects (the $objects plus the fill's idle path), $(mb "$store_bytes") of pages in use," \
        "$dropped dropped writes; edgecache RSS after the fill $(mb $((rss_filled * 1024))) ($(mb $((anon_filled * 1024))) anon)"
    echo "- private RSS after the fill (Private_Clean + Private_Dirty from /proc/PID/smaps, without the data.mdb" \
        "mapping): $(mb $((private_filled * 1024))) when the store counted every object, $(mb $((private_settled * 1024)))" \
        "2.5 s later (the writer returns freed heap to the kernel when idle, at most once a second); the writer's" \
        "backlog peaked at $(mb "$peak_backlog") or more (edgecache_store_backlog_bytes, sampled every 0.5 s during the fill)"
    echo "- SIGTERM after the fill → exit: $stop_s s"
    echo "- data.mdb: $(mb "$mdb_apparent") apparent, $(mb "$mdb_alloc") allocated on disk ($(awk -v b="$mdb_apparent" -v n="$stored" 'BEGIN { printf "%.0f", b / n }') bytes per object)"
    echo
    echo "## Restarts with data.mdb in the page cache (a restart of the process)"
    echo
    echo "$warm_table"
    echo
    echo "## Restarts with data.mdb dropped from the page cache first (closer to a start after a reboot)"
    echo
    echo "$cold_table"
    echo
    echo "\"exec → first HIT\": from just before the fork+exec of \`edgecache serve\` to the first answer" \
        "\"200, x-cache: HIT\" for a random stored object, polled every 10 ms on a fresh connection (\"polls\")." \
        "Each run then asked for $sample random stored objects over one keep-alive connection." \
        "The origin received $after requests after the fill, over all $((2 * runs)) restarts (want 0)."
    echo
    echo "## Reading"
    echo
    echo "- Target: a restart under one second. Medians: $(median_of "$warm_table") with data.mdb in the page cache," \
        "$(median_of "$cold_table") with it dropped first."
    echo "- Start-up reads nothing in proportion to the store: it maps data.mdb ($(mb "$mdb_apparent")) and the first" \
        "HIT's lookup reads only the pages it touches, so the RSS at the first HIT stays at a few MB. Without" \
        "the page cache, the start is the disk reads of that lookup's pages (B-tree path, leaf)."
    echo "- The RSS after the sample is mostly file-backed (the private part, anon, is in brackets): mapped pages of" \
        "data.mdb, more than $sample lookups read themselves, likely the neighbours the kernel maps around each fault" \
        "(warm) or reads ahead (cold); not measured further. It is not memory edgecache allocated."
} >"$tmp/startup.md"
mkdir -p "$(dirname "$out")"
cp "$tmp/startup.md" "$out"
cat "$out"
[ $after = 0 ] || status=1
exit $status
