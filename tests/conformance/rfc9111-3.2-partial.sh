#!/usr/bin/env bash
# rfc9111-3.2-partial: Range requests (RFC 9110 §14) answered from a complete stored object (RFC 9111
# §3.4 and §4): one range, several (multipart/byteranges), suffix and open ranges, If-Range, and 416.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

script /r/obj '"body": "0123456789abcdefghij", "etag": "\"r1\"", "last_modified": 1700000000, "headers": {"Cache-Control": "max-age=600", "Content-Type": "text/plain"}'

step "§3.4 a Range request on a miss: the whole object is fetched and stored"
forwarded /r/obj -H 'Range: bytes=0-3'
[[ $STATUS == 200 || $STATUS == 206 ]] || fail "status $STATUS"

step "RFC 9110 §14.1.2 one range, from the cache"
reused /r/obj -H 'Range: bytes=2-5'
assert_status 206
assert_header Content-Range 'bytes 2-5/20'
assert_body 2345

step "RFC 9110 §14.1.2 a suffix range and an open range"
reused /r/obj -H 'Range: bytes=-3'
assert_status 206
assert_body hij
reused /r/obj -H 'Range: bytes=18-'
assert_body ij

step "RFC 9110 §14.6 several ranges: multipart/byteranges"
reused /r/obj -H 'Range: bytes=0-1,10-11'
assert_status 206
assert_header Content-Type 'multipart/byteranges; boundary=.*'
assert_body_contains 'Content-Range: bytes 0-1/20'
assert_body_contains 'Content-Range: bytes 10-11/20'
assert_body_contains ab

step "RFC 9110 §13.1.5 If-Range with the strong ETag: the range; with another: the whole object"
reused /r/obj -H 'Range: bytes=0-1' -H 'If-Range: "r1"'
assert_status 206
assert_body 01
reused /r/obj -H 'Range: bytes=0-1' -H 'If-Range: "other"'
assert_status 200
assert_body 0123456789abcdefghij
reused /r/obj -H 'Range: bytes=0-1' -H 'If-Range: Tue, 14 Nov 2023 22:13:20 GMT'
assert_status 206

step "RFC 9110 §15.5.17 an unsatisfiable range: 416 with Content-Range: bytes */20"
reused /r/obj -H 'Range: bytes=50-60'
assert_status 416
assert_header Content-Range 'bytes \*/20'

step "RFC 9110 §14.2 a Range the edge does not understand is ignored: the whole object"
reused /r/obj -H 'Range: items=0-1'
assert_status 200
assert_body 0123456789abcdefghij

pass
