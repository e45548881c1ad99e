#!/usr/bin/env bash
# h12-truncated-data-mdb: a data.mdb cut short while the edge was stopped (a full disk during a copy, a
# bad restore) used to kill the edge at start (SIGBUS on the first page past the end). Now the edge moves
# the store's files aside (data.mdb.broken-TIME, beside them), logs what it found and where it put it,
# and starts empty: MISS then HIT. serve --reset-cache deletes the store's files, the moved-aside copies
# included, and starts empty too.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE=100000
start_origin O
script '*' "\"body_size\": $SIZE, \"headers\": {\"Cache-Control\": \"max-age=600\"}"

step "fill a cache, stop, truncate data.mdb"
start_edge --origin "$ORIGIN_URL"
for i in 1 2 3 4 5; do
    fetch /h12/obj/$i
    assert_status 200
done
fetch /h12/obj/1
assert_cache HIT
stop_edge
size=$(stat -c %s "$T/cache/data.mdb")
((size > 8192)) || fail "data.mdb is only $size bytes"
truncate -s 8192 "$T/cache/data.mdb"

step "the edge starts, moves the broken files aside and says where"
start_edge --origin "$ORIGIN_URL"
wait_log 'cache: .*/data\.mdb is not a usable cache \(.*truncated.*\): moved it aside to .*/data\.mdb\.broken-[0-9TZ]+' 1
broken=$(ls "$T/cache"/data.mdb.broken-* 2>/dev/null | head -n 1)
[[ -n $broken ]] || fail "no data.mdb.broken-* in $T/cache: $(ls "$T/cache")"
assert_eq 8192 "$(stat -c %s "$broken")" "size of the file moved aside"
grep -qF "moved it aside to $broken" "$T/edge.log" || fail "the log does not name $broken"

step "requests are served: MISS, then HIT"
fetch /h12/obj/1
assert_status 200
assert_cache MISS
assert_eq "$(pattern_sha256 $SIZE)" "$(body_sha256)" "body"
fetch /h12/obj/1
assert_cache HIT
assert_count /h12/obj/1 2
stop_edge

step "serve --reset-cache empties the store, the moved-aside copies included"
start_edge --origin "$ORIGIN_URL" --reset-cache
wait_log 'cache: --reset-cache: deleted .*/data\.mdb$' 1
wait_log "cache: --reset-cache: deleted $broken" 1
[[ -z $(ls "$T/cache"/*.broken-* 2>/dev/null) ]] || fail "still there after --reset-cache: $(ls "$T/cache")"
fetch /h12/obj/1
assert_status 200
assert_cache MISS
fetch /h12/obj/1
assert_cache HIT
assert_count /h12/obj/1 3

step "check does not take --reset-cache"
printf 'origin: %s\n' "$ORIGIN_URL" >"$T/edge.yaml"
rc=0
"$EDGECACHE" check -c "$T/edge.yaml" --reset-cache >"$T/check.out" 2>&1 || rc=$?
assert_eq 2 "$rc" "exit status of check --reset-cache"
pass
