#!/usr/bin/env bash
# o10-tiered: an edge can be another edge's origin. Client -> edge A -> edge B -> origin: the first GET
# is a MISS at both (one origin request), the second a HIT at A (B and the origin not asked: their
# counts do not move). When B already has the object, A's miss is B's hit. The response's Cache-Status
# lists B's member before A's (RFC 9211: the cache nearest the origin first), and so does X-Cache (one
# field line per tier, as a list: "MISS, HIT" is B's stored verdict, then A's hit). Each edge's own counters,
# logged when it stops, agree with what the clients saw.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_extra_edge B --origin "$ORIGIN_URL"
start_edge --origin "http://127.0.0.1:$B_PORT" # edge A

# members NAME: every member of the list-valued field NAME in the last response, one per line, in
# order, over all its field lines (two lines "X-Cache: MISS" then "X-Cache: HIT" are the list "MISS, HIT").
members() {
    tr -d '\r' <"$HDRS" | awk -v name="$1" '/^HTTP\// { out = "" }
        tolower(substr($0, 1, length(name) + 1)) == tolower(name) ":" {
            v = substr($0, length(name) + 2); sub(/^[ \t]*/, "", v); out = out (out == "" ? "" : ",") v }
        END { print out }' | tr ',' '\n' | sed 's/^[[:space:]]*//'
}
cache_status_members() { members Cache-Status; }
member() { cache_status_members | sed -n "${1}p"; }
x_cache() { members X-Cache | paste -sd' ' -; } # B's verdict, then A's

step "first GET through A: a MISS at A and at B, one origin request"
fetch /o10/one
assert_status 200
assert_body "origin:/o10/one"
assert_eq "MISS MISS" "$(x_cache)" "X-Cache (B's, then A's)"
assert_count /o10/one 1
cache_status_members | sed 's/^/   Cache-Status member: /'
assert_eq 2 "$(cache_status_members | grep -c .)" "Cache-Status members (B's and A's)"
assert_match 'edgecache; fwd=(uri-)?miss;.*stored.*' "$(member 1)" "B's Cache-Status member (the first)"
assert_match 'edgecache; fwd=(uri-)?miss;.*stored.*' "$(member 2)" "A's Cache-Status member (the second)"

step "second GET through A: a HIT at A; neither B nor the origin is asked"
fetch /o10/one
assert_status 200
assert_body "origin:/o10/one"
assert_eq "MISS HIT" "$(x_cache)" "X-Cache (B's stored verdict, then A's)"
assert_match 'edgecache; hit;.*' "$(member '$')" "A's Cache-Status member (the last)"
assert_count /o10/one 1

step "an object B already has: A's miss is B's hit, and B's member comes first"
fetch "http://127.0.0.1:$B_PORT/o10/two"
assert_status 200
assert_eq MISS "$(x_cache)" "X-Cache of B alone"
assert_count /o10/two 1
fetch /o10/two
assert_status 200
assert_body "origin:/o10/two"
assert_eq "HIT MISS" "$(x_cache)" "X-Cache (B's, then A's)"
cache_status_members | sed 's/^/   Cache-Status member: /'
assert_eq 2 "$(cache_status_members | grep -c .)" "Cache-Status members (B's and A's)"
assert_match 'edgecache; hit;.*' "$(member 1)" "B's Cache-Status member (the first): B had it"
assert_match 'edgecache; fwd=(uri-)?miss;.*stored.*' "$(member 2)" "A's Cache-Status member (the second): A did not"
assert_count /o10/two 1
fetch /o10/two
assert_eq "HIT HIT" "$(x_cache)" "X-Cache (B's stored verdict, then A's)"
assert_count /o10/two 1

step "the edges' own counters: A answered 4 (2 hits), B 3 (1 hit); the origin 2"
stop_edge
stop_extra_edge B
assert_eq "4 2 2" "$(edge_counter requests) $(edge_counter hits) $(edge_counter misses)" "A's requests, hits, misses"
assert_eq "3 1 2" "$(edge_counter requests "$T/edge.B.log") $(edge_counter hits "$T/edge.B.log") $(edge_counter misses "$T/edge.B.log")" \
    "B's requests, hits, misses"
assert_eq 2 "$(origin_total)" "requests the origin received"

pass
