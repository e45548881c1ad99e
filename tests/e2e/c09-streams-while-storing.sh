#!/usr/bin/env bash
# c09-streams-while-storing: a miss streams to the client while it is being stored. The origin sends
# the head and the first 64 KiB of a 1 MiB body, then stalls for 3 s before the rest: the client must
# have its first bytes long before the origin has finished, the whole body must arrive byte-identical,
# and the object must then be a HIT (stored once, complete).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

size=1048576
want=$(pattern_sha256 "$size")
script /c09 "\"body_size\": $size, \"stall_after\": 65536, \"stall\": 3, \"headers\": {\"Cache-Control\": \"max-age=60\"}"

step "the first byte arrives before the origin has finished"
times=$(curl -sS --max-time 20 -o "$T/c09.body" -w '%{time_starttransfer} %{time_total}' "http://127.0.0.1:$EDGE_PORT/c09")
read -r first total <<<"$times"
echo "   first byte after ${first}s, complete after ${total}s"
"$PYTHON" -c 'import sys; f, t = map(float, sys.argv[1:]); sys.exit(not (f < 1.5 and t >= 2.5))' "$first" "$total" ||
    fail "first byte after ${first}s, whole body after ${total}s: expected the first byte within 1.5 s and the end after the 3 s stall"
assert_eq "$want" "$(sha256sum <"$T/c09.body" | cut -d' ' -f1)" "body sha256"
assert_count /c09 1

step "stored complete: a HIT with the same bytes"
fetch /c09
assert_status 200
assert_cache HIT
assert_eq "$want" "$(body_sha256)" "body sha256"
assert_count /c09 1

pass
