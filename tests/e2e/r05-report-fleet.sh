#!/usr/bin/env bash
# r05-report-fleet: `edgecache report NAME --fleet fleet.yaml` fetches /reports/NAME from the admin API of every
# edge the fleet file lists and merges them. Two real edges (node ids edge-a and edge-b) serve known traffic:
# A /r05/a x5 (1 miss, 4 hits); B /r05/a x2 (1 miss, 1 hit) and /r05/b x3 (1 miss, 2 hits). The merged counts
# are the sums of what each edge's admin API says, the HTML page has a row per edge with its own requests and
# hit ratio and the fleet's totals, the TTL advice speaks for the fleet. The same edge twice (one report given
# twice, or a fleet file that lists one admin API under two names) is refused; an edge that does not answer is
# named, exit 1 and no report, unless --allow-partial.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
printf 'r05-token-0123456789abcdef\n' >"$T/admin.token"
PA=$(free_port)
PB=$(free_port)
for e in a b; do
    port=$([[ $e == a ]] && echo "$PA" || echo "$PB")
    cat >"$T/$e.yaml" <<YAML
origin: $ORIGIN_URL
node_id: edge-$e
admin: {listen: 127.0.0.1:$port, token_file: admin.token}
reports: {bucket: 1s}
YAML
done
start_edge -c "$T/a.yaml"
start_extra_edge B -c "$T/b.yaml"
wait_edge "$PA" "$PB"
CC='"headers": {"Cache-Control": "max-age=600"}'
script /r05/a "\"body\": \"aaaaaaaaaa\", $CC"
script /r05/b "\"body\": \"bbbbb\", $CC"

step "traffic: A /r05/a x5; B /r05/a x2, /r05/b x3"
H='Host: r05.example'
for i in 1 2 3 4 5; do fetch /r05/a -H "$H"; done
for i in 1 2; do fetch "http://127.0.0.1:$B_PORT/r05/a" -H "$H"; done
for i in 1 2 3; do fetch "http://127.0.0.1:$B_PORT/r05/b" -H "$H"; done
assert_count /r05/a 2
assert_count /r05/b 1

# admin PORT PATH: one GET of an edge's admin API, with the token
admin() { curl -sf --max-time 10 -H "Authorization: Bearer $(cat "$T/admin.token")" "http://127.0.0.1:$1$2"; }
# total PORT FIELD: the "*all*" total of an edge's stats report
total() {
    admin "$1" '/reports/stats?since=1h' | "$PYTHON" -c 'import json, sys
print([r for r in json.load(sys.stdin)["rows"] if r["bucket"] == "total" and r["behavior"] == "*all*"][0][sys.argv[1]])' "$2"
}
flushed() { [[ $(total "$PA" requests) == 5 && $(total "$PB" requests) == 5 ]]; }
step "each edge's admin API reports its own traffic (buckets of 1 s, flushed when they end)"
wait_until flushed
admin "$PA" '/reports/stats?since=1h' >"$T/a.json"
admin "$PB" '/reports/stats?since=1h' >"$T/b.json"
assert_eq edge-a "$(json_get '["node_id"]' <"$T/a.json")" "A's node_id"
assert_eq edge-b "$(json_get '["node_id"]' <"$T/b.json")" "B's node_id"
assert_eq "4 3" "$(total "$PA" hits) $(total "$PB" hits)" "hits of A and B"

cat >"$T/fleet.yaml" <<YAML
name: r05
admin_token_file: admin.token
regions:
  - {name: local, networks: [127.0.0.0/8]}
edges:
  - {name: a, region: local, addresses: [127.0.0.51], admin: "127.0.0.1:$PA"}
  - {name: b, region: local, addresses: [127.0.0.52], admin: "127.0.0.1:$PB"}
YAML
"$EDGECACHE" check --fleet "$T/fleet.yaml" >/dev/null || fail "the fleet file does not validate"

