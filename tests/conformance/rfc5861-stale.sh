#!/usr/bin/env bash
# rfc5861-stale: serving stale responses (RFC 5861, RFC 9111 §4.2.4): stale-while-revalidate serves the
# stale copy at once with one background revalidation; stale-if-error serves it when the origin answers
# 5xx or cannot be reached, within its window only; must-revalidate with an unreachable origin: 504.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
origin_pid=${PIDS[-1]}
start_edge --origin "$ORIGIN_URL"

step "RFC 5861 §3 stale-while-revalidate: stale served at once, exactly one background revalidation"
script /st/swr '"body": "v1", "headers": {"Cache-Control": "max-age=2, stale-while-revalidate=60"}'
forwarded /st/swr
sleep 3 # past max-age=2
# The revalidation waits at the origin's gate until the still-stale fetches are done: it cannot race
# them, and a stale answer that waited for it would never come.
script /st/swr '"body": "v2", "hold": "swr", "headers": {"Cache-Control": "max-age=600"}'
fetch /st/swr
assert_body v1
assert_cache STALE 'edgecache; hit; detail=stale-while-revalidate'
wait_held swr 1
for i in 1 2 3; do fetch /st/swr; assert_body v1; done
assert_count /st/swr 2
release swr
swr_refreshed() { try_fetch /st/swr && [[ $STATUS == 200 && $(body) == v2 ]]; }
wait_until swr_refreshed
assert_cache HIT
assert_count /st/swr 2

step "RFC 5861 §3 past the stale-while-revalidate window: a normal (synchronous) fetch"
script /st/swr-past '"body": "old", "headers": {"Cache-Control": "max-age=1, stale-while-revalidate=1"}'
forwarded /st/swr-past
sleep 3
script /st/swr-past '"body": "new", "headers": {"Cache-Control": "max-age=600"}'
forwarded /st/swr-past
assert_body new

step "RFC 5861 §4 stale-if-error on a 5xx, within its window"
script /st/sie '"body": "good", "headers": {"Cache-Control": "max-age=2, stale-if-error=600"}'
forwarded /st/sie
sleep 3
script /st/sie '"status": 500, "body": "down"'
forwarded /st/sie
assert_status 200
assert_body good
assert_cache STALE

step "RFC 5861 §4 past the stale-if-error window: the error goes through"
script /st/sie-past '"body": "brief", "headers": {"Cache-Control": "max-age=1, stale-if-error=1"}'
forwarded /st/sie-past
sleep 3
script /st/sie-past '"status": 503, "body": "down"'
forwarded /st/sie-past
assert_status 503

step "prepare: objects for the unreachable-origin steps"
script /st/sie-conn '"body": "kept", "headers": {"Cache-Control": "max-age=2, stale-if-error=600"}'
forwarded /st/sie-conn
script /st/mr '"body": "strict", "headers": {"Cache-Control": "max-age=2, must-revalidate"}'
forwarded /st/mr
sleep 3
kill "$origin_pid"
wait "$origin_pid" 2>/dev/null || true

step "RFC 5861 §4 stale-if-error when the origin cannot be reached"
fetch /st/sie-conn
assert_status 200
assert_body kept
assert_cache STALE

step "RFC 9111 §4.2.4 / §5.2.2.2 must-revalidate and an unreachable origin: 504, never stale"
fetch /st/mr
assert_status 504
assert_body_lacks strict

pass
