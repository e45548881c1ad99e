#!/usr/bin/env bash
# c06-restart-keeps-cache: objects stored before a clean stop (SIGTERM, exit 0) are HITs after a
# restart on the same cache directory, with their headers and bodies intact (a small one and a 1 MB
# one, compared by sha256), and the origin is not asked again.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

size=$((1024 * 1024 + 17))
want=$(pattern_sha256 "$size")
script /c06/small '"body": "persisted", "headers": {"Cache-Control": "max-age=600", "Content-Type": "text/plain", "X-Kept": "yes"}'
script /c06/big "\"body_size\": $size, \"headers\": {\"Cache-Control\": \"max-age=600\", \"Content-Type\": \"application/octet-stream\"}"

step "before the restart: MISS then HIT"
fetch /c06/small
assert_cache MISS 'edgecache; fwd=miss; stored'
fetch /c06/small
assert_cache HIT
fetch /c06/big
assert_cache MISS 'edgecache; fwd=miss; stored'
assert_eq "$want" "$(body_sha256)" "big body sha256 (MISS)"
fetch /c06/big
assert_cache HIT
assert_eq "$want" "$(body_sha256)" "big body sha256 (HIT)"
assert_count /c06/small 1
assert_count /c06/big 1

step "restart on the same cache directory"
stop_edge
start_edge --origin "$ORIGIN_URL"

step "after the restart: HITs, origin not asked"
fetch /c06/small
assert_status 200
assert_body persisted
assert_cache HIT
assert_lifetime 600
assert_header Content-Type text/plain
assert_header X-Kept yes
assert_header Age '[0-9]+'
fetch /c06/big
assert_status 200
assert_cache HIT
assert_header Content-Length "$size"
assert_eq "$want" "$(body_sha256)" "big body sha256 after the restart"
assert_count /c06/small 1
assert_count /c06/big 1

step "a second clean stop"
stop_edge

pass
