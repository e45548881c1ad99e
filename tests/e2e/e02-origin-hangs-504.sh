#!/usr/bin/env bash
# e02-origin-hangs-504: an origin that accepts the request and never answers (or answers too late)
# yields the 504 page within read_timeout (1 s here) plus a small tolerance; an origin that stalls
# mid-body longer than read_timeout ends the client's transfer and nothing is stored; the edge keeps
# serving other requests meanwhile.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
cat >"$T/edge.yaml" <<YAML
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"], read_timeout: 1s, connect_timeout: 1s, connect_attempts: 1}
behaviors:
  - {path: "*"}
error_pages:
  - {status: [timeout, 504], page: 504.html}
YAML
start_edge -c "$T/edge.yaml"

page=
[[ -f $TOP_SRCDIR/errorpages/504.html ]] && page=$(cat "$TOP_SRCDIR/errorpages/504.html")

step "the origin never answers: 504 within ~1 s"
script /e02/hang '"hang": true'
fetch /e02/hang
assert_status 504
assert_header X-Cache ERROR
assert_cache ERROR 'edgecache; fwd=miss; detail=.+'
assert_time_between 0.8 6 # read_timeout 1 s; the upper bound only rules out a hang
if [[ -n $page ]]; then assert_eq "$page" "$(body)" "body is errorpages/504.html"; else assert_body_contains 504; fi
assert_count /e02/hang 1

step "the origin answers after 3 s: 504 within ~1 s"
script /e02/slow '"delay": 3, "body": "too late", "headers": {"Cache-Control": "max-age=60"}'
fetch /e02/slow
assert_status 504
assert_time_between 0.8 6 # read_timeout 1 s; the upper bound only rules out a hang
assert_body_lacks 'too late'

step "meanwhile the edge serves others"
fetch /e02/ok
assert_status 200
assert_body 'origin:/e02/ok'

step "the origin stalls 3 s between head and body: the transfer ends, nothing stored"
script /e02/stall '"body_delay": 8, "body": "stalled body", "headers": {"Cache-Control": "max-age=60"}'
try_fetch /e02/stall
echo "   curl exit $CURL_RC, status $STATUS, ${TIME_TOTAL}s"
if [[ $CURL_RC == 0 ]]; then
    assert_status 504
    assert_body_lacks 'stalled body'
fi
assert_time_between 0.8 6 # well before the body (8 s), whatever the load
assert_count /e02/stall 1
script /e02/stall '"body": "fine now", "headers": {"Cache-Control": "max-age=60"}'
fetch /e02/stall
assert_status 200
assert_body 'fine now'
assert_header X-Cache MISS
assert_count /e02/stall 2

step "the hang did not block the edge: the cached object is a HIT"
fetch /e02/ok
assert_cache HIT
assert_count /e02/ok 1
assert_alive

pass
