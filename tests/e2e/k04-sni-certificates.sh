#!/usr/bin/env bash
# k04-sni-certificates: certificates per site, chosen by SNI (edge/tls.h). Three sites with certificates
# (one with an RSA and an ECDSA certificate side by side, one under a wildcard), one without, and the
# listener's default certificate: each SNI gets its site's certificate (the key type the client supports),
# a name no site claims and a missing SNI get the default; `edgecache check` accepts the files, warns that
# they expire within 14 days, and refuses a certificate that does not cover its site or does not match its
# key; a reload to `unknown_sni: refuse` refuses those handshakes (counted as unknown SNI) and swaps a
# renewed certificate in while an HTTP/2 connection stays open across it.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v openssl >/dev/null || skip "no openssl"

start_origin O
make_ca "$T/ca"
make_cert "$T/default.pem" "$T/default.key" default
make_site_cert "$T/ca" "$T/a-rsa" rsa a-rsa "DNS:a.example.test"
make_site_cert "$T/ca" "$T/a-ec" ec a-ec "DNS:a.example.test"
make_site_cert "$T/ca" "$T/b" ec b "DNS:*.b.example.test"
make_site_cert "$T/ca" "$T/c" rsa c "DNS:c.example.test"
make_site_cert "$T/ca" "$T/c2" rsa c-renewed "DNS:c.example.test"
ADMIN_PORT=$(free_port)
TLS_PORT=$(free_port)
printf '%s\n' 'k04-token-0123456789abcdef' >"$T/admin.token"
write_config() { # UNKNOWN_SNI C_CERT
    cat >"$T/edge.yaml" <<YAML
listen:
  - {address: 127.0.0.1, port: $TLS_PORT, tls: {certificate: default.pem, key: default.key, unknown_sni: $1}}
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
threads: 2
sites:
  - name: a
    hosts: [a.example.test]
    origin: $ORIGIN_URL
    tls: {certificates: [{certificate: a-rsa.pem, key: a-rsa.key}, {certificate: a-ec.pem, key: a-ec.key}]}
  - name: b
    hosts: ["*.b.example.test"]
    origin: $ORIGIN_URL
    tls: {certificates: [{certificate: b.pem, key: b.key}]}
  - name: c
    hosts: [c.example.test]
    origin: $ORIGIN_URL
    tls: {certificates: [{certificate: $2.pem, key: $2.key}]}
  - name: d
    hosts: [d.example.test]
    origin: $ORIGIN_URL
YAML
}
write_config default c
script /a '"body": "a", "headers": {"Cache-Control": "max-age=600"}'

step "edgecache check: the certificates match their keys and cover their sites; each expires within 14 days"
"$EDGECACHE" check -c "$T/edge.yaml" >"$T/check.out" 2>"$T/check.err" || fail "check: $(cat "$T/check.err")"
assert_eq 5 "$(grep -c "warning: .*expires in" "$T/check.err")" "expiry warnings (5 certificates)"
grep -q 'site "a": tls: certificate .*a-ec.pem expires in' "$T/check.err" || fail "no warning names a-ec.pem: $(cat "$T/check.err")"

start_edge_raw -c "$T/edge.yaml"
wait_edge "$TLS_PORT" "$ADMIN_PORT"

step "each site's SNI gets its certificate; RSA or ECDSA as the client supports"
assert_eq a-rsa "$(tls_subject "$TLS_PORT" a.example.test -sigalgs rsa_pss_rsae_sha256:rsa_pkcs1_sha256)" "a, RSA client"
assert_eq a-ec "$(tls_subject "$TLS_PORT" a.example.test -sigalgs ecdsa_secp256r1_sha256)" "a, ECDSA client"
assert_eq a-rsa "$(tls_subject "$TLS_PORT" a.example.test -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256)" "a, TLS 1.2 RSA suite"
assert_eq b "$(tls_subject "$TLS_PORT" x.b.example.test)" "b (wildcard)"
assert_eq b "$(tls_subject "$TLS_PORT" Y.B.Example.Test)" "b (upper case SNI)"
assert_eq c "$(tls_subject "$TLS_PORT" c.example.test)" "c"
assert_eq default "$(tls_subject "$TLS_PORT" d.example.test)" "d (a site without certificates)"
assert_eq default "$(tls_subject "$TLS_PORT" unknown.test)" "an unknown SNI"
assert_eq default "$(tls_subject "$TLS_PORT" -)" "no SNI"

