#!/usr/bin/env bash
# bench/zipf_tail.sh: the Zipf cell of bench/run.sh alone, repeated, for the tail latency (issue 15 part 3).
#
# The same set-up as run.sh's Zipf cell: an nginx origin serving N distinct 4 KB objects /z/0../z/N-1, nginx
# proxy_cache (worker_processes = loops) and edgecache in front of it, each filled once and checked to add 0
# origin requests on a second pass. Then ROUNDS rounds, each one wrk -t2 -c64 run of D seconds per proxy (the
# order alternating per round) with run.sh's Zipf(0.99) script. Each run prints p50, p99, req/s, the proxy's
# CPU seconds (utime+stime of its process tree) and req/CPU-s; for edgecache also how the connections of the
# run fell over its loops (from the lag histograms' sample counts the loops are told apart, not the
# connections: see --accept below) and the loop-lag histogram's count above 1 ms. At the end, the medians and
# the spread (min..max) of p99 and req/CPU-s, and their ratios edgecache/nginx.
#
# With --baseline PATH, a second edgecache (that binary, its own cache, filled the same way) runs beside the
# first as "baseline", in the same rounds: a before/after comparison on a machine whose load varies.
#
# Usage: bench/zipf_tail.sh [--rounds R] [--duration D] [--objects N] [--threads T] [--edgecache PATH]
#                           [--baseline PATH] [--port BASE] [--keep] [--perf-edge CMD]
#   --perf-edge CMD: run "CMD PID" (e.g. "perf sched record -p") against edgecache during its first run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/wrk_scripts.sh
. "$top/bench/wrk_scripts.sh"
rounds=5 duration=10 n_zipf=10000 threads=2 keep=0 base_port=18700 edgecache=$top/build/edgecache perf_edge="" baseline=""
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --objects) n_zipf=$2; shift ;;
    --threads) threads=$2; shift ;;
    --edgecache) edgecache=$2; shift ;;
    --port) base_port=$2; shift ;;
    --perf-edge) perf_edge=$2; shift ;;
    --baseline) baseline=$2; shift ;;
    --keep) keep=1 ;;
    *) echo "zipf_tail.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done
export PATH=$PATH:/usr/sbin:/sbin
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
tmp=$(mktemp -d /tmp/edgecache-zipf.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
    set +e
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ $keep = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
p_origin=$base_port p_nginx=$((base_port + 1)) p_edge=$((base_port + 2)) p_admin=$((base_port + 3)) p_base=$((base_port + 4)) p_base_admin=$((base_port + 5))
mkdir -p "$tmp"/{www/z,logs,ngx-origin,ngx-proxy/cache,edge-cache,base-cache,lua}
python3 - "$tmp/www/z" "$n_zipf" <<'EOF'
import os, sys
for i in range(int(sys.argv[2])):
    with open(os.path.join(sys.argv[1], str(i)), "wb") as f:
        f.write(os.urandom(4096))
EOF
user=""
[ "$(id -u)" = 0 ] && user="user www-data;" && chown -R www-data "$tmp/ngx-proxy/cache"
cat >"$tmp/ngx-origin/nginx.conf" <<EOF
$user
daemon off; worker_processes 1; pid $tmp/ngx-origin/nginx.pid; error_log $tmp/logs/origin-error.log warn;
events { worker_connections 8192; }
http {
    log_format tiny '\$request_uri'; access_log $tmp/logs/origin-access.log tiny;
    client_body_temp_path $tmp/ngx-origin/body; proxy_temp_path $tmp/ngx-origin/proxy;
    fastcgi_temp_path $tmp/ngx-origin/fcgi; uwsgi_temp_path $tmp/ngx-origin/uwsgi; scgi_temp_path $tmp/ngx-origin/scgi;
    default_type application/octet-stream; sendfile on; keepalive_requests 1000000; open_file_cache max=20000;
    server { listen 127.0.0.1:$p_origin; root $tmp/www; add_header Cache-Control "max-age=3600"; }
}
EOF
cat >"$tmp/ngx-proxy/nginx.conf" <<EOF
$user
daemon off; worker_processes $threads; pid $tmp/ngx-proxy/nginx.pid; error_log $tmp/logs/nginx-error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $tmp/ngx-proxy/body; proxy_temp_path $tmp/ngx-proxy/proxy;
    fastcgi_temp_path $tmp/ngx-proxy/fcgi; uwsgi_temp_path $tmp/ngx-proxy/uwsgi; scgi_temp_path $tmp/ngx-proxy/scgi;
    sendfile on; tcp_nopush on; keepalive_requests 1000000;
    proxy_cache_path $tmp/ngx-proxy/cache levels=1:2 keys_zone=bench:16m max_size=50g inactive=1d use_temp_path=off;
    upstream origin { server 127.0.0.1:$p_origin; keepalive 64; }
    server {
        listen 127.0.0.1:$p_nginx;
        location / {
            proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";
            proxy_cache bench; proxy_cache_key \$request_uri; proxy_cache_lock on;
        }
    }
}
EOF
head -c 24 /dev/urandom | base64 >"$tmp/token"
cat >"$tmp/edgecache.yaml" <<EOF
listen:
  - {address: 127.0.0.1, port: $p_edge}
