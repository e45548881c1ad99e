#!/usr/bin/env bash
# a10-restart-fast: a restart does not scan the store. With 2000 objects stored, the edge accepts
# connections within 2 s of being started again (a loose bound, for loaded CI machines), and every object
# is a HIT right away, the origin not asked again.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=2000
start_origin O
script '*' '"body": "some object body, 40 bytes long........", "headers": {"Cache-Control": "max-age=3600"}'
start_edge --origin "$ORIGIN_URL"

# get_all OUT: every /r/1..N, two clients with kept-alive connections; a line "path status x-cache" each
get_all() {
    local out=$1
    export EDGE_PORT
    # (each client writes a file of its own: two curls appending to one file may interleave their lines)
    seq -f '/r/%g' 1 $N | xargs -n 250 -P 2 bash -c '
        args=()
        for p in "$@"; do args+=(-o /dev/null -w "$p %{http_code} %header{x-cache}\n" "http://127.0.0.1:$EDGE_PORT$p"); done
        curl -s --max-time 60 "${args[@]}" >"$0.${1#/r/}"' "$out" || true
    cat "$out".* >"$out"
    rm -f "$out".*
    assert_eq $N "$(wc -l <"$out")" "responses in $out"
}

step "store $N objects"
get_all "$T/fill"
n=$(awk '$2 != 200 || $3 != "MISS"' "$T/fill" | wc -l)
assert_eq 0 "$n" "responses that were not a 200 MISS ($(awk '$2 != 200 || $3 != "MISS"' "$T/fill" | head -n 3 | xargs))"
assert_eq $N "$(origin_total)" "origin requests"
stop_edge
du -sh "$T/cache"

step "restart: the port answers within 2 s"
t0=$(date +%s%N)
start_edge_raw --listen "127.0.0.1:$EDGE_PORT" --origin "$ORIGIN_URL"
for ((i = 0; i < 1000; i++)); do
    port_open "$EDGE_PORT" && break
    edge_alive || fail "edgecache exited during startup"
    sleep 0.01
done
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "restart: the port answered after $ms ms"
port_open "$EDGE_PORT" || fail "the port does not answer after 10 s"
((ms < 2000)) || fail "the restart took $ms ms, expected < 2000"

step "every object is a HIT right away"
get_all "$T/after"
n=$(awk '$2 != 200 || $3 != "HIT"' "$T/after" | wc -l)
assert_eq 0 "$n" "responses after the restart that were not a 200 HIT ($(awk '$3 != "HIT"' "$T/after" | head -n 3))"
assert_eq $N "$(origin_total)" "origin requests after the restart"

pass
