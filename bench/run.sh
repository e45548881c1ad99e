#!/usr/bin/env bash
# bench/run.sh: edgecache against nginx proxy_cache and Varnish, on this machine, over loopback only.
#
# Method
#   - One nginx instance is the origin (its own prefix and config in a temp dir, never the system
#     service). It serves generated objects with "Cache-Control: max-age=3600": /1k.bin, /256k.bin,
#     /4m.bin, /z/0../z/N-1 (distinct 4 KB files for the Zipf mix), /u/K (any K: the same 1 KB body
#     under a million names), /cold/... (1 KB, a unique query per request) and /herd/... (256 KB sent at
#     1 MB/s, so the origin takes ~0.25 s and concurrent clients overlap) and /t64k.txt (64 KB of this
#     repository's documentation, text/plain, for the compression cells). Its access log has one line
#     per request: the origin's request count.
#   - Three proxies in front of it, each on its own 127.0.0.1 port: nginx proxy_cache (worker_processes
#     = edgecache threads, sendfile, keepalive to the origin, proxy_cache_lock), Varnish (malloc storage)
#     and edgecache (threads = one per core unless --threads). nginx and edgecache also get a TLS
#     listener (self-signed ECDSA certificate, HTTP/1.1 and HTTP/2 via ALPN; nginx with edgecache's default
#     profile: TLS 1.2 and 1.3, Mozilla intermediate's ciphers and groups). Varnish has no TLS: n/a.
#     "TLS new connections" is one request per connection (Connection: close, wrk resumes no session), so
#     its req/CPU-s is full TLS handshakes per CPU-second of the proxy.
#   - Compression cells: the 64 KB text hit with "Accept-Encoding: gzip" and with "gzip, br". nginx compresses
#     on every hit (gzip on, gzip_comp_level 1, and the brotli filter at brotli_comp_level 1 when Debian's
#     libnginx-mod-http-brotli-filter is installed); edgecache serves the variants it stored once (it makes
#     them after the miss, off its loops: the warm-up waits until it serves both). Varnish (no brotli, and no
#     gzip of an identity origin without VCL) is n/a there. What each proxy actually sent (coding, bytes) is
#     checked once and printed under the table.
#   - Warm-up: every hit object is requested through every proxy, then a second pass must add 0 origin
#     requests. Before and after every run the origin's request count is read: a hit workload must add
#     nothing ("origin" column).
#   - Rounds: each round runs every workload against every proxy, the proxy order rotated per round.
#     Each cell is the median over the rounds (each metric separately). Load comes from wrk (HTTP/1.1,
#     cleartext and TLS) and h2load (HTTP/2 over TLS) on the same machine, so the proxies and the
#     clients share the cores: req/s is bounded by the client as well, and "req/CPU-s" (requests per
#     CPU-second of the proxy's own processes, utime+stime from /proc/PID/stat of the process and its
#     descendants, read around each run) is the figure that compares the proxies' own cost.
#   - Full mode also fills 1,000,000 objects through each proxy (wrk with a counter script, bounded by
#     --fill-max seconds per proxy) and then measures uniform 1 KB hits over them, to compare with the
#     same workload over 10,000 objects. After the warm-up (before the rounds), the RSS of each proxy
#     holding 10,000 idle keep-alive connections (python3 client); at the end, each proxy's RSS again.
#   - Output: a Markdown table on stdout, also written with the machine to bench/results/latest.md
#     (bench/results/quick.md in quick mode, so that CI never overwrites the full results).
#     Progress goes to stderr. Exit 1 when a proxy did not answer (a run with no requests or with
#     non-2xx answers) or a hit workload reached the origin; timings are never asserted.
#
#   - Cold misses are measured twice: with every cache on the file system of --cache-root (default: the
#     temp dir, /tmp) and with every cache on tmpfs (/dev/shm, or --tmpfs-root DIR), which takes the file
#     system's cost out and leaves the proxies' own. The tmpfs row uses a second nginx proxy_cache and a
#     second edgecache with their caches there (Varnish's storage is malloc either way: the same instance).
#     edgecache's edgecache_store_dropped_writes_total (admin /metrics) is read after each cold run and
#     printed under the table: a miss whose object the writer dropped was cheaper than a stored one.
#   - With --threads LIST (a comma list, e.g. 1,2 or 1,2,4,8,16), it runs bench/scaling.sh instead: 1 KB
#     hits and cold misses through edgecache and nginx at each loop count, req/CPU-s and its efficiency
#     against the first count, and the writer thread's busy fraction (bench/results/scaling.md).
#
# Usage: bench/run.sh [--quick] [--rounds N] [--duration S] [--threads N|LIST] [--edgecache PATH]
#                     [--port BASE] [--fill-max S] [--idle N] [--cache-root DIR] [--tmpfs-root DIR]
#                     [--no-tls] [--no-rss] [--keep]
set -euo pipefail