threads: $threads
cache: {path: $tmp/edge-cache, max_size: 16G}
origin: http://127.0.0.1:$p_origin
admin: {listen: 127.0.0.1:$p_admin, token_file: $tmp/token}
EOF
sed -e "s/port: $p_edge/port: $p_base/" -e "s#$tmp/edge-cache#$tmp/base-cache#" -e "s/:$p_admin,/:$p_base_admin,/" \
    "$tmp/edgecache.yaml" >"$tmp/baseline.yaml"
declare -A pid_of
start() { local n=$1; shift; "$@" >"$tmp/logs/$n.log" 2>&1 & pids+=($!); pid_of[$n]=$!; }
start origin nginx -p "$tmp/ngx-origin" -c "$tmp/ngx-origin/nginx.conf" -e "$tmp/logs/origin-error.log"
start nginx nginx -p "$tmp/ngx-proxy" -c "$tmp/ngx-proxy/nginx.conf" -e "$tmp/logs/nginx-error.log"
start edgecache "$edgecache" serve -c "$tmp/edgecache.yaml"
proxies="nginx edgecache"
if [ -n "$baseline" ]; then
    start baseline "$baseline" serve -c "$tmp/baseline.yaml"
    proxies="nginx baseline edgecache"
fi
for u in "$p_origin/z/0" "$p_nginx/z/0" "$p_edge/z/0" $([ -n "$baseline" ] && echo "$p_base/z/0"); do
    for _ in $(seq 75); do curl -sf -o /dev/null "http://127.0.0.1:$u" && break; sleep 0.2; done
done
write_wrk_scripts "$tmp/lua"
declare -A port=([nginx]=$p_nginx [edgecache]=$p_edge [baseline]=$p_base)
declare -A admin_of=([edgecache]=$p_admin [baseline]=$p_base_admin)
origin_count() { wc -l <"$tmp/logs/origin-access.log"; }
pass() { # PROXY: every object once, sequentially; prints the origin requests it caused
    local o0 i
    o0=$(origin_count)
    for ((i = 0; i < n_zipf; i++)); do printf 'url = "http://127.0.0.1:%s/z/%s"\noutput = /dev/null\n' "${port[$1]}" $i; done >"$tmp/curl.cfg"
    curl -s -K "$tmp/curl.cfg" || true
    echo $(($(origin_count) - o0))
}
for p in $proxies; do
    a=$(pass "$p")
    sleep 1
    b=$(pass "$p")
    log "fill $p: $a origin requests, second pass $b (want $n_zipf 0)"
