#!/usr/bin/env bash
# m01-monitoring: docs/monitoring/ works with what an edge exports, and `edgecache prometheus-targets` writes
# what Prometheus accepts.
# - The metrics the rules and the dashboard need count what they should on a real edge: 5xx answers per
#   site and behavior, an origin group's breaker once it opened, and the top objects (from the stored
#   reports, so after a restart that flushed them).
# - Every metric and label that a PromQL expression of docs/monitoring/rules.yml and of the Grafana dashboard
#   names is exported by this edge's /metrics, recorded by the rules, or added by the scrape
#   (tests/e2e/promql_names.py); a dashboard or rule naming an unknown metric or label is caught.
# - promtool (Debian's prometheus): `check rules` on rules.yml, `test rules` on rules_test.yml (hit ratio,
#   5xx ratio, edge down, breaker open), `check config` on a generated prometheus.yml (its token file and
#   rule file exist) and on a file_sd setup; docs/monitoring/prometheus.yml is what the command writes from
#   fleet.example.yaml.
# - A real Prometheus started on the generated configuration scrapes the edge with its token (up 1, the
#   target labels edge, region, tier on the samples), finds the parent that does not run down (up 0), and
#   puts EdgecacheEdgeDown on it.
# - The event-loop lag histogram edgecache_loop_lag_seconds{loop} is exported for each loop and counts.
# (a real Prometheus's first scrape and rule evaluation come on their own schedule: more than the default
# watchdog's margin on a loaded machine)
E2E_TIMEOUT=${E2E_TIMEOUT:-240}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v promtool >/dev/null || skip "promtool is not installed (Debian package prometheus, see tools/install-deps.sh)"
"$PYTHON" -c 'import yaml' 2>/dev/null || skip "python3-yaml is not installed (see tools/install-deps.sh)"
MON="$TOP_SRCDIR/docs/monitoring"

start_origin O
DEAD_PORT=$(free_port) # nothing listens there: the primary of group main refuses every connection
ADMIN_PORT=$(free_port)
TOKEN='m01-token-0123456789abcdef'
printf '%s\n' "$TOKEN" >"$T/admin.token"
cat >"$T/edge.yaml" <<EOF
origins:
  dead: {servers: ["http://127.0.0.1:$DEAD_PORT"], connect_timeout: 1s, connect_attempts: 1}
  web: {servers: ["$ORIGIN_URL"]}
origin_groups:
  main: {primary: dead, secondary: web, circuit_breaker: {failures: 2, cool_down: 600s}}
behaviors:
  - {path: "/img/*", origin: web, default_ttl: 600}
  - {path: "*", origin: main}
reports: {bucket: 1s}
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
EOF
start_edge -c "$T/edge.yaml"
wait_edge "$ADMIN_PORT"

scrape() { # FILE: the edge's /metrics
    fetch "http://127.0.0.1:$ADMIN_PORT/metrics" -H "Authorization: Bearer $TOKEN"
    assert_status 200
    cp "$BODY" "$1"
}
sample() { # FILE 'name{labels as exported}': its value; empty when absent
    awk -v k="$2" '$1 == k { print $2 }' "$1"
}

step "traffic: /img/a three times (a MISS, two HITs), /img/b once, /page/1 and /page/2 through group main, /img/err a 500"
script /img/a '"body": "image-a", "headers": {"Cache-Control": "max-age=600"}'
script /img/b '"body": "image-b", "headers": {"Cache-Control": "max-age=600"}'
script /img/err '"status": 500, "body": "origin broken"'
fetch /img/a
assert_cache MISS
fetch /img/a
assert_cache HIT
fetch /img/a
assert_cache HIT
fetch /img/b
fetch /page/1 # the primary refuses: the secondary answers, and the breaker counts a failure
assert_status 200
fetch /page/2 # the second failure opens the breaker
assert_status 200
fetch /img/err
assert_status 500
counted() {
    scrape "$T/m1.txt"
    [[ $(sample "$T/m1.txt" 'edgecache_behavior_requests_total{site="default",behavior="/img/*"}') == 5 ]]
}
wait_until counted