# ---------------------------------------------------------------------------------------- options
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/wrk_scripts.sh
. "$top/bench/wrk_scripts.sh" # write_wrk_scripts
quick=0 rounds="" duration="" threads="" idle="" keep=0 do_tls=1 do_rss=1 fill_max=300
edgecache=${EDGECACHE:-} base_port=${BENCH_PORT:-18400} cache_root="" tmpfs_root=/dev/shm
usage() { sed -n '/^# Usage:/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --threads) threads=$2; shift ;;
    --edgecache) edgecache=$2; shift ;;
    --port) base_port=$2; shift ;;
    --fill-max) fill_max=$2; shift ;;
    --idle) idle=$2; shift ;;
    --cache-root) cache_root=$2; shift ;;
    --tmpfs-root) tmpfs_root=$2; shift ;;
    --no-tls) do_tls=0 ;;
    --no-rss) do_rss=0 ;;
    --keep) keep=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }
# a list of loop counts (--threads 1,2): the scaling cells only, for each count (bench/scaling.sh)
case $threads in
*,*)
    exec bash "$top/bench/scaling.sh" --threads "$threads" $([ $quick = 1 ] && echo --quick) ${rounds:+--rounds "$rounds"} \
        ${duration:+--duration "$duration"} ${edgecache:+--edgecache "$edgecache"} --port "$base_port" $([ $keep = 1 ] && echo --keep)
    ;;
esac
if [ $quick = 1 ]; then
    : "${rounds:=1}" "${duration:=1}"
    n_zipf=200 n_small=200 n_big=2000 n_idle=1000 varnish_mem=256m zone=16m
else
    : "${rounds:=3}" "${duration:=5}"
    n_zipf=10000 n_small=10000 n_big=1000000 n_idle=10000 varnish_mem=4g zone=256m
fi
: "${threads:=$(nproc)}" "${idle:=$n_idle}"
for v in rounds duration threads base_port fill_max idle; do
    is_uint "${!v}" && [ "${!v}" -gt 0 ] || { echo "run.sh: $v must be a positive integer" >&2; exit 2; }
done
n_idle=$idle

wrk_threads=2 conns=64         # wrk -t/-c for the throughput runs
lat_conns=20 lat_delay_ms=10   # the paced latency run: 20 connections x one request per 10 ms ~ 2,000 req/s
h2_conns=16 h2_streams=4       # h2load -c/-m
herd_clients=500
proxies=(nginx varnish edgecache)

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------------------------------------ set-up
install_missing() {
    local p missing=()
    for p in nginx libnginx-mod-http-brotli-filter varnish wrk nghttp2-client python3 openssl curl; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}); run as root to install them"
    log "installing ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
}
install_missing
export PATH=$PATH:/usr/sbin:/sbin
if [ -z "$edgecache" ]; then
    edgecache=$top/build/edgecache
    [ -x "$edgecache" ] || { log "building edgecache"; sh "$top/tools/build.sh" build >/dev/null; }
fi
[ -x "$edgecache" ] || die "no edgecache binary at $edgecache"
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=65536
ulimit -n "$hard"
[ "$hard" -ge $((n_idle + 200)) ] || { log "ulimit -n is $hard: idle connections cut to $((hard - 200))"; n_idle=$((hard - 200)); }

tmp=$(mktemp -d /tmp/edgecache-bench.XXXXXX)
chmod 755 "$tmp" # nginx workers (www-data) and varnishd (vcache) must reach their files
# where the caches live: $croot (--cache-root, default the temp dir) and $shm (tmpfs, for the second cold row)
if [ -n "$cache_root" ]; then
    mkdir -p "$cache_root" && croot=$(mktemp -d "$cache_root/edgecache-bench.XXXXXX") || { echo "run.sh: cannot use --cache-root $cache_root" >&2; exit 2; }
else
    croot=$tmp
fi
shm=""
if [ "$(stat -f -c %T "$tmpfs_root" 2>/dev/null)" = tmpfs ]; then
    shm=$(mktemp -d "$tmpfs_root/edgecache-bench.XXXXXX")
else
    echo "run.sh: $tmpfs_root is not tmpfs: no \"caches on tmpfs\" row" >&2
