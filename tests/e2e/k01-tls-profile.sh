#!/usr/bin/env bash
# k01-tls-profile: a TLS listener's profile decides what its handshakes accept. The default,
# "intermediate" (Mozilla's), takes TLS 1.2 with ECDHE and an AEAD cipher and TLS 1.3, and refuses CBC
# and static-RSA ciphers; "modern" refuses TLS 1.2; "custom" takes the operator's list, which
# `edgecache check` warns about (still exit 0) when it is weak, and a version below 1.2 is refused.
# The edge counts each handshake (by version, resumed or not) and each refusal by its reason.
# The client side offers each cipher at security level 0, so a refusal is the edge's, not the client's.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v openssl >/dev/null || skip "no openssl"

start_origin O
make_cert "$T/cert.pem" "$T/key.pem"

EDGE_PORT=$(free_port)
INTER_PORT=$(free_port)
MODERN_PORT=$(free_port)
CUSTOM_PORT=$(free_port)
TLS="certificate: $T/cert.pem, key: $T/key.pem"
cat >"$T/edge.yaml" <<YAML
listen:
  - {address: 127.0.0.1, port: $EDGE_PORT}
  - {address: 127.0.0.1, port: $INTER_PORT, tls: {$TLS}}
  - {address: 127.0.0.1, port: $MODERN_PORT, tls: {$TLS, profile: modern}}
  - {address: 127.0.0.1, port: $CUSTOM_PORT, tls: {$TLS, profile: custom, max_version: "1.2",
       ciphers: "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA:ECDHE-RSA-AES128-SHA"}}
origin: $ORIGIN_URL
YAML

step "edgecache check: the weak custom list is warned about, exit 0"
"$EDGECACHE" check -c "$T/edge.yaml" >"$T/check.out" 2>"$T/check.err" || fail "check: $(cat "$T/check.err")"
assert_match ".*warning: listen 127.0.0.1 port $CUSTOM_PORT: tls: ciphers without forward secrecy: AES128-SHA" \
    "$(grep 'forward secrecy' "$T/check.err")" "the no-FS warning"
assert_match ".*tls: CBC ciphers \(not AEAD\): AES128-SHA, ECDHE-RSA-AES128-SHA" "$(grep CBC "$T/check.err")" "the CBC warning"
assert_eq 2 "$(grep -v 'expires in' "$T/check.err" | grep -c warning)" "warnings (none for intermediate or modern)"
# (the test certificate is good for a day: each listener's is warned about as expiring within 14 days)
assert_eq 3 "$(grep -c 'warning: listen .*: tls: certificate .* expires in' "$T/check.err")" "expiry warnings"

step "edgecache check: TLS 1.1 is refused, exit 2"
sed 's/max_version: "1.2"/min_version: "1.1"/' "$T/edge.yaml" >"$T/old.yaml"
rc=0
"$EDGECACHE" check -c "$T/old.yaml" >/dev/null 2>"$T/old.err" || rc=$?
assert_eq 2 "$rc" "check's exit status"
assert_match ".*min_version: \"1.1\": TLS below 1.2 is refused" "$(cat "$T/old.err")" "the error"

start_edge_raw -c "$T/edge.yaml"
wait_edge "$EDGE_PORT" "$INTER_PORT" "$MODERN_PORT" "$CUSTOM_PORT"

# handshake PORT [S_CLIENT ARGS]: 0 when the handshake completes; the negotiated protocol and cipher in
# $T/hs.out
handshake() {
    local port=$1
    shift
    timeout 20 openssl s_client -connect "127.0.0.1:$port" -servername localhost "$@" </dev/null >"$T/hs.out" 2>&1
}
accepts() { # WHAT PORT [S_CLIENT ARGS]
    local what=$1
    shift
    handshake "$@" || fail "$what: the handshake failed: $(grep -m3 -i error "$T/hs.out")"
    echo "   accepted $what: $(grep -m1 -E 'Cipher is|Protocol *:' "$T/hs.out" | sed 's/^ *//')"
}
refuses() { # WHAT PORT [S_CLIENT ARGS]
    local what=$1
    shift
    ! handshake "$@" || fail "$what: accepted ($(grep -m1 'Cipher is' "$T/hs.out"))"
    echo "   refused $what"
}

