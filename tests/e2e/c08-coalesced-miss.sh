#!/usr/bin/env bash
# c08-coalesced-miss: concurrent requests for the same missing object share one origin fetch (the
# in-flight object, DESIGN "join the in-flight fetch"): eight clients, a slow origin, one origin
# request, and every client gets the complete body.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

size=300000
want=$(pattern_sha256 "$size")
script /c08 "\"body_size\": $size, \"delay\": 1, \"headers\": {\"Cache-Control\": \"max-age=60\"}"

step "8 concurrent GETs while the origin takes 1 s to answer"
pids=()
for i in 1 2 3 4 5 6 7 8; do
    curl -sS --max-time 10 -o "$T/c$i.body" -D "$T/c$i.hdr" -w '%{http_code}' \
        "http://127.0.0.1:$EDGE_PORT/c08" >"$T/c$i.status" 2>"$T/c$i.err" &
    pids+=($!)
done
for i in "${!pids[@]}"; do
    n=$((i + 1))
    wait "${pids[$i]}" || fail "client $n: curl failed: $(cat "$T/c$n.err")"
    assert_eq 200 "$(cat "$T/c$n.status")" "client $n status"
    assert_eq "$want" "$(sha256sum <"$T/c$n.body" | cut -d' ' -f1)" "client $n body sha256"
    echo "   client $n: $(tr -d '\r' <"$T/c$n.hdr" | grep -i '^x-cache:')"
done
assert_count /c08 1

step "afterwards: a plain HIT"
fetch /c08
assert_cache HIT
assert_eq "$want" "$(body_sha256)" "body sha256"
assert_count /c08 1

pass
