#!/usr/bin/env bash
# r03-report-stats-ttl: `edgecache report stats` and `edgecache report ttl` from real traffic, per
# behavior and to the exact number. /r03/rev/* objects are no-cache with an ETag, so every request after
# the first is revalidated and the origin answers 304: 1 miss + 11 revalidations (hits, their bodies came
# from the cache), all unchanged, which the TTL advice turns into "default_ttl 3600 -> 86400". /r03/search
# gets 12 distinct keyed query strings: 12 misses that fragment the cache, which the advice names.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
cat >"$T/edge.yaml" <<YAML
origin: $ORIGIN_URL
reports: {bucket: 1s}
behaviors:
  - {path: /r03/rev/*, default_ttl: 3600}
  - {path: /r03/search*, query_string: all}
YAML
start_edge -c "$T/edge.yaml"
script /r03/rev/x '"body": "revalidate me", "etag": "\"x1\"", "304_if_match": true, "headers": {"Cache-Control": "no-cache"}'

step "12 requests to a no-cache object: 1 miss, then 11 revalidations answered 304"
fetch /r03/rev/x
assert_cache MISS
for i in $(seq 11); do
    fetch /r03/rev/x
    assert_cache REVALIDATED
done
assert_count /r03/rev/x 12

step "12 misses on /r03/search with distinct query strings"
for i in $(seq 12); do
    fetch "/r03/search?q=$i"
    assert_cache MISS
done
assert_count /r03/search 12
stop_edge

step "stats: per bucket and behavior, and the totals"
"$EDGECACHE" report stats --cache-dir "$T/cache" --since 1h --format json >"$T/stats.json"
total() { # BEHAVIOR FIELD: from the behavior's total row
    json_get "[\"rows\"]" <"$T/stats.json" | "$PYTHON" -c 'import json, sys
rows = [r for r in json.load(sys.stdin) if r["bucket"] == "total" and r["behavior"] == sys.argv[1]]
print(rows[0][sys.argv[2]] if rows else "none")' "$1" "$2"
}
assert_eq 12 "$(total '/r03/rev/*' requests)" "requests of /r03/rev/*"
assert_eq 11 "$(total '/r03/rev/*' hits)" "hits (revalidated) of /r03/rev/*"
assert_eq 1 "$(total '/r03/rev/*' misses)" "misses of /r03/rev/*"
assert_eq 0 "$(total '/r03/rev/*' errors)" "errors of /r03/rev/*"
assert_eq 12 "$(total '/r03/rev/*' origin_requests)" "origin requests of /r03/rev/*"
assert_eq 91.7 "$(total '/r03/rev/*' hit_pct)" "hit ratio of /r03/rev/*"
assert_eq 12 "$(total '/r03/search*' misses)" "misses of /r03/search*"
assert_eq 12 "$(total '/r03/search*' keyed_query_misses)" "keyed-query misses"
assert_eq 24 "$(total '*all*' requests)" "all requests"
assert_match '[0-9]+' "$(total '*all*' origin_p50_ms_le)" "origin p50 bound"
"$EDGECACHE" report stats --cache-dir "$T/cache" --since 1h >"$T/stats.txt"
grep -Eq '^total +/r03/rev/\* +12 +11 +1 +0 +91\.7 ' "$T/stats.txt" || fail "stats table: $(cat "$T/stats.txt")"

step "ttl: the figures, and concrete suggestions"
"$EDGECACHE" report ttl --cache-dir "$T/cache" --since 1h >"$T/ttl.txt"
grep -qF 'behavior /r03/rev/* (min_ttl 0, default_ttl 3600, max_ttl 31536000, query_string all)' "$T/ttl.txt" || fail "$(cat "$T/ttl.txt")"
grep -qF '  revalidations 11, unchanged (304) 11 (100.0 %)' "$T/ttl.txt" || fail "$(cat "$T/ttl.txt")"
grep -qF 'suggestion: /r03/rev/*: 100 % of 11 revalidations unchanged; default_ttl 3600 -> 86400 would have saved up to 11 origin requests' \
    "$T/ttl.txt" || fail "no TTL suggestion: $(cat "$T/ttl.txt")"
grep -qF 'suggestion: /r03/search*: 12 misses had a query string in the cache key, about 1' "$T/ttl.txt" ||
    fail "no fragmentation suggestion: $(cat "$T/ttl.txt")"
grep -qF "(most on 127.0.0.1:$EDGE_PORT/r03/search: 12 misses)" "$T/ttl.txt" || fail "$(cat "$T/ttl.txt")" # (host and path)
"$EDGECACHE" report ttl --cache-dir "$T/cache" --since 1h --format json >"$T/ttl.json"
assert_eq 11 "$(json_get '["behaviors"][0]["unchanged"]' <"$T/ttl.json")" "unchanged revalidations (json)"

pass
