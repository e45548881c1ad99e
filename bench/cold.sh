#!/usr/bin/env bash
# bench/cold.sh: the cold miss alone, edgecache against nginx proxy_cache, with the caches on a directory
# of your choice (tmpfs by default), optionally under `perf record`; for profiling and A/B comparisons
# of the miss path, quicker than bench/run.sh (which measures the same cell among all the others).
#
# Method: an nginx origin serves /cold/... (the same 1 KB body under any query). nginx proxy_cache
# (worker_processes = --threads) and edgecache (threads: --threads), each with an empty cache under
# --cache-root, take turns (the order alternates per round) under wrk -t2 -c64 with a unique query per
# request (bench/wrk_scripts.sh "cold"). Each edgecache binary given with --edgecache (repeatable:
# A/B in one run, on the same machine state) gets its own fresh instance. Per run: req/s, the proxy's
# CPU seconds (utime+stime of its process tree), req/CPU-s, µs of CPU per miss, and for edgecache the
# writes its store dropped (edgecache_store_dropped_writes_total) and its writer's busy fraction.
# With --perf DIR, each edgecache's last round runs under `perf record -e cpu-clock -g` (the VM has no
# PMU; PERF_FLAGS="-F 999 --call-graph dwarf,8192" for user-space stacks, since the binaries keep no frame
# pointers), written to DIR/perf-<i>.data with reports DIR/perf-<i>.txt (self) and perf-<i>-children.txt.
#
# Usage: bench/cold.sh [--cache-root DIR] [--threads N] [--rounds N] [--duration S] [--edgecache PATH]...
#                      [--perf DIR] [--port BASE] [--keep]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/common.sh
. "$top/bench/common.sh"
# shellcheck source=bench/wrk_scripts.sh
. "$top/bench/wrk_scripts.sh"
root=/dev/shm threads=$(nproc) rounds=3 duration=5 perf_dir="" base=${BENCH_PORT:-18700} keep=0 bins=()
while [ $# -gt 0 ]; do
    case $1 in
    --cache-root) root=$2; shift ;;
    --threads) threads=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --edgecache) bins+=("$(realpath "$2")"); shift ;;
    --perf) perf_dir=$(realpath -m "$2"); shift ;;
    --port) base=$2; shift ;;
    --keep) keep=1 ;;
    -h | --help) sed -n '/^# Usage:/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "cold.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done
