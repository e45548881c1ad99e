#!/usr/bin/env bash
# h11-read-only-cache: a cache directory that cannot be written (a read-only bind mount; as root, chmod
# would not stop the edge) no longer keeps the edge from starting: it logs why, serves every request by
# passing it to the origin (a MISS each time, nothing stored), answers /healthz with 503 (a load balancer should prefer an edge that caches), and says through
# edgecache_store_usable 0 that the store is unusable. Purges complete at once (nothing to purge).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MNT=$T/ro
mkdir -p "$MNT"
{ mount --bind "$MNT" "$MNT" && mount -o remount,ro,bind "$MNT"; } 2>/dev/null || skip "cannot make a read-only bind mount"
trap 'rc=$?; umount -l "$MNT" 2>/dev/null || true; (exit $rc); cleanup' EXIT
touch "$MNT/probe" 2>/dev/null && skip "the bind mount is still writable"

start_origin O
ADMIN_PORT=$(free_port)
TOKEN='h11-token-0123456789abcdef'
printf '%s\n' "$TOKEN" >"$T/admin.token"
cat >"$T/edge.yaml" <<EOF
origin: $ORIGIN_URL
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
EOF
metric() {
    curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$ADMIN_PORT/metrics" |
        awk -v k="$1" '$1 == k { print $2 }'
}
script /h11/a '"body": "hello h11", "headers": {"Cache-Control": "max-age=600"}'

step "the edge starts on a read-only cache directory and says so"
start_edge -c "$T/edge.yaml" --cache-dir "$MNT"
wait_edge "$ADMIN_PORT"
wait_log "cache: .*Read-only file system" 1
wait_log "cache: .* cannot be used: serving without a cache" 1
assert_eq 0 "$(metric edgecache_store_usable)" "edgecache_store_usable"

step "requests pass through to the origin, every time"
for i in 1 2 3; do
    fetch /h11/a
    assert_status 200
    assert_body "hello h11"
    assert_cache MISS
done
assert_count /h11/a 3
# the edge serves, but a health check should send clients to an edge that caches (edge/lifecycle.h)
fetch "http://127.0.0.1:$ADMIN_PORT/healthz"
assert_status 503
assert_body "the cache cannot be used"

step "a purge completes at once"
fetch "http://127.0.0.1:$ADMIN_PORT/purge" -H "Authorization: Bearer $TOKEN" -d url=/h11/a
assert_status '20[02]'
assert_body_contains '"status":"done"'
assert_alive
fetch /h11/a
assert_status 200
assert_body "hello h11"
pass
