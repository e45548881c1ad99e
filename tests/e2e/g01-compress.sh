#!/usr/bin/env bash
# g01-compress: compression stored once (cache/compress.h), against RFC 9110 §8.4 (Content-Encoding), §12.5.3
# (Accept-Encoding), §8.8.3 (ETag), §14 (Range) and §13.1.2 (If-None-Match), with CloudFront's limits.
# A compressible response (a text type, 1,000 bytes to 10 MB, no Content-Encoding, no no-transform) is sent
# as it is on its miss and stored; the edge then makes a gzip and a brotli variant off its loops, and later
# hits get the best coding the client accepts (br > gzip > identity, q-values honoured), with Vary:
# Accept-Encoding on every answer, an ETag of its own per coding (a 304 for each), Range and HEAD on the
# encoded bytes; the bytes decode to the origin's. The cache key does not fragment (one origin request for
# every spelling of Accept-Encoding). No-transform, already encoded responses, small bodies and a behavior
# with compress: false are left alone. A purge takes the variants with the object (the store's object
# count, and the origin count of the refill). Waits are on events: a variant served, the object count.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v brotli >/dev/null || skip "the brotli command is not installed (tools/install-deps.sh)"

start_origin O
ADMIN_PORT=$(free_port)
TOKEN='g01-token-0123456789abcdef'
printf '%s\n' "$TOKEN" >"$T/admin.token"
make_cert "$T/cert.pem" "$T/key.pem"
EDGE_PORT=$(free_port)
TLS_PORT=$(free_port)
cat >"$T/edge.yaml" <<EOF
listen:
  - {address: 127.0.0.1, port: $EDGE_PORT}
  - {address: 127.0.0.1, port: $TLS_PORT, tls: {certificate: $T/cert.pem, key: $T/key.pem}}
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"]}
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
behaviors:
  - {path: "/off/*", compress: false}
  - {path: "/json-only/*", compress_types: [application/json]}
  - {path: "/honor/*", request_cache_control: honor}
  - {path: "*"}
EOF
start_edge_raw -c "$T/edge.yaml"
wait_edge "$EDGE_PORT" "$TLS_PORT" "$ADMIN_PORT"
A="http://127.0.0.1:$ADMIN_PORT"
AUTH="Authorization: Bearer $TOKEN"
CC='"Cache-Control": "max-age=600"'

store_objects() {
    curl -sS -H "$AUTH" "$A/metrics" | sed -n 's/^edgecache_store_objects \([0-9]*\)$/\1/p'
}
objects_are() { [[ $(store_objects) == "$1" ]]; }
# coded PATH CODING [CURL ARGS]: the edge now serves PATH encoded with CODING to a client that asks for it
coded() {
    local path=$1 coding=$2
    shift 2
    try_fetch "$path" -H "Accept-Encoding: $coding" "$@"
    [[ $CURL_RC == 0 && $(header Content-Encoding) == "$coding" ]]
}
# decodes the last body with CODING into FILE
decode() {
    case $1 in
    gzip) "$PYTHON" -c 'import gzip, sys; sys.stdout.buffer.write(gzip.decompress(open(sys.argv[1], "rb").read()))' "$BODY" >"$2" ;;
    br) brotli -d -c "$BODY" >"$2" ;;
    identity) cp "$BODY" "$2" ;;
    esac
}
size_of() { stat -c %s "$1"; }

"$PYTHON" "$E2E_DIR/origin.py" --emit 65536 >"$T/expected"

step "the miss: identity at once, with Vary; the variants are made after it, from the stored object"
script /g/text "\"body_size\": 65536, \"etag\": \"\\\"t1\\\"\", \"headers\": {$CC, \"Content-Type\": \"text/plain; charset=utf-8\"}"
fetch /g/text -H 'Accept-Encoding: gzip, br'
assert_status 200
assert_cache MISS
assert_no_header Content-Encoding
assert_header Vary 'Accept-Encoding'
assert_header ETag '"t1"'
cmp -s "$BODY" "$T/expected" || fail "the miss's body is not the origin's"
wait_until coded /g/text br
wait_until coded /g/text gzip
wait_until objects_are 3 # the object and its two variants, committed

