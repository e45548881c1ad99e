# bench/common.sh: what bench/startup.sh, eviction.sh, scaling.sh and cold.sh share (sourced, not run):
# logging, the temp dir and the cleanup of every process they started, free ports, starting a server and
# waiting for it, the edgecache binary, the nginx proxy_cache they compare with, CPU accounting, and the
# machine description written at the head of each result file.
#
# The caller sets `top` (the source tree) and `keep` (1: keep the temp dir) before sourcing, and calls
# bench_init PREFIX after parsing its options. Servers go through bench_start, so cleanup finds them.

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }

pids=()          # every process started through bench_start or bench_track
declare -A pid_of=()

bench_cleanup() {
    local pid live=()
    trap - EXIT INT TERM
    set +e
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && live+=("$pid"); done
    [ ${#live[@]} -gt 0 ] && kill -TERM "${live[@]}" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "${live[@]}" 2>/dev/null || break
        sleep 0.2
    done
    [ ${#live[@]} -gt 0 ] && kill -KILL "${live[@]}" 2>/dev/null
    wait 2>/dev/null
    if [ "$keep" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}

# bench_init PREFIX: the temp dir ($tmp, with logs/), the cleanup trap, the edgecache binary ($edgecache).
bench_init() {
    tmp=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$tmp" # nginx workers (www-data) must reach their files
    mkdir -p "$tmp/logs"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    export PATH=$PATH:/usr/sbin:/sbin
    local p
    for p in nginx wrk curl python3; do command -v $p >/dev/null || die "$p is missing (bench/run.sh installs nginx and wrk)"; done
    if [ -z "${edgecache:-}" ]; then
        edgecache=$top/build/edgecache
        [ -x "$edgecache" ] || { log "building edgecache"; sh "$top/tools/build.sh" build >/dev/null; }
    fi
    [ -x "$edgecache" ] || die "no edgecache binary at $edgecache"
}

port_free() { ! ss -Htln "sport = :$1" | grep -q .; }
# bench_ports BASE N: sets base_port to the first of N consecutive free ports from BASE.
bench_ports() {
    local try p ok
    for try in $(seq 0 20); do
        ok=1
        for p in $(seq $(($1 + try * 10)) $(($1 + try * 10 + $2 - 1))); do port_free "$p" || ok=0; done
        if [ $ok = 1 ]; then base_port=$(($1 + try * 10)); return; fi
    done
    die "no $2 free consecutive ports from $1"
}

bench_start() { # NAME CMD...: runs CMD in the background, its output in $tmp/logs/NAME.log
    local name=$1
    shift
    "$@" >"$tmp/logs/$name.log" 2>&1 &
    pids+=($!)
    pid_of[$name]=$!
}
bench_track() { pids+=("$1"); } # a process started otherwise (by a helper), for the cleanup

wait_http() { # NAME URL: up to 15 s for a 2xx
    local i
    for i in $(seq 150); do
        curl -sf -o /dev/null --max-time 2 "$2" && return 0
        kill -0 "${pid_of[$1]}" 2>/dev/null || { tail -n 20 "$tmp/logs/$1.log" >&2; die "$1 exited"; }
        sleep 0.1
    done
    tail -n 20 "$tmp/logs/$1.log" >&2
    die "$1 does not answer $2"
}

# bench_origin PORT LOCATIONS: an nginx origin on 127.0.0.1:PORT (its own prefix under $tmp, never the
# system service) whose server block holds LOCATIONS; its access log ($origin_log) has one line per
# request, the request URI: the origin's request count.
bench_origin() {
    local user=""
    mkdir -p "$tmp/origin" "$tmp/www"
    origin_log=$tmp/logs/origin-access.log
    : >"$origin_log"
    [ "$(id -u)" = 0 ] && user="user www-data;"
    cat >"$tmp/origin/nginx.conf" <<EOF
$user
daemon off;
worker_processes 1;
pid $tmp/origin/nginx.pid;
error_log $tmp/logs/origin-error.log warn;
events { worker_connections 4096; }
http {
    log_format tiny '\$request_uri';
    access_log $origin_log tiny;
    client_body_temp_path $tmp/origin/body; proxy_temp_path $tmp/origin/proxy;
    fastcgi_temp_path $tmp/origin/fcgi; uwsgi_temp_path $tmp/origin/uwsgi; scgi_temp_path $tmp/origin/scgi;
    default_type application/octet-stream;
    keepalive_requests 10000000;
    server {
        listen 127.0.0.1:$1;
        root $tmp/www;
$2
    }
}
EOF
    bench_start origin nginx -p "$tmp/origin" -c "$tmp/origin/nginx.conf" -e "$tmp/logs/origin-error.log"
}
# origin_count [PREFIX]: requests the origin received (whose URI starts with PREFIX).
origin_count() {
    if [ $# = 0 ]; then wc -l <"$origin_log"; else grep -c "^$1" "$origin_log" || true; fi
}

# status_kb FIELD PID: a /proc/PID/status field, in kB.
status_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/status" 2>/dev/null || echo 0; }

# private_kb PID [SKIP]: the process's private resident memory, in kB: Private_Clean + Private_Dirty over its
# mappings (/proc/PID/smaps), leaving out any mapping whose path ends in SKIP (e.g. data.mdb: a page of the
# LMDB map counts as "private" there while no other process maps it, though it is file-backed page cache
# the kernel can drop, not memory the process allocated).
private_kb() {
    awk -v skip="${2:-}" '
        /^[0-9a-f]+-[0-9a-f]+ / { out = (skip != "" && substr($NF, length($NF) - length(skip) + 1) == skip) }
        !out && ($1 == "Private_Clean:" || $1 == "Private_Dirty:") { s += $2 }
        END { print s + 0 }' "/proc/$1/smaps" 2>/dev/null || echo 0
}

# The machine, as Markdown list items.
bench_machine() {
    local cpu
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    echo "- machine: $(nproc) cores (\`nproc\`), $cpu; $(uname -sr); $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "- memory (\`free -m\`):"
    echo
    echo '```'
    free -m
    echo '```'
    echo
    echo "- edgecache $(cd "$top" && git describe --always --dirty 2>/dev/null || echo '?'), $("$edgecache" --version 2>&1 | head -n 1);" \
        "$(nginx -v 2>&1 | sed 's/.*: //'); $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" \
        "(the machine is shared with other jobs)"
}

# --- CPU accounting over a process tree (bench/scaling.sh; bench/run.sh has the same three of its own)
# PID and all its descendants, one per line.
tree_pids() {
    ps -e -o pid= -o ppid= | awk -v root="$1" '
        { kids[$2] = kids[$2] " " $1 }
        END { q[1] = root; n = 1
              for (i = 1; i <= n; i++) { print q[i]; m = split(kids[q[i]], k, " "); for (j = 1; j <= m; j++) q[++n] = k[j] } }'
}
# "pid:ticks" for each process of the tree (utime+stime include all of its threads).
cpu_snap() {
    local p s=""
    for p in $(tree_pids "$1"); do
        [ -r "/proc/$p/stat" ] && s="$s $p:$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')"
    done
    echo "$s"
}
cpu_secs() { # SNAP0 SNAP1: CPU seconds between two snapshots; a process that appeared counts from 0
    awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], f, ":"); t[f[1]] = f[2] }
        n = split(b, x, " "); s = 0; for (i = 1; i <= n; i++) { split(x[i], f, ":"); s += f[2] - t[f[1]] }
        printf "%.2f", s / hz }'
}

# bench_nginx_proxy DIR WORKERS CACHE_DIR PORT ORIGIN_PORT ERROR_LOG: writes DIR/nginx.conf, nginx proxy_cache
# as run.sh sets it up (sendfile, keepalive to the origin, proxy_cache_lock), for the scripts that compare
# edgecache with nginx alone (cold.sh, scaling.sh). As root, nginx's workers run as www-data.
bench_nginx_proxy() {
    local d=$1 workers=$2 cache=$3 port=$4 origin=$5 errlog=$6 user="" nofile
    nofile=$(ulimit -Hn)
    [ "$nofile" = unlimited ] && nofile=65536
    if [ "$(id -u)" = 0 ]; then
        user="user www-data;"
        chown -R www-data "$d" "$cache"
    fi
    cat >"$d/nginx.conf" <<EOF
$user
daemon off;
worker_processes $workers;
worker_rlimit_nofile $nofile;
pid $d/nginx.pid;
error_log $errlog warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $d/body; proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    proxy_cache_path $cache levels=1:2 keys_zone=bench:64m max_size=50g inactive=1d use_temp_path=off;
    upstream origin { server 127.0.0.1:$origin; keepalive 64; }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache bench;
            proxy_cache_key \$request_uri;
            proxy_cache_lock on;
        }
    }
}
EOF
}
