#!/usr/bin/env bash
# h10-disk-full: the cache directory's file system fills up (a 2 MiB tmpfs under a 64 MiB cache.max_size).
# LMDB reports the short write as EIO; the edge names it: "cache disk full: DIR: N writes dropped in the
# last Ns", at most once per 10 s (not once per batch), counts it in
# edgecache_store_write_errors_total{reason="disk_full"}, and keeps serving: every miss is a whole 200,
# what was stored before the disk filled is still a HIT, and the edge stops cleanly.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE=100000
MNT=$T/small
mkdir -p "$MNT"
mount -t tmpfs -o size=2m tmpfs "$MNT" 2>/dev/null || skip "cannot mount a tmpfs (not root, or no permission)"
# unmount (lazily: the edge may still hold it) before lib.sh's cleanup removes $T
trap 'rc=$?; umount -l "$MNT" 2>/dev/null || true; (exit $rc); cleanup' EXIT

start_origin O
ADMIN_PORT=$(free_port)
TOKEN='h10-token-0123456789abcdef'
printf '%s\n' "$TOKEN" >"$T/admin.token"
cat >"$T/edge.yaml" <<EOF
origin: $ORIGIN_URL
cache: {max_size: 64M}
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
EOF
metric() {
    curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$ADMIN_PORT/metrics" |
        awk -v k="$1" '$1 == k { print $2 }'
}
disk_full_writes() { metric 'edgecache_store_write_errors_total{reason="disk_full"}'; }
some_disk_full_writes() { local n; n=$(disk_full_writes); [[ ${n:-0} -gt 0 ]]; }
script '*' "\"body_size\": $SIZE, \"headers\": {\"Cache-Control\": \"max-age=600\"}"
start_edge -c "$T/edge.yaml" --cache-dir "$MNT"
wait_edge "$ADMIN_PORT"
WANT=$(pattern_sha256 $SIZE)
started=$(date +%s)

step "the first object is stored while there is room"
fetch /h10/first
assert_status 200
assert_cache MISS
fetch /h10/first
assert_cache HIT

step "60 misses of 100 KB into a 2 MiB file system: every one a whole 200"
curl_args=()
for i in $(seq 1 60); do
    curl_args+=(-o /dev/null -w "%{http_code} %{size_download}\n" "http://127.0.0.1:$EDGE_PORT/h10/obj/$i")
done
curl -s --max-time 60 "${curl_args[@]}" >"$T/fill.out" || true
assert_eq 60 "$(wc -l <"$T/fill.out")" "responses"
bad=$(awk -v size=$SIZE '$1 != 200 || $2 != size' "$T/fill.out")
[[ -z $bad ]] || fail "incomplete or failed responses: $(head -n 3 <<<"$bad")"

step "the log says disk full, with a count, once per interval"
wait_log 'cache disk full: .*: [0-9]+ writes dropped in the last [0-9]+s' 1 20
wait_until some_disk_full_writes
echo "disk_full writes: $(disk_full_writes)"
! grep -q 'Input/output error$' "$T/edge.log" || fail "a bare I/O error line: $(grep 'Input/output error$' "$T/edge.log" | head -n 1)"

step "still serving: new misses and the object stored before are right"
for i in 1 2 3; do
    fetch /h10/after/$i
    assert_status 200
    assert_eq "$WANT" "$(body_sha256)" "body of a miss on a full disk"
done
fetch /h10/first
assert_status 200
assert_cache HIT
assert_eq "$WANT" "$(body_sha256)" "body of a HIT on a full disk"
assert_count /h10/first 1
assert_alive

stop_edge
elapsed=$(($(date +%s) - started))
lines=$(grep -c 'cache disk full:' "$T/edge.log" || true)
echo "$lines 'disk full' lines in ${elapsed}s"
# one line when it starts, one per 10 s after, and one for the rest when the edge stops
((lines >= 1 && lines <= elapsed / 10 + 2)) || fail "$lines 'disk full' lines in ${elapsed}s: expected at most $((elapsed / 10 + 2))"
pass
