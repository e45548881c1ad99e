#!/usr/bin/env bash
# c12-range (RFC 9110 §14, RFC 9111 §3.4): Range requests are answered from a complete stored object:
# one range (206 + Content-Range), a suffix range, several ranges (multipart/byteranges), If-Range
# with a matching / a changed validator, an unsatisfiable range (416), overlapping ranges (coalesced; was the whole
# body, as CloudFront does), and ranges that cross the stored chunks of a large object. The origin
# sees one request per object: a range never costs an origin fetch once the object is stored.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

script /c12/az '"body": "abcdefghijklmnopqrstuvwxyz", "etag": "\"az1\"", "last_modified": "Tue, 14 Nov 2023 22:13:20 GMT", "headers": {"Cache-Control": "max-age=600", "Content-Type": "text/plain"}'
fetch /c12/az
assert_cache MISS

step "§14.1.2: one range"
fetch /c12/az -H 'Range: bytes=2-4'
assert_status 206
assert_body cde
assert_header Content-Range 'bytes 2-4/26'
assert_header Content-Length 3
assert_cache HIT

step "§14.1.2: a suffix range and an open-ended one"
fetch /c12/az -H 'Range: bytes=-3'
assert_status 206
assert_body xyz
fetch /c12/az -H 'Range: bytes=20-'
assert_status 206
assert_body uvwxyz
assert_header Content-Range 'bytes 20-25/26'

step "§14.6: several ranges: multipart/byteranges"
fetch /c12/az -H 'Range: bytes=0-1,10-12'
assert_status 206
assert_header Content-Type 'multipart/byteranges; boundary=[0-9a-f]+'
boundary=$(header Content-Type | sed 's/.*boundary=//')
"$PYTHON" - "$BODY" "$boundary" <<'PY' || fail "multipart body is not the two parts"
import sys
body = open(sys.argv[1], "rb").read().decode()
b = sys.argv[2]
parts = body.split("--" + b)
assert parts[0] == "" and parts[-1].strip() == "--", parts
got = [p.split("\r\n\r\n", 1) for p in parts[1:-1]]
assert [g[1].rstrip("\r\n") for g in got] == ["ab", "klm"], got
assert "Content-Range: bytes 0-1/26" in got[0][0] and "Content-Range: bytes 10-12/26" in got[1][0], got
assert "Content-Type: text/plain" in got[0][0]
PY
assert_eq "$(body_size)" "$(header Content-Length)" "Content-Length of the multipart body"

step "§13.1.5: If-Range with the stored strong ETag applies the range; another one sends the whole"
fetch /c12/az -H 'Range: bytes=0-0' -H 'If-Range: "az1"'
assert_status 206
assert_body a
fetch /c12/az -H 'Range: bytes=0-0' -H 'If-Range: "other"'
assert_status 200
assert_body abcdefghijklmnopqrstuvwxyz
fetch /c12/az -H 'Range: bytes=0-0' -H 'If-Range: Tue, 14 Nov 2023 22:13:20 GMT'
assert_status 206
fetch /c12/az -H 'Range: bytes=0-0' -H 'If-Range: Wed, 15 Nov 2023 22:13:20 GMT'
assert_status 200

step "§15.5.17: an unsatisfiable range is a 416 with Content-Range: bytes */len"
fetch /c12/az -H 'Range: bytes=100-200'
assert_status 416
assert_header Content-Range 'bytes \*/26'

step "overlapping ranges are coalesced into one (206)"
fetch /c12/az -H 'Range: bytes=5-10,8-12'
assert_status 206
assert_header Content-Range 'bytes 5-12/26'
assert_body fghijklm
assert_count /c12/az 1

step "ranges across the 256 KiB chunks of a 1 MiB object"
size=1048576
script /c12/big "\"body_size\": $size, \"headers\": {\"Cache-Control\": \"max-age=600\"}"
fetch /c12/big
assert_status 200
"$PYTHON" "$E2E_DIR/origin.py" --emit $size >"$T/big.full"
for r in 262140-262150 0-0 1048570-1048575 100000-700000; do
    fetch /c12/big -H "Range: bytes=$r"
    assert_status 206
    a=${r%-*} b=${r#*-}
    want=$("$PYTHON" -c 'import hashlib, sys; d = open(sys.argv[1], "rb").read(); print(hashlib.sha256(d[int(sys.argv[2]):int(sys.argv[3]) + 1]).hexdigest())' "$T/big.full" "$a" "$b")
    assert_eq "$want" "$(body_sha256)" "bytes $r"
done
assert_count /c12/big 1

pass
