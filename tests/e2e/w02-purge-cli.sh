#!/usr/bin/env bash
# w02-purge-cli: `edgecache purge` drives the admin API (POST /purge, then GET /purge/ID until done) and
# the objects it names are gone: the proof is the origin's count moving on the next request, while an
# object outside the purge stays a HIT with its count unchanged. Covers --prefix, URL (path and absolute),
# --tag (Surrogate-Key / Cache-Tag), --soft (a stale copy, revalidated), --no-wait, a wrong token (401,
# exit 1), a dead admin port (exit 1) and usage errors (exit 2).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

step "usage errors need no edge: exit 2"
for args in "" "/a --prefix /p/" "--tag t --prefix /p/" "/a" "--admin 127.0.0.1 /a" "--admin 127.0.0.1:1 --timeout 0 /a"; do
    rc=0
    # shellcheck disable=SC2086
    "$EDGECACHE" purge $args >"$T/usage.out" 2>&1 || rc=$?
    assert_eq 2 "$rc" "exit status of 'purge $args'"
done
grep -q 'no admin listener' <("$EDGECACHE" purge /a 2>&1) || fail "no hint about the missing admin address"

start_origin O
ADMIN_PORT=$(free_port)
printf 'w02-token-0123456789abcdef\n' >"$T/admin.token"
printf 'w02-wrong-token-000000000\n' >"$T/wrong.token"
cat >"$T/edge.yaml" <<EOF
origin: $ORIGIN_URL
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
EOF
start_edge -c "$T/edge.yaml"
wait_edge "$ADMIN_PORT"

step "a dead admin port: exit 1"
rc=0
"$EDGECACHE" purge --admin "127.0.0.1:$(free_port)" --token-file "$T/admin.token" /p/a >"$T/dead.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "exit status"
grep -q 'Connection refused' "$T/dead.out" || fail "no 'Connection refused': $(cat "$T/dead.out")"

CC='"Cache-Control": "max-age=600"'
script /p/a "\"body\": \"a\", \"headers\": {$CC}"
script /p/b "\"body\": \"b\", \"headers\": {$CC}"
script /q/c "\"body\": \"c\", \"headers\": {$CC}"
script /t/x "\"body\": \"x\", \"headers\": {$CC, \"Surrogate-Key\": \"tagx other\"}"
script /t/y "\"body\": \"y\", \"headers\": {$CC, \"Cache-Tag\": \"tagx\"}"
script /t/z "\"body\": \"z\", \"headers\": {$CC, \"Surrogate-Key\": \"nope\"}"
script /s/a "\"body\": \"s\", \"headers\": {$CC}, \"etag\": \"\\\"s1\\\"\", \"304_if_match\": true"

# cached PATH...: MISS then HIT, the origin asked once
cached() {
    local path
    for path in "$@"; do
        fetch "$path"
        assert_cache MISS
        fetch "$path"
        assert_cache HIT
        assert_count "$path" 1
    done
}

step "store /p/a, /p/b, /q/c, /t/x, /t/y, /t/z, /s/a"
cached /p/a /p/b /q/c /t/x /t/y /t/z /s/a

step "purge --prefix /p/: 2 objects; /p/* refetched, /q/c still a HIT"
rc=0
"$EDGECACHE" purge -c "$T/edge.yaml" --prefix /p/ >"$T/out1" 2>"$T/err1" || rc=$?
cat "$T/out1" "$T/err1"
assert_eq 0 "$rc" "exit status"
assert_match 'purge [A-Za-z0-9_-]+ accepted: prefix /p/' "$(sed -n 1p "$T/out1")" "accepted line"
assert_match 'purge [A-Za-z0-9_-]+ done: 2 objects' "$(sed -n 2p "$T/out1")" "done line"
fetch /p/a
assert_cache MISS
assert_body a
assert_count /p/a 2
fetch /p/b
assert_cache MISS
assert_count /p/b 2
fetch /q/c
assert_cache HIT
assert_count /q/c 1

step "a wrong token: 401, exit 1, nothing purged"
rc=0
"$EDGECACHE" purge --admin "127.0.0.1:$ADMIN_PORT" --token-file "$T/wrong.token" /q/c >"$T/out2" 2>"$T/err2" || rc=$?
assert_eq 1 "$rc" "exit status"
grep -q '401' "$T/err2" || fail "no 401 in: $(cat "$T/err2")"
! grep -q accepted "$T/out2" || fail "a refused purge printed 'accepted'"
fetch /q/c
assert_cache HIT
assert_count /q/c 1

step "purge URL, as a path and as an absolute URL: 1 object each"
out=$("$EDGECACHE" purge --admin "127.0.0.1:$ADMIN_PORT" --token-file "$T/admin.token" /q/c)
assert_match 'purge [A-Za-z0-9_-]+ accepted: url /q/c.*
purge [A-Za-z0-9_-]+ done: 1 object' "$out" output
fetch /q/c
assert_cache MISS
assert_count /q/c 2
out=$("$EDGECACHE" purge -c "$T/edge.yaml" "http://127.0.0.1:$EDGE_PORT/p/a")
assert_match '.*done: 1 object' "$out" output
fetch /p/a
assert_cache MISS
assert_count /p/a 3
fetch /p/b
assert_cache HIT
assert_count /p/b 2

step "purge --tag tagx: the Surrogate-Key and the Cache-Tag object, not the third"
out=$("$EDGECACHE" purge -c "$T/edge.yaml" --tag tagx)
assert_match 'purge [A-Za-z0-9_-]+ accepted: tag tagx
purge [A-Za-z0-9_-]+ done: 2 objects' "$out" output
fetch /t/x
assert_cache MISS
assert_count /t/x 2
fetch /t/y
assert_cache MISS
assert_count /t/y 2
fetch /t/z
assert_cache HIT
assert_count /t/z 1

step "--soft: the object is kept stale and revalidated (a 304), not fetched whole"
out=$("$EDGECACHE" purge -c "$T/edge.yaml" --soft /s/a)
assert_match 'purge [A-Za-z0-9_-]+ accepted: url /s/a \(soft\)
purge [A-Za-z0-9_-]+ done: 1 object' "$out" output
fetch /s/a
assert_status 200
assert_body s
assert_cache REVALIDATED
assert_count /s/a 2

step "--no-wait: accepted, no wait for done"
out=$("$EDGECACHE" purge -c "$T/edge.yaml" --no-wait /t/z)
assert_match 'purge [A-Za-z0-9_-]+ accepted: url /t/z' "$out" output

pass
