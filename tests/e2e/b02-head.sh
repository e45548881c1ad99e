#!/usr/bin/env bash
# b02-head: HEAD answers the object's headers (Content-Length of the full body) and no body bytes,
# both on a MISS and on a HIT; a HEAD on a miss never leaves an empty body in the cache for the
# GETs that follow; a HEAD of a cached object does not reach the origin.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

body='head test body, 33 bytes long....'
script /b02 "\"body\": \"$body\", \"headers\": {\"Cache-Control\": \"max-age=60\", \"Content-Type\": \"text/plain\"}"

# Raw HEAD: the status line and headers, and nothing after the blank line.
raw_head() { # PATH
    # (the Host a client of this edge sends: the host, with its port, is in the cache key)
    printf 'HEAD %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$1" "$EDGE_PORT" | raw_request "$EDGE_PORT" 3 >"$T/raw"
    "$PYTHON" - "$T/raw" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
head, sep, rest = data.partition(b"\r\n\r\n")
if not sep:
    sys.exit("no complete response head: %r" % data[:200])
print(head.split(b"\r\n")[0].decode())
for line in head.split(b"\r\n")[1:]:
    k, _, v = line.decode().partition(":")
    print("%s: %s" % (k.strip().lower(), v.strip()))
print("after-head-bytes: %d" % len(rest))
PY
}

step "HEAD on a miss"
out=$(raw_head /b02) || fail "HEAD /b02: $out"
assert_match 'HTTP/1\.1 200 .*' "$(sed -n 1p <<<"$out")" "HEAD /b02 status line"
assert_eq "content-length: ${#body}" "$(grep '^content-length:' <<<"$out")" "HEAD /b02 Content-Length"
assert_eq "after-head-bytes: 0" "$(grep '^after-head-bytes:' <<<"$out")" "HEAD /b02 bytes after the head"
grep -q '^x-cache: MISS$' <<<"$out" || fail "HEAD /b02 on a miss: expected X-Cache: MISS in: $out"
assert_count /b02 1
method=$(origin_requests /b02 | json_get '[0]["method"]')

step "GET after the HEAD: full body (the origin saw $method)"
fetch /b02
assert_status 200
assert_body "$body"
assert_header Content-Length "${#body}"
if [[ $method == GET ]]; then
    # The HEAD was turned into a GET that filled the cache: this is a HIT.
    assert_cache HIT
    assert_count /b02 1
else
    assert_eq HEAD "$method" "method the origin saw"
    assert_cache MISS
    assert_count /b02 2
fi
n=$(origin_count /b02)

step "HEAD on a hit: headers from the cache, no body, origin not asked"
out=$(raw_head /b02) || fail "HEAD /b02: $out"
assert_match 'HTTP/1\.1 200 .*' "$(sed -n 1p <<<"$out")" "HEAD /b02 status line"
assert_eq "content-length: ${#body}" "$(grep '^content-length:' <<<"$out")" "HEAD /b02 (hit) Content-Length"
assert_eq "after-head-bytes: 0" "$(grep '^after-head-bytes:' <<<"$out")" "HEAD /b02 (hit) bytes after the head"
grep -q '^x-cache: HIT$' <<<"$out" || fail "HEAD /b02 on a hit: expected X-Cache: HIT in: $out"
assert_count /b02 "$n"

step "curl -I agrees"
fetch /b02 -I
assert_status 200
assert_cache HIT
assert_header Content-Length "${#body}"
assert_count /b02 "$n"

step "GET after all that: still the full body from the cache"
fetch /b02
assert_body "$body"
assert_cache HIT
assert_count /b02 "$n"

pass
