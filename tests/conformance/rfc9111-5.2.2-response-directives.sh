#!/usr/bin/env bash
# rfc9111-5.2.2-response-directives: the response Cache-Control directives (RFC 9111 §5.2.2): no-store,
# no-cache with and without field names, private with and without field names, must-revalidate,
# proxy-revalidate, s-maxage implying proxy-revalidate, public, immutable and must-understand.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

step "§5.2.2.5 no-store: never stored, whatever else the response says"
script /d/no-store '"body": "n", "etag": "\"n\"", "headers": {"Cache-Control": "no-store, max-age=600"}'
forwarded /d/no-store
assert_cache MISS 'edgecache; fwd=miss; detail=no-store'
forwarded /d/no-store
script /d/no-store-case '"body": "n", "headers": {"Cache-Control": "No-StOrE"}'
forwarded /d/no-store-case
forwarded /d/no-store-case

step "§5.2.2.4 no-cache: stored, and revalidated on every use even when fresh"
script /d/no-cache '"body": "c", "etag": "\"c1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=600, No-Cache"}'
forwarded /d/no-cache
assert_cache MISS 'edgecache; fwd=miss; stored'
forwarded /d/no-cache
assert_cache REVALIDATED 'edgecache; fwd=stale; fwd-status=304'
assert_body c

step "§5.2.2.4 no-cache=\"X-Secret\": stored and reused, but never with X-Secret"
script /d/no-cache-field '"body": "f", "headers": {"Cache-Control": "no-cache=\"X-Secret, X-Other-Secret\", max-age=600", "X-Secret": "s1", "X-Other-Secret": "s2", "X-Public": "p"}'
forwarded /d/no-cache-field
assert_header X-Secret s1
reused /d/no-cache-field
assert_cache HIT
assert_no_header X-Secret
assert_no_header X-Other-Secret
assert_header X-Public p

step "§5.2.2.7 private: a shared cache never stores it"
script /d/private '"body": "p", "headers": {"Cache-Control": "private, max-age=600"}'
forwarded /d/private
assert_cache MISS 'edgecache; fwd=miss; detail=private'
forwarded /d/private

step "§5.2.2.7 private=\"X-User\": stored and reused, without X-User"
script /d/private-field '"body": "p", "headers": {"Cache-Control": "private=\"X-User\", max-age=600", "X-User": "alice", "X-Public": "p"}'
forwarded /d/private-field
assert_header X-User alice
reused /d/private-field
assert_no_header X-User
assert_header X-Public p

step "§5.2.2.6 public: a request with Authorization may be answered from the cache (§3.5)"
script /d/public '"body": "pub", "headers": {"Cache-Control": "public, max-age=600"}'
forwarded /d/public -H 'Authorization: Bearer a'
reused /d/public -H 'Authorization: Bearer b'
assert_body pub

step "§5.2.2.2 must-revalidate: fresh, reused; stale, revalidated before any use"
# (fresh on a long-lived object, stale on a short one slept past: no check depends on the machine's speed)
script /d/mr-fresh '"body": "m", "etag": "\"m1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=600, must-revalidate"}'
forwarded /d/mr-fresh
reused /d/mr-fresh
script /d/must-revalidate '"body": "m", "etag": "\"m1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=2, must-revalidate"}'
forwarded /d/must-revalidate
sleep 3
forwarded /d/must-revalidate
assert_cache REVALIDATED 'edgecache; fwd=stale; fwd-status=304'

step "§5.2.2.2 must-revalidate: a stale copy never stands in for an origin error (the 503 goes through)"
script /d/mr-error '"body": "m", "headers": {"Cache-Control": "max-age=2, must-revalidate"}'
forwarded /d/mr-error
sleep 3
script /d/mr-error '"status": 503, "body": "down"'
forwarded /d/mr-error
assert_status 503

step "§5.2.2.8 proxy-revalidate: the same, for a shared cache"
script /d/proxy-revalidate '"body": "m", "headers": {"Cache-Control": "max-age=2, proxy-revalidate"}'
forwarded /d/proxy-revalidate
sleep 3
script /d/proxy-revalidate '"status": 503, "body": "down"'
forwarded /d/proxy-revalidate
assert_status 503

step "§5.2.2.10 s-maxage implies proxy-revalidate"
script /d/s-maxage-fresh '"body": "m", "headers": {"Cache-Control": "s-maxage=600"}'
forwarded /d/s-maxage-fresh
reused /d/s-maxage-fresh
script /d/s-maxage '"body": "m", "headers": {"Cache-Control": "s-maxage=2"}'
forwarded /d/s-maxage
sleep 3
script /d/s-maxage '"status": 503, "body": "down"'
forwarded /d/s-maxage
assert_status 503

step "§4.2.4 without them, a stale copy stands in for a 503 (CloudFront; see the deviations)"
script /d/plain '"body": "plain", "headers": {"Cache-Control": "max-age=2"}'
forwarded /d/plain
sleep 3
script /d/plain '"status": 503, "body": "down"'
forwarded /d/plain
assert_status 200
assert_body plain
assert_cache STALE

step "§5.2.2.3 must-understand with a known status: no-store is ignored, the response is stored"
script /d/must-understand '"body": "u", "headers": {"Cache-Control": "must-understand, no-store, max-age=600"}'
forwarded /d/must-understand
reused /d/must-understand
assert_body u

step "§5.2.2.3 must-understand with an unknown status (299): not stored"
script /d/must-understand-299 '"status": 299, "body": "u", "headers": {"Cache-Control": "must-understand, no-store, max-age=600"}'
forwarded /d/must-understand-299
forwarded /d/must-understand-299

step "RFC 8246 immutable: stored and reused like any fresh response (client reloads: see rfc9111-5.2.1)"
script /d/immutable '"body": "i", "headers": {"Cache-Control": "max-age=600, immutable"}'
forwarded /d/immutable
reused /d/immutable

pass
