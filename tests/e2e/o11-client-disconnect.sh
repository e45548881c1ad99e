#!/usr/bin/env bash
# o11-client-disconnect: an HTTP/1.1 client that hangs up while its request waits on the origin.
#   A POST (not cacheable) to an origin that never answers: the edge notices the client is gone and
#     closes the origin connection (the origin sees it closed within ~3 s of the client leaving).
#   A GET of a slow, small, cacheable object: the fetch goes on without the client and the object is
#     stored: a later request is a HIT, with one origin request in all.
#   A GET of a slow object larger than background_fetch_max: once its head shows the size, the fetch is
#     cancelled (the origin connection closed) and nothing is stored.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
cat >"$T/edge.yaml" <<YAML
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"], connect_timeout: 1s, read_timeout: 20s}
behaviors:
  - {path: "*"}
cache: {background_fetch_max: 64K}
YAML
start_edge -c "$T/edge.yaml"

# leave_early PATH METHOD: sends the request on a raw connection, waits until the origin has it, hangs
# up, and prints the time it did (Unix seconds).
leave_early() {
    "$PYTHON" - "$EDGE_PORT" "$O_PORT" "$1" "$2" <<'PY'
import socket, sys, time, urllib.parse, urllib.request
port, oport, path, method = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
body = b"payload=o11" if method == "POST" else b""
s = socket.create_connection(("127.0.0.1", port), timeout=5)
# the Host curl sends (the host is in the key: a later fetch must find what this request stored)
s.sendall(b"%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n\r\n%s" % (method.encode(), path.encode(), port, len(body), body))
url = "http://127.0.0.1:%d/__count?path=%s" % (oport, urllib.parse.quote(path))
end = time.time() + 5
while time.time() < end and int(urllib.request.urlopen(url, timeout=5).read()) == 0:
    time.sleep(0.05)
s.close()
print(time.time())
PY
}

# origin_conn_closed PATH SINCE LIMIT: waits until the origin's connection that served PATH is closed by
# its peer (the edge); fails unless that happened within LIMIT seconds of SINCE. Prints the delay.
origin_conn_closed() {
    "$PYTHON" - "$O_PORT" "$1" "$2" "$3" <<'PY' || fail "the origin's connection for $1 was not closed by the edge within $3 s of the client leaving"
import json, sys, time, urllib.request
port, path, since, limit = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
while time.time() < since + limit + 1:
    conns = [c for c in json.load(urllib.request.urlopen("http://127.0.0.1:%d/__conns" % port, timeout=5))
             if path in c["paths"]]
    if conns and conns[-1]["closed"]:
        c = conns[-1]
        print("   the origin's connection for %s closed %.2fs after the client left (by the %s)"
              % (path, c["closed"] - since, "edge" if c["peer_closed"] else "origin"))
        sys.exit(0 if c["peer_closed"] and c["closed"] - since <= limit else 1)
    time.sleep(0.05)
sys.exit(1)
PY
}

step "a POST waiting on a hanging origin: the client leaves, the edge closes the origin connection"
script /o11/post '"hang": true'
left=$(leave_early /o11/post POST)
origin_conn_closed /o11/post "$left" 6 # prompt; the bound only rules out "never" on a loaded machine
assert_count /o11/post 1
fetch /o11/after-post
assert_status 200

step "a GET of a slow, small, cacheable object: the client leaves, the object is still stored"
# The origin holds its answer at a gate until the client has gone; then the object must still be
# stored: polled until a HIT (a poll while the fetch is in flight joins it; one after an abandoned
# fetch would ask the origin again, which the count below catches).
script /o11/slow '"hold": "slow", "body": "slow but worth keeping\n", "headers": {"Cache-Control": "max-age=60"}'
left=$(leave_early /o11/slow GET)
release slow
o11_stored() { try_fetch /o11/slow && [[ $STATUS == 200 && $(header X-Cache) == HIT ]]; }
wait_until o11_stored
assert_status 200
assert_body "slow but worth keeping"
assert_cache HIT
assert_count /o11/slow 1

step "a GET of a slow object larger than background_fetch_max (64K): cancelled once its size is known"
size=$((32 * 1024 * 1024))
script /o11/big "\"delay\": 1, \"body_size\": $size, \"headers\": {\"Cache-Control\": \"max-age=60\"}"
left=$(leave_early /o11/big GET)
origin_conn_closed /o11/big "$left" 8 # after the 1 s delay; room for a loaded machine
s=$(origin_sent /o11/big)
echo "   the origin sent $s of $size bytes"
((s < size)) || fail "the origin sent the whole object"
fetch /o11/big -I
assert_status 200
assert_header X-Cache MISS
assert_count /o11/big 2
assert_alive

pass