step "stats --fleet: the merged counts are the sums of the edges' own"
"$EDGECACHE" report stats --fleet "$T/fleet.yaml" --since 1h --format json >"$T/fleet.json" 2>"$T/err" || fail "$(cat "$T/err")"
sums=$("$PYTHON" -c 'import json, sys
def all_row(p):
    return [r for r in json.load(open(p))["rows"] if r["bucket"] == "total" and r["behavior"] == "*all*"][0]
a, b, m = (all_row(p) for p in sys.argv[1:])
for k in ("requests", "hits", "misses", "origin_requests", "bytes_sent"):
    assert m[k] == a[k] + b[k], (k, m[k], a[k], b[k])
print(m["requests"], m["hits"], m["misses"])' "$T/a.json" "$T/b.json" "$T/fleet.json") || fail "merged stats are not the sums"
assert_eq "10 7 3" "$sums" "fleet requests, hits, misses"
assert_eq '["edge-a", "edge-b"]' "$(json_get '["edges"]' <"$T/fleet.json" | "$PYTHON" -c 'import json, sys
print(json.dumps([e["node_id"] for e in json.load(sys.stdin)]))')" "the fleet report's edges"

step "popular --fleet: /r05/a counted on both edges"
"$EDGECACHE" report popular --fleet "$T/fleet.yaml" --since 1h --format csv >"$T/popular.csv" || fail "popular --fleet failed"
assert_eq "r05.example/r05/a,7,0,5,2,71.4,20,70,0,7,0,0,0" "$(sed -n 2p "$T/popular.csv")" "merged /r05/a"
assert_eq "r05.example/r05/b,3,0,2,1,66.7,5,15,0,3,0,0,0" "$(sed -n 3p "$T/popular.csv")" "merged /r05/b"

step "the HTML page: a row per edge (requests, hits, misses, hit %) and the fleet's totals"
"$EDGECACHE" report stats --fleet "$T/fleet.yaml" --since 1h --format html -o "$T/fleet.html" || fail "html --fleet failed"
grep -q '<tr class="edge" data-edge="edge-a"><td class="url">edge-a</td><td>5</td><td>4</td><td>1</td><td>80.0</td>' "$T/fleet.html" ||
    fail "no row for edge-a: $(grep -o '<table id="edges".*' "$T/fleet.html" | head -c 1000)"
grep -q '<tr class="edge" data-edge="edge-b"><td class="url">edge-b</td><td>5</td><td>3</td><td>2</td><td>60.0</td>' "$T/fleet.html" ||
    fail "no row for edge-b"
grep -q '<tr id="fleet-total"><th class="url">fleet</th><td>10</td><td>7</td><td>3</td><td>70.0</td>' "$T/fleet.html" ||
    fail "no fleet total row"
grep -q '<td class="url">r05.example/r05/a</td><td>7</td>' "$T/fleet.html" || fail "the top objects are not the fleet's"

step "ttl --fleet: the advice is the fleet's"
"$EDGECACHE" report ttl --fleet "$T/fleet.yaml" --since 1h >"$T/ttl.txt" || fail "ttl --fleet failed"
grep -q '^over 2 edges: edge-a edge-b$' "$T/ttl.txt" || fail "$(cat "$T/ttl.txt")"
grep -q '^fleet advice: ' "$T/ttl.txt" || fail "$(cat "$T/ttl.txt")"

step "the same edge twice is refused: a report given twice, and one admin API under two names"
rc=0; "$EDGECACHE" report stats --merge "$T/a.json" "$T/b.json" "$T/a.json" >/dev/null 2>"$T/err" || rc=$?
assert_eq 1 "$rc" "exit status of a merge with a.json twice"
grep -q "edge \"edge-a\" is in both $T/a.json and $T/a.json" "$T/err" || fail "$(cat "$T/err")"
sed "s/addresses: \[127.0.0.52\], admin: \"127.0.0.1:$PB\"/addresses: [127.0.0.52], admin: \"127.0.0.1:$PA\"/" "$T/fleet.yaml" >"$T/dup.yaml"
rc=0; "$EDGECACHE" report stats --fleet "$T/dup.yaml" --since 1h >"$T/dup.out" 2>"$T/err" || rc=$?
assert_eq 1 "$rc" "exit status of a fleet naming one edge twice"
grep -q 'edge "edge-a" is in both edge a (127.0.0.1:[0-9]*) and edge b (127.0.0.1:[0-9]*)' "$T/err" || fail "$(cat "$T/err")"

step "an edge that does not answer: named, exit 1 and no report; --allow-partial renders the others"
DEAD=$(free_port)
cp "$T/fleet.yaml" "$T/down.yaml"
echo "  - {name: c, region: local, addresses: [127.0.0.53], admin: \"127.0.0.1:$DEAD\"}" >>"$T/down.yaml"
rc=0; "$EDGECACHE" report stats --fleet "$T/down.yaml" --since 1h --format json >"$T/down.json" 2>"$T/err" || rc=$?
assert_eq 1 "$rc" "exit status with an edge down"
grep -q "edge c (127.0.0.1:$DEAD): unreachable: " "$T/err" || fail "$(cat "$T/err")"
[[ ! -s $T/down.json ]] || fail "a report was written without --allow-partial"
rc=0; "$EDGECACHE" report stats --fleet "$T/down.yaml" --since 1h --format json --allow-partial >"$T/partial.json" 2>"$T/err" || rc=$?
assert_eq 0 "$rc" "exit status with --allow-partial"
grep -q "edge c (127.0.0.1:$DEAD): unreachable: " "$T/err" || fail "$(cat "$T/err")"
assert_eq 2 "$(json_get '["edges"].__len__()' <"$T/partial.json")" "edges in the partial report"

stop_extra_edge B
pass
