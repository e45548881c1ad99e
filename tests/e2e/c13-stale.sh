#!/usr/bin/env bash
# c13-stale (RFC 5861, RFC 9111 §4.2.4): stale-while-revalidate serves the stale copy at once and
# refreshes it with one background request; stale-if-error serves the stale copy when the origin
# answers 5xx or cannot be reached, within its window; must-revalidate never serves stale: an
# unreachable origin gives 504.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
cat >"$T/edge.yaml" <<YAML
listen: 127.0.0.1:1
origin: $ORIGIN_URL
behaviors: [{path: "*", default_ttl: 0}]
YAML
start_edge -c "$T/edge.yaml"

step "RFC 5861 §3: stale-while-revalidate: stale at once, one background refresh"
script /c13/swr '"body": "v1", "headers": {"Cache-Control": "max-age=2, stale-while-revalidate=60"}'
fetch /c13/swr
assert_cache MISS
sleep 3
script /c13/swr '"body": "v2", "delay": 1, "headers": {"Cache-Control": "max-age=60"}'
fetch /c13/swr
assert_status 200
assert_body v1
assert_cache STALE 'edgecache; hit; detail=stale-while-revalidate'
assert_time_between 0 0.8
for i in 1 2 3; do fetch /c13/swr; assert_body v1; done # still stale: the refresh is in flight
sleep 2
fetch /c13/swr
assert_cache HIT
assert_body v2
assert_count /c13/swr 2

step "RFC 5861 §4: stale-if-error on a 5xx and on a refused connection"
script /c13/sie '"body": "good", "headers": {"Cache-Control": "max-age=2, stale-if-error=600"}'
fetch /c13/sie
sleep 3
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
sleep 3
pkill -f "origin.py --port 0 --port-file $T/origin.O.port" || fail "could not stop the origin"; sleep 0.3
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
