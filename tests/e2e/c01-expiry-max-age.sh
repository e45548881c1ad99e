#!/usr/bin/env bash
# c01-expiry-max-age: an object is a HIT while fresh and goes back to the origin once it has expired;
# the fresh copy is then stored and served as a HIT again. Two objects, so that no check depends on how
# fast a loaded machine is: "a HIT while fresh" is asserted on a long-lived object (max-age=600, its
# lifetime visible as ttl= plus Age), expiry on a short-lived one (max-age=2) that the scenario sleeps past.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

script /c01/long '"body": "long-lived", "headers": {"Cache-Control": "max-age=600"}'
script /c01 '"body": "short-lived", "headers": {"Cache-Control": "max-age=2"}'

step "MISS, then HIT while fresh (max-age=600)"
fetch /c01/long
assert_status 200
assert_body long-lived
assert_cache MISS 'edgecache; fwd=miss; stored'
fetch /c01/long
assert_status 200
assert_body long-lived
assert_cache HIT
assert_lifetime 600
assert_count /c01/long 1

step "a max-age=2 object is stored with that lifetime"
fetch /c01
assert_status 200
assert_body short-lived
assert_cache MISS 'edgecache; fwd=miss; stored; ttl=[0-2]'
assert_count /c01 1

step "after its expiry the origin is asked again; the long-lived one is still a HIT"
# (sleeping past an expiry holds on any machine: the check is only that it HAS expired)
sleep 3
script /c01 '"body": "second copy", "headers": {"Cache-Control": "max-age=60"}'
fetch /c01
assert_status 200
assert_body "second copy"
assert_header X-Cache MISS
# RFC 9211 lets a cache say it had a stale copy (fwd=stale) or not (fwd=miss).
assert_cache MISS 'edgecache; fwd=(miss|uri-miss|stale); stored'
assert_count /c01 2
fetch /c01/long
assert_cache HIT
assert_count /c01/long 1

step "the refreshed copy is a HIT"
fetch /c01
assert_body "second copy"
assert_cache HIT
assert_lifetime 60
assert_count /c01 2

pass