fi
chmod 755 "$croot" ${shm:+"$shm"}
pids=()          # every server started here
client_pid=""    # the fill's wrk while it runs in the background
cleanup() {
    local pid all=()
    trap - EXIT INT TERM
    set +e
    for pid in "${pids[@]}" $client_pid; do mapfile -t -O "${#all[@]}" all < <(tree_pids "$pid"); done
    [ ${#all[@]} -gt 0 ] && kill -TERM "${all[@]}" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "${all[@]}" 2>/dev/null || break
        sleep 0.2
    done
    [ ${#all[@]} -gt 0 ] && kill -KILL "${all[@]}" 2>/dev/null
    wait 2>/dev/null
    if [ $keep = 1 ]; then
        log "kept $tmp $croot $shm"
    else
        rm -rf "$tmp" ${shm:+"$shm"}
        [ "$croot" = "$tmp" ] || rm -rf "$croot"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# PID and all its descendants, one per line.
tree_pids() {
    ps -e -o pid= -o ppid= | awk -v root="$1" '
        { kids[$2] = kids[$2] " " $1 }
        END { q[1] = root; n = 1
              for (i = 1; i <= n; i++) { print q[i]; m = split(kids[q[i]], k, " "); for (j = 1; j <= m; j++) q[++n] = k[j] } }'
}
# "pid:ticks" for each process of the tree (utime+stime include all of its threads).
cpu_snap() {
    local p out=""
    for p in $(tree_pids "$1"); do
        [ -r "/proc/$p/stat" ] && out="$out $p:$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')"
    done
    echo "$out"
}
# CPU seconds between two snapshots; a process that appeared counts from 0.
cpu_secs() {
    awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], f, ":"); t[f[1]] = f[2] }
        n = split(b, x, " "); s = 0; for (i = 1; i <= n; i++) { split(x[i], f, ":"); s += f[2] - t[f[1]] }
        printf "%.2f", s / hz }'
}
status_kb() { # FIELD PID: /proc/PID/status FIELD (kB) summed over the process tree
    local p s=0 v
    for p in $(tree_pids "$2"); do
        v=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null)
        s=$((s + ${v:-0}))
    done
    echo $s
}
rss_kb() { status_kb VmRSS "$1"; }
anon_kb() { status_kb RssAnon "$1"; }

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }
pick_ports() {
    local try p ok
    for try in $(seq 0 20); do
        ok=1
        for p in $(seq $((base_port + try * 12)) $((base_port + try * 12 + 10))); do port_free "$p" || ok=0; done
        if [ $ok = 1 ]; then base_port=$((base_port + try * 12)); return; fi
    done
    die "no 11 free consecutive ports from $base_port"
}
pick_ports
p_origin=$base_port
# (nginx-shm, edgecache-shm: the same proxies with their caches on tmpfs, for the "caches on tmpfs" cold row)
declare -A port=([nginx]=$((base_port + 1)) [varnish]=$((base_port + 2)) [edgecache]=$((base_port + 3))
    [nginx-shm]=$((base_port + 8)) [edgecache-shm]=$((base_port + 9)))
declare -A tls_port=([nginx]=$((base_port + 4)) [edgecache]=$((base_port + 5)))
p_varnish_admin=$((base_port + 6))
declare -A p_admin=([edgecache]=$((base_port + 7)) [edgecache-shm]=$((base_port + 10)))
declare -A pid_of=()

start() { # NAME CMD...: runs CMD in the background, its output in $tmp/logs/NAME.log
    local name=$1
    shift
    "$@" >"$tmp/logs/$name.log" 2>&1 &
    pids+=($!)
    pid_of[$name]=$!
}
wait_http() { # NAME URL: up to 15 s for a 200
    local i
    for i in $(seq 75); do
        curl -skf -o /dev/null --max-time 2 "$2" && return 0
        kill -0 "${pid_of[$1]}" 2>/dev/null || { tail -n 20 "$tmp/logs/$1.log" >&2; die "$1 exited"; }
        sleep 0.2
    done
    tail -n 20 "$tmp/logs/$1.log" >&2
    die "$1 does not answer $2"
}