step "a client that verifies: the chain is served, and the name is the site's"
fetch "https://a.example.test:$TLS_PORT/a" --cacert "$T/ca/ca.pem" --resolve "a.example.test:$TLS_PORT:127.0.0.1"
assert_status 200
assert_body a

step "check refuses a certificate that does not cover its site, and a key that does not match"
sed "s|{certificate: b.pem, key: b.key}|{certificate: c.pem, key: c.key}|" "$T/edge.yaml" >"$T/bad-cover.yaml"
rc=0
"$EDGECACHE" check -c "$T/bad-cover.yaml" >/dev/null 2>"$T/bad-cover.err" || rc=$?
assert_eq 2 "$rc" "check's exit status (not covered)"
grep -q 'error: site "b": tls: certificate .*c.pem does not cover host \*.b.example.test' "$T/bad-cover.err" ||
    fail "$(cat "$T/bad-cover.err")"
sed "s|{certificate: b.pem, key: b.key}|{certificate: b.pem, key: c.key}|" "$T/edge.yaml" >"$T/bad-key.yaml"
rc=0
"$EDGECACHE" check -c "$T/bad-key.yaml" >/dev/null 2>"$T/bad-key.err" || rc=$?
assert_eq 2 "$rc" "check's exit status (mismatched key)"
grep -q 'error: site "b": tls: certificate .*b.pem does not match key .*c.key' "$T/bad-key.err" || fail "$(cat "$T/bad-key.err")"

step "a reload (unknown_sni: refuse, c renewed) while an HTTP/2 connection to c is open"
script /held '"body": "held", "hold": "h"'
curl -s --http2 --max-time 60 --cacert "$T/ca/ca.pem" --resolve "c.example.test:$TLS_PORT:127.0.0.1" \
    -o "$T/first.body" -o "$T/second.body" -w '%{num_connects}\n' \
    "https://c.example.test:$TLS_PORT/a" "https://c.example.test:$TLS_PORT/held" >"$T/h2.out" 2>"$T/h2.err" &
H2=$!
wait_held h 1
write_config refuse c2
"$EDGECACHE" reload -c "$T/edge.yaml" >/dev/null || fail "reload"
assert_eq c-renewed "$(tls_subject "$TLS_PORT" c.example.test)" "c after the reload"
release h
wait "$H2" || fail "the HTTP/2 connection failed across the reload: $(cat "$T/h2.err")"
assert_eq "a held" "$(cat "$T/first.body") $(cat "$T/second.body")" "the two responses on the held connection"
assert_eq "1 0" "$(tr '\n' ' ' <"$T/h2.out" | sed 's/ $//')" "connections opened by curl (one, reused)"

step "unknown_sni: refuse — an unknown SNI and a missing one are refused; a site without certificates is not"
assert_eq "" "$(tls_subject "$TLS_PORT" unknown.test)" "an unknown SNI under refuse"
assert_eq "" "$(tls_subject "$TLS_PORT" -)" "no SNI under refuse"
timeout 20 openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername unknown.test </dev/null >"$T/refused.out" 2>&1 || true
# (OpenSSL makes the unrecognized_name alert; libh2o 2.2.5 closes a failed handshake without sending what is
# buffered, so the client sees the connection end with no certificate)
grep -q 'no peer certificate available' "$T/refused.out" || fail "a certificate was sent: $(tail -5 "$T/refused.out")"
assert_eq default "$(tls_subject "$TLS_PORT" d.example.test)" "d under refuse"
assert_eq b "$(tls_subject "$TLS_PORT" z.b.example.test)" "b under refuse"
stop_edge
assert_eq 3 "$(edge_counter tls_failures_unknown_sni)" "tls_failures_unknown_sni"
pass