step "§12.5.3: the best coding the client accepts, q-values honoured; the key does not fragment"
while IFS='|' read -r ae want; do
    if [[ $ae == '-' ]]; then fetch /g/text; else fetch /g/text -H "Accept-Encoding: $ae"; fi
    assert_status 200
    assert_cache HIT
    got=$(header Content-Encoding)
    assert_eq "$want" "${got:-identity}" "coding for Accept-Encoding '$ae'"
    assert_header Vary 'Accept-Encoding'
    decode "$want" "$T/decoded"
    cmp -s "$T/decoded" "$T/expected" || fail "the $want body for '$ae' does not decode to the origin's"
done <<'EOF'
-|identity
gzip, br|br
br|br
gzip|gzip
x-gzip|gzip
GZIP, deflate|gzip
br;q=0.5, gzip|gzip
br;q=0.5, gzip;q=0.5|br
gzip;q=0, br;q=0|identity
br;q=0, gzip;q=0.001|gzip
identity;q=0, gzip|gzip
*|br
*;q=0.2, br;q=0|gzip
gzip;q=0, *|br
deflate|identity
identity|identity
|identity
EOF
assert_count /g/text 1

step "the encoded bytes are stored once, compressed: smaller than the identity body"
fetch /g/text -H 'Accept-Encoding: gzip'
cp "$BODY" "$T/full.gz"
gzlen=$(size_of "$T/full.gz")
((gzlen < 65536 / 4)) || fail "gzip variant of $gzlen bytes for a 64 KiB repetitive body"
fetch /g/text -H 'Accept-Encoding: br'
cp "$BODY" "$T/full.br"
brlen=$(size_of "$T/full.br")
((brlen < 65536 / 4)) || fail "br variant of $brlen bytes"

step "§8.8.3: an ETag per coding; If-None-Match answers 304 for the representation it names"
fetch /g/text -H 'Accept-Encoding: gzip'
assert_header ETag '"t1-gzip"'
fetch /g/text -H 'Accept-Encoding: br'
assert_header ETag '"t1-br"'
fetch /g/text -H 'Accept-Encoding: gzip' -H 'If-None-Match: "t1-gzip"'
assert_status 304
assert_header ETag '"t1-gzip"'
assert_header Vary 'Accept-Encoding'
fetch /g/text -H 'Accept-Encoding: br' -H 'If-None-Match: "t1-br"'
assert_status 304
assert_header ETag '"t1-br"'
fetch /g/text -H 'If-None-Match: "t1"'
assert_status 304
assert_header ETag '"t1"'
fetch /g/text -H 'Accept-Encoding: gzip' -H 'If-None-Match: "t1"' # the identity's tag: not the gzip body's
assert_status 200
assert_header Content-Encoding gzip
cmp -s "$BODY" "$T/full.gz" || fail "200 after a non-matching If-None-Match: not the gzip body"
fetch /g/text -H 'Accept-Encoding: br' -H 'If-None-Match: "t1-gzip"'
assert_status 200
assert_header Content-Encoding br

step "§14: Range applies to the encoded bytes; If-Range with the coding's ETag"
fetch /g/text -H 'Accept-Encoding: gzip' -H 'Range: bytes=10-99'
assert_status 206
assert_header Content-Encoding gzip
assert_header Content-Range "bytes 10-99/$gzlen"
assert_header Vary 'Accept-Encoding'
cmp -s "$BODY" <(tail -c +11 "$T/full.gz" | head -c 90) || fail "the range is not bytes 10-99 of the gzip body"
fetch /g/text -H 'Accept-Encoding: br' -H "Range: bytes=-20"
assert_status 206
assert_header Content-Range "bytes $((brlen - 20))-$((brlen - 1))/$brlen"
cmp -s "$BODY" <(tail -c 20 "$T/full.br") || fail "the suffix range is not the br body's last 20 bytes"
# ranges stitched back together decode to the whole object
: >"$T/stitched.gz"
for r in "0-$((gzlen / 2 - 1))" "$((gzlen / 2))-$((gzlen - 1))"; do
    fetch /g/text -H 'Accept-Encoding: gzip' -H "Range: bytes=$r"
    assert_status 206
    cat "$BODY" >>"$T/stitched.gz"