# ------------------------------------------------------------------------------------- the origin
mkdir -p "$tmp"/{www/z,logs,ngx-origin,ngx-proxy,varnish,lua} "$croot"/{ngx-cache,edgecache-cache} ${shm:+"$tmp/ngx-proxy-shm"}
[ -n "$shm" ] && mkdir -p "$shm"/{ngx-cache,edgecache-cache}
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/admin.token"
head -c 1024 /dev/urandom >"$tmp/www/1k.bin"
head -c $((256 * 1024)) /dev/urandom >"$tmp/www/256k.bin"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$tmp/www/4m.bin"
# 64 KB of real prose (it compresses as web text does, about 3:1), the same on every run
cat "$top"/README.md "$top"/docs/*.md "$top"/docs/man/*.md "$top"/bench/*.md >"$tmp/docs.txt" 2>/dev/null || true
head -c 65536 "$tmp/docs.txt" >"$tmp/www/t64k.txt" # (not in a pipe: cat's SIGPIPE would end the script)
[ "$(stat -c %s "$tmp/www/t64k.txt")" = 65536 ] || die "cannot make the 64 KB text from the documentation"
python3 - "$tmp/www/z" "$n_zipf" <<'EOF'
import os, sys
for i in range(int(sys.argv[2])):
    with open(os.path.join(sys.argv[1], str(i)), "wb") as f:
        f.write(os.urandom(4096))
EOF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
origin_log=$tmp/logs/origin-access.log
: >"$origin_log"
nginx_user=""
[ "$(id -u)" = 0 ] && nginx_user="user www-data;" && chown -R www-data "$croot/ngx-cache" ${shm:+"$shm/ngx-cache"}

cat >"$tmp/ngx-origin/nginx.conf" <<EOF
$nginx_user
daemon off;
worker_processes 1;
pid $tmp/ngx-origin/nginx.pid;
error_log $tmp/logs/origin-error.log warn;
events { worker_connections 8192; }
http {
    log_format tiny '\$request_uri';
    access_log $origin_log tiny;
    client_body_temp_path $tmp/ngx-origin/body; proxy_temp_path $tmp/ngx-origin/proxy;
    fastcgi_temp_path $tmp/ngx-origin/fcgi; uwsgi_temp_path $tmp/ngx-origin/uwsgi; scgi_temp_path $tmp/ngx-origin/scgi;
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 1000000;
    open_file_cache max=20000;
    server {
        listen 127.0.0.1:$p_origin;
        root $tmp/www;
        add_header Cache-Control "max-age=3600";
        location /u/ { rewrite ^ /1k.bin break; }
        location /cold/ { rewrite ^ /1k.bin break; }
        location /herd/ { limit_rate 1m; rewrite ^ /256k.bin break; }
        location = /t64k.txt { default_type "text/plain; charset=utf-8"; }
    }
}
EOF
start origin nginx -p "$tmp/ngx-origin" -c "$tmp/ngx-origin/nginx.conf" -e "$tmp/logs/origin-error.log"
wait_http origin "http://127.0.0.1:$p_origin/1k.bin"
origin_count() { wc -l <"$origin_log"; }

# ------------------------------------------------------------------------------------ the proxies
tls_nginx="" tls_edge=""
if [ $do_tls = 1 ]; then
    tls_nginx="listen 127.0.0.1:${tls_port[nginx]} ssl http2;
        ssl_certificate $tmp/cert.pem; ssl_certificate_key $tmp/key.pem;
        ssl_session_cache shared:SSL:10m;
        ssl_protocols TLSv1.2 TLSv1.3; ssl_ecdh_curve X25519:prime256v1:secp384r1; ssl_prefer_server_ciphers off;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;"
    tls_edge="  - {address: 127.0.0.1, port: ${tls_port[edgecache]}, tls: {certificate: $tmp/cert.pem, key: $tmp/key.pem}}"
fi
# nginx compresses per response: gzip at level 1 (its cheapest), brotli too when the module is installed
brotli_module=/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so
ngx_brotli_load="" ngx_brotli=""
if [ -e "$brotli_module" ]; then
    ngx_brotli_load="load_module $brotli_module;"
    ngx_brotli="brotli on; brotli_comp_level 1; brotli_types text/plain;"
fi
# ngx_proxy_conf DIR PORT CACHE_DIR TLS_LINES: an nginx proxy_cache in front of the origin, config in DIR/nginx.conf
ngx_proxy_conf() {
    local d=$1
    cat >"$d/nginx.conf" <<EOF
$ngx_brotli_load
$nginx_user
daemon off;
worker_processes $threads;
worker_rlimit_nofile $hard;
pid $d/nginx.pid;
error_log $tmp/logs/$(basename "$d")-error.log warn;
events { worker_connections $((hard / 2)); }
http {
    access_log off;
    client_body_temp_path $d/body; proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    gzip on; gzip_comp_level 1; gzip_types text/plain; gzip_proxied any; gzip_vary on;
    $ngx_brotli
    proxy_cache_path $3 levels=1:2 keys_zone=bench:$zone max_size=50g inactive=1d use_temp_path=off;
    upstream origin { server 127.0.0.1:$p_origin; keepalive 64; }
    server {
        listen 127.0.0.1:$2;
        $4
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache bench;
            proxy_cache_key \$request_uri;
            proxy_cache_lock on;
            add_header X-Cache \$upstream_cache_status;
        }
    }
}
EOF
}
# edgecache_conf NAME CACHE_DIR TLS_LINE: $tmp/NAME.yaml, with an admin listener for /metrics
edgecache_conf() {
    cat >"$tmp/$1.yaml" <<EOF
listen:
  - {address: 127.0.0.1, port: ${port[$1]}}
$3
threads: $threads
cache: {path: $2, max_size: 16G}
origin: http://127.0.0.1:$p_origin
admin: {listen: 127.0.0.1:${p_admin[$1]}, token_file: $tmp/admin.token}
EOF
    "$edgecache" check -c "$tmp/$1.yaml" >/dev/null || die "edgecache refuses $tmp/$1.yaml"
}
ngx_proxy_conf "$tmp/ngx-proxy" "${port[nginx]}" "$croot/ngx-cache" "$tls_nginx"
edgecache_conf edgecache "$croot/edgecache-cache" "$tls_edge"
targets=("${proxies[@]}")
if [ -n "$shm" ]; then
    ngx_proxy_conf "$tmp/ngx-proxy-shm" "${port[nginx-shm]}" "$shm/ngx-cache" ""
    edgecache_conf edgecache-shm "$shm/edgecache-cache" ""
    targets+=(nginx-shm edgecache-shm)
fi

start nginx nginx -p "$tmp/ngx-proxy" -c "$tmp/ngx-proxy/nginx.conf" -e "$tmp/logs/ngx-proxy-error.log"
start varnish varnishd -F -a "127.0.0.1:${port[varnish]}" -b "127.0.0.1:$p_origin" -s "malloc,$varnish_mem" \
    -n "$tmp/varnish" -T "127.0.0.1:$p_varnish_admin"
start edgecache "$edgecache" serve -c "$tmp/edgecache.yaml"
if [ -n "$shm" ]; then
    start nginx-shm nginx -p "$tmp/ngx-proxy-shm" -c "$tmp/ngx-proxy-shm/nginx.conf" -e "$tmp/logs/ngx-proxy-shm-error.log"
    start edgecache-shm "$edgecache" serve -c "$tmp/edgecache-shm.yaml"
fi
for p in "${targets[@]}"; do wait_http "$p" "http://127.0.0.1:${port[$p]}/1k.bin"; done
if [ $do_tls = 1 ]; then
    for p in nginx edgecache; do wait_http "$p" "https://127.0.0.1:${tls_port[$p]}/1k.bin"; done
fi
log "origin :$p_origin, nginx :${port[nginx]}, varnish :${port[varnish]}, edgecache :${port[edgecache]}" \
    "(TLS: nginx :${tls_port[nginx]}, edgecache :${tls_port[edgecache]}); $threads threads; temp $tmp;" \
    "caches in $croot$([ -n "$shm" ] && echo " and, for the tmpfs cold row, $shm (nginx :${port[nginx-shm]}, edgecache :${port[edgecache-shm]})")"
# edgecache_metric NAME METRIC: a counter from the admin API of edgecache instance NAME
edgecache_metric() {
    curl -sf -H "Authorization: Bearer $(cat "$tmp/admin.token")" "http://127.0.0.1:${p_admin[$1]}/metrics" |
        awk -v m="$2" '$1 == m { print $2 }'
}

# ------------------------------------------------------------------------------------ wrk scripts
write_wrk_scripts "$tmp/lua"

# ----------------------------------------------------------------------------------------- runs
results=$tmp/results.tsv
: >"$results"
# record PHASE WORKLOAD PROXY ROUND REQUESTS SECONDS BYTES P50_MS P99_MS CPU_S ORIGIN SOCKERR STATUSERR
record() { local IFS=$'\t'; echo "$*" >>"$results"; }

base_url() { # PROXY SCHEME
    if [ "$2" = https ]; then echo "https://127.0.0.1:${tls_port[$1]}"; else echo "http://127.0.0.1:${port[$1]}"; fi
}
bench_kv() { sed -n 's/.*\b'"$2"'=\([0-9.-]*\).*/\1/p' "$1" | tail -n 1; }

