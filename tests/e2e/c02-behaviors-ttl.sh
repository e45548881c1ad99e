#!/usr/bin/env bash
# c02-behaviors-ttl: per-path behaviors decide the TTL, first match wins: a default_ttl the behavior
# writes applies when the origin gives no lifetime but a validator; without one, the Last-Modified
# heuristic (10 %, capped at the built-in default_ttl) does; the origin's lifetime (s-maxage > max-age > Expires) applies otherwise,
# clamped to [min_ttl, max_ttl]; default_ttl 0 means not cached. Visible as the ttl= of Cache-Status
# and, after the clock moves, as the origin count. A lifetime is only ever checked as ttl= plus Age, and
# a short one only by sleeping past it, so that no check depends on how fast the machine is.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
cat >"$T/edge.yaml" <<YAML
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"]}
behaviors:
  - {path: "/default/*", default_ttl: 100}
  - {path: "/max/*", max_ttl: 30}
  - {path: "/maxshort/*", max_ttl: 2}
  - {path: "/min/*", min_ttl: 600}
  - {path: "/zero/*", default_ttl: 0}
  - {path: "*"}
YAML
start_edge -c "$T/edge.yaml"

# hit_ttl PATH LIFETIME: MISS then HIT with that lifetime (ttl= plus Age), one origin request.
hit_ttl() {
    fetch "$1"
    assert_status 200
    assert_cache MISS 'edgecache; fwd=miss; stored'
    fetch "$1"
    assert_status 200
    assert_cache HIT 'edgecache; hit; ttl=[0-9]+'
    assert_lifetime "$2"
    assert_count "$1" 1
}

step "no lifetime from the origin: default_ttl 100"
script /default/none '"body": "x", "etag": "\"n1\""'
hit_ttl /default/none 100

step "the origin's max-age beats default_ttl"
script /default/maxage '"body": "x", "headers": {"Cache-Control": "max-age=30"}'
hit_ttl /default/maxage 30

step "s-maxage beats max-age"
script /default/smaxage '"body": "x", "headers": {"Cache-Control": "max-age=10, s-maxage=40"}'
hit_ttl /default/smaxage 40

step "Expires when there is no max-age"
# (the origin writes Expires when it answers, 20 s after the Date it sends: the lifetime is exactly 20)
script /default/expires '"body": "x", "headers": {"Expires": "{now+20}"}'
hit_ttl /default/expires 20

step "max-age beats Expires"
script /default/both '"body": "x", "headers": {"Expires": "{now+20}", "Cache-Control": "max-age=45"}'
hit_ttl /default/both 45

step "max_ttl 30 clamps max-age=60"
script /max/a '"body": "x", "headers": {"Cache-Control": "max-age=60"}'
hit_ttl /max/a 30

step "max_ttl 2 clamps max-age=60 (the object expires below)"
script /maxshort/a '"body": "x", "headers": {"Cache-Control": "max-age=60"}'
fetch /maxshort/a
assert_status 200
assert_cache MISS 'edgecache; fwd=miss; stored; ttl=[0-2]'
assert_count /maxshort/a 1

step "min_ttl 600 lifts max-age=1"
script /min/a '"body": "x", "headers": {"Cache-Control": "max-age=1"}'
hit_ttl /min/a 600

step "the catch-all behavior: 10 % of a 30-day-old Last-Modified, capped at the built-in default_ttl (86400)"
script /other "\"body\": \"x\", \"last_modified\": $(($(date +%s) - 30 * 86400))"
hit_ttl /other 86400

step "default_ttl 0: an object without lifetime is not reused"
script /zero/a '"body": "zero"'
fetch /zero/a
assert_status 200
assert_body zero
assert_header X-Cache MISS
fetch /zero/a
assert_status 200
assert_body zero
assert_header X-Cache MISS
assert_count /zero/a 2

step "three seconds later: /maxshort/a (clamped to 2 s) has expired, /min/a (lifted from 1 s to 600 s) has not"
sleep 3
fetch /maxshort/a
assert_status 200
assert_header X-Cache MISS
assert_count /maxshort/a 2
fetch /min/a
assert_status 200
assert_cache HIT
assert_lifetime 600
assert_count /min/a 1

pass
