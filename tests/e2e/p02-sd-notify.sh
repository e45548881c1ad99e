#!/usr/bin/env bash
# p02-sd-notify: under a service manager that asked for notifications (NOTIFY_SOCKET, systemd's
# Type=notify), the edge sends READY=1 once it serves, and STOPPING=1 when SIGTERM is taken, before it
# drains and exits 0. A small listener stands in for systemd: it owns the unix datagram socket, and logs
# each datagram with the sender's pid (SO_PASSCRED), so the test knows the edge itself sent it.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOCK=$T/notify.sock
MSGS=$T/notify.log
: >"$MSGS"
"$PYTHON" -c '
import os, socket, sys
path, out, parent = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
s.settimeout(1)
with open(out, "a") as f:
    while True:
        try:
            data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                break
            continue
        pid = 0
        for level, kind, cred in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = int.from_bytes(cred[0:4], sys.byteorder)
        f.write("%d %s\n" % (pid, data.decode("utf-8", "replace").replace("\n", " ")))
        f.flush()
' "$SOCK" "$MSGS" $$ 2>"$T/notify.err" &
PIDS+=($!)
wait_until test -S "$SOCK"

start_origin O
script /p02 '"body": "hello p02\n", "headers": {"Cache-Control": "max-age=60"}'

notified() { grep -q "^$PID $1\$" "$MSGS"; } # STATE: a datagram STATE from the edge's pid
# mark: a datagram of our own, then wait for it: the listener has logged every datagram sent before
mark() {
    "$PYTHON" -c 'import socket, sys
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"MARK", sys.argv[1])' "$SOCK"
    wait_until grep -q ' MARK$' "$MSGS"
}

step "READY=1 from the edge's own pid, and then it serves at once (no wait for the port)"
EDGE_PORT=$(free_port)
NOTIFY_SOCKET=$SOCK start_edge_raw --listen "127.0.0.1:$EDGE_PORT" --origin "$ORIGIN_URL"
PID=$EDGE_PID
wait_until notified READY=1
fetch /p02
assert_status 200
assert_body "hello p02"
! grep -q STOPPING "$MSGS" || fail "STOPPING=1 before any stop signal: $(cat "$MSGS")"

step "SIGTERM: STOPPING=1, then a clean exit"
stop_edge
mark
notified STOPPING=1 || fail "no STOPPING=1 from pid $PID: $(cat "$MSGS")"
assert_eq "$PID READY=1|$PID STOPPING=1|MARK" "$(sed 's/^[0-9]* MARK$/MARK/' "$MSGS" | paste -sd'|')" "datagrams, in order"

step "without NOTIFY_SOCKET the edge sends nothing and runs as before"
: >"$MSGS"
start_edge --origin "$ORIGIN_URL"
fetch /p02
assert_cache HIT
stop_edge
mark
assert_eq 1 "$(wc -l <"$MSGS")" "datagrams without NOTIFY_SOCKET (the MARK only)"

pass
