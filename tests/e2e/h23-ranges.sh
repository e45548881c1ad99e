#!/usr/bin/env bash
# h23-ranges: a Range field with 1,000 range-specs gets a bounded answer (the whole body, 200: RFC 9110
# §14.2 lets a server ignore Range), never a 1,000-part multipart; overlapping and adjacent ranges are
# coalesced into one part; EDGE_RANGE_MAX (16) distinct ranges still get their multipart answer.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"
script /h23/obj '"body_size": 10000, "headers": {"Cache-Control": "max-age=600"}'
fetch /h23/obj
assert_status 200

step "1,000 ranges: the whole body, once"
ranges=$("$PYTHON" -c 'print(",".join("%d-%d" % (i * 7, i * 7 + 3) for i in range(1000)))')
fetch /h23/obj -H "Range: bytes=$ranges"
assert_status 200
assert_eq 10000 "$(body_size)" "body size"
has_header Content-Range && fail "a 200 with Content-Range"

step "1,000 overlapping copies of one range: still bounded (ignored)"
ranges=$("$PYTHON" -c 'print(",".join(["0-99"] * 1000))')
fetch /h23/obj -H "Range: bytes=$ranges"
assert_status 200
assert_eq 10000 "$(body_size)" "body size"

step "overlapping and adjacent ranges are coalesced into one part"
fetch /h23/obj -H 'Range: bytes=100-199,150-299,300-399,0-9'
assert_status 206
assert_match 'multipart/byteranges; boundary=.*' "$(header Content-Type)" "Content-Type"
assert_eq 2 "$(grep -c '^Content-Range:' "$BODY")" "parts"
grep -q '^Content-Range: bytes 0-9/10000' "$BODY" || fail "no part 0-9"
grep -q '^Content-Range: bytes 100-399/10000' "$BODY" || fail "no coalesced part 100-399"
fetch /h23/obj -H 'Range: bytes=10-19,0-9,5-25'
assert_status 206
assert_header Content-Range 'bytes 0-25/10000'
assert_eq 26 "$(body_size)" "body size"

step "16 distinct ranges: a 16-part multipart answer"
ranges=$("$PYTHON" -c 'print(",".join("%d-%d" % (i * 100, i * 100 + 9) for i in range(16)))')
fetch /h23/obj -H "Range: bytes=$ranges"
assert_status 206
assert_eq 16 "$(grep -c '^Content-Range:' "$BODY")" "parts"
assert_count /h23/obj 1

step "the edge is alive and serves a cached object"
assert_alive
fetch /h23/obj
assert_status 200
assert_header X-Cache HIT
assert_count /h23/obj 1
pass
