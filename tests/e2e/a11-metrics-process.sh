#!/usr/bin/env bash
# a11-metrics-process: the families /metrics gained for a fleet, after traffic of known counts:
# edgecache_build_info (its version is `edgecache --version`'s, libh2o 2.2.5), the process_* gauges and
# counter with sane values (resident memory above 1 MB, descriptors below their limit, a start time of
# this run), the per-behavior counters, and the client request histogram
# edgecache_request_duration_seconds{site,behavior,cache}: its _count adds up to the requests made, each series
# by behavior and cache class counts what it should (a refused request under behavior="other"), buckets
# cumulative with +Inf == _count. The exposition is checked by a04-metrics's parser and, when installed,
# by `promtool check metrics`.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
ADMIN_PORT=$(free_port)
TOKEN='a11-token-0123456789abcdef'
printf '%s\n' "$TOKEN" >"$T/admin.token"
cat >"$T/edge.yaml" <<EOF
origin: $ORIGIN_URL
behaviors:
  - {path: "/img/*", default_ttl: 600}
  - {path: "*"}
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
EOF
START=$(date +%s)
start_edge -c "$T/edge.yaml"
wait_edge "$ADMIN_PORT"

# metrics: /metrics into $T/metrics.txt, validated by a04-metrics's parser, flattened into $T/metrics.flat
# ("name{sorted labels} value" lines)
sed -n '/^    "$PYTHON" - /,/^PY$/p' "$E2E_DIR/a04-metrics.sh" | sed '1d;$d' >"$T/parser.py"
grep -q 'def check_histogram' "$T/parser.py" || fail "a04-metrics.sh's parser was not found"
metrics() {
    fetch "http://127.0.0.1:$ADMIN_PORT/metrics" -H "Authorization: Bearer $TOKEN"
    assert_status 200
    cp "$BODY" "$T/metrics.txt"
    "$PYTHON" "$T/parser.py" "$T/metrics.txt" >"$T/metrics.flat" 2>"$T/metrics.err" || fail "invalid exposition: $(cat "$T/metrics.err")"
}
metric() { # 'name{labels}': its value in the last metrics(); fails when absent
    local v
    v=$(awk -v k="$1" '$1 == k { print $2 }' "$T/metrics.flat")
    [[ -n $v ]] || fail "metric $1 absent from /metrics"
    echo "$v"
}
assert_metric() { # 'name{labels}' VALUE
    local v
    v=$(metric "$1")
    [[ $v == "$2" ]] || fail "metric $1: expected $2, got $v"
}
# the requests the request histogram has counted, over every series
histogram_count() {
    metrics
    awk '/^edgecache_request_duration_seconds_count\{/ { s += $2 } END { print s + 0 }' "$T/metrics.flat"
}

step "traffic: under /img/* a MISS and two HITs, under * a MISS, and one request refused before any behavior (414)"
script /img/a '"body": "image-a", "headers": {"Cache-Control": "max-age=600"}'
fetch /img/a
assert_cache MISS
fetch /img/a
assert_cache HIT
fetch /img/a
assert_cache HIT
fetch /page
assert_status 200
assert_cache MISS
fetch "/$(printf 'x%.0s' {1..9000})"
assert_status 414
REQUESTS=5
# a request is counted when it ends (its last byte sent), which may come just after curl has returned
counted() { [[ $(histogram_count) == "$REQUESTS" ]]; }
wait_until counted
assert_metric edgecache_requests_total $REQUESTS

