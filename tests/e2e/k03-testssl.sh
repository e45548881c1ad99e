#!/usr/bin/env bash
# k03-testssl: an independent scanner (Debian's testssl.sh) lists every cipher a TLS listener with the
# default profile accepts, TLS 1.2 and 1.3, and each one has forward secrecy (ECDHE) and an AEAD cipher
# (AES-GCM or ChaCha20-Poly1305): no CBC, no static RSA. k01 tests the same with chosen ciphers; this
# one tries them all, so a cipher nobody thought of cannot slip in. About 30 s (--fast, one cipher
# at a time against 127.0.0.1).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TESTSSL=$(command -v testssl || command -v testssl.sh) || skip "no testssl.sh (apt-get install testssl.sh)"
command -v openssl >/dev/null || skip "no openssl"

start_origin O
make_cert "$T/cert.pem" "$T/key.pem"
EDGE_PORT=$(free_port)
cat >"$T/edge.yaml" <<YAML
listen: [{address: 127.0.0.1, port: $EDGE_PORT, tls: {certificate: $T/cert.pem, key: $T/key.pem}}]
origin: $ORIGIN_URL
YAML
start_edge_raw -c "$T/edge.yaml"
wait_edge

step "testssl.sh --fast -e: every cipher the default profile accepts"
rc=0
timeout 300 "$TESTSSL" --fast --quiet --color 0 --warnings off -e --jsonfile "$T/testssl.json" \
    "127.0.0.1:$EDGE_PORT" >"$T/testssl.out" 2>&1 || rc=$?
[[ -s $T/testssl.json ]] || fail "testssl.sh wrote no JSON (exit $rc): $(tail -5 "$T/testssl.out")"
# each "cipher_*" finding is "HEX NAME KX BITS ENC KEYBITS RFC-NAME"
"$PYTHON" - "$T/testssl.json" >"$T/ciphers.txt" <<'PY' || fail "$(cat "$T/ciphers.txt")"
import json, sys
found = [e["finding"].split() for e in json.load(open(sys.argv[1])) if e["id"].startswith("cipher_x")]
bad = [f[1] for f in found if f[2] != "ECDH" or f[4] not in ("AESGCM", "CHACHA20")]
for f in found:
    print(f[1], f[2], f[4])
if not found or bad:
    print("no cipher found" if not found else "weak: " + " ".join(bad))
    sys.exit(1)
PY
sed 's/^/   /' "$T/ciphers.txt"
grep -q '^TLS_AES_128_GCM_SHA256 ' "$T/ciphers.txt" || fail "no TLS 1.3 suite"
grep -q '^ECDHE-RSA-AES128-GCM-SHA256 ' "$T/ciphers.txt" || fail "no TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256"

pass
