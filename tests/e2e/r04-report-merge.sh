#!/usr/bin/env bash
# r04-report-merge: popular reports of two edges merge into one: `edgecache report popular --merge
# a.json b.json`. Edge A serves /r04/a x5 and /r04/b x3, edge B /r04/a x2 and /r04/c x4: merged, /r04/a 7,
# /r04/c 4, /r04/b 3, 14 in all, exact (neither summary filled). With B's report cut to its top row,
# the objects it left out are credited its bound, as count and as error: the bounds add up. Each report
# names its edge (--node-id): the same edge given twice is refused, where it used to double every count.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"
start_extra_edge B --origin "$ORIGIN_URL"
for p in a b c; do script /r04/$p '"body": "r04", "headers": {"Cache-Control": "max-age=60"}'; done

step "traffic on both edges"
# one site name for both edges, as DNS gives clients: the reports name an object by host and path
H='Host: r04.example'
for i in 1 2 3 4 5; do fetch /r04/a -H "$H"; done
for i in 1 2 3; do fetch /r04/b -H "$H"; done
for i in 1 2; do fetch "http://127.0.0.1:$B_PORT/r04/a" -H "$H"; done
for i in 1 2 3 4; do fetch "http://127.0.0.1:$B_PORT/r04/c" -H "$H"; done
assert_count /r04/a 2 # one miss on each edge
stop_edge
stop_extra_edge B

"$EDGECACHE" report popular --cache-dir "$T/cache" --since 1h --format json --node-id a >"$T/a.json"
"$EDGECACHE" report popular --cache-dir "$T/cache.B" --since 1h --format json --node-id b >"$T/b.json"
"$EDGECACHE" report popular --cache-dir "$T/cache.B" --since 1h --format json --top 1 --node-id b >"$T/b1.json"
"$EDGECACHE" report popular --cache-dir "$T/cache.B" --since 1h --format json --node-id c >"$T/c.json"
assert_eq a "$(json_get '["node_id"]' <"$T/a.json")" "a.json's node_id"

step "merged: counts add up"
"$EDGECACHE" report popular --merge "$T/a.json" "$T/b.json" --format csv >"$T/m.csv"
assert_eq "r04.example/r04/a,7,0,5,2,71.4,6,21,0,7,0,0,0" "$(sed -n 2p "$T/m.csv")" "merged /r04/a"
assert_eq "r04.example/r04/c,4,0,3,1,75.0,3,12,0,4,0,0,0" "$(sed -n 3p "$T/m.csv")" "merged /r04/c"
assert_eq "r04.example/r04/b,3,0,2,1,66.7,3,9,0,3,0,0,0" "$(sed -n 4p "$T/m.csv")" "merged /r04/b"
"$EDGECACHE" report popular --merge "$T/a.json" "$T/b.json" --format json >"$T/m.json"
assert_eq 14 "$(json_get '["total_requests"]' <"$T/m.json")" "merged total"

step "merged with a cut listing: the error bounds add up"
"$EDGECACHE" report popular --merge "$T/a.json" "$T/b1.json" --format json >"$T/m1.json"
assert_eq 2 "$(json_get '["floor"]' <"$T/b1.json")" "B's bound for what it did not list"
row() { json_get "[\"objects\"]" <"$T/m1.json" | "$PYTHON" -c 'import json, sys
r = [o for o in json.load(sys.stdin) if o["url"] == sys.argv[1]][0]
print(r["requests"], r["error"])' "$1"; }
assert_eq "7 2" "$(row r04.example/r04/a)" "/r04/a: 5 + B's bound 2, error 2 (true: 7)"
assert_eq "5 2" "$(row r04.example/r04/b)" "/r04/b: 3 + B's bound 2, error 2 (true: 3)"
assert_eq "4 0" "$(row r04.example/r04/c)" "/r04/c: listed by B, A's bound is 0"
"$EDGECACHE" report popular --merge "$T/m.json" "$T/c.json" --format json >"$T/mc.json" || fail "a merged report is itself a merge input"
assert_eq 20 "$(json_get '["total_requests"]' <"$T/mc.json")" "a, b, then c merged"

step "an edge given twice is refused, naming both inputs: exit 1"
rc=0; "$EDGECACHE" report popular --merge "$T/a.json" "$T/b.json" "$T/a.json" >/dev/null 2>"$T/err" || rc=$?
assert_eq 1 "$rc" "the same file twice"
grep -q "edge \"a\" is in both $T/a.json and $T/a.json" "$T/err" || fail "$(cat "$T/err")"
rc=0; "$EDGECACHE" report popular --merge "$T/m.json" "$T/m1.json" >/dev/null 2>"$T/err" || rc=$?
assert_eq 1 "$rc" "two merges of the same edges"
grep -q "edge \"a\" is in both $T/m.json and $T/m1.json" "$T/err" || fail "$(cat "$T/err")"

step "a merge input that is not a report: exit 1; --merge with a store option: exit 2"
echo '{"hello": 1}' >"$T/bad.json"
rc=0; "$EDGECACHE" report popular --merge "$T/a.json" "$T/bad.json" >/dev/null 2>"$T/err" || rc=$?
assert_eq 1 "$rc" "bad input"
grep -q 'bad.json: not a report' "$T/err" || fail "$(cat "$T/err")"
rc=0; "$EDGECACHE" report popular --merge "$T/a.json" --cache-dir "$T/cache" >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "--merge with --cache-dir"

pass
