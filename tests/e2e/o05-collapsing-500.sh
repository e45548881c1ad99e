#!/usr/bin/env bash
# o05-collapsing-500: 500 concurrent clients miss on one cold object whose origin takes 1 s to answer;
# the edge (both of its threads) sends ONE request to the origin and streams the body to every client.
# Every body is complete (sha256); every client but the first says X-Cache MISS with "collapsed" in
# Cache-Status (or HIT, for one that came after the object was stored); the edge's own counters agree:
# one origin request, the others collapsed.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLIENTS=500
size=100000
start_origin O
cat >"$T/edge.yaml" <<YAML
threads: 2
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"], connect_timeout: 2s, read_timeout: 10s}
behaviors:
  - {path: "*"}
YAML
start_edge -c "$T/edge.yaml"

want=$(pattern_sha256 "$size")
script /o05 "\"body_size\": $size, \"delay\": 1, \"headers\": {\"Cache-Control\": \"max-age=60\"}"

step "$CLIENTS concurrent GETs of one cold object (the origin answers after 1 s)"
"$PYTHON" - "$EDGE_PORT" "$CLIENTS" "$want" >"$T/clients.json" <<'PY' || fail "the client run failed"
import asyncio, hashlib, json, sys

port, n, want = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

async def one(i):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        # the Host curl sends below: the host is in the cache key
        w.write(b"GET /o05 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % port)
        await w.drain()
        data = await asyncio.wait_for(r.read(), 20)  # until the edge closes
        w.close()
    except Exception as e:
        return {"error": repr(e)}
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return {"status": int(lines[0].split()[1]) if len(lines[0].split()) > 1 else 0,
            "x_cache": hdrs.get("x-cache"), "cache_status": hdrs.get("cache-status", ""),
            "len": len(body), "ok": hashlib.sha256(body).hexdigest() == want}

async def main():
    res = await asyncio.gather(*(one(i) for i in range(n)))
    json.dump(res, sys.stdout)

asyncio.run(main())
PY
"$PYTHON" - "$T/clients.json" "$CLIENTS" >"$T/summary" <<'PY' || { cat "$T/summary" >&2; fail "not every client got the whole object (see above)"; }
import json, sys
res, n = json.load(open(sys.argv[1])), int(sys.argv[2])
errors = [r for r in res if "error" in r or r["status"] != 200 or not r["ok"]]
for r in errors[:10]:
    print("   bad client:", r)
collapsed = sum(1 for r in res if "collapsed" in r.get("cache_status", ""))
miss = sum(1 for r in res if r.get("x_cache") == "MISS")
hit = sum(1 for r in res if r.get("x_cache") == "HIT")
leaders = sum(1 for r in res if r.get("x_cache") == "MISS" and "collapsed" not in r.get("cache_status", ""))
print("%d %d %d %d %d" % (len(errors), miss, hit, collapsed, leaders))
sys.exit(1 if errors or len(res) != n else 0)
PY
read -r errors miss hit collapsed leaders <"$T/summary"
echo "   $CLIENTS clients: MISS $miss (of which collapsed $collapsed), HIT $hit; all bodies complete"
assert_count /o05 1
assert_eq 1 "$leaders" "clients with a MISS that did not join (the one whose request went to the origin)"
assert_eq $((CLIENTS - 1 - hit)) "$collapsed" "clients that joined the fetch (Cache-Status collapsed)"
assert_eq "$CLIENTS" $((miss + hit)) "clients with X-Cache MISS or HIT"
((collapsed >= CLIENTS / 2)) || fail "only $collapsed of $CLIENTS clients joined the fetch: the 1 s delay was not enough to prove collapsing"

step "afterwards: a HIT, still one origin request"
fetch /o05
assert_cache HIT
assert_eq "$want" "$(body_sha256)" "body sha256"
assert_count /o05 1

step "the edge's counters agree: 1 origin request, $collapsed collapsed"
stop_edge
assert_eq 1 "$(edge_counter origin_requests)" "counter origin_requests"
assert_eq "$collapsed" "$(edge_counter collapsed)" "counter collapsed"
assert_eq $((CLIENTS + 1)) "$(edge_counter requests)" "counter requests"

pass