# run_wrk PHASE WORKLOAD PROXY ROUND SCHEME PATH LUA CONNS [LUA ARGS...]
run_wrk() {
    local phase=$1 wl=$2 proxy=$3 round=$4 scheme=$5 path=$6 lua=$7 c=$8
    shift 8
    local out=$tmp/logs/run.out o0 o1 c0 c1 t tgt=${via:-$proxy} # (via: another instance of the proxy, e.g. nginx-shm)
    o0=$(origin_count)
    c0=$(cpu_snap "${pid_of[$tgt]}")
    timeout -s INT $((duration + 20)) wrk -t$wrk_threads -c"$c" -d"${duration}s" --timeout 10s \
        -s "$tmp/lua/$lua.lua" "$(base_url "$tgt" "$scheme")$path" -- "$@" >"$out" 2>&1 || true
    c1=$(cpu_snap "${pid_of[$tgt]}")
    o1=$(origin_count)
    t=$(cpu_secs "$c0" "$c1")
    if ! grep -q '^BENCH ' "$out"; then
        log "  $wl $proxy: wrk failed: $(tr '\n' ' ' <"$out" | cut -c1-300)"
        record "$phase" "$wl" "$proxy" "$round" 0 "$duration" 0 0 0 "$t" $((o1 - o0)) 1 0
        return
    fi
    record "$phase" "$wl" "$proxy" "$round" "$(bench_kv "$out" requests)" \
        "$(awk -v d="$(bench_kv "$out" duration_us)" 'BEGIN { print d / 1e6 }')" "$(bench_kv "$out" bytes)" \
        "$(awk -v v="$(bench_kv "$out" p50_us)" 'BEGIN { print v / 1000 }')" \
        "$(awk -v v="$(bench_kv "$out" p99_us)" 'BEGIN { print v / 1000 }')" \
        "$t" $((o1 - o0)) "$(bench_kv "$out" sockerr)" "$(bench_kv "$out" status)"
}