step "the request histogram: one series per behavior and cache class, each counting its requests"
assert_metric 'edgecache_request_duration_seconds_count{behavior="/img/*",cache="miss",site="default"}' 1
assert_metric 'edgecache_request_duration_seconds_count{behavior="/img/*",cache="hit",site="default"}' 2
assert_metric 'edgecache_request_duration_seconds_count{behavior="/img/*",cache="other",site="default"}' 0
assert_metric 'edgecache_request_duration_seconds_count{behavior="*",cache="miss",site="default"}' 1
assert_metric 'edgecache_request_duration_seconds_count{behavior="other",cache="other",site="other"}' 1
assert_metric 'edgecache_request_duration_seconds_bucket{behavior="/img/*",cache="hit",le="+Inf",site="default"}' 2
n=$(grep -c '^edgecache_request_duration_seconds_count{' "$T/metrics.flat")
assert_eq 9 "$n" "request histogram series: (2 behaviors + other) x 3 classes"
# the sums are seconds to the microsecond: above 0 for the series that counted requests, and plausible
"$PYTHON" - "$T/metrics.txt" <<'PY' || fail "request duration sums: $(grep _sum "$T/metrics.txt")"
import re, sys
text = open(sys.argv[1]).read()
sums = re.findall(r'^edgecache_request_duration_seconds_sum\{site="default",behavior="/img/\*",cache="(\w+)"\} (\S+)$', text, re.M)
assert len(sums) == 3, sums
for cls, v in sums:
    assert re.fullmatch(r"\d+\.\d{6}", v), v
    assert (float(v) > 0) == (cls != "other") and float(v) < 20, (cls, v)
origin = re.search(r'^edgecache_origin_latency_seconds_sum (\S+)$', text, re.M).group(1)
assert re.fullmatch(r"\d+\.\d{6}", origin) and 0 < float(origin) < 20, origin
PY

step "the per-behavior counters"
assert_metric 'edgecache_behavior_requests_total{behavior="/img/*",site="default"}' 3
assert_metric 'edgecache_behavior_hits_total{behavior="/img/*",site="default"}' 2
assert_metric 'edgecache_behavior_misses_total{behavior="/img/*",site="default"}' 1
assert_metric 'edgecache_behavior_body_bytes_sent_total{behavior="/img/*",site="default"}' 21 # 3 x "image-a"
assert_metric 'edgecache_behavior_hit_bytes_sent_total{behavior="/img/*",site="default"}' 14
assert_metric 'edgecache_behavior_origin_bytes_total{behavior="/img/*",site="default"}' 7
assert_metric 'edgecache_behavior_requests_total{behavior="*",site="default"}' 1
assert_metric 'edgecache_behavior_misses_total{behavior="*",site="default"}' 1
assert_metric 'edgecache_behavior_requests_total{behavior="other",site="other"}' 1

step "edgecache_build_info names this binary"
version=$("$EDGECACHE" --version | awk '{ print $2 }')
line=$(grep '^edgecache_build_info{' "$T/metrics.flat")
re='^edgecache_build_info\{libh2o="2\.2\.5",lmdb="([^"]+)",openssl="([0-9][^"]*)",version="([^"]+)"\} 1$'
[[ $line =~ $re ]] || fail "edgecache_build_info: $line"
assert_eq "$version" "${BASH_REMATCH[3]}" "build_info version"
lmdb=${BASH_REMATCH[1]}
if command -v pkg-config >/dev/null && pkg-config --exists lmdb; then
    assert_eq "$(pkg-config --modversion lmdb)" "$lmdb" "build_info lmdb"
fi

step "process_*: sane values for this process"
rss=$(metric process_resident_memory_bytes)
((rss > 1000000)) || fail "process_resident_memory_bytes $rss"
vsz=$(metric process_virtual_memory_bytes)
((vsz >= rss)) || fail "process_virtual_memory_bytes $vsz below the resident $rss"
fds=$(metric process_open_fds)
max=$(metric process_max_fds)
own=$(ls "/proc/$EDGE_PID/fd" | wc -l)
((fds > 3 && fds <= own + 3 && fds + 3 >= own)) || fail "process_open_fds $fds, /proc/$EDGE_PID/fd has $own"
[[ $max == inf ]] || ((max > fds)) || fail "process_max_fds $max"
"$PYTHON" - "$(metric process_start_time_seconds)" "$(metric process_cpu_seconds_total)" "$START" "$(date +%s)" <<'PY' ||
import sys
start, cpu, before, now = map(float, sys.argv[1:])
assert before - 2 <= start <= now + 1, (start, before, now)
assert 0 <= cpu < now - before + 60, cpu
PY
    fail "process_start_time_seconds / process_cpu_seconds_total"

step "promtool check metrics accepts the exposition"
if command -v promtool >/dev/null; then
    promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 || fail "promtool check metrics: $(cat "$T/promtool.out")"
else
    echo "SKIP: promtool is not installed (Debian package prometheus, see tools/install-deps.sh): this one check is skipped"
fi
assert_alive

pass
