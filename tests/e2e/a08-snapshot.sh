#!/usr/bin/env bash
# a08-snapshot: `edgecache snapshot` copies the cache of a serving edge (a background loop keeps sending
# it hits and misses meanwhile) and exits 0; a second edge started on the copy serves every object stored
# before the snapshot as a HIT, bodies intact (small ones, and 1 MB chunked ones), without asking the
# origin; objects stored during the snapshot are either in the copy (HIT, intact) or not (MISS), never
# broken. The -c form reads cache.path from the configuration. A DEST that already holds something, a
# missing cache and bad usage fail with exit 1, 1 and 2.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
cat >"$T/edge.yaml" <<EOF
origin: $ORIGIN_URL
cache: {path: $T/cache}
EOF
start_edge -c "$T/edge.yaml"

BIG=$((1024 * 1024 + 17))
BIG_SHA=$(pattern_sha256 $BIG)
CC='"Cache-Control": "max-age=600"'
A=()
for i in $(seq 1 20); do
    script /a/$i "\"body\": \"small $i\", \"headers\": {$CC}"
    A+=("/a/$i")
done
script /big/1 "\"body_size\": $BIG, \"headers\": {$CC}"
script /big/2 "\"body_size\": $BIG, \"chunked\": true, \"headers\": {$CC}"
script /big/3 "\"body_size\": 300000, \"headers\": {$CC}"

step "store 20 small and 3 large objects"
for p in "${A[@]}" /big/1 /big/2 /big/3; do
    fetch "$p"
    assert_cache MISS
done
fetch /big/2
assert_cache HIT
assert_eq "$BIG_SHA" "$(body_sha256)" "sha256 of /big/2"

step "snapshot while a background loop sends hits and misses"
(
    i=0
    while [[ ! -e $T/stop-bg ]]; do
        i=$((i + 1))
        curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$EDGE_PORT/bg/$i" "http://127.0.0.1:$EDGE_PORT/a/$((i % 20 + 1))" \
            "http://127.0.0.1:$EDGE_PORT/big/1" && echo "/bg/$i" >>"$T/bg.done"
    done
) &
BG=$!
PIDS+=("$BG")
for ((i = 0; i < 100; i++)); do [[ $(wc -l <"$T/bg.done" 2>/dev/null || echo 0) -ge 5 ]] && break; sleep 0.05; done
rc=0
"$EDGECACHE" snapshot --cache-dir "$T/cache" "$T/cache.snap" >"$T/snap.out" 2>&1 || rc=$?
cat "$T/snap.out"
assert_eq 0 "$rc" "exit status of snapshot"
assert_match "snapshot of $T/cache in $T/cache.snap: [0-9]+ objects, [0-9.]+ MiB in [0-9.]+ s" "$(cat "$T/snap.out")" "snapshot output"
for ((i = 0; i < 100; i++)); do [[ $(wc -l <"$T/bg.done") -ge 10 ]] && break; sleep 0.05; done
: >"$T/stop-bg"
wait $BG || true
assert_alive
nbg=$(wc -l <"$T/bg.done")
echo "background loop: $nbg rounds"

step "a second edge on the copy: every object stored before is a HIT, intact, origin not asked"
start_extra_edge snap --origin "$ORIGIN_URL" # sets snap_PORT
FIRST="Host: 127.0.0.1:$EDGE_PORT"
# shellcheck disable=SC2154
for p in "${A[@]}"; do
    fetch "http://127.0.0.1:$snap_PORT$p" -H "$FIRST" # the first edge's host, as its clients sent it: it is in the key
    assert_status 200
    assert_cache HIT
    assert_body "small ${p#/a/}"
    assert_count "$p" 1
done
for p in /big/1 /big/2; do
    fetch "http://127.0.0.1:$snap_PORT$p" -H "$FIRST"
    assert_cache HIT
    assert_eq "$BIG_SHA" "$(body_sha256)" "sha256 of $p from the copy"
    assert_count "$p" 1
done
fetch "http://127.0.0.1:$snap_PORT/big/3" -H "$FIRST"
assert_cache HIT
assert_eq "$(pattern_sha256 300000)" "$(body_sha256)" "sha256 of /big/3 from the copy"

step "objects stored during the snapshot: a HIT (in the copy) or a MISS, always intact"
hits=0
while read -r p; do
    before=$(origin_count "$p")
    fetch "http://127.0.0.1:$snap_PORT$p" -H "$FIRST"
    assert_status 200
    assert_body "origin:$p"
    case $(header X-Cache) in
    HIT) hits=$((hits + 1)); assert_count "$p" "$before" ;;
    MISS) assert_count "$p" $((before + 1)) ;;
    *) fail "X-Cache $(header X-Cache) for $p" ;;
    esac
done <"$T/bg.done"
echo "$hits of $nbg background objects were in the copy"
stop_extra_edge snap

step "-c: the cache directory is cache.path of the configuration"
rc=0
"$EDGECACHE" snapshot -c "$T/edge.yaml" "$T/snap2" >"$T/snap2.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "exit status of snapshot -c ($(cat "$T/snap2.out"))"
assert_match "snapshot of $T/cache in $T/snap2: [0-9]+ objects, .*" "$(cat "$T/snap2.out")" "snapshot -c output"
[[ -s $T/snap2/data.mdb ]] || fail "no data.mdb in the -c snapshot"

step "a DEST that already holds a store: exit 1"
rc=0
"$EDGECACHE" snapshot --cache-dir "$T/cache" "$T/snap2" >"$T/again.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "exit status of a snapshot into a store ($(cat "$T/again.out"))"

step "no cache: exit 1; usage errors: exit 2"
rc=0
"$EDGECACHE" snapshot --cache-dir "$T/no-such-cache" "$T/snap3" >"$T/none.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "exit status without a cache ($(cat "$T/none.out"))"
for args in "" "$T/x $T/y" "-c $T/edge.yaml --cache-dir $T/cache $T/snap4" "--bogus $T/snap5"; do
    rc=0
    # shellcheck disable=SC2086
    "$EDGECACHE" snapshot $args >"$T/usage.out" 2>&1 || rc=$?
    assert_eq 2 "$rc" "exit status of 'snapshot $args'"
done

# Last, because it fails on this build: snapshot_cli.h promises exit 1 when DEST is not empty, but only a
# DEST that already holds a store is refused; any other non-empty directory gets a data.mdb written into it.
step "a DEST that holds another file: exit 1, nothing written"
mkdir "$T/full"
echo keep >"$T/full/other-file"
rc=0
"$EDGECACHE" snapshot --cache-dir "$T/cache" "$T/full" >"$T/full.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "exit status of a snapshot into a non-empty directory ($(cat "$T/full.out"))"
assert_eq keep "$(cat "$T/full/other-file")" "the file already in DEST"
[[ ! -e $T/full/data.mdb ]] || fail "a snapshot was written into a non-empty directory"

pass
