#!/usr/bin/env bash
# a10-restart-fast: a restart does not scan the store. With 2000 objects stored, the edge accepts
# connections about as soon as it did on an empty cache directory, and every object is a HIT right away,
# the origin not asked again. Both start-ups are timed the same way, on the same machine, minutes apart:
# the restart must take less than twice the empty start plus 5 s, a bound a loaded machine keeps, and
# the time is printed for a reader to compare. (At 2000 objects a scan of the records themselves would
# cost milliseconds; what the bound catches is work per object that costs like a request: a re-read
# of bodies, a check against the origin, a rebuilt index.)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=2000
start_origin O
script '*' '"body": "some object body, 40 bytes long........", "headers": {"Cache-Control": "max-age=3600"}'

# timed_start: starts the edge on $EDGE_PORT and waits until it accepts connections; START_MS is the time
timed_start() {
    local t0 t1 i
    t0=$(date +%s%N)
    start_edge_raw --listen "127.0.0.1:$EDGE_PORT" --origin "$ORIGIN_URL"
    for ((i = 0; i < 3000; i++)); do
        port_open "$EDGE_PORT" && break
        edge_alive || fail "edgecache exited during startup"
        sleep 0.01
    done
    t1=$(date +%s%N)
    port_open "$EDGE_PORT" || fail "the port does not answer after 30 s"
    START_MS=$(((t1 - t0) / 1000000))
}

step "start on an empty cache directory"
EDGE_PORT=$(free_port)
timed_start
empty_ms=$START_MS
echo "first start: the port answered after $empty_ms ms"

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

step "restart with $N objects: the port answers about as fast as on the empty directory"
timed_start
ms=$START_MS
echo "restart: the port answered after $ms ms (on the empty directory: $empty_ms ms)"
((ms < 2 * empty_ms + 5000)) || fail "the restart took $ms ms, expected < 2 x $empty_ms + 5000"

step "every object is a HIT right away"
get_all "$T/after"
n=$(awk '$2 != 200 || $3 != "HIT"' "$T/after" | wc -l)
assert_eq 0 "$n" "responses after the restart that were not a 200 HIT ($(awk '$3 != "HIT"' "$T/after" | head -n 3))"
assert_eq $N "$(origin_total)" "origin requests after the restart"

pass
