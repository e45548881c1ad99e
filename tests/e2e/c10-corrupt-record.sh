#!/usr/bin/env bash
# c10-corrupt-record: a record damaged on disk (LMDB has no checksums of its own) is treated as a
# miss, logged, and replaced by the next fetch; the edge never crashes on it. Three damages: an
# unknown record version, a length field that points past the end of the record, and a flipped byte
# in the body itself, which only the body checksum can catch (the record written before the restart
# is verified when first read).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

# damage DB KEY HOW: finds the record of KEY ("127.0.0.1:PORT/path": the host starts every key) in the LMDB
# data file (its fixed 84-byte header, version 2, status 200, is followed by the key text) and breaks it in place.
damage() {
    "$PYTHON" - "$1" "$2" "$3" <<'PY'
import sys
path, key, how = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
data = bytearray(open(path, "rb").read())
hits = 0
i = data.find(key)
while i != -1:
    h = i - 84
    if h >= 0 and data[h:h + 4] == b"\x02\x00\xc8\x00" and int.from_bytes(data[h + 60:h + 64], "little") == len(key):
        if how == "version":
            data[h:h + 2] = b"\xff\xff"
        elif how == "length":  # the headers length: far past the end of the record
            data[h + 64:h + 68] = (0x7fffffff).to_bytes(4, "little")
        else:  # the last byte of the inline body
            lens = [int.from_bytes(data[h + o:h + o + 4], "little") for o in (60, 64, 68, 72)]
            data[h + 84 + sum(lens) - 1] ^= 0x20
        hits += 1
    i = data.find(key, i + 1)
open(path, "r+b").write(data)
sys.exit(0 if hits >= 1 else 1)  # (a freed page may still hold an older copy: damage every one)
PY
}

for how in version length body; do
    step "$how: stored, then damaged on disk while the edge is down"
    script /c10/$how "\"body\": \"good $how\", \"headers\": {\"Cache-Control\": \"max-age=600\"}"
    fetch /c10/$how
    assert_cache MISS 'edgecache; fwd=miss; stored'
    fetch /c10/$how
    assert_cache HIT
    stop_edge
    damage "$T/cache/data.mdb" "127.0.0.1:$EDGE_PORT/c10/$how" $how || fail "could not find the record of /c10/$how in data.mdb"

    step "$how: after a restart, a miss (logged), then replaced"
    start_edge --origin "$ORIGIN_URL"
    fetch /c10/$how
    assert_status 200
    assert_body "good $how"
    assert_cache MISS
    assert_count /c10/$how 2
    grep -q "treated as a miss and replaced" "$T/edge.log" || fail "the corrupt record was not logged"
    fetch /c10/$how
    assert_status 200
    assert_body "good $how"
    assert_cache HIT
    assert_count /c10/$how 2
done
pass
