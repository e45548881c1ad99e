#!/usr/bin/env bash
# bench/scaling.sh: does req/CPU-s hold as event loops are added? edgecache with `threads: N` against nginx
# proxy_cache with `worker_processes N`, for each N of a list (issue 15, part 6). bench/run.sh runs it when
# its --threads is a comma list (bench/run.sh --threads 1,2); the same command runs unchanged on a bigger
# machine (--threads 1,2,4,8,16).
#
# Method
#   - An nginx origin on 127.0.0.1 serves /1k.bin (1 KB of random bytes) and /cold/... (the same body under
#     any name), with "Cache-Control: max-age=3600"; its access log counts its requests.
#   - For each N: a fresh nginx proxy_cache (worker_processes N, sendfile, keepalive to the origin) and a
#     fresh edgecache (threads: N, an admin listener for /metrics), each with an empty cache. /1k.bin is
#     fetched once through each; a second request must not reach the origin.
#   - Cells, each --rounds times (proxy order alternating per round), --duration seconds of wrk -t2 -c64
#     (the client shares the machine with the proxies):
#       hot1k: /1k.bin, a HIT every time (must add 0 origin requests);
#       cold:  /cold/1k?k=<unique>, a MISS every time (origin fetch, then store).
#     req/CPU-s = requests / CPU-seconds of the proxy's processes (utime+stime of the process tree from
#     /proc, read around the run). A cell's figure is the median over the rounds.
#   - Efficiency at N = req/CPU-s at N / req/CPU-s at the list's first N (normally 1): 1.00 means adding
#     loops cost nothing per request. The target is within 10 % (>= 0.90) at 2 loops.
#   - The single writer thread of edgecache: its busy fraction during a cell, from the growth of
#     edgecache_store_writer_busy_seconds_total over the cell's wall-clock time (1.00 = the writer never
#     waited for work: it would be the limit).
#   - On a machine with fewer cores than N + 2 (wrk's two threads), N loops cannot all run at once:
#     req/s stops growing, and req/CPU-s says what each request cost, not how far it scales. The machine's
#     core count is in the output. Figures from a shared machine are noisy; nothing here is asserted.
#   - Output: a Markdown table on stdout and in bench/results/scaling.md (--out to change it; quick mode
#     writes bench/results/scaling-quick.md). Exit 1 when a run had no answers or non-2xx answers, or a hit
#     reached the origin.
#
# Usage: bench/scaling.sh --threads LIST [--quick] [--rounds N] [--duration S] [--edgecache PATH]
#                         [--port BASE] [--out FILE] [--keep]
set -euo pipefail

# ---------------------------------------------------------------------------------------- options
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/wrk_scripts.sh
. "$top/bench/wrk_scripts.sh"
list="" quick=0 rounds="" duration="" keep=0 out=""
edgecache=${EDGECACHE:-} base=${BENCH_PORT:-18600}
cmdline="bench/scaling.sh $*"
usage() { sed -n '/^# Usage:/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
    --threads) list=$2; shift ;;
    --quick) quick=1 ;;
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --edgecache) edgecache=$2; shift ;;
    --port) base=$2; shift ;;
    --out) out=$2; shift ;;
    --keep) keep=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "scaling.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
