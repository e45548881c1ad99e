#!/usr/bin/env bash
# t01-large-object-h1-h2: a 5 MB object arrives byte-identical (sha256) over HTTP/1.1 cleartext and
# over HTTP/2 with TLS (ALPN h2), on the MISS path and on the HIT path, from a Content-Length origin
# and from a chunked one, with one origin request per object.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

curl -V | grep -qw HTTP2 || skip "curl without HTTP/2"
command -v openssl >/dev/null || skip "no openssl"

start_origin O

make_cert "$T/cert.pem" "$T/key.pem"

EDGE_PORT=$(free_port)
TLS_PORT=$(free_port)
cat >"$T/edge.yaml" <<YAML
listen:
  - {address: 127.0.0.1, port: $EDGE_PORT}
  - {address: 127.0.0.1, port: $TLS_PORT, tls: {certificate: $T/cert.pem, key: $T/key.pem}}
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"]}
behaviors:
  - {path: "*"}
YAML
start_edge_raw -c "$T/edge.yaml"
wait_edge "$EDGE_PORT" "$TLS_PORT"

size=$((5 * 1024 * 1024))
want=$(pattern_sha256 "$size")
H2="https://127.0.0.1:$TLS_PORT"
# one site name on both listeners, as clients use it: the host (a port other than 80/443 included) is in the key
HOST='Host: t01.example'

# get_big URL X-CACHE HTTP-VERSION [CURL ARGS]
get_big() {
    local url=$1 xcache=$2 version=$3
    shift 3
    fetch "$url" -H "$HOST" "$@"
    assert_status 200
    assert_eq "$version" "$HTTP_VERSION" "HTTP version"
    assert_header X-Cache "$xcache"
    assert_eq "$size" "$(body_size)" "body size"
    assert_eq "$want" "$(body_sha256)" "body sha256"
    echo "   $url over HTTP/$HTTP_VERSION: $xcache in ${TIME_TOTAL}s"
}

step "Content-Length origin: MISS over HTTP/1.1, then HIT over HTTP/1.1 and HTTP/2"
script /t01/cl "\"body_size\": $size, \"headers\": {\"Cache-Control\": \"max-age=60\", \"Content-Type\": \"application/octet-stream\"}"
get_big /t01/cl MISS 1.1 --http1.1
assert_header Content-Length "$size"
get_big /t01/cl HIT 1.1 --http1.1
assert_header Content-Length "$size"
get_big "$H2/t01/cl" HIT 2 --http2 -k
assert_header Content-Length "$size"
assert_count /t01/cl 1

step "chunked origin: MISS over HTTP/2, then HIT over HTTP/2 and HTTP/1.1"
script /t01/chunked "\"body_size\": $size, \"chunked\": true, \"headers\": {\"Cache-Control\": \"max-age=60\"}"
get_big "$H2/t01/chunked" MISS 2 --http2 -k
get_big "$H2/t01/chunked" HIT 2 --http2 -k
get_big /t01/chunked HIT 1.1 --http1.1
assert_header Content-Length "$size"
assert_count /t01/chunked 1

step "HTTP/2 is negotiated by ALPN only on the TLS listener"
fetch "$H2/t01/cl" -H "$HOST" --http2 -k -I
assert_eq 2 "$HTTP_VERSION" "HTTP version with --http2 on TLS"
fetch /t01/cl -H "$HOST" --http2 -I
assert_status 200
echo "   cleartext listener with --http2 (h2c upgrade offered): HTTP/$HTTP_VERSION"

step "HEAD over HTTP/2: the length (curl -I writes the head, not a body, to its output)"
fetch "$H2/t01/cl" -H "$HOST" --http2 -k -I
assert_status 200
assert_header content-length "$size"
assert_count /t01/cl 1

stop_edge
pass
