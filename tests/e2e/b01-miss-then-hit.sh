#!/usr/bin/env bash
# b01-miss-then-hit: the first GET of a cacheable object goes to the origin and is stored (MISS);
# the second is served from the cache (HIT) with the same status, headers and body, and the origin
# sees exactly one request. The same holds for an unscripted origin answer (max-age=60 default).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

script /b01 '"body": "hello b01\n", "headers": {"Cache-Control": "max-age=60", "Content-Type": "text/plain; charset=utf-8", "X-Custom": "kept"}'

step "first GET: MISS, stored"
fetch /b01
assert_status 200
assert_body "hello b01"
assert_cache MISS 'edgecache; fwd=miss; stored'
assert_header Age '[0-9]+'
assert_header Content-Type 'text/plain; charset=utf-8'
assert_header X-Custom kept
assert_header Content-Length 10
assert_count /b01 1

step "second GET: HIT, origin not asked"
fetch /b01
assert_status 200
assert_body "hello b01"
assert_cache HIT 'edgecache; hit; ttl=[0-9]+'
assert_lifetime 60
assert_header Age '[0-9]+'
assert_header Content-Type 'text/plain; charset=utf-8'
assert_header X-Custom kept
assert_count /b01 1

step "a third GET is still a HIT"
fetch /b01
assert_cache HIT
assert_body "hello b01"
assert_count /b01 1

step "an unscripted path: the origin's default answer, MISS then HIT"
fetch /b01/default
assert_status 200
assert_body "origin:/b01/default"
assert_cache MISS
fetch /b01/default
assert_status 200
assert_body "origin:/b01/default"
assert_cache HIT
assert_count /b01/default 1

pass
