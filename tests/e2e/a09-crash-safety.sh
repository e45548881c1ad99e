#!/usr/bin/env bash
# a09-crash-safety: the store survives a kill -9 in the middle of heavy miss traffic (six clients, objects
# from 1 KB to 1 MB, inline and chunked, some sent by the origin with chunked transfer-encoding): after a
# restart on the same cache directory every object's body is exactly the origin's, the cache goes on
# storing (second fetches are HITs, new objects are stored). And a chunk damaged on disk while the edge is
# down is never served as a complete body: the first chunk is verified before the response starts (a
# MISS with the right body), a later one when it is read (the transfer is aborted, the object dropped
# and fetched anew), and edgecache_corrupt_records counts them.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

SIZES=(1000 50000 262144 300000 1048593 700000 262145 120000)
N=48
declare -A SIZE_OF
list=
for ((i = 1; i <= N; i++)); do
    size=${SIZES[i % ${#SIZES[@]}]}
    SIZE_OF[/o/$i]=$size
    extra=''
    ((i % 3 == 0)) && extra+=', "chunked": true'
    # some large ones pause after their first chunk: the kill then finds chunks stored without their record
    ((size > 270000 && i % 2 == 0)) && extra+=', "stall_after": 270000, "stall": 0.3'
    list+="${list:+, }{\"path\": \"/o/$i\", \"body_size\": $size$extra, \"headers\": {\"Cache-Control\": \"max-age=600\"}}"
done
scripts "[$list]" # (one request, not 48: each process costs on a loaded machine)
# the sha256 of every size's body, from one python rather than one per size
declare -A SHA_OF
while read -r size sha; do SHA_OF[$size]=$sha; done < <("$PYTHON" - "$E2E_DIR" "${SIZES[@]}" <<'PY'
import hashlib, sys
sys.path.insert(0, sys.argv[1])
from origin import pattern_bytes
for n in map(int, sys.argv[2:]):
    print(n, hashlib.sha256(pattern_bytes(0, n)).hexdigest())
PY
)
assert_eq "$(pattern_sha256 1000)" "${SHA_OF[1000]}" "sha256 of the 1000-byte pattern, computed both ways"

step "heavy miss traffic (6 clients), then kill -9 in the middle of it"
( printf '/o/%s\n' $(seq 1 $N) | xargs -n 4 -P 6 bash -c '
    for p in "$@"; do
        curl -s --max-time 20 -o /dev/null "http://127.0.0.1:'"$EDGE_PORT"'$p" && echo "$p" >>"'"$T"'/done"
    done' _ || true ) &
traffic=$!
PIDS+=("$traffic")
# kill once a dozen responses are complete and at least two more requests are at the origin (in flight)
for ((i = 0; i < 400; i++)); do
    d=0; [[ -e $T/done ]] && d=$(wc -l <"$T/done")
    ((d >= 12 && $(origin_total) >= d + 2)) && break
    sleep 0.02
done
kill -KILL "$EDGE_PID"
wait "$EDGE_PID" 2>/dev/null || true
EDGE_PID=
echo "killed after $(wc -l <"$T/done") complete responses; the origin had received $(origin_total) requests"
wait $traffic 2>/dev/null || true

# fetch_all PASS: /o/1../o/N one after the other on one kept-alive connection (one curl, one sha256sum:
# three processes per object cost seconds on a loaded machine); every answer must be a 200 whose body is
# the origin's exactly. Sets X_CACHE[path].
declare -A X_CACHE
fetch_all() {
    local dir=$T/pass.$1 i p status xc file sum args=()
    mkdir -p "$dir"
    for ((i = 1; i <= N; i++)); do
        ((i == 1)) || args+=(--next) # (options per URL; the connection is kept across --next)
        args+=(-sS --max-time 60 -o "$dir/$i" -w "/o/$i %{http_code} %header{x-cache}\n" "http://127.0.0.1:$EDGE_PORT/o/$i")
    done
    curl "${args[@]}" >"$dir.status" 2>"$dir.err" || fail "curl: $(cat "$dir.err")"
    assert_eq "$N" "$(wc -l <"$dir.status")" "answers in pass $1"
    while read -r p status xc; do
        [[ $status == 200 ]] || fail "$p: status $status in pass $1"
        X_CACHE[$p]=$xc
    done <"$dir.status"
    while read -r sum file; do
        p=/o/${file##*/}
        assert_eq "${SHA_OF[${SIZE_OF[$p]}]}" "$sum" "sha256 of $p (${SIZE_OF[$p]} bytes, ${X_CACHE[$p]}) in pass $1"
    done < <(cd "$dir" && sha256sum -- *)
}

step "restart on the same cache directory: every body is the origin's exactly"
start_edge --origin "$ORIGIN_URL"
fetch_all 1
hits=0
for ((i = 1; i <= N; i++)); do [[ ${X_CACHE[/o/$i]} == HIT ]] && hits=$((hits + 1)); done
echo "$hits of $N objects survived the crash as HITs"
((hits > 0)) || fail "no object survived the crash (expected the ones completed well before the kill)"

step "the cache stays usable: second fetches are HITs, origin not asked; new objects are stored"
before=$(origin_total)
fetch_all 2
for ((i = 1; i <= N; i++)); do
    assert_eq HIT "${X_CACHE[/o/$i]}" "X-Cache of /o/$i in the second pass"
done
assert_eq "$before" "$(origin_total)" "origin requests during the second pass"
script /new/1 '"body_size": 1048593, "headers": {"Cache-Control": "max-age=600"}'
fetch /new/1
assert_cache MISS
fetch /new/1
assert_cache HIT
assert_eq "${SHA_OF[1048593]}" "$(body_sha256)" "sha256 of /new/1"
stop_edge

# flip DB CHUNK-INDEX: flips one byte in the middle of every copy of that chunk of the body_size pattern
# (256 KiB chunks) found in the LMDB file; prints how many it found
flip() {
    "$PYTHON" - "$1" "$2" <<'PY'
import sys
path, idx = sys.argv[1], int(sys.argv[2])
CH = 256 * 1024
needle = bytes((i % 251) for i in range(idx * CH, idx * CH + CH))
data = bytearray(open(path, "rb").read())
n, i = 0, data.find(needle)
while i != -1:
    data[i + CH // 2] ^= 0x01
    n += 1
    i = data.find(needle, i + 1)
open(path, "r+b").write(data)
print(n)
PY
}

BIG=1048593
HOST='Host: a09.example' # one name across the restarts on new ports: the host (with a port) is in the key
script /c/obj "\"body_size\": $BIG, \"headers\": {\"Cache-Control\": \"max-age=600\"}"
for where in 2 0; do
    name=cor$where
    step "chunk $where of a 1 MB object damaged on disk while the edge is down"
    origin_reset >/dev/null
    script /c/obj "\"body_size\": $BIG, \"headers\": {\"Cache-Control\": \"max-age=600\"}"
    start_extra_edge $name --origin "$ORIGIN_URL"
    port_var=${name}_PORT
    port=${!port_var}
    fetch "http://127.0.0.1:$port/c/obj" -H "$HOST"
    assert_cache MISS
    fetch "http://127.0.0.1:$port/c/obj" -H "$HOST"
    assert_cache HIT
    stop_extra_edge $name
    found=$(flip "$T/cache.$name/data.mdb" $where)
    ((found >= 1)) || fail "chunk $where of /c/obj not found in $T/cache.$name/data.mdb"

    start_extra_edge $name --origin "$ORIGIN_URL"
    port=${!port_var}
    try_fetch "http://127.0.0.1:$port/c/obj" -H "$HOST"
    if [[ $CURL_RC == 0 && $(body_size) == "$BIG" ]]; then
        assert_eq "${SHA_OF[1048593]}" "$(body_sha256)" "a complete body after the damage must be the right one"
    fi
    if ((where == 0)); then
        step "chunk 0: verified before the response starts: a MISS with the right body"
        assert_eq 0 "$CURL_RC" "curl exit status"
        assert_status 200
        assert_cache MISS
        assert_eq "${SHA_OF[1048593]}" "$(body_sha256)" "sha256"
        assert_count /c/obj 2
    else
        step "chunk $where: found when read: the transfer is aborted, never completed"
        assert_status 200
        assert_cache HIT
        [[ $CURL_RC != 0 ]] || fail "curl completed a transfer whose chunk $where is corrupt ($(body_size) bytes)"
        (($(body_size) < BIG)) || fail "the whole body was sent"
        step "the damaged object was dropped: the next request is a MISS with the right body"
        fetch "http://127.0.0.1:$port/c/obj" -H "$HOST"
        assert_cache MISS
        assert_eq "${SHA_OF[1048593]}" "$(body_sha256)" "sha256 of the refetched object"
        assert_count /c/obj 2
    fi
    fetch "http://127.0.0.1:$port/c/obj" -H "$HOST"
    assert_cache HIT
    assert_eq "${SHA_OF[1048593]}" "$(body_sha256)" "sha256 of the new copy"
    stop_extra_edge $name
    c=$(edge_counter corrupt_records "$T/edge.$name.log")
    ((c >= 1)) || fail "corrupt_records=$c after a damaged chunk $where, expected >= 1"
    # (a damaged first chunk is counted but not logged; a later one is logged)
    ((where == 0)) || grep -q "chunk $where of a09.example/c/obj: .*checksum" "$T/edge.$name.log" || fail "the damaged chunk was not logged"
done

pass
