#!/usr/bin/env bash
# r01-report-popular: `edgecache report popular` counts every request to the exact number, beside a
# running edge (the store opened read-only) and after it stopped: 5 requests to /r01/a (1 miss, proven
# by the origin's count, + 4 hits) and 3 to /r01/b (1 miss + 2 hits), with CloudFront's columns, in
# table, csv and json. Bad flags exit 2; a directory without a store exits 1.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
cat >"$T/edge.yaml" <<YAML
origin: $ORIGIN_URL
reports: {bucket: 1s}
YAML
start_edge -c "$T/edge.yaml"
script /r01/a '"body": "0123456789", "headers": {"Cache-Control": "max-age=60"}'
script /r01/b '"body": "01234", "headers": {"Cache-Control": "max-age=60"}'

step "5 requests to /r01/a, 3 to /r01/b: one miss each"
# (a Host of its own: the report names each object by its host and path)
for i in 1 2 3 4 5; do fetch /r01/a -H 'Host: r01.example'; assert_status 200; done
for i in 1 2 3; do fetch /r01/b -H 'Host: r01.example'; assert_status 200; done
assert_count /r01/a 1
assert_count /r01/b 1

report() { "$EDGECACHE" report popular --cache-dir "$T/cache" --since 1h "$@"; }

step "while the edge runs: the report reads the flushed buckets (1 s) read-only"
for ((i = 0; i < 50; i++)); do
    report --format csv >"$T/live.csv" 2>"$T/live.err" || fail "report failed while the edge runs: $(cat "$T/live.err")"
    grep -q '^r01.example/r01/a,5,' "$T/live.csv" && grep -q '^r01.example/r01/b,3,' "$T/live.csv" && break
    sleep 0.2
done
grep -q '^r01.example/r01/a,5,0,4,1,80.0,10,50,0,5,0,0,0$' "$T/live.csv" || fail "live csv: $(cat "$T/live.csv")"
grep -q '^r01.example/r01/b,3,0,2,1,66.7,5,15,0,3,0,0,0$' "$T/live.csv" || fail "live csv: $(cat "$T/live.csv")"

step "after SIGTERM (which flushes): the same figures, in every format"
stop_edge
report --format csv >"$T/p.csv"
assert_eq "url,requests,error,hits,misses,hit_pct,bytes_from_misses,bytes_total,incomplete,s2xx,s3xx,s4xx,s5xx" "$(head -1 "$T/p.csv")" "csv header"
assert_eq "r01.example/r01/a,5,0,4,1,80.0,10,50,0,5,0,0,0" "$(sed -n 2p "$T/p.csv")" "first row"
assert_eq "r01.example/r01/b,3,0,2,1,66.7,5,15,0,3,0,0,0" "$(sed -n 3p "$T/p.csv")" "second row"
assert_eq 3 "$(wc -l <"$T/p.csv" | tr -d ' ')" "rows"

report --format json >"$T/p.json"
assert_eq 8 "$(json_get '["total_requests"]' <"$T/p.json")" "total requests"
assert_eq 0 "$(json_get '["floor"]' <"$T/p.json")" "floor (the summary never filled)"
assert_eq r01.example/r01/a "$(json_get '["objects"][0]["url"]' <"$T/p.json")" "most requested"
assert_eq 4 "$(json_get '["objects"][0]["hits"]' <"$T/p.json")" "hits of /r01/a"
assert_eq 1 "$(json_get '["objects"][0]["misses"]' <"$T/p.json")" "misses of /r01/a"
assert_eq 10 "$(json_get '["objects"][0]["bytes_from_misses"]' <"$T/p.json")" "bytes from misses of /r01/a"

report >"$T/p.txt"
grep -Eq '^url +requests +error +hits +misses +hit_pct +bytes_from_misses +bytes_total +incomplete +s2xx +s3xx +s4xx +s5xx$' "$T/p.txt" ||
    fail "table header: $(cat "$T/p.txt")"
grep -Eq '^r01.example/r01/a +5 +0 +4 +1 +80\.0 +10 +50 +0 +5 +0 +0 +0$' "$T/p.txt" || fail "table: $(cat "$T/p.txt")"

step "--top 1 lists one row, and bounds the objects it leaves out"
report --format json --top 1 >"$T/top1.json"
assert_eq 1 "$(json_get '["objects"].__len__()' <"$T/top1.json")" "rows"
assert_eq 3 "$(json_get '["floor"]' <"$T/top1.json")" "floor: /r01/b's count"

step "an ISO-8601 range that ends before the requests: nothing"
report_range=$("$EDGECACHE" report popular --cache-dir "$T/cache" --from 2020-01-01T00:00:00Z --to 2020-01-02T00:00:00Z --format csv)
assert_eq "url,requests,error,hits,misses,hit_pct,bytes_from_misses,bytes_total,incomplete,s2xx,s3xx,s4xx,s5xx" "$report_range" "empty range"

step "exit codes: 2 for usage errors, 1 without a store"
rc=0; "$EDGECACHE" report popular --since 3x --cache-dir "$T/cache" >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "bad duration"
rc=0; "$EDGECACHE" report popular --format xml --cache-dir "$T/cache" >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "bad format"
rc=0; "$EDGECACHE" report nosuch >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "unknown report"
rc=0; "$EDGECACHE" report popular --cache-dir "$T/nothing-here" >/dev/null 2>&1 || rc=$?
assert_eq 1 "$rc" "no store"

pass