done
tree_pids() {
    ps -e -o pid= -o ppid= | awk -v root="$1" '{ kids[$2] = kids[$2] " " $1 }
        END { q[1] = root; n = 1; for (i = 1; i <= n; i++) { print q[i]; m = split(kids[q[i]], k, " "); for (j = 1; j <= m; j++) q[++n] = k[j] } }'
}
cpu_ticks() { local p s=0; for p in $(tree_pids "$1"); do s=$((s + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }'))); done; echo $s; }
lag_over_1ms() { # PROXY: the loop-lag samples above 1 ms, per loop, from /metrics
    curl -s -H "Authorization: Bearer $(cat "$tmp/token")" "http://127.0.0.1:${admin_of[$1]}/metrics" |
        awk '/^edgecache_loop_lag_seconds_bucket/ && /le="0.001"/ { split($0, a, "loop=\""); split(a[2], b, "\""); under[b[1]] = $NF }
             /^edgecache_loop_lag_seconds_count/ { split($0, a, "loop=\""); split(a[2], b, "\""); cnt[b[1]] = $NF }
             END { for (l in cnt) printf "%s:%d/%d ", l, cnt[l] - under[l], cnt[l] }'
}
hz=$(getconf CLK_TCK)
: >"$tmp/runs.tsv"
for ((r = 1; r <= rounds; r++)); do
    order=$proxies
    [ $((r % 2)) = 0 ] && order=$(echo "$proxies" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }')
    for p in $order; do
        ppid=""
        if [ -n "$perf_edge" ] && [ "$p" = edgecache ] && [ "$r" = 1 ]; then
            $perf_edge "${pid_of[edgecache]}" >"$tmp/logs/perf.out" 2>&1 &
            ppid=$!
            sleep 0.5
        fi
        [ "$p" != nginx ] && l0=$(lag_over_1ms "$p")
        c0=$(cpu_ticks "${pid_of[$p]}")
        wrk -t2 -c64 -d"${duration}s" --timeout 10s -s "$tmp/lua/zipf.lua" "http://127.0.0.1:${port[$p]}/z/0" -- /z/ "$n_zipf" 0.99 >"$tmp/logs/wrk.out" 2>&1 || true
        c1=$(cpu_ticks "${pid_of[$p]}")
        [ -n "$ppid" ] && { kill -INT "$ppid" 2>/dev/null; wait "$ppid" 2>/dev/null || true; }
        extra=""
        [ "$p" != nginx ] && extra="lag>1ms before [$l0] after [$(lag_over_1ms "$p")]"
        line=$(grep '^BENCH ' "$tmp/logs/wrk.out" || die "wrk failed: $(cat "$tmp/logs/wrk.out")")
        awk -v p="$p" -v r="$r" -v cpu=$((c1 - c0)) -v hz="$hz" -v extra="$extra" '{
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            s = v["duration_us"] / 1e6; c = cpu / hz
            printf "%s\t%d\t%.3f\t%.3f\t%.0f\t%.2f\t%.0f\t%s\n", p, r, v["p50_us"] / 1000, v["p99_us"] / 1000, v["requests"] / s, c, v["requests"] / c, extra }' <<<"$line" >>"$tmp/runs.tsv"
        tail -n 1 "$tmp/runs.tsv" | awk -F'\t' '{ printf "round %s %-9s p50 %s ms  p99 %s ms  %s req/s  cpu %s s  %s req/CPU-s  %s\n", $2, $1, $3, $4, $5, $6, $7, $8 }' >&2
    done
done
[ "$(origin_count)" -gt $(((${#port[@]}) * n_zipf + 10)) ] && log "warning: the runs reached the origin ($(origin_count) requests)"
python3 - "$tmp/runs.tsv" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
by = {}
for p, r, p50, p99, rps, cpu, rpc, *_ in rows:
    by.setdefault(p, []).append((float(p99), float(rpc), float(rps)))
med = {}
for p, v in by.items():
    p99 = [x[0] for x in v]; rpc = [x[1] for x in v]; rps = [x[2] for x in v]
    med[p] = (statistics.median(p99), statistics.median(rpc))
    print(f"{p:9s} p99 median {med[p][0]:.2f} ms ({min(p99):.2f}..{max(p99):.2f}), req/CPU-s median {med[p][1]:.0f} "
          f"({min(rpc):.0f}..{max(rpc):.0f}), req/s median {statistics.median(rps):.0f}, {len(v)} runs")
rounds = {}
for p, r, p50, p99, rps, cpu, rpc, *_ in rows:
    rounds.setdefault(r, {})[p] = (float(p99), float(rpc))
for e in ("baseline", "edgecache"):
    if "nginx" not in med or e not in med:
        continue
    print(f"{e}/nginx: p99 {med[e][0] / med['nginx'][0]:.2f}x, req/CPU-s {med[e][1] / med['nginx'][1]:.2f}x")
    # the ratio within each round (the same minute of machine load), and its spread
    rr = [(v[e][0] / v["nginx"][0], v[e][1] / v["nginx"][1]) for v in rounds.values() if e in v and "nginx" in v]
    a, b = sorted(x[0] for x in rr), sorted(x[1] for x in rr)
    print(f"  per round: p99 ratio median {statistics.median(a):.2f}x ({a[0]:.2f}..{a[-1]:.2f}), "
          f"req/CPU-s ratio median {statistics.median(b):.2f}x ({b[0]:.2f}..{b[-1]:.2f})")
EOF