# run_h2 PHASE WORKLOAD PROXY ROUND PATH: h2load over TLS (ALPN h2), p99 from its per-request log.
run_h2() {
    local phase=$1 wl=$2 proxy=$3 round=$4 path=$5
    local out=$tmp/logs/run.out reqlog=$tmp/logs/h2.log o0 o1 c0 c1 t ok secs bytes failed
    rm -f "$reqlog"
    o0=$(origin_count)
    c0=$(cpu_snap "${pid_of[$proxy]}")
    timeout -s INT $((duration + 20)) h2load -t$wrk_threads -c$h2_conns -m$h2_streams -D "$duration" \
        --log-file="$reqlog" "$(base_url "$proxy" https)$path" >"$out" 2>&1 || true
    c1=$(cpu_snap "${pid_of[$proxy]}")
    o1=$(origin_count)
    t=$(cpu_secs "$c0" "$c1")
    ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$out")
    failed=$(sed -n 's/^requests: .* \([0-9]*\) failed, \([0-9]*\) errored, \([0-9]*\) timeout.*/\1 \2 \3/p' "$out" |
        awk '{ print $1 + $2 + $3 }')
    secs=$(sed -n 's/^finished in \([0-9.]*\)\(m\{0,1\}s\),.*/\1 \2/p' "$out" | awk '{ print $2 == "ms" ? $1 / 1000 : $1 }')
    bytes=$(sed -n 's/^traffic: [^(]*(\([0-9]*\)) total.*/\1/p' "$out")
    if [ -z "$ok" ] || [ -z "$secs" ] || [ ! -s "$reqlog" ]; then
        log "  $wl $proxy: h2load failed: $(tr '\n' ' ' <"$out" | cut -c1-300)"
        record "$phase" "$wl" "$proxy" "$round" 0 "$duration" 0 0 0 "$t" $((o1 - o0)) 1 0
        return
    fi
    local pct
    pct=$(awk -F'\t' '$2 == 200 { print $3 }' "$reqlog" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR) printf "%s %s", v[int(NR * 0.5 + 0.5)] / 1000, v[int(NR * 0.99 + 0.5)] / 1000; else print "0 0" }')
    record "$phase" "$wl" "$proxy" "$round" "$ok" "$secs" "${bytes:-0}" "${pct% *}" "${pct#* }" "$t" $((o1 - o0)) \
        "${failed:-0}" "$(awk -F'\t' '$2 != 200' "$reqlog" | wc -l)"
}

# Herd: many clients ask for one object nobody has fetched yet, all at once (bench/herd.py).
run_herd() { # PHASE PROXY ROUND
    local proxy=$2 round=$3 o0 o1 out
    o0=$(origin_count)
    out=$(timeout 60 python3 "$top/bench/herd.py" 127.0.0.1 "${port[$proxy]}" "/herd/$proxy-r$round-$RANDOM" $herd_clients 2>&1 || true)
    sleep 0.5 # a late origin request would still be counted
    o1=$(origin_count)
    local ok=${out#*ok=}
    ok=${ok%% *}
    is_uint "$ok" || ok=0
    [ "$ok" = $herd_clients ] || log "  herd $proxy: $out"
    record "$1" herd "$proxy" "$round" "$ok" 0 0 0 0 0 $((o1 - o0)) 0 $((herd_clients - ok))
}

# fill PROXY PREFIX START COUNT LABEL: each key once through the proxy; bounded by --fill-max.
fill() {
    local proxy=$1 prefix=$2 start=$3 count=$4 label=$5 o0 n target wpid t0 last=0 now
    o0=$(origin_count)
    target=$((o0 + count))
    t0=$(date +%s)
    wrk -t$wrk_threads -c32 -d"${fill_max}s" --timeout 10s -s "$tmp/lua/fill.lua" \
        "http://127.0.0.1:${port[$proxy]}$prefix" -- "$prefix" "$start" "$count" $wrk_threads /1k.bin >"$tmp/logs/fill.out" 2>&1 &
    wpid=$!
    client_pid=$wpid
    while kill -0 $wpid 2>/dev/null; do
        sleep 0.2
        n=$(origin_count)
        now=$(date +%s)
        if [ "$n" -ge $target ]; then
            sleep 0.5
            kill -INT $wpid 2>/dev/null || true
            break
        fi
        if [ $count -ge 100000 ] && [ $((now - last)) -ge 10 ]; then
            last=$now
            [ $now -gt $t0 ] && log "  fill $label via $proxy: $((n - o0)) / $count ($(((n - o0) / (now - t0))) objects/s)"
        fi
    done
    wait $wpid 2>/dev/null || true
    client_pid=""
    n=$(origin_count)
    [ $count -ge 100000 ] && log "  fill $label via $proxy: $((n - o0)) / $count in $(($(date +%s) - t0)) s"
    [ $((n - o0)) = $count ] || log "  fill $label via $proxy: the origin saw $((n - o0)) requests for $count objects"
}

# check_pass PROXY PREFIX START COUNT: every key once more, sequentially (curl, keep-alive); prints origin requests.
check_pass() {
    local proxy=$1 prefix=$2 start=$3 count=$4 o0 cfg=$tmp/curl.cfg i
    o0=$(origin_count)
    for ((i = start; i < start + count; i++)); do
        printf 'url = "http://127.0.0.1:%s%s%s"\noutput = /dev/null\n' "${port[$proxy]}" "$prefix" "$i"
    done >"$cfg"
    timeout 120 curl -s -K "$cfg" || true
    echo $(($(origin_count) - o0))
}

# --------------------------------------------------------------------------------------- warm-up
hot_paths=(/1k.bin /256k.bin /4m.bin /t64k.txt)
for p in "${proxies[@]}"; do
    for path in "${hot_paths[@]}"; do curl -s -o /dev/null "http://127.0.0.1:${port[$p]}$path"; done
    # (and through the TLS port: its Host differs by the port, and edgecache, as Varnish, keys on the host)
    if [ $do_tls = 1 ] && [ -n "${tls_port[$p]:-}" ]; then
        for path in "${hot_paths[@]}"; do curl -sk -o /dev/null "https://127.0.0.1:${tls_port[$p]}$path"; done
    fi
    fill "$p" /z/ 0 $n_zipf "zipf set"
    fill "$p" /u/ 0 $n_small "1 KB set"
done
sleep 1
for p in "${proxies[@]}"; do
    o0=$(origin_count)
    for path in "${hot_paths[@]}"; do curl -s -o /dev/null "http://127.0.0.1:${port[$p]}$path"; done
    if [ $do_tls = 1 ] && [ -n "${tls_port[$p]:-}" ]; then
        for path in "${hot_paths[@]}"; do curl -sk -o /dev/null "https://127.0.0.1:${tls_port[$p]}$path"; done
    fi
    hot=$(($(origin_count) - o0))
    z=$(check_pass "$p" /z/ 0 $n_zipf)
    u=$(check_pass "$p" /u/ 0 $n_small)
    log "warm-up check, second pass through $p: origin requests: hot objects $hot, zipf set $z, 1 KB set $u (want 0 0 0)"
    record warmup check "$p" 0 0 0 0 0 0 0 $((hot + z + u)) 0 0
done

# What each proxy sends for the compression cells: its coding and body size, once edgecache has made its
# variants (up to 20 s after the warm-up's miss; they are made off the loops, after the miss).
encoded() { # PROXY AE: "coding bytes"
    curl -s -o "$tmp/enc.body" -D "$tmp/enc.hdrs" -H "Accept-Encoding: $2" "http://127.0.0.1:${port[$1]}/t64k.txt"
    printf '%s %s' "$(sed -n 's/^[Cc]ontent-[Ee]ncoding: *\([a-z]*\).*/\1/p' "$tmp/enc.hdrs" | tail -n 1)" "$(stat -c %s "$tmp/enc.body")"
}
for i in $(seq 200); do
    case "$(encoded edgecache 'gzip, br') $(encoded edgecache gzip)" in "br "*" gzip "*) break ;; esac
    sleep 0.1
