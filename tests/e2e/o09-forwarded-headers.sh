#!/usr/bin/env bash
# o09-forwarded-headers: what the origin receives. The edge appends the client to X-Forwarded-For, sets
# X-Forwarded-Proto and appends "1.1 edgecache" to Via; it drops the hop-by-hop fields (Connection,
# Keep-Alive, TE, Trailer, Upgrade, Proxy-Connection, Transfer-Encoding) and every field that Connection
# names; it sends the origin's own name as Host (host_header, or the server's authority), never the
# client's, and on a cacheable GET only the default fields (Accept, Accept-Encoding, Accept-Language,
# Authorization) and the key headers. A behavior with
# forward_headers sends only those (plus Host, Via, X-Forwarded-*) on a cacheable GET, and its
# cache_key_headers values are part of the cache key: two GETs that differ only in X-Variant are two
# objects, two origin requests; the same X-Variant again is a HIT.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
cat >"$T/edge.yaml" <<YAML
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"], connect_timeout: 1s, read_timeout: 2s}
  hosted: {servers: ["http://127.0.0.1:$O_PORT"], host_header: example.com, connect_timeout: 1s, read_timeout: 2s}
behaviors:
  - {path: "/k/*", origin: default, cache_key_headers: [x-variant], forward_headers: [x-variant, accept]}
  - {path: "/h/*", origin: hosted}
  - {path: "*", origin: default}
YAML
start_edge -c "$T/edge.yaml"

# req_header PATH NAME [INDEX]: a header of the request the origin received (the last one by default),
# or "<absent>".
req_header() {
    origin_requests "$1" | "$PYTHON" -c 'import json, sys
reqs = json.load(sys.stdin)
i = int(sys.argv[2])
print(reqs[i]["headers"].get(sys.argv[1].lower(), "<absent>") if reqs else "<no request>")' "$2" "${3:--1}"
}
expect_req_header() { # PATH NAME VALUE
    assert_eq "$3" "$(req_header "$1" "$2")" "origin's request header $2 for $1"
}

step "X-Forwarded-For, X-Forwarded-Proto, Via: added (or appended to)"
fetch /o09/plain
assert_status 200
expect_req_header /o09/plain x-forwarded-for 127.0.0.1
expect_req_header /o09/plain x-forwarded-proto http
expect_req_header /o09/plain via "1.1 edgecache"
fetch /o09/chained -H 'X-Forwarded-For: 203.0.113.7' -H 'X-Forwarded-Proto: https' -H 'Via: 1.0 upstream-proxy' -H 'Host: www.example.org'
assert_status 200
expect_req_header /o09/chained x-forwarded-for "203.0.113.7, 127.0.0.1"
expect_req_header /o09/chained x-forwarded-proto http
expect_req_header /o09/chained via "1.0 upstream-proxy, 1.1 edgecache"
expect_req_header /o09/chained host "127.0.0.1:$O_PORT" # (the client's Host is not in the key)

step "hop-by-hop fields and the fields Connection names do not reach the origin"
fetch /o09/hop -H 'Connection: keep-alive, X-Hop-Secret' -H 'X-Hop-Secret: must-not-pass' \
    -H 'Keep-Alive: timeout=5' -H 'TE: trailers' -H 'Trailer: X-Checksum' -H 'Proxy-Connection: keep-alive' \
    -H 'Upgrade: example/1' -H 'X-Custom: passes'
assert_status 200
assert_body "origin:/o09/hop"
for h in connection keep-alive te trailer proxy-connection upgrade x-hop-secret transfer-encoding; do
    expect_req_header /o09/hop "$h" "<absent>"
done
expect_req_header /o09/hop x-custom "<absent>" # not in the key: not forwarded on a cacheable GET

step "a chunked request body reaches the origin whole, without Transfer-Encoding"
printf 'chunked request body for o09\n' >"$T/post.body"
fetch /o09/post -X POST -H 'Transfer-Encoding: chunked' --data-binary "@$T/post.body"
assert_status 200
expect_req_header /o09/post transfer-encoding "<absent>"
expect_req_header /o09/post content-length "$(wc -c <"$T/post.body" | tr -d ' ')"
assert_eq "$(sha256sum <"$T/post.body" | cut -d' ' -f1)" "$(origin_requests /o09/post | json_get '[-1]["body_sha256"]')" \
    "sha256 of the body the origin received"

step "host_header replaces the client's Host"
fetch /h/x -H 'Host: www.example.org'
assert_status 200
expect_req_header /h/x host example.com

step "cache_key_headers: X-Variant one and two are two objects"
fetch /k/a -H 'X-Variant: one' -H 'Accept: text/x-one' -H 'X-Secret: s3cr3t' -H 'User-Agent: o09-agent'
assert_status 200
assert_cache MISS
assert_header X-Origin-Count 1
assert_count /k/a 1
fetch /k/a -H 'X-Variant: two' -H 'Accept: text/x-two' -H 'X-Secret: s3cr3t'
assert_status 200
assert_cache MISS
assert_header X-Origin-Count 2
assert_count /k/a 2
step "the same X-Variant again: a HIT, each its own object"
fetch /k/a -H 'X-Variant: one' -H 'Accept: text/x-other'
assert_cache HIT
assert_header X-Origin-Count 1
fetch /k/a -H 'X-Variant: two'
assert_cache HIT
assert_header X-Origin-Count 2
assert_count /k/a 2
step "no X-Variant at all is a third object"
fetch /k/a
assert_cache MISS
assert_count /k/a 3

step "forward_headers: only the listed ones (and Host, Via, X-Forwarded-*) reach the origin"
assert_eq one "$(req_header /k/a x-variant 0)" "x-variant of the first /k/a request"
assert_eq text/x-one "$(req_header /k/a accept 0)" "accept of the first /k/a request"
assert_eq "<absent>" "$(req_header /k/a x-secret 0)" "x-secret of the first /k/a request"
assert_eq "<absent>" "$(req_header /k/a user-agent 0)" "user-agent of the first /k/a request"
assert_eq two "$(req_header /k/a x-variant 1)" "x-variant of the second /k/a request"
assert_eq "<absent>" "$(req_header /k/a x-secret 1)" "x-secret of the second /k/a request"
for h in host via x-forwarded-for x-forwarded-proto; do
    v=$(req_header /k/a "$h" 0)
    [[ $v != "<absent>" ]] || fail "the origin's request for /k/a lacks $h"
done
step "... but a POST (not cacheable) is forwarded with all its headers"
fetch /k/post -X POST --data-binary 'x=1' -H 'X-Secret: s3cr3t'
assert_status 200
expect_req_header /k/post x-secret s3cr3t
assert_alive

pass
