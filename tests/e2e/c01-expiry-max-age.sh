#!/usr/bin/env bash
# c01-expiry-max-age: an object with max-age=2 is a HIT while fresh and goes back to the origin once
# it has expired (3 s later); the fresh copy is then stored and served as a HIT again. (2 s, not 1:
# ages are whole seconds, and a 1 s lifetime can end between two back-to-back requests.)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

script /c01 '"body": "short-lived", "headers": {"Cache-Control": "max-age=2"}'

step "MISS, then HIT while fresh"
fetch /c01
assert_status 200
assert_body short-lived
assert_cache MISS 'edgecache; fwd=miss; stored'
fetch /c01
assert_status 200
assert_body short-lived
assert_cache HIT
assert_lifetime 2
assert_header Age '[01]'
assert_count /c01 1

step "after expiry the origin is asked again"
sleep 3
script /c01 '"body": "second copy", "headers": {"Cache-Control": "max-age=60"}'
fetch /c01
assert_status 200
assert_body "second copy"
assert_header X-Cache MISS
# RFC 9211 lets a cache say it had a stale copy (fwd=stale) or not (fwd=miss).
assert_cache MISS 'edgecache; fwd=(miss|uri-miss|stale); stored'
assert_count /c01 2

step "the refreshed copy is a HIT"
fetch /c01
assert_body "second copy"
assert_cache HIT
assert_lifetime 60
assert_count /c01 2

pass