. "$top/bench/common.sh"
if [ $quick = 1 ]; then : "${rounds:=1}" "${duration:=1}"; else : "${rounds:=3}" "${duration:=5}"; fi
: "${out:=$top/bench/results/scaling$([ $quick = 1 ] && echo -quick).md}"
IFS=, read -r -a counts <<<"$list"
[ ${#counts[@]} -gt 0 ] || die "--threads: a comma list of loop counts, e.g. 1,2"
for n in "${counts[@]}" "$rounds" "$duration" "$base"; do is_uint "$n" && [ "$n" -gt 0 ] || die "'$n' is not a positive integer"; done
bench_init edgecache-scaling
bench_ports "$base" 4
p_origin=$base_port p_nginx=$((base_port + 1)) p_edge=$((base_port + 2)) p_admin=$((base_port + 3))
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=65536
ulimit -n "$hard"

# ------------------------------------------------------------------------------------------ helpers
# (tree_pids, cpu_snap, cpu_secs: bench/common.sh)
writer_busy() { # edgecache_store_writer_busy_seconds_total, from the admin API
    curl -sf -H "Authorization: Bearer $(cat "$tmp/admin.token")" "http://127.0.0.1:$p_admin/metrics" |
        awk '$1 == "edgecache_store_writer_busy_seconds_total" { print $2 }'
}
stop() { # NAME: SIGTERM and wait
    local pid=${pid_of[$1]}
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# ------------------------------------------------------------------------------------- the origin
mkdir -p "$tmp/www" "$tmp/lua"
head -c 1024 /dev/urandom >"$tmp/www/1k.bin"
bench_origin $p_origin '        add_header Cache-Control "max-age=3600";
        location /cold/ { rewrite ^ /1k.bin break; }'
wait_http origin "http://127.0.0.1:$p_origin/1k.bin"
write_wrk_scripts "$tmp/lua"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/admin.token"

start_proxies() { # N: nginx (worker_processes N) and edgecache (threads: N), each with an empty cache
    local n=$1 d=$tmp/ngx-$1
    mkdir -p "$d/cache" "$tmp/edge-$n"
    bench_nginx_proxy "$d" "$n" "$d/cache" "$p_nginx" "$p_origin" "$tmp/logs/nginx-$n-error.log"
    cat >"$tmp/edge-$n.yaml" <<EOF
listen: ["127.0.0.1:$p_edge"]
threads: $n
cache: {path: $tmp/edge-$n, max_size: 16G}
origin: http://127.0.0.1:$p_origin
admin: {listen: 127.0.0.1:$p_admin, token_file: $tmp/admin.token}
EOF
    "$edgecache" check -c "$tmp/edge-$n.yaml" >/dev/null || die "edgecache refuses $tmp/edge-$n.yaml"
    bench_start nginx nginx -p "$d" -c "$d/nginx.conf" -e "$tmp/logs/nginx-$n-error.log"
    bench_start edgecache "$edgecache" serve -c "$tmp/edge-$n.yaml"
    wait_http nginx "http://127.0.0.1:$p_nginx/1k.bin"
    wait_http edgecache "http://127.0.0.1:$p_edge/1k.bin"
}

# ----------------------------------------------------------------------------------------- runs
results=$tmp/results.tsv # N CELL PROXY ROUND REQUESTS SECONDS CPU_S ORIGIN ERRORS WRITER_BUSY_S
: >"$results"
status=0
port_of() { if [ "$1" = nginx ]; then echo $p_nginx; else echo $p_edge; fi; }
run_cell() { # N CELL PROXY ROUND
    local n=$1 cell=$2 proxy=$3 r=$4 o0 o1 c0 c1 b0=0 b1=0 t0 t1 req secs err
    local url lua args=()
    url="http://127.0.0.1:$(port_of "$proxy")"
    case $cell in
    hot1k) url="$url/1k.bin" lua=static ;;
    cold) url="$url/cold/1k" lua=cold args=("/cold/1k?k=" "$proxy-t$n-r$r") ;;
    esac
    [ "$proxy" = edgecache ] && b0=$(writer_busy)
    o0=$(origin_count)
    c0=$(cpu_snap "${pid_of[$proxy]}")
    t0=$(date +%s.%N)
    timeout -s INT $((duration + 20)) wrk -t2 -c64 -d"${duration}s" --timeout 10s -s "$tmp/lua/$lua.lua" "$url" -- "${args[@]}" \
        >"$tmp/logs/run.out" 2>&1 || true
    t1=$(date +%s.%N)
    c1=$(cpu_snap "${pid_of[$proxy]}")
    o1=$(origin_count)
    [ "$proxy" = edgecache ] && b1=$(writer_busy)
    req=$(sed -n 's/^BENCH .*requests=\([0-9]*\).*/\1/p' "$tmp/logs/run.out")
    secs=$(sed -n 's/^BENCH .*duration_us=\([0-9]*\).*/\1/p' "$tmp/logs/run.out" | awk '{ print $1 / 1e6 }')
    err=$(sed -n 's/^BENCH .*sockerr=\([0-9]*\) status=\([0-9]*\).*/\1 \2/p' "$tmp/logs/run.out" | awk '{ print $1 + $2 }')
    if [ -z "$req" ] || [ "$req" = 0 ] || [ "${err:-1}" != 0 ]; then
        log "  $cell $proxy, $n loops: no answers or errors: $(tr '\n' ' ' <"$tmp/logs/run.out" | cut -c1-300)"
        status=1
    fi
    [ "$cell" = hot1k ] && [ $((o1 - o0)) != 0 ] && { log "  hot1k $proxy, $n loops: $((o1 - o0)) origin requests (want 0)"; status=1; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$cell" "$proxy" "$r" "${req:-0}" "${secs:-0}" "$(cpu_secs "$c0" "$c1")" \
        $((o1 - o0)) "${err:-1}" "$(awk -v a="${b0:-0}" -v b="${b1:-0}" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.3f", (b - a) / (t1 - t0) }')" \
        >>"$results"
}

for n in "${counts[@]}"; do
    log "$n loops: nginx worker_processes $n, edgecache threads: $n"
    start_proxies "$n"
    o0=$(origin_count)
    for p in nginx edgecache; do curl -s -o /dev/null "http://127.0.0.1:$(port_of $p)/1k.bin"; done
    [ "$(origin_count)" = "$o0" ] || { log "  /1k.bin was not a HIT the second time"; status=1; }
    for ((r = 1; r <= rounds; r++)); do
        order="nginx edgecache"
        [ $((r % 2)) = 0 ] && order="edgecache nginx"
        for cell in hot1k cold; do
            for p in $order; do run_cell "$n" $cell "$p" "$r"; done
        done
    done
    stop edgecache
    stop nginx
done

# ---------------------------------------------------------------------------------------- report
mkdir -p "$(dirname "$out")"
{
    echo "# Scaling: req/CPU-s by event loops (edgecache threads, nginx worker_processes)"
    echo
    echo "\`$cmdline\` (bench/scaling.sh; method in its header and in bench/README.md)"
    echo
    bench_machine
    echo "- load: wrk -t2 -c64, $rounds round(s) of $duration s per cell, median; on the same machine as the proxies"
    echo
    awk -F'\t' -v first="${counts[0]}" '
        { key = $1 SUBSEP $2 SUBSEP $3
          n[key]++; rps[key, n[key]] = ($6 > 0 ? $5 / $6 : 0); rpc[key, n[key]] = ($7 > 0 ? $5 / $7 : 0)
          busy[key, n[key]] = $10; origin[key] += $8
          if (!(($1) in seen)) { seen[$1] = 1; order[++nn] = $1 } }
        function median(arr, key, cnt,    v, i, j, t) {
            for (i = 1; i <= cnt; i++) v[i] = arr[key, i]
            for (i = 2; i <= cnt; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
            return cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2 }
        END {
            split("hot1k cold", cells, " "); split("edgecache nginx", proxies, " ")
            print "| cell | loops | edgecache req/s | edgecache req/CPU-s | efficiency vs " first " | nginx req/s | nginx req/CPU-s | efficiency vs " first " | edgecache / nginx (req/CPU-s) | writer busy |"
            print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            for (c = 1; c <= 2; c++) for (i = 1; i <= nn; i++) {
                t = order[i]; line = "| " cells[c] " | " t
                for (p = 1; p <= 2; p++) {
                    key = t SUBSEP cells[c] SUBSEP proxies[p]; k1 = first SUBSEP cells[c] SUBSEP proxies[p]
                    m[p] = median(rpc, key, n[key]); m1 = median(rpc, k1, n[k1])
                    line = line sprintf(" | %.0f | %.0f | %.2f", median(rps, key, n[key]), m[p], m1 > 0 ? m[p] / m1 : 0)
                }
                key = t SUBSEP cells[c] SUBSEP "edgecache"
                line = line sprintf(" | %.2f | %.2f |", m[2] > 0 ? m[1] / m[2] : 0, median(busy, key, n[key]))
                print line
            }
        }' "$results"
    echo
    echo "\"efficiency vs ${counts[0]}\": req/CPU-s at that many loops over req/CPU-s at ${counts[0]} (target for 2 loops: ≥ 0.90)." \
        "\"writer busy\": the share of the cell's wall-clock time edgecache's single writer thread spent working" \
        "(edgecache_store_writer_busy_seconds_total); near 1.00 it would be the limit. This machine has $(nproc) cores," \
        "shared with wrk's two threads: past $(nproc) loops the figures say what a request costs, not how far it scales."
} >"$tmp/scaling.md"
cp "$tmp/scaling.md" "$out"
cat "$out"
exit $status
