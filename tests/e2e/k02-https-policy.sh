#!/usr/bin/env bash
# k02-https-policy: each behavior's viewer protocol policy (CloudFront's) and the site's HSTS. Over
# cleartext, redirect_to_https answers 301 to GET and HEAD and 308 to other methods, with the client's
# host, the TLS listener's port (or the behavior's https_port) and the path and query; https_only answers
# 403; neither reaches the origin. Over TLS the same paths are served, with Strict-Transport-Security,
# which a cleartext response never carries.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v openssl >/dev/null || skip "no openssl"

start_origin O
make_cert "$T/cert.pem" "$T/key.pem"
EDGE_PORT=$(free_port)
TLS_PORT=$(free_port)
cat >"$T/edge.yaml" <<YAML
listen:
  - {address: 127.0.0.1, port: $EDGE_PORT}
  - {address: 127.0.0.1, port: $TLS_PORT, tls: {certificate: $T/cert.pem, key: $T/key.pem}}
origin: $ORIGIN_URL
hsts: {max_age: 1y, include_subdomains: true}
behaviors:
  - {path: "/r/*", viewer_protocol_policy: redirect_to_https}
  - {path: "/p/*", viewer_protocol_policy: redirect_to_https, https_port: 443}
  - {path: "/s/*", viewer_protocol_policy: https_only}
  - {path: "*"}
YAML
start_edge_raw -c "$T/edge.yaml"
wait_edge "$EDGE_PORT" "$TLS_PORT"
HOST='Host: K02.Example'
HSTS='max-age=31536000; includeSubDomains'
scripts '[{"path": "/r/a", "body": "r", "headers": {"Cache-Control": "max-age=60"}},
          {"path": "/s/a", "body": "s", "headers": {"Cache-Control": "max-age=60"}},
          {"path": "/open", "body": "open", "headers": {"Cache-Control": "max-age=60"}}]'

step "redirect_to_https over cleartext: 301 for GET and HEAD, 308 for POST, to the TLS listener's port"
fetch "/r/a?x=1&y=2" -H "$HOST"
assert_status 301
assert_header Location "https://k02\.example:$TLS_PORT/r/a\?x=1&y=2"
has_header Strict-Transport-Security && fail "HSTS over cleartext"
fetch "/r/a" -H "$HOST" -I
assert_status 301
assert_header Location "https://k02\.example:$TLS_PORT/r/a"
fetch "/r/a" -H "$HOST" -X POST --data-binary 'a body'
assert_status 308
assert_header Location "https://k02\.example:$TLS_PORT/r/a"
fetch "/r/a" -H "$HOST" -X PUT --data-binary 'a body'
assert_status 308

step "https_port 443 leaves the port out"
fetch "/p/b" -H "Host: k02.example:$EDGE_PORT"
assert_status 301
assert_header Location "https://k02\.example/p/b"

step "https_only over cleartext: 403"
fetch "/s/a" -H "$HOST"
assert_status 403
has_header Strict-Transport-Security && fail "HSTS over cleartext"
assert_eq 0 "$(origin_count /r/a)" "origin requests for /r/a (cleartext only so far)"
assert_eq 0 "$(origin_count /s/a)" "origin requests for /s/a"

step "allow_all over cleartext: served, without HSTS"
fetch "/open" -H "$HOST"
assert_status 200
has_header Strict-Transport-Security && fail "HSTS over cleartext"
fetch "/open" -H "$HOST"
assert_header X-Cache HIT
has_header Strict-Transport-Security && fail "HSTS over cleartext (HIT)"

step "over TLS: every policy serves, with HSTS (HTTP/1.1 and HTTP/2, MISS and HIT)"
for path in /r/a /s/a /open; do
    fetch "https://127.0.0.1:$TLS_PORT$path" -k --http1.1 -H "$HOST"
    assert_status 200
    assert_header Strict-Transport-Security "$HSTS"
done
fetch "https://127.0.0.1:$TLS_PORT/r/a" -k --http2 -H "$HOST"
assert_status 200
assert_eq 2 "$HTTP_VERSION" "HTTP version"
assert_header X-Cache HIT
assert_header Strict-Transport-Security "$HSTS"
assert_eq 1 "$(origin_count /r/a)" "origin requests for /r/a"

refused=1
if curl -V | grep -qw HTTP2; then
    step "HTTP/2 over cleartext (h2c) is cleartext too"
    fetch "/s/a" -H "$HOST" --http2-prior-knowledge
    assert_eq 2 "$HTTP_VERSION" "HTTP version"
    assert_status 403
    refused=2
fi

step "the counters"
stop_edge
assert_eq 5 "$(edge_counter https_redirects)" "https_redirects"
assert_eq "$refused" "$(edge_counter https_refused)" "https_refused"
pass
