#!/usr/bin/env bash
# rfc9211-cache-status: the Cache-Status field (RFC 9211): hit with ttl; fwd=uri-miss, vary-miss, miss,
# stale, request and bypass with fwd-status; stored; ttl; collapsed; detail; and the edge's member
# appended after the origin's, never replacing it.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
export EDGECACHE_DEBUG=1 # the request state log lines: the collapsed step waits on them
start_edge --origin "$ORIGIN_URL"

step "RFC 9211 §2.2 fwd=uri-miss, §2.3 fwd-status, §2.5 stored, §2.4 ttl"
script /cs/a '"body": "a", "headers": {"Cache-Control": "max-age=600"}'
forwarded /cs/a
assert_cache MISS 'edgecache; fwd=uri-miss; fwd-status=200; stored; ttl=(599|600)'

step "RFC 9211 §2.1 hit, with ttl"
reused /cs/a
assert_cache HIT 'edgecache; hit; ttl=[0-9]+'

step "RFC 9211 §2.2 fwd=vary-miss: the URL is stored, not this variant"
script /cs/vary '"body": "v", "headers": {"Cache-Control": "max-age=600", "Vary": "X-V"}'
forwarded /cs/vary -H 'X-V: 1'
forwarded /cs/vary -H 'X-V: 2'
assert_cache MISS 'edgecache; fwd=vary-miss; fwd-status=200; stored'

step "RFC 9211 §2.2 fwd=stale: a stale stored response was revalidated"
script /cs/stale '"body": "s", "etag": "\"s\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=2"}'
forwarded /cs/stale
sleep 3
forwarded /cs/stale
assert_cache REVALIDATED 'edgecache; fwd=stale; fwd-status=304'

step "RFC 9211 §2.2 fwd=request: the request (Authorization) made the cache go forward"
script /cs/req '"body": "r", "headers": {"Cache-Control": "max-age=600"}'
forwarded /cs/req
forwarded /cs/req -H 'Authorization: Basic dTpw'
assert_cache MISS 'edgecache; fwd=request; fwd-status=200'

step "RFC 9211 §2.2 fwd=bypass: a method the cache does not answer"
script /cs/post '"body": "p"'
forwarded /cs/post -X POST --data-binary x
assert_cache MISS 'edgecache; fwd=bypass; fwd-status=200'

step "RFC 9211 §2.7 detail: why a response was not stored"
script /cs/ns '"body": "n", "headers": {"Cache-Control": "no-store"}'
forwarded /cs/ns
assert_cache MISS 'edgecache; fwd=miss; fwd-status=200; detail=no-store'
assert_not_stored

step "RFC 9211 §2.6 collapsed: concurrent misses share one origin request"
# The origin holds the fetch at a gate until the edge's debug log shows all three requests waiting (WAIT) on
# a fetch: the two later ones have certainly joined the one in flight, however slow the machine.
script /cs/collapse '"body": "c", "hold": "collapse", "headers": {"Cache-Control": "max-age=600"}'
pids=()
for i in 1 2 3; do
    curl -sS --max-time 20 -D "$T/collapse.$i" -o /dev/null "http://127.0.0.1:$EDGE_PORT/cs/collapse" &
    pids+=($!)
done
wait_held collapse 1
wait_log '/cs/collapse: WAIT' 3
release collapse
for pid in "${pids[@]}"; do wait "$pid" || fail "a collapse client failed"; done
assert_count /cs/collapse 1
grep -qi '^cache-status:.*; collapsed' "$T"/collapse.* || fail "no response says collapsed: $(grep -hi '^cache-status' "$T"/collapse.*)"

step "RFC 9211 §2 the origin's Cache-Status is kept; the edge's member comes after it"
script /cs/upstream '"body": "u", "headers": {"Cache-Control": "max-age=600", "Cache-Status": "upstream; hit"}'
forwarded /cs/upstream
lines=$(header_lines Cache-Status | paste -sd, -)
[[ $lines =~ ^upstream\;\ hit,\ *edgecache\; ]] || fail "Cache-Status lines on the MISS: '$lines'"
reused /cs/upstream
lines=$(header_lines Cache-Status | paste -sd, -)
[[ $lines =~ ^upstream\;\ hit,\ *edgecache\;\ hit ]] || fail "Cache-Status lines on the HIT: '$lines'"

pass