step "intermediate (the default): TLS 1.2 with ECDHE and AEAD, and TLS 1.3"
accepts "ECDHE-RSA-AES128-GCM-SHA256" "$INTER_PORT" -tls1_2 -cipher 'ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0'
grep -q 'Cipher is ECDHE-RSA-AES128-GCM-SHA256' "$T/hs.out" || fail "another cipher: $(grep 'Cipher is' "$T/hs.out")"
accepts "ECDHE-RSA-CHACHA20-POLY1305" "$INTER_PORT" -tls1_2 -cipher 'ECDHE-RSA-CHACHA20-POLY1305:@SECLEVEL=0'
accepts "TLS 1.3" "$INTER_PORT" -tls1_3
grep -q 'TLSv1.3' "$T/hs.out" || fail "TLS 1.3 not negotiated"

step "intermediate: no CBC, no static RSA, nothing below TLS 1.2"
for cipher in AES128-SHA AES256-SHA256 ECDHE-RSA-AES128-SHA AES128-GCM-SHA256 ECDHE-RSA-AES256-SHA384; do
    refuses "$cipher" "$INTER_PORT" -tls1_2 -cipher "$cipher:@SECLEVEL=0"
done
version_refusals=0
if openssl s_client -help 2>&1 | grep -q -- -tls1_1; then
    refuses "TLS 1.1" "$INTER_PORT" -tls1_1 -cipher 'ALL:@SECLEVEL=0'
    version_refusals=1
fi

step "modern: TLS 1.3 only"
refuses "TLS 1.2" "$MODERN_PORT" -tls1_2 -cipher 'ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0'
accepts "TLS 1.3" "$MODERN_PORT" -tls1_3

step "custom: the operator's list, and only up to its max_version"
accepts "AES128-SHA" "$CUSTOM_PORT" -tls1_2 -cipher 'AES128-SHA:@SECLEVEL=0'
refuses "ECDHE-RSA-CHACHA20-POLY1305 (not in the list)" "$CUSTOM_PORT" -tls1_2 -cipher 'ECDHE-RSA-CHACHA20-POLY1305:@SECLEVEL=0'
refuses "TLS 1.3 (above max_version)" "$CUSTOM_PORT" -tls1_3

step "a request still goes through the intermediate listener (TLS 1.3)"
script /k01 '"body": "k01", "headers": {"Cache-Control": "max-age=60"}'
fetch "https://127.0.0.1:$INTER_PORT/k01" -k
assert_status 200
assert_eq k01 "$(body)" "body"

step "a TLS 1.2 session resumed"
accepts "a first TLS 1.2 handshake" "$INTER_PORT" -tls1_2 -sess_out "$T/session.pem"
accepts "the same session again" "$INTER_PORT" -tls1_2 -sess_in "$T/session.pem"
grep -q '^Reused' "$T/hs.out" || fail "the session was not resumed: $(grep -m1 -E '^(New|Reused)' "$T/hs.out")"

step "a client that refuses the certificate (self-signed) ends the handshake with an alert"
try_fetch "https://127.0.0.1:$INTER_PORT/k01"
[[ $CURL_RC != 0 ]] || fail "curl accepted a self-signed certificate"

step "the TLS counters: every handshake above, by version, resumed, and the refusals by reason"
stop_edge
# completed: intermediate 2 x TLS 1.2 + 1 x TLS 1.3, modern 1 x TLS 1.3, custom 1 x TLS 1.2, the request's TLS 1.3,
# the two of the resumption (TLS 1.2)
assert_eq 8 "$(edge_counter tls_handshakes)" "tls_handshakes"
assert_eq 5 "$(edge_counter tls12_handshakes)" "tls12_handshakes"
assert_eq 3 "$(edge_counter tls13_handshakes)" "tls13_handshakes"
assert_eq 1 "$(edge_counter tls_resumed_handshakes)" "tls_resumed_handshakes"
# refused: five ciphers of intermediate and one of custom; TLS 1.2 on modern, TLS 1.3 on custom (and TLS 1.1)
assert_eq 6 "$(edge_counter tls_failures_no_shared_cipher)" "tls_failures_no_shared_cipher"
assert_eq $((2 + version_refusals)) "$(edge_counter tls_failures_protocol_version)" "tls_failures_protocol_version"
assert_eq 1 "$(edge_counter tls_failures_other)" "tls_failures_other (curl's unknown CA)"

pass