step "the 5xx answers per site and behavior, and the breaker of group main"
assert_eq 1 "$(sample "$T/m1.txt" 'edgecache_behavior_status_5xx_total{site="default",behavior="/img/*"}')" "5xx of /img/*"
assert_eq 0 "$(sample "$T/m1.txt" 'edgecache_behavior_status_5xx_total{site="default",behavior="*"}')" "5xx of *"
assert_eq 1 "$(sample "$T/m1.txt" 'edgecache_origin_group_breaker_open{group="main"}')" "breaker of main"
grep -q '^# TYPE edgecache_top_object_requests gauge$' "$T/m1.txt" || fail "no edgecache_top_object_requests family"

step "the top objects, once the reports are stored: after a restart, the most requested first"
stop_edge
start_edge -c "$T/edge.yaml"
wait_edge "$ADMIN_PORT"
scrape "$T/metrics.txt"
host="127.0.0.1:$EDGE_PORT"
assert_eq 3 "$(sample "$T/metrics.txt" "edgecache_top_object_requests{object=\"$host/img/a\"}")" "top: /img/a"
assert_eq 1 "$(sample "$T/metrics.txt" "edgecache_top_object_requests{object=\"$host/img/b\"}")" "top: /img/b"
first=$(grep -m1 '^edgecache_top_object_requests{' "$T/metrics.txt")
assert_eq "edgecache_top_object_requests{object=\"$host/img/a\"} 3" "$first" "the first row"
n=$(grep -c '^edgecache_top_object_requests{' "$T/metrics.txt")
((n == 5)) || fail "edgecache_top_object_requests: $n series, expected the 5 objects requested"

step "the event-loop lag: a histogram per loop whose count grows by itself (a timer every 100 ms on each loop)"
lag_count() { # FILE LOOP
    sample "$1" "edgecache_loop_lag_seconds_count{loop=\"$2\"}"
}
for loop in 0 1; do # (the edge runs 2 threads)
    c=$(lag_count "$T/metrics.txt" $loop)
    [[ -n $c ]] || fail "no edgecache_loop_lag_seconds_count{loop=\"$loop\"}"
    inf=$(sample "$T/metrics.txt" "edgecache_loop_lag_seconds_bucket{loop=\"$loop\",le=\"+Inf\"}")
    assert_eq "$c" "$inf" "loop $loop: +Inf bucket and count"
done
c0=$(lag_count "$T/metrics.txt" 0)
c1=$(lag_count "$T/metrics.txt" 1)
lag_grew() {
    scrape "$T/lag.txt"
    (($(lag_count "$T/lag.txt" 0) >= c0 + 3 && $(lag_count "$T/lag.txt" 1) >= c1 + 3))
}
wait_until lag_grew
# measured, not a clock's value: on this quiet edge the loops are late by far less than a second on average
for loop in 0 1; do
    "$PYTHON" -c 'import sys; s, c = map(float, sys.argv[1:]); sys.exit(not (c > 0 and 0 <= s / c < 1))' \
        "$(sample "$T/lag.txt" "edgecache_loop_lag_seconds_sum{loop=\"$loop\"}")" "$(lag_count "$T/lag.txt" $loop)" ||
        fail "loop $loop lag: $(grep "^edgecache_loop_lag_seconds_[sc].*loop=\"$loop\"" "$T/lag.txt")"
done

step "every metric and label the rules and the dashboard name is exported, recorded or added by the scrape"
"$PYTHON" "$E2E_DIR/promql_names.py" "$T/metrics.txt" "$MON/rules.yml" "$MON/edgecache-dashboard.json" >"$T/names.out" 2>&1 ||
    fail "promql_names.py: $(cat "$T/names.out")"
cat "$T/names.out"
# ... and the check can fail: a panel asking for a metric no edge exports, a rule grouping on a label none has
"$PYTHON" - "$MON/edgecache-dashboard.json" "$T/bad-dashboard.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["panels"][1]["targets"][0]["expr"] = "sum(rate(edgecache_no_such_metric_total[5m]))"
json.dump(d, open(sys.argv[2], "w"))
PY
if "$PYTHON" "$E2E_DIR/promql_names.py" "$T/metrics.txt" "$MON/rules.yml" "$T/bad-dashboard.json" >"$T/bad.out" 2>&1; then
    fail "promql_names.py accepted a dashboard naming edgecache_no_such_metric_total"
fi
grep -q 'metric edgecache_no_such_metric_total is not exported' "$T/bad.out" || fail "promql_names.py: $(cat "$T/bad.out")"
sed 's/sum by (site) (rate(edgecache_behavior_requests_total\[5m\]))/sum by (vhost) (rate(edgecache_behavior_requests_total[5m]))/' \
    "$MON/rules.yml" >"$T/bad-rules.yml"
if "$PYTHON" "$E2E_DIR/promql_names.py" "$T/metrics.txt" "$T/bad-rules.yml" "$MON/edgecache-dashboard.json" >"$T/bad.out" 2>&1; then
    fail "promql_names.py accepted a rule grouping by a label no sample has"
fi
grep -q 'label vhost is on no exported sample' "$T/bad.out" || fail "promql_names.py: $(cat "$T/bad.out")"

step "promtool: check rules, and the rules' unit tests (hit ratio, 5xx ratio, edge down, breaker open)"
promtool check rules "$MON/rules.yml" >"$T/promtool.out" 2>&1 || fail "promtool check rules: $(cat "$T/promtool.out")"
(cd "$MON" && promtool test rules rules_test.yml) >"$T/promtool.out" 2>&1 || fail "promtool test rules: $(cat "$T/promtool.out")"

step "prometheus-targets: docs/monitoring/prometheus.yml is what it writes from fleet.example.yaml"
"$EDGECACHE" prometheus-targets "$MON/fleet.example.yaml" -o "$T/example.yml" 2>"$T/pt.err" || fail "prometheus-targets: $(cat "$T/pt.err")"
diff -u "$MON/prometheus.yml" "$T/example.yml" >"$T/diff.out" ||
    fail "docs/monitoring/prometheus.yml differs from what prometheus-targets writes (regenerate it): $(cat "$T/diff.out")"
# (its token file is the example's /etc/edgecache/fleet-token: the syntax alone)
promtool check config --syntax-only "$MON/prometheus.yml" >"$T/promtool.out" 2>&1 ||
    fail "promtool check config docs/monitoring/prometheus.yml: $(cat "$T/promtool.out")"

step "prometheus-targets on this edge's fleet: two token files, two jobs; promtool check config accepts it"
PARENT_PORT=$(free_port) # no edge there
printf 'parent-token-0123456789abcdef\n' >"$T/parent.token"
cat >"$T/fleet.yaml" <<EOF
name: m01
admin_token_file: admin.token
regions:
  - {name: eu, networks: [10.1.0.0/16]}
edges:
  - {name: m01-edge, region: eu, addresses: [127.0.0.1], admin: "127.0.0.1:$ADMIN_PORT"}
  - {name: m01-parent, region: eu, tier: parent, addresses: [127.0.0.2], admin: "127.0.0.1:$PARENT_PORT", token_file: parent.token}
EOF
cp "$MON/rules.yml" "$T/rules.yml"
(cd "$T" && "$EDGECACHE" prometheus-targets fleet.yaml -o prometheus.yml) 2>"$T/pt.err" || fail "prometheus-targets: $(cat "$T/pt.err")"
[[ ! -s $T/pt.err ]] || fail "prometheus-targets warned: $(cat "$T/pt.err")"
grep -q "credentials_file: \"$T/admin.token\"" "$T/prometheus.yml" || fail "no absolute credentials_file: $(cat "$T/prometheus.yml")"
grep -q 'job_name: "edgecache-m01-parent"' "$T/prometheus.yml" || fail "no job for the parent's token: $(cat "$T/prometheus.yml")"
promtool check config "$T/prometheus.yml" >"$T/promtool.out" 2>&1 || fail "promtool check config: $(cat "$T/promtool.out")"

step "prometheus-targets --file-sd: the same targets and labels, for a job of one's own"
"$EDGECACHE" prometheus-targets "$T/fleet.yaml" --file-sd -o "$T/edges.json" || fail "prometheus-targets --file-sd"
"$PYTHON" - "$T/edges.json" "$ADMIN_PORT" "$PARENT_PORT" <<'PY' || fail "file_sd: $(cat "$T/edges.json")"
import json, sys
got = json.load(open(sys.argv[1]))
want = [{"targets": ["127.0.0.1:" + sys.argv[2]], "labels": {"edge": "m01-edge", "region": "eu", "tier": "edge"}},
        {"targets": ["127.0.0.1:" + sys.argv[3]], "labels": {"edge": "m01-parent", "region": "eu", "tier": "parent"}}]
assert got == want, got
PY
cat >"$T/file-sd.yml" <<EOF
scrape_configs:
  - job_name: edgecache
    authorization: {credentials_file: admin.token}
    file_sd_configs: [{files: [edges.json]}]
EOF
promtool check config "$T/file-sd.yml" >"$T/promtool.out" 2>&1 || fail "promtool check config (file_sd): $(cat "$T/promtool.out")"
"$EDGECACHE" prometheus-targets "$T/fleet.yaml" --file-sd --rules x.yml >/dev/null 2>"$T/pt.err" && fail "--file-sd --rules was accepted"
"$EDGECACHE" prometheus-targets "$T/no-such-fleet.yaml" >/dev/null 2>"$T/pt.err" && fail "a missing fleet file was accepted"
grep -q 'no-such-fleet.yaml' "$T/pt.err" || fail "the error does not name the file: $(cat "$T/pt.err")"

step "a real Prometheus on the generated configuration (intervals shortened) scrapes the edge with its token"
command -v prometheus >/dev/null || { echo "SKIP: no prometheus server binary: this step is skipped"; pass; }
PROM_PORT=$(free_port)
sed -e 's/^  scrape_interval: 15s$/  scrape_interval: 1s/' -e 's/^  scrape_timeout: 10s$/  scrape_timeout: 1s/' \
    -e 's/^  evaluation_interval: 15s$/  evaluation_interval: 1s/' "$T/prometheus.yml" >"$T/prometheus-fast.yml"
prometheus --config.file="$T/prometheus-fast.yml" --storage.tsdb.path="$T/tsdb" --web.listen-address="127.0.0.1:$PROM_PORT" \
    --log.level=warn >"$T/prometheus.log" 2>&1 &
PIDS+=($!)
query() { # PROMQL: the result vector of an instant query, as JSON
    curl -sS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" | json_get '["data"]["result"]'
}
has_result() { [[ $(query "$1") != "[]" ]]; }
wait_until -t 60 has_result 'up{job="edgecache",edge="m01-edge",region="eu",tier="edge"} == 1'
wait_until -t 60 has_result 'up{job="edgecache-m01-parent",edge="m01-parent",tier="parent"} == 0'
wait_until -t 30 has_result 'edgecache_requests_total{edge="m01-edge",region="eu",tier="edge"}'
wait_until -t 60 has_result 'ALERTS{alertname="EdgecacheEdgeDown",edge="m01-parent"}'
has_result 'ALERTS{alertname="EdgecacheEdgeDown",edge="m01-edge"}' && fail "EdgecacheEdgeDown on the edge that runs"
assert_alive

pass