for n in "$threads" "$rounds" "$duration" "$base"; do is_uint "$n" && [ "$n" -gt 0 ] || die "'$n' is not a positive integer"; done
[ ${#bins[@]} -gt 0 ] || bins=("$top/build/edgecache")
edgecache=${bins[0]}
bench_init edgecache-cold
caches=$(mktemp -d "$root/edgecache-cold.XXXXXX")
trap 'bench_cleanup; rm -rf "$caches"' EXIT
chmod 755 "$caches"
bench_ports "$base" 4
p_origin=$base_port p_nginx=$((base_port + 1)) p_edge=$((base_port + 2)) p_admin=$((base_port + 3))
ulimit -n "$(ulimit -Hn)"
[ -n "$perf_dir" ] && mkdir -p "$perf_dir"

mkdir -p "$tmp/www"
head -c 1024 /dev/urandom >"$tmp/www/1k.bin"
bench_origin $p_origin '        add_header Cache-Control "max-age=3600";
        location /cold/ { rewrite ^ /1k.bin break; }'
wait_http origin "http://127.0.0.1:$p_origin/1k.bin"
mkdir -p "$tmp/lua"
write_wrk_scripts "$tmp/lua"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/admin.token"
d=$tmp/ngx
mkdir -p "$d" "$caches/ngx"
bench_nginx_proxy "$d" "$threads" "$caches/ngx" "$p_nginx" "$p_origin" "$tmp/logs/nginx-error.log"
bench_start nginx nginx -p "$d" -c "$d/nginx.conf" -e "$tmp/logs/nginx-error.log"
wait_http nginx "http://127.0.0.1:$p_nginx/cold/1k"

metric() { # NAME: a counter from the running edgecache's admin API
    curl -sf -H "Authorization: Bearer $(cat "$tmp/admin.token")" "http://127.0.0.1:$p_admin/metrics" |
        awk -v m="$1" '$1 == m { print $2 }'
}
start_edge() { # I: a fresh edgecache (binary I) with an empty cache
    rm -rf "$caches/edge"
    mkdir -p "$caches/edge"
    cat >"$tmp/edge.yaml" <<EOF
listen: ["127.0.0.1:$p_edge"]
threads: $threads
cache: {path: $caches/edge, max_size: 16G}
origin: http://127.0.0.1:$p_origin
admin: {listen: 127.0.0.1:$p_admin, token_file: $tmp/admin.token}
EOF
    bench_start edgecache "${bins[$1]}" serve -c "$tmp/edge.yaml"
    wait_http edgecache "http://127.0.0.1:$p_edge/cold/warm"
}
stop_edge() {
    kill -TERM "${pid_of[edgecache]}" 2>/dev/null || true
    wait "${pid_of[edgecache]}" 2>/dev/null || true
}
# run NAME PORT ROUND [PERF_OUT]: one wrk run; prints NAME req/s cpu-s req/CPU-s us/miss [dropped busy]
run() {
    local name=$1 port=$2 r=$3 kind=${1%%-*} pid c0 c1 d0 d1 b0 b1 t0 t1 ppid="" req secs cpu
    pid=${pid_of[$kind]}
    [ "$kind" = edgecache ] && d0=$(metric edgecache_store_dropped_writes_total) b0=$(metric edgecache_store_writer_busy_seconds_total)
    [ -n "${4:-}" ] && { perf record -q -e cpu-clock ${PERF_FLAGS:--g} -p "$pid" -o "$4" >/dev/null 2>&1 & ppid=$!; sleep 0.3; }
    c0=$(cpu_snap "$pid")
    t0=$(date +%s.%N)
    timeout -s INT $((duration + 20)) wrk -t2 -c64 -d"${duration}s" --timeout 10s -s "$tmp/lua/cold.lua" \
        "http://127.0.0.1:$port/cold/1k" -- "/cold/1k?k=" "$name-r$r-$RANDOM" >"$tmp/logs/run.out" 2>&1 || true
    t1=$(date +%s.%N)
    c1=$(cpu_snap "$pid")
    [ -n "$ppid" ] && { kill -INT "$ppid"; wait "$ppid" || true; }
    req=$(sed -n 's/^BENCH .*requests=\([0-9]*\).*/\1/p' "$tmp/logs/run.out")
    secs=$(sed -n 's/^BENCH .*duration_us=\([0-9]*\).*/\1/p' "$tmp/logs/run.out" | awk '{ print $1 / 1e6 }')
    cpu=$(cpu_secs "$c0" "$c1")
    local extra="" err
    err=$(sed -n 's/^BENCH .*sockerr=\([0-9]*\) status=\([0-9]*\).*/\1 \2/p' "$tmp/logs/run.out" | awk '{ print $1 + $2 }')
    [ "${err:-1}" = 0 ] || log "$name: errors or no answers: $(tr '\n' ' ' <"$tmp/logs/run.out" | cut -c1-300)"
    if [ "$kind" = edgecache ]; then
        sleep 0.5
        d1=$(metric edgecache_store_dropped_writes_total) b1=$(metric edgecache_store_writer_busy_seconds_total)
        extra=$(awk -v d0="$d0" -v d1="$d1" -v b0="$b0" -v b1="$b1" -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
            'BEGIN { printf " dropped=%d writer_busy=%.2f", d1 - d0, (b1 - b0) / t }')
    fi
    awk -v n="$name" -v r="$r" -v q="${req:-0}" -v s="${secs:-1}" -v c="$cpu" -v x="$extra" \
        'BEGIN { printf "%-14s round %d: %7.0f req/s  cpu %6.2f s  %7.0f req/CPU-s  %6.1f us/miss%s\n", n, r, q / s, c, (c > 0 ? q / c : 0), (q > 0 ? c * 1e6 / q : 0), x }'
}

log "caches in $caches ($(df --output=fstype "$caches" | tail -n 1)); $threads threads; $rounds x ${duration}s; edgecache: ${bins[*]}"
for ((r = 1; r <= rounds; r++)); do
    [ $((r % 2)) = 1 ] && run nginx $p_nginx "$r"
    for i in "${!bins[@]}"; do
        start_edge "$i"
        out=""
        [ -n "$perf_dir" ] && [ "$r" = "$rounds" ] && out=$perf_dir/perf-$i.data
        run "edgecache-$i" $p_edge "$r" "$out"
        stop_edge
    done
    [ $((r % 2)) = 0 ] && run nginx $p_nginx "$r"
done
if [ -n "$perf_dir" ]; then
    for i in "${!bins[@]}"; do
        [ -s "$perf_dir/perf-$i.data" ] || continue
        perf report -i "$perf_dir/perf-$i.data" --no-children --sort sym --stdio 2>/dev/null | grep -v '^$' | head -n 400 >"$perf_dir/perf-$i.txt" || true
        perf report -i "$perf_dir/perf-$i.data" --children --sort sym --stdio -g none 2>/dev/null | grep -v '^$' | head -n 200 >"$perf_dir/perf-$i-children.txt" || true
        log "profile of edgecache-$i: $perf_dir/perf-$i.txt (self), perf-$i-children.txt (inclusive)"
    done
fi