done
"$PYTHON" -c 'import gzip, sys; sys.stdout.buffer.write(gzip.decompress(open(sys.argv[1], "rb").read()))' "$T/stitched.gz" >"$T/stitched"
cmp -s "$T/stitched" "$T/expected" || fail "two ranges of the gzip body do not decode to the object"
fetch /g/text -H 'Accept-Encoding: gzip' -H 'Range: bytes=0-9' -H 'If-Range: "t1-gzip"'
assert_status 206
fetch /g/text -H 'Accept-Encoding: gzip' -H 'Range: bytes=0-9' -H 'If-Range: "t1"'
assert_status 200 # another representation's tag: the whole (gzip) body
assert_header Content-Encoding gzip
fetch /g/text -H 'Accept-Encoding: gzip' -H "Range: bytes=$gzlen-"
assert_status 416

step "HEAD: the encoded representation's headers and Content-Length"
fetch /g/text -I -H 'Accept-Encoding: gzip'
assert_status 200
assert_header Content-Encoding gzip
assert_header Content-Length "$gzlen"
assert_header Vary 'Accept-Encoding'
fetch /g/text -I -H 'Accept-Encoding: br'
assert_header Content-Length "$brlen"
fetch /g/text -I
assert_no_header Content-Encoding
assert_header Content-Length 65536
assert_count /g/text 1

step "HTTP/2 over TLS: the same codings, Vary, ETags and ranges (its Host, with the port, is another object)"
H2="https://127.0.0.1:$TLS_PORT"
fetch "$H2/g/text" --http2 -k -H 'Accept-Encoding: gzip, br'
assert_eq 2 "$HTTP_VERSION" "HTTP version"
assert_cache MISS
wait_until coded "$H2/g/text" br --http2 -k
assert_header Vary 'Accept-Encoding'
assert_header ETag '"t1-br"'
decode br "$T/decoded"
cmp -s "$T/decoded" "$T/expected" || fail "the br body over HTTP/2 does not decode to the origin's"
fetch "$H2/g/text" --http2 -k -H 'Accept-Encoding: gzip' -H 'Range: bytes=10-99'
assert_status 206
assert_header Content-Encoding gzip
cmp -s "$BODY" <(tail -c +11 "$T/full.gz" | head -c 90) || fail "the HTTP/2 range is not bytes 10-99 of the gzip body"
fetch "$H2/g/text" --http2 -k -I -H 'Accept-Encoding: gzip'
assert_header Content-Length "$gzlen"
assert_count /g/text 2 # one per Host (the cleartext and the TLS port)

step "a large object: chunked identity body, chunked variants; a range across a chunk boundary"
head -c 900000 /dev/urandom | base64 -w 0 >"$T/large" # text that compresses to about 3/4: variants above one chunk
printf '{"path": "/g/large", "body": "%s", "headers": {%s, "Content-Type": "application/javascript"}}' "$(cat "$T/large")" "$CC" >"$T/large.json"
curl -sS -X POST --data-binary @"$T/large.json" "$(origin_base "$O_PORT")/__script" >/dev/null
fetch /g/large -H 'Accept-Encoding: gzip, br'
assert_cache MISS
cmp -s "$BODY" "$T/large" || fail "the large miss's body"
wait_until coded /g/large br
decode br "$T/decoded"
cmp -s "$T/decoded" "$T/large" || fail "the large br body does not decode to the object"
((($(size_of "$BODY")) > 262144)) || fail "the br variant fits one chunk: the test needs a larger body"
wait_until coded /g/large gzip
cp "$BODY" "$T/large.gz"
decode gzip "$T/decoded"
cmp -s "$T/decoded" "$T/large" || fail "the large gzip body does not decode to the object"
fetch /g/large -H 'Accept-Encoding: gzip' -H 'Range: bytes=262000-262299'
assert_status 206
cmp -s "$BODY" <(tail -c +262001 "$T/large.gz" | head -c 300) || fail "a range across the first chunk boundary of the gzip body"
assert_count /g/large 1

