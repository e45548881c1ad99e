#!/usr/bin/env bash
# o04-consistent-hash: with balance: consistent_hash each object (cache key) always goes to one server:
# 100 objects through an edge with 3 servers each reach exactly one server, and all three get a share.
# Restarted with a 4th server (and an empty cache), only the objects the new server now owns move —
# about a quarter (10%..45% accepted) — and every object that moved, moved to the new server.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=100
for s in S1 S2 S3 S4; do start_origin "$s" --name "$s"; done

write_conf() { # PORTS...
    local p list=
    for p in "$@"; do list+="${list:+, }\"http://127.0.0.1:$p\""; done
    cat >"$T/edge.yaml" <<YAML
origins:
  web: {servers: [$list], balance: consistent_hash, connect_timeout: 1s, read_timeout: 2s}
behaviors:
  - {path: "*", origin: web}
YAML
}

# Requests every object once (a MISS each) and writes "path server" lines to FILE, from the origins' own
# counts: it fails unless each object reached exactly one server, exactly once.
round() { # FILE SERVER-NAMES...
    local out=$1 s
    shift
    # one keep-alive client for all N (curl per object is too slow under ASan)
    "$PYTHON" - "$EDGE_PORT" "$N" <<'PY' || fail "a GET through the edge went wrong (see above)"
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
bad = 0
for i in range(n):
    p = "/o04/object-%d" % i
    c.request("GET", p)
    r = c.getresponse()
    body = r.read().decode("latin-1")
    if r.status != 200 or body != "origin:" + p or r.getheader("X-Cache") != "MISS":
        print("   %s: status %d, X-Cache %s, body %r" % (p, r.status, r.getheader("X-Cache"), body[:80]), file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
PY
    for s in "$@"; do
        local pv="${s}_PORT"
        origin_counts "${!pv}" >"$T/counts.$s.json"
    done
    "$PYTHON" - "$N" "$out" "$T" "$@" <<'PY' || fail "each object must reach exactly one server once (see above)"
import json, sys
n, out, t, names = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
counts = {s: json.load(open("%s/counts.%s.json" % (t, s))) for s in names}
bad, owner = [], {}
for i in range(n):
    p = "/o04/object-%d" % i
    hit = {s: counts[s].get(p, 0) for s in names if counts[s].get(p, 0)}
    if len(hit) != 1 or list(hit.values()) != [1]:
        bad.append("%s: %s" % (p, hit))
    else:
        owner[p] = next(iter(hit))
for b in bad:
    print("   " + b, file=sys.stderr)
with open(out, "w") as f:
    for p, s in sorted(owner.items()):
        f.write("%s %s\n" % (p, s))
share = {s: sum(1 for o in owner.values() if o == s) for s in names}
print("   objects per server: %s" % share)
sys.exit(1 if bad else 0)
PY
}

step "3 servers: each of $N objects goes to exactly one server"
write_conf "$S1_PORT" "$S2_PORT" "$S3_PORT"
start_edge -c "$T/edge.yaml"
round "$T/three.txt" S1 S2 S3
for s in S1 S2 S3; do
    k=$(grep -c " $s\$" "$T/three.txt") || true
    ((k >= 10)) || fail "server $s owns only $k of $N objects: the ring is badly unbalanced"
done
step "a second edge round asks nobody: the objects are stored"
for ((i = 0; i < N; i += 17)); do
    fetch "/o04/object-$i"
    assert_header X-Cache HIT
done
stop_edge

step "4 servers, empty cache: only objects that the new server owns move"
for s in S1 S2 S3 S4; do pv="${s}_PORT"; origin_reset "${!pv}"; done
rm -rf "$T/cache"
write_conf "$S1_PORT" "$S2_PORT" "$S3_PORT" "$S4_PORT"
start_edge -c "$T/edge.yaml"
round "$T/four.txt" S1 S2 S3 S4
"$PYTHON" - "$T/three.txt" "$T/four.txt" "$N" <<'PY' || fail "the objects did not move as a consistent hash moves them"
import sys
three = dict(l.split() for l in open(sys.argv[1]))
four = dict(l.split() for l in open(sys.argv[2]))
n = int(sys.argv[3])
moved = {p: (three[p], four[p]) for p in three if three[p] != four[p]}
wrong = {p: m for p, m in moved.items() if m[1] != "S4"}
print("   moved: %d of %d (%.0f%%), all to S4: %s" % (len(moved), n, 100.0 * len(moved) / n, not wrong))
for p, m in sorted(wrong.items()):
    print("   %s moved from %s to %s, not to the new server" % (p, m[0], m[1]), file=sys.stderr)
ok = not wrong and 0.10 * n <= len(moved) <= 0.45 * n
if not 0.10 * n <= len(moved) <= 0.45 * n:
    print("   %d moved, expected %d..%d" % (len(moved), 0.10 * n, 0.45 * n), file=sys.stderr)
sys.exit(0 if ok else 1)
PY
assert_alive

pass
