#!/usr/bin/env bash
# k06-ocsp-stapling: OCSP stapling (edge/tls_ocsp.h) against a real responder — `openssl ocsp` over the index
# of a test CA made here, answering with responses good for one minute. The listener's certificate names the
# responder in its Authority Information Access; a site's must-staple certificate names none and is asked
# about at tls.ocsp.responder. Both are stapled (`openssl s_client -status`), the responses are kept on disk
# and stapled again at once by a restarted edge while the responder is down, and once their nextUpdate has
# passed nothing is stapled: never a stale response. About 70 s (the responses' minute).
E2E_TIMEOUT=${E2E_TIMEOUT:-240}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v openssl >/dev/null || skip "no openssl"

start_origin O
OCSP_PORT=$(free_port)
TLS_PORT=$(free_port)
make_ca "$T/ca"
make_site_cert "$T/ca" "$T/edge" rsa edge "DNS:edge.example.test" "authorityInfoAccess=OCSP;URI:http://127.0.0.1:$OCSP_PORT"
make_site_cert "$T/ca" "$T/must" ec must "DNS:must.example.test" "tlsfeature=status_request"
cat >"$T/edge.yaml" <<YAML
listen: [{address: 127.0.0.1, port: $TLS_PORT, tls: {certificate: edge.pem, key: edge.key}}]
tls: {ocsp: {responder: "http://127.0.0.1:$OCSP_PORT/"}}
sites:
  - name: edge
    hosts: [edge.example.test]
    origin: $ORIGIN_URL
  - name: must
    hosts: [must.example.test]
    origin: $ORIGIN_URL
    tls: {certificates: [{certificate: must.pem, key: must.key}]}
YAML
start_responder() {
    openssl ocsp -index "$T/ca/index.txt" -port "$OCSP_PORT" -rsigner "$T/ca/ca.pem" -rkey "$T/ca/ca.key" -CA "$T/ca/ca.pem" \
        -nmin 1 -ignore_err -timeout 5 >"$T/ocsp.log" 2>&1 &
    OCSP_PID=$!
    PIDS+=("$OCSP_PID")
    # (not a probe connection: the responder serves one client at a time, and would wait on the probe)
    wait_log 'waiting for OCSP client connections' 1 20 "$T/ocsp.log"
}
# status NAME: the stapled response as `openssl s_client -status` prints it ("no response sent" when none)
status() {
    { timeout 20 openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername "$1" -status -CAfile "$T/ca/ca.pem" </dev/null 2>&1 |
        sed -n '/^OCSP response:/,/^---/p'; } || true
}
stapled() { status "$1" | grep -q 'Cert Status: good'; }
not_stapled() { status "$1" | grep -q 'OCSP response: no response sent'; }

start_responder
start_edge_raw -c "$T/edge.yaml"
wait_edge "$TLS_PORT"

step "the responses are fetched (off the loops) and stapled: the listener's and the must-staple site's"
wait_until -t 30 stapled edge.example.test
wait_until -t 30 stapled must.example.test
status edge.example.test | grep -q 'OCSP Response Status: successful' || fail "$(status edge.example.test)"
status must.example.test | grep -q 'Responder Id: CN = edgecache test CA' || fail "$(status must.example.test)"
# a client that requires the staple of a must-staple certificate gets it and verifies it
printf 'GET / HTTP/1.1\r\nHost: must.example.test\r\nConnection: close\r\n\r\n' |
    timeout 20 openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername must.example.test -status -CAfile "$T/ca/ca.pem" \
        -verify_return_error -quiet >"$T/must.out" 2>&1 || fail "a verifying client of the must-staple site: $(tail -5 "$T/must.out")"
wait_until -t 10 eval '(($(ls "$T/cache/ocsp/"*.der 2>/dev/null | wc -l) == 2))'

step "the responder stops; a restarted edge staples the responses it kept on disk"
kill "$OCSP_PID"
wait "$OCSP_PID" 2>/dev/null || true
stop_edge
start_edge_raw -c "$T/edge.yaml"
wait_edge "$TLS_PORT"
stapled edge.example.test || fail "nothing stapled after the restart: $(status edge.example.test)"
stapled must.example.test || fail "nothing stapled for must after the restart: $(status must.example.test)"

step "past nextUpdate (one minute), with the responder still down: nothing is stapled"
# each response has its own nextUpdate (the two may be fetched seconds apart on a loaded machine): until
# must's goes too, whatever is stapled for it must still be current
wait_until -t 90 not_stapled edge.example.test
current_or_none() { # (wait_until silences its output: a finding goes to $T/stale)
    local out next asked
    asked=$(date +%s) # before the handshake: a response stapled then must be current then
    out=$(status must.example.test)
    grep -q 'OCSP response: no response sent' <<<"$out" && return 0
    next=$(sed -n 's/^ *Next Update: //p' <<<"$out" | head -1)
    if [ -z "$next" ] || (($(date -d "$next" +%s) < asked)); then
        printf 'nextUpdate "%s" passed: %s\n' "$next" "$out" >"$T/stale"
        return 0
    fi
    return 1
}
wait_until -t 30 current_or_none
[ ! -s "$T/stale" ] || fail "a stale response is stapled for must: $(cat "$T/stale")"
grep -q 'tls: OCSP: .*asking again in' "$T/edge.log" || fail "the failed refreshes are not logged"
stop_edge
pass
