#!/usr/bin/env bash
# k05-session-tickets: session resumption with the process's ticket keys (edge/tls_tickets.h). With its own
# keys, an edge of two loops resumes a session on either loop, after a reload (new TLS contexts, same keys)
# and after an upgrade (the keys are handed to the new process); a restart makes new keys, so the session is
# not resumed. With a key file (nginx's 80-byte format), a session resumes after a restart, as across a
# fleet that shares the file; TLS 1.2 tickets too.
E2E_TIMEOUT=${E2E_TIMEOUT:-180}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v openssl >/dev/null || skip "no openssl"

start_origin O
make_cert "$T/cert.pem" "$T/key.pem"
ADMIN_PORT=$(free_port)
TLS_PORT=$(free_port)
printf '%s\n' 'k05-token-0123456789abcdef' >"$T/admin.token"
write_config() { # [TOP-LEVEL TLS SECTION]
    cat >"$T/edge.yaml" <<YAML
listen: [{address: 127.0.0.1, port: $TLS_PORT, tls: {certificate: cert.pem, key: key.pem}}]
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
threads: 2
origin: $ORIGIN_URL
${1:-}
YAML
}
script /a '"body": "a", "headers": {"Cache-Control": "max-age=600"}'
# new_session FILE [ARGS]: a full handshake and one request (so that the tickets arrive), the session saved
new_session() {
    local file=$1
    shift
    printf 'GET /a HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
        timeout 20 openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername localhost -quiet -sess_out "$file" "$@" \
            >/dev/null 2>&1 || true
    [[ -s $file ]] || fail "openssl s_client saved no session into $file"
}
# resumed FILE [ARGS]: "Reused" or "New" for a handshake offering the saved session
resumed() {
    local file=$1
    shift
    { timeout 20 openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername localhost -sess_in "$file" "$@" </dev/null 2>/dev/null |
        sed -n 's/^\(New\|Reused\), .*/\1/p'; } || true
}

write_config
start_edge_raw -c "$T/edge.yaml"
wait_edge "$TLS_PORT" "$ADMIN_PORT"

step "own keys: a TLS 1.3 and a TLS 1.2 session resume, 8 times each (on both loops)"
new_session "$T/s13"
new_session "$T/s12" -tls1_2
for i in 1 2 3 4 5 6 7 8; do
    assert_eq Reused "$(resumed "$T/s13")" "TLS 1.3 resumption $i"
    assert_eq Reused "$(resumed "$T/s12" -tls1_2)" "TLS 1.2 resumption $i"
done

step "after a reload (new TLS contexts), the same sessions resume"
"$EDGECACHE" reload -c "$T/edge.yaml" >/dev/null || fail "reload"
assert_eq Reused "$(resumed "$T/s13")" "TLS 1.3 after the reload"
assert_eq Reused "$(resumed "$T/s12" -tls1_2)" "TLS 1.2 after the reload"

step "after an upgrade (a new process), the same sessions resume: the keys were handed over"
OLD_PID=$EDGE_PID
"$EDGECACHE" upgrade -c "$T/edge.yaml" >"$T/upgrade.out" 2>&1 || fail "edgecache upgrade: $(cat "$T/upgrade.out")"
wait_log "upgrade: process [0-9]+ serves; this one stops accepting and drains" 1 60
NEW_PID=$(sed -n 's/.*upgrade: started .* as process \([0-9]*\);.*/\1/p' "$T/edge.log" | head -n 1)
[[ $NEW_PID =~ ^[0-9]+$ ]] || fail "no new process in the log"
PIDS+=("$NEW_PID")
wait "$OLD_PID" || fail "the old process exited with status $?"
grep -Eq "session ticket keys? taken over from the previous process" "$T/edge.log" || fail "the new process says nothing of the keys"
assert_eq Reused "$(resumed "$T/s13")" "TLS 1.3 after the upgrade"
assert_eq Reused "$(resumed "$T/s12" -tls1_2)" "TLS 1.2 after the upgrade"
kill -TERM "$NEW_PID"
# gone, or a zombie that nobody reaps in this container (not our child: no `wait`)
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
wait_until -t 40 gone "$NEW_PID"
EDGE_PID=
assert_eq 2 "$(edge_counter tls_resumed_handshakes)" "resumptions the new process counted"

step "own keys and a restart: new keys, the session is not resumed"
start_edge_raw -c "$T/edge.yaml"
wait_edge "$TLS_PORT" "$ADMIN_PORT"
assert_eq New "$(resumed "$T/s13")" "TLS 1.3 after a restart without a key file"
stop_edge

step "a key file: a session resumes after a restart"
openssl rand 80 >"$T/tickets.key"
openssl rand 80 >>"$T/tickets.key"
write_config 'tls: {session_tickets: {key_file: tickets.key}}'
start_edge_raw -c "$T/edge.yaml"
wait_edge "$TLS_PORT" "$ADMIN_PORT"
new_session "$T/f13"
new_session "$T/f12" -tls1_2
stop_edge
start_edge_raw -c "$T/edge.yaml"
wait_edge "$TLS_PORT" "$ADMIN_PORT"
assert_eq Reused "$(resumed "$T/f13")" "TLS 1.3 after a restart with the key file"
assert_eq Reused "$(resumed "$T/f12" -tls1_2)" "TLS 1.2 after a restart with the key file"

step "the operator rotates: a new first key encrypts, the old one (now second) still decrypts"
{ openssl rand 80; head -c 80 "$T/tickets.key"; } >"$T/tickets.new"
mv "$T/tickets.new" "$T/tickets.key"
"$EDGECACHE" reload -c "$T/edge.yaml" >/dev/null || fail "reload"
assert_eq Reused "$(resumed "$T/f13")" "TLS 1.3 after the key file's rotation"
printf 'short' >"$T/tickets.key"
! "$EDGECACHE" reload -c "$T/edge.yaml" >"$T/bad.out" 2>&1 || fail "a 5-byte key file was accepted"
grep -q 'key_file: 5 bytes' "$T/bad.out" || fail "$(cat "$T/bad.out")"
stop_edge
pass
