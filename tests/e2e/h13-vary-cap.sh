#!/usr/bin/env bash
# h13-vary-cap: cache.max_variants bounds the stored Vary variants of one URL. One client making up 100
# variants (Accept-Language: 1..100, a header forwarded by default) of /h13/v with a cap of 8 is served every one of them (each a 200 with its own
# body), but only the first 8 are stored: the other objects stay HITs (the origin sees each once), the
# 8 stored variants are HITs, a refused one is a MISS again, and edgecache_store_vary_refused_total says 92.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
ADMIN_PORT=$(free_port)
TOKEN='h13-token-0123456789abcdef'
printf '%s\n' "$TOKEN" >"$T/admin.token"
cat >"$T/edge.yaml" <<EOF
origin: $ORIGIN_URL
cache: {max_size: 4M, max_variants: 8}
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
EOF
metric() {
    curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$ADMIN_PORT/metrics" |
        awk -v k="$1" '$1 == k { print $2 }'
}
refused_is() { [[ $(metric edgecache_store_vary_refused_total) == "$1" ]]; }
script /h13/v '"body": "v=", "body_from_header": "Accept-Language", "headers": {"Cache-Control": "max-age=600", "Vary": "Accept-Language"}'
script '*' '"body_size": 20000, "headers": {"Cache-Control": "max-age=600"}'

step "a max_variants that is not a number is refused by check"
printf 'origin: %s\ncache: {max_variants: lots}\n' "$ORIGIN_URL" >"$T/bad.yaml"
rc=0
"$EDGECACHE" check -c "$T/bad.yaml" >"$T/check.out" 2>&1 || rc=$?
assert_eq 2 "$rc" "exit status of check"
grep -q 'max_variants' "$T/check.out" || fail "check did not name max_variants: $(cat "$T/check.out")"

start_edge -c "$T/edge.yaml"
wait_edge "$ADMIN_PORT"

step "other objects, stored first"
for i in 1 2 3 4 5; do
    fetch /h13/other/$i
    assert_cache MISS
done

step "100 variants of one URL: each served with its own body"
for i in $(seq 1 100); do
    fetch /h13/v -H "Accept-Language: $i"
    assert_status 200
    assert_body "v=$i"
done
wait_until refused_is 92

step "the other objects are still HITs; 8 variants stored, the rest not"
for i in 1 2 3 4 5; do
    fetch /h13/other/$i
    assert_cache HIT
    assert_count /h13/other/$i 1
done
for i in 1 8; do
    fetch /h13/v -H "Accept-Language: $i"
    assert_cache HIT
    assert_body "v=$i"
done
fetch /h13/v -H "Accept-Language: 50"
assert_cache MISS
assert_body "v=50"
assert_eq 101 "$(origin_count /h13/v)" "origin requests for /h13/v"
pass
