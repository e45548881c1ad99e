#!/usr/bin/env bash
# c13-stale (RFC 5861, RFC 9111 §4.2.4): stale-while-revalidate serves the stale copy at once and
# refreshes it with one background request; stale-if-error serves the stale copy when the origin
# answers 5xx or cannot be reached, within its window; must-revalidate never serves stale: an
# unreachable origin gives 504.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
origin_pid=${PIDS[-1]}
cat >"$T/edge.yaml" <<YAML
listen: 127.0.0.1:1
origin: $ORIGIN_URL
behaviors: [{path: "*", default_ttl: 0}]
YAML
start_edge -c "$T/edge.yaml"

# The background refresh is held at the origin's gate "swr" until the still-stale fetches are done:
# they cannot race it however slow the machine is, and a stale answer that waited for the refresh
# would never come (curl gives up first).
step "RFC 5861 §3: stale-while-revalidate: stale at once, one background refresh"
script /c13/swr '"body": "v1", "headers": {"Cache-Control": "max-age=2, stale-while-revalidate=60"}'
fetch /c13/swr
assert_cache MISS
sleep 3 # past max-age=2
script /c13/swr '"body": "v2", "hold": "swr", "headers": {"Cache-Control": "max-age=60"}'
fetch /c13/swr
assert_status 200
assert_body v1
assert_cache STALE 'edgecache; hit; detail=stale-while-revalidate'
wait_held swr 1 # the refresh has reached the origin, and waits there
for i in 1 2 3; do # still stale: the refresh is in flight, and nobody starts another one
    fetch /c13/swr
    assert_body v1
    assert_cache STALE
done
assert_count /c13/swr 2
release swr
swr_refreshed() { try_fetch /c13/swr && [[ $STATUS == 200 && $(body) == v2 ]]; }
wait_until swr_refreshed
assert_cache HIT
assert_count /c13/swr 2

step "RFC 5861 §4: stale-if-error on a 5xx and on a refused connection"
script /c13/sie '"body": "good", "headers": {"Cache-Control": "max-age=2, stale-if-error=600"}'
fetch /c13/sie
sleep 3 # past max-age=2
script /c13/sie '"status": 503, "body": "down"'
fetch /c13/sie
assert_status 200
assert_body good
assert_cache STALE
script /c13/mr '"body": "strict", "headers": {"Cache-Control": "max-age=2, must-revalidate"}'
fetch /c13/mr
assert_cache MISS
script /c13/win '"body": "brief", "headers": {"Cache-Control": "max-age=1, stale-if-error=1"}'
fetch /c13/win
sleep 3 # past /c13/sie's and /c13/mr's max-age=2, and past /c13/win's 1 + 1 s
kill "$origin_pid" || fail "could not stop the origin"
wait "$origin_pid" 2>/dev/null || true
fetch /c13/sie
assert_status 200
assert_body good
assert_cache STALE

step "RFC 9111 §4.2.4: must-revalidate and an unreachable origin: 504, never stale"
fetch /c13/mr
assert_status 504
assert_header X-Cache ERROR

step "RFC 5861 §4: past the stale-if-error window: no stale copy"
fetch /c13/win
[[ $STATUS == 502 || $STATUS == 504 ]] || fail "expected 502/504 past the window, got $STATUS"
assert_body_lacks brief

pass
