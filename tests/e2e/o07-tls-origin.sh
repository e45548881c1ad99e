#!/usr/bin/env bash
# o07-tls-origin: https:// origins. The test makes its own CA and a certificate for "localhost" (and
# nothing else). With tls.ca_file naming that CA the edge fetches over TLS (200, MISS then HIT); with
# the system store the certificate does not verify: 502, and no request reaches the origin; with
# verify: false it is accepted; a server given by address (https://127.0.0.1:P) verifies when tls.sni
# names the certificate's host (the origin sees that SNI), and does not without it (name mismatch).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v openssl >/dev/null || skip "openssl is required"

step "a CA and a server certificate for localhost"
ossl() { openssl "$@" >>"$T/openssl.log" 2>&1 || { cat "$T/openssl.log" >&2; fail "openssl $1 failed"; }; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" \
    -days 2 -subj "/CN=edgecache e2e test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/server.key" -out "$T/server.csr" \
    -subj "/CN=localhost"
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$T/server.ext"
ossl x509 -req -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -out "$T/server.pem" \
    -days 2 -extfile "$T/server.ext"

start_origin O --tls "$T/server.pem" "$T/server.key"
[[ $ORIGIN_URL == https://* ]] || fail "the origin should speak https"
cat >"$T/edge.yaml" <<YAML
origins:
  withca: {servers: ["https://localhost:$O_PORT"], tls: {ca_file: $T/ca.pem}, connect_timeout: 2s, read_timeout: 2s}
  system: {servers: ["https://localhost:$O_PORT"], connect_timeout: 2s, connect_attempts: 1, read_timeout: 2s}
  noverify: {servers: ["https://localhost:$O_PORT"], tls: {verify: false}, connect_timeout: 2s, read_timeout: 2s}
  bysni: {servers: ["https://127.0.0.1:$O_PORT"], tls: {ca_file: $T/ca.pem, sni: localhost}, connect_timeout: 2s, read_timeout: 2s}
  byaddr: {servers: ["https://127.0.0.1:$O_PORT"], tls: {ca_file: $T/ca.pem}, connect_timeout: 2s, connect_attempts: 1, read_timeout: 2s}
behaviors:
  - {path: "/ca/*", origin: withca}
  - {path: "/sys/*", origin: system}
  - {path: "/nov/*", origin: noverify}
  - {path: "/sni/*", origin: bysni}
  - {path: "/addr/*", origin: byaddr}
  - {path: "*", origin: withca}
YAML
start_edge -c "$T/edge.yaml"

conn_field() { # PATH FIELD: FIELD of the last origin connection that served PATH
    origin_conns | "$PYTHON" -c 'import json, sys
conns = [c for c in json.load(sys.stdin) if sys.argv[1] in c["paths"]]
print(conns[-1][sys.argv[2]] if conns else "no-connection")' "$1" "$2"
}
handshake_failures() {
    origin_conns | "$PYTHON" -c 'import json, sys; print(sum(1 for c in json.load(sys.stdin) if c["tls_error"]))'
}

step "tls.ca_file names the CA: 200 over TLS, then a HIT"
fetch /ca/a
assert_status 200
assert_body "origin:/ca/a"
assert_cache MISS
assert_count /ca/a 1
assert_eq localhost "$(conn_field /ca/a sni)" "SNI the origin saw"
fetch /ca/a
assert_cache HIT
assert_count /ca/a 1

step "the system CA store does not know our CA: 502, nothing reaches the origin"
f0=$(handshake_failures)
fetch /sys/a
assert_status 502
assert_header X-Cache ERROR
assert_time_between 0 6 # the bound only rules out a hang; handshake_failures proves the cause
assert_count /sys/a 0
f1=$(handshake_failures)
((f1 > f0)) || fail "the origin saw no failed TLS handshake ($f0 before, $f1 after)"

step "verify: false accepts the certificate"
fetch /nov/a
assert_status 200
assert_body "origin:/nov/a"
assert_count /nov/a 1

step "server by address, sni: localhost: verifies, and the origin sees SNI localhost"
fetch /sni/a
assert_status 200
assert_body "origin:/sni/a"
assert_count /sni/a 1
assert_eq localhost "$(conn_field /sni/a sni)" "SNI the origin saw"

step "server by address without sni: the certificate does not name 127.0.0.1: 502"
fetch /addr/a
assert_status 502
assert_header X-Cache ERROR
assert_count /addr/a 0
assert_alive

pass
