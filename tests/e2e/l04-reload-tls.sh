#!/usr/bin/env bash
# l04-reload-tls: a reload re-reads certificates (a renewal takes effect without a restart). An HTTP/2
# connection opened under the old certificate keeps working across the reload; new connections get the
# new certificate; a reload naming a key that does not match its certificate is refused and the old one
# keeps serving.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v openssl >/dev/null || skip "no openssl"

start_origin O
for n in old new other; do
    make_cert "$T/$n.pem" "$T/$n.key" "localhost-$n"
done
ADMIN_PORT=$(free_port)
TLS_PORT=$(free_port)
printf '%s\n' 'l04-token-0123456789abcdef' >"$T/admin.token"
write_config() { # CERT KEY
    cat >"$T/edge.yaml" <<YAML
listen:
  - {address: 127.0.0.1, port: $TLS_PORT, tls: {certificate: $T/$1.pem, key: $T/$2.key}}
origin: $ORIGIN_URL
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
YAML
}
# subject: the CN of the certificate a new TLS connection gets
subject() {
    openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername localhost </dev/null 2>/dev/null |
        openssl x509 -noout -subject 2>/dev/null | sed 's/.*CN *= *//'
}
write_config old old
script /a '"body": "a", "headers": {"Cache-Control": "max-age=600"}'
script /b '"body": "b", "headers": {"Cache-Control": "max-age=600"}'
start_edge_raw -c "$T/edge.yaml"
wait_edge "$TLS_PORT" "$ADMIN_PORT"
assert_eq localhost-old "$(subject)" "the certificate at start"

step "one HTTP/2 connection, two requests, a reload with a renewed certificate between them"
# curl keeps one connection for both URLs; the reload happens while the origin holds the second one
script /held '"body": "held", "hold": "h"'
curl -sk --http2 --max-time 60 -o "$T/first.body" -o "$T/second.body" \
    -w '%{num_connects}\n' "https://127.0.0.1:$TLS_PORT/a" "https://127.0.0.1:$TLS_PORT/held" >"$T/h2.out" 2>"$T/h2.err" &
H2=$!
wait_held h 1
write_config new new
"$EDGECACHE" reload -c "$T/edge.yaml" >/dev/null || fail "reload"
assert_eq localhost-new "$(subject)" "the certificate after the reload"
release h
wait "$H2" || fail "the HTTP/2 connection failed across the reload: $(cat "$T/h2.err")"
assert_eq a "$(cat "$T/first.body")"
assert_eq held "$(cat "$T/second.body")"
assert_eq "1 0" "$(tr '\n' ' ' <"$T/h2.out" | sed 's/ $//')" "connections opened by curl (one, reused)"

step "a key that does not match its certificate: refused, the renewed certificate keeps serving"
write_config new other
! "$EDGECACHE" reload -c "$T/edge.yaml" >"$T/bad.out" 2>&1 || fail "a mismatched key was accepted"
grep -q "TLS for 127.0.0.1:$TLS_PORT" "$T/bad.out" || fail "the refusal does not name the listener: $(cat "$T/bad.out")"
assert_eq localhost-new "$(subject)" "the certificate after the refused reload"
fetch "https://127.0.0.1:$TLS_PORT/b" -k --http2
assert_status 200
assert_body b
stop_edge
pass
