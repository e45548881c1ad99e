#!/usr/bin/env bash
# a06-size-budget: cache.max_size is a budget the store keeps, by evicting least recently used objects,
# however much is fetched. With a 4 MiB budget, 400 unique 100 KB misses (ten times the budget, four
# clients at once) are every one a complete 200 (LMDB's MAP_FULL never reaches a client), data.mdb never
# grows past the budget, /metrics shows the store within it and evictions > 0; objects fetched last are
# still HITs, the first ones (a second older than all the others) were evicted: MISS.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUDGET=$((4 << 20))
SIZE=102400
start_origin O
ADMIN_PORT=$(free_port)
TOKEN='a06-token-0123456789abcdef'
printf '%s\n' "$TOKEN" >"$T/admin.token"
cat >"$T/edge.yaml" <<EOF
origin: $ORIGIN_URL
cache: {max_size: 4M}
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
EOF
step "the budget's floor is 1M"
printf 'origin: %s\ncache: {max_size: 1023K}\n' "$ORIGIN_URL" >"$T/small.yaml"
rc=0
"$EDGECACHE" check -c "$T/small.yaml" >"$T/check.out" 2>&1 || rc=$?
assert_eq 2 "$rc" "exit status of check with max_size 1023K"
grep -q 'at least 1M' "$T/check.out" || fail "no 'at least 1M' in: $(cat "$T/check.out")"

script '*' "\"body_size\": $SIZE, \"headers\": {\"Cache-Control\": \"max-age=600\", \"Content-Type\": \"application/octet-stream\"}"
start_edge -c "$T/edge.yaml"
wait_edge "$ADMIN_PORT"

# get_many OUT URL-PATH...: one curl (one kept-alive connection) fetching each path; a line per response
# in OUT: "path status size x-cache"
get_many() {
    local out=$1 p args=()
    shift
    for p in "$@"; do args+=(-o /dev/null -w "$p %{http_code} %{size_download} %header{x-cache}\n" "http://127.0.0.1:$EDGE_PORT$p"); done
    curl -s --max-time 60 "${args[@]}" >>"$out" || true
}

data_size() { stat -c %s "$T/cache/data.mdb"; }
metric() {
    curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$ADMIN_PORT/metrics" |
        awk -v k="$1" '$1 == k { print $2 }'
}

step "the first 10 objects, then a second later 390 more, 4 clients at once"
get_many "$T/r.first" $(seq -f '/obj/%g' 1 10)
sleep 1.2
max_du=0
export -f get_many
export EDGE_PORT
# (each client writes a file of its own: curls appending to one file may interleave their lines)
( seq -f '/obj/%g' 11 400 | xargs -n 98 -P 4 bash -c 'get_many "$0.${1#/obj/}" "$@"' "$T/r.rest" || true ) &
flood=$!
while kill -0 $flood 2>/dev/null; do # sample the file size while the flood runs
    s=$(data_size)
    ((s > max_du)) && max_du=$s
    sleep 0.1
done
wait $flood || true
cat "$T/r.first" "$T/r.rest".* >"$T/r.all"

step "every response: 200 with the whole body"
assert_eq 400 "$(wc -l <"$T/r.all")" "responses"
bad=$(awk -v size=$SIZE '$2 != 200 || $3 != size' "$T/r.all")
[[ -z $bad ]] || fail "incomplete or failed responses: $(head -n 5 <<<"$bad")"
n=$(awk '$4 != "MISS"' "$T/r.all" | wc -l)
assert_eq 0 "$n" "responses that were not a MISS"

step "the store stayed within the budget"
s=$(data_size)
((s > max_du)) && max_du=$s
echo "data.mdb: at most $max_du bytes seen, budget $BUDGET"
((max_du <= BUDGET)) || fail "data.mdb reached $max_du bytes, over the budget $BUDGET"
bytes=$(metric edgecache_store_bytes)
ev=$(metric edgecache_store_evictions_total)
dropped=$(metric edgecache_store_dropped_writes_total)
echo "store_bytes=$bytes evictions=$ev dropped_writes=$dropped objects=$(metric edgecache_store_objects)"
[[ $bytes =~ ^[0-9]+$ ]] && ((bytes <= BUDGET)) || fail "edgecache_store_bytes $bytes over the budget $BUDGET"
[[ $ev =~ ^[0-9]+$ ]] && ((ev > 0)) || fail "edgecache_store_evictions_total is $ev, expected > 0"
assert_eq "$BUDGET" "$(metric edgecache_store_budget_bytes)" "edgecache_store_budget_bytes"
! grep -Eiq 'MAP_FULL|eviction failed|mdb_' "$T/edge.log" || fail "an LMDB error in the log: $(grep -Ei 'MAP_FULL|eviction failed|mdb_' "$T/edge.log" | head -n 3)"

step "recent objects are still HITs, the first ones were evicted"
sleep 1.2
get_many "$T/r.late" /late/1 /late/2 /late/3
fetch /late/3
assert_cache HIT
assert_count /late/3 1
fetch /late/1
assert_cache HIT
assert_eq "$(pattern_sha256 $SIZE)" "$(body_sha256)" "body of a HIT"
assert_count /late/1 1
for i in 1 2 3; do
    fetch /obj/$i
    assert_status 200
    assert_cache MISS
    assert_count /obj/$i 2
done
s=$(data_size)
((s <= BUDGET)) || fail "data.mdb is $s bytes, over the budget $BUDGET"

pass