done
: >"$tmp/compress.txt"
for p in nginx edgecache; do
    for ae in gzip "gzip, br"; do
        e=$(encoded "$p" "$ae")
        log "compression check: $p, Accept-Encoding: $ae -> ${e% *} (${e#* } bytes of 65536)"
        echo "$p|$ae|${e% *}|${e#* }" >>"$tmp/compress.txt"
    done
done

# ------------------------------------------------ RSS with idle connections (after warm-up, before the rounds)
if [ $do_rss = 1 ]; then
    for p in "${proxies[@]}"; do
        # shellcheck disable=SC2046 # one argument per PID
        out=$(timeout 120 python3 "$top/bench/idle.py" 127.0.0.1 "${port[$p]}" $n_idle $(tree_pids "${pid_of[$p]}") 2>&1 || true)
        log "idle connections, $p: $out"
        echo "$p $out" >>"$tmp/idle.txt"
        sleep 1
    done
fi
# ---------------------------------------------------------------------------------------- rounds
# WORKLOAD:KIND; KIND hit = must not reach the origin. cold runs last in a round so that the stores
# hold only the hit sets while the hit workloads run in round 1.
workloads=(hot1k 256k 4m zipf small latency herd gz64k br64k)
[ $do_tls = 1 ] && workloads+=(tls1-1k tls1-4m tls2-1k tls2-4m tls-new)
workloads+=(cold)
[ -n "$shm" ] && workloads+=(cold-shm)
# cold_run PHASE WORKLOAD PROXY ROUND TARGET: the cold cell through TARGET (an instance of PROXY), and for
# edgecache its dropped writes and its writer's busy seconds during the run (in $tmp/cold-store.txt)
cold_run() {
    local d0 d1 b0 b1 t0 t1
    if [ "$3" = edgecache ]; then
        d0=$(edgecache_metric "$5" edgecache_store_dropped_writes_total) b0=$(edgecache_metric "$5" edgecache_store_writer_busy_seconds_total)
        t0=$(date +%s.%N)
    fi
    via=$5 run_wrk "$1" "$2" "$3" "$4" http /cold/1k cold $conns "/cold/1k?k=" "$3-$2-r$4"
    if [ "$3" = edgecache ]; then
        sleep 0.5 # (the writer's last batch)
        d1=$(edgecache_metric "$5" edgecache_store_dropped_writes_total) b1=$(edgecache_metric "$5" edgecache_store_writer_busy_seconds_total)
        t1=$(date +%s.%N)
        echo "$2 $4 $((${d1:-0} - ${d0:-0})) ${d1:-?} $(awk -v a="${b0:-0}" -v b="${b1:-0}" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.2f", (b - a) / (t1 - t0) }')" >>"$tmp/cold-store.txt"
    fi
}
run_one() { # PHASE WORKLOAD PROXY ROUND
    local ph=$1 wl=$2 p=$3 r=$4
    case $wl in
    hot1k) run_wrk "$ph" "$wl" "$p" "$r" http /1k.bin static $conns ;;
    256k) run_wrk "$ph" "$wl" "$p" "$r" http /256k.bin static $conns ;;
    4m) run_wrk "$ph" "$wl" "$p" "$r" http /4m.bin static $conns ;;
    zipf) run_wrk "$ph" "$wl" "$p" "$r" http /z/0 zipf $conns /z/ $n_zipf 0.99 ;;
    small) run_wrk "$ph" "$wl" "$p" "$r" http /u/0 uniform $conns /u/ $n_small ;;
    big) run_wrk "$ph" "$wl" "$p" "$r" http /u/0 uniform $conns /u/ $n_big ;;
    latency) run_wrk "$ph" "$wl" "$p" "$r" http /1k.bin paced $lat_conns $lat_delay_ms ;;
    cold) cold_run "$ph" "$wl" "$p" "$r" "$p" ;;
    cold-shm) cold_run "$ph" "$wl" "$p" "$r" "$p$([ "$p" = varnish ] || echo -shm)" ;; # (Varnish: malloc either way)
    herd) run_herd "$ph" "$p" "$r" ;;
    tls1-1k) run_wrk "$ph" "$wl" "$p" "$r" https /1k.bin static $conns ;;
    tls1-4m) run_wrk "$ph" "$wl" "$p" "$r" https /4m.bin static $conns ;;
    tls2-1k) run_h2 "$ph" "$wl" "$p" "$r" /1k.bin ;;
    tls2-4m) run_h2 "$ph" "$wl" "$p" "$r" /4m.bin ;;
    gz64k) run_wrk "$ph" "$wl" "$p" "$r" http /t64k.txt ae $conns gzip ;;
    br64k) run_wrk "$ph" "$wl" "$p" "$r" http /t64k.txt ae $conns "gzip, br" ;;
    tls-new) run_wrk "$ph" "$wl" "$p" "$r" https /1k.bin close $conns ;;
    esac
}
rotated() { # ROUND: the proxies, rotated by ROUND
    local i n=${#proxies[@]}
    for ((i = 0; i < n; i++)); do echo "${proxies[$(((i + $1) % n))]}"; done
}
run_rounds() { # PHASE WORKLOAD...
    local ph=$1 r wl p
    shift
    for ((r = 1; r <= rounds; r++)); do
        log "$ph round $r/$rounds"
        for wl in "$@"; do
            for p in $(rotated $r); do
                case $wl in tls*) [ -n "${tls_port[$p]:-}" ] || continue ;; esac
                case $wl in gz64k | br64k) [ "$p" != varnish ] || continue ;; esac
                run_one "$ph" "$wl" "$p" "$r"
            done
        done
    done
}
t_start=$(date +%s)
run_rounds main "${workloads[@]}"