step "left alone: no-transform, an encoded origin response, under 1,000 bytes, a type not listed, compress: false"
script /g/nt "\"body_size\": 5000, \"headers\": {\"Cache-Control\": \"max-age=600, no-transform\", \"Content-Type\": \"text/html\"}"
script /g/enc "\"body\": \"$(head -c 1200 /dev/zero | tr '\0' 'z')\", \"headers\": {$CC, \"Content-Type\": \"text/css\", \"Content-Encoding\": \"gzip\", \"ETag\": \"\\\"e1\\\"\"}"
script /g/small "\"body_size\": 999, \"headers\": {$CC, \"Content-Type\": \"text/css\"}"
script /g/limit "\"body_size\": 1000, \"headers\": {$CC, \"Content-Type\": \"text/css\"}"
script /g/image "\"body_size\": 5000, \"headers\": {$CC, \"Content-Type\": \"image/png\"}"
script /off/text "\"body_size\": 5000, \"headers\": {$CC, \"Content-Type\": \"text/plain\"}"
script /json-only/text "\"body_size\": 5000, \"headers\": {$CC, \"Content-Type\": \"text/plain\"}"
script /json-only/json "\"body_size\": 5000, \"headers\": {$CC, \"Content-Type\": \"application/json\"}"
for p in /g/nt /g/enc /g/small /g/image /off/text /json-only/text /g/limit /json-only/json; do
    fetch "$p" -H 'Accept-Encoding: gzip, br'
    assert_cache MISS
done
# the compressor works in order: once the last two have their variants, the others would have theirs
wait_until coded /g/limit br
wait_until coded /json-only/json br
for p in /g/nt /g/enc /g/small /g/image /off/text /json-only/text; do
    fetch "$p" -H 'Accept-Encoding: gzip, br'
    assert_cache HIT
    assert_no_header Vary
    if [[ $p == /g/enc ]]; then
        assert_header Content-Encoding gzip # the origin's, passed through untouched
        assert_header ETag '"e1"'
        assert_body "$(head -c 1200 /dev/zero | tr '\0' 'z')"
    else
        assert_no_header Content-Encoding
    fi
done
wait_until objects_are $((3 + 3 + 3 + 6 + 2 * 3)) # text (two hosts) and large, with their variants; six alone; limit and json with theirs

step "a purge takes the variants with their object; the refill is compressed again"
fetch "$A/purge" -X POST -H "$AUTH" --data-urlencode "url=/g/text"
assert_status 202
wait_until objects_are $((3 + 6 + 2 * 3)) # (a URL without a host: the object on every host)
fetch /g/text -H 'Accept-Encoding: gzip'
assert_cache MISS
assert_no_header Content-Encoding # a miss: the identity bytes as they come, never an old variant
assert_count /g/text 3
wait_until coded /g/text gzip
cmp -s "$BODY" "$T/full.gz" || fail "the refill's gzip variant differs"
assert_count /g/text 3
wait_until objects_are $((3 + 3 + 6 + 2 * 3))

step "a replaced object's old variants are never served for its new body (the stamp: same length, other bytes)"
A2000=$(head -c 2000 /dev/zero | tr '\0' 'a')
B2000=$(head -c 2000 /dev/zero | tr '\0' 'b')
script /honor/rep "\"body\": \"$A2000\", \"etag\": \"\\\"a\\\"\", \"headers\": {$CC, \"Content-Type\": \"text/plain\"}"
fetch /honor/rep -H 'Accept-Encoding: gzip'
wait_until coded /honor/rep gzip
decode gzip "$T/decoded"
assert_eq "$A2000" "$(cat "$T/decoded")" "the first body, gzip"
script /honor/rep "\"body\": \"$B2000\", \"etag\": \"\\\"b\\\"\", \"headers\": {$CC, \"Content-Type\": \"text/plain\"}"
fetch /honor/rep -H 'Accept-Encoding: gzip' -H 'Cache-Control: no-cache' # the client's reload replaces it
assert_body "$B2000"
assert_count /honor/rep 2
for i in 1 2 3; do # whether or not the new variant is made yet: never the old one
    fetch /honor/rep -H 'Accept-Encoding: gzip'
    assert_cache HIT
    decode "$(header Content-Encoding | sed 's/^$/identity/')" "$T/decoded"
    assert_eq "$B2000" "$(cat "$T/decoded")" "the new body after the replacement"
done
wait_until coded /honor/rep gzip
assert_header ETag '"b-gzip"'

pass