# ------------------------------------------------------------------- 1M objects stored (vs 10,000)
log "filling $n_big objects of 1 KB through each proxy (at most $fill_max s each)"
for p in "${proxies[@]}"; do fill "$p" /u/ $n_small $((n_big - n_small)) "$n_big-object set"; done
sleep 1
run_rounds big big

for p in "${proxies[@]}"; do
    echo "$p $(rss_kb "${pid_of[$p]}") $(anon_kb "${pid_of[$p]}")" >>"$tmp/final-rss.txt"
done
log "measurements took $(($(date +%s) - t_start)) s"

# ---------------------------------------------------------------------------------------- report
mkdir -p "$top/bench/results"
BENCH_MODE=$([ $quick = 1 ] && echo quick || echo full) BENCH_ROUNDS=$rounds BENCH_DURATION=$duration \
    BENCH_THREADS=$threads N_ZIPF=$n_zipf N_SMALL=$n_small N_BIG=$n_big N_IDLE=$n_idle \
    BENCH_LOAD="wrk -t$wrk_threads -c$conns; latency: wrk -c$lat_conns, one request per ${lat_delay_ms} ms per connection; h2load -t$wrk_threads -c$h2_conns -m$h2_streams; herd: $herd_clients clients" \
    BENCH_VERSIONS="$("$edgecache" --version 2>&1 | head -n 1); $(nginx -v 2>&1 | sed 's/.*: //'); $(varnishd -V 2>&1 | head -n 1 | sed 's/ revision.*//;s/(//'); $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }'); h2load $(h2load --version | awk '{ print $2 }')" \
    BENCH_VARNISH_MEM=$varnish_mem BENCH_COMPRESS="$tmp/compress.txt" BENCH_COLD_STORE="$tmp/cold-store.txt" \
    BENCH_CACHE_ROOTS="$(df --output=fstype "$croot" | tail -n 1) ($croot)${shm:+; tmpfs ($shm)}" \
    python3 "$top/bench/report.py" "$results" "$tmp/idle.txt" "$tmp/final-rss.txt" "$top/bench/results/$([ $quick = 1 ] && echo quick || echo latest).md"
