#!/usr/bin/env bash
# w03-purge-fleet: `edgecache purge --fleet fleet.yaml` purges every edge of a fleet, the parent tier first.
# A parent edge P in front of the origin, two children A and C using P as their origin (as in o10-tiered). Filled
# with v1, the origin then changes to v2: without a purge the children keep serving v1; after the fleet purge no
# edge serves it. With C's admin API down, the purge exits 1 naming C, prints the command that retries only C,
# and that command (once C is back) purges C alone. With the parent's admin API unreachable, no child is purged
# (A keeps serving its copy while the origin has moved on).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
printf 'w03-token-0123456789abcdef\n' >"$T/admin.token"
PP=$(free_port)
PA=$(free_port)
PC=$(free_port)
edge_yaml() { # NAME ORIGIN ADMIN_PORT
    cat >"$T/$1.yaml" <<YAML
origin: $2
node_id: $1
admin: {listen: 127.0.0.1:$3, token_file: admin.token}
YAML
}
edge_yaml p "$ORIGIN_URL" "$PP"
start_extra_edge P -c "$T/p.yaml"
edge_yaml a "http://127.0.0.1:$P_PORT" "$PA"
edge_yaml c "http://127.0.0.1:$P_PORT" "$PC"
start_edge -c "$T/a.yaml"
start_extra_edge C -c "$T/c.yaml"
wait_edge "$PP" "$PA" "$PC"

cat >"$T/fleet.yaml" <<YAML
name: w03
admin_token_file: admin.token
regions:
  - {name: local, networks: [127.0.0.0/8]}
edges:
  - {name: a, region: local, addresses: [127.0.0.61], admin: "127.0.0.1:$PA"}
  - {name: p, region: local, tier: parent, addresses: [127.0.0.62], admin: "127.0.0.1:$PP"}
  - {name: c, region: local, addresses: [127.0.0.63], admin: "127.0.0.1:$PC"}
YAML
"$EDGECACHE" check --fleet "$T/fleet.yaml" >/dev/null || fail "the fleet file does not validate"

H='Host: w03.example' # one site for every edge: the cache key holds the host, not the edge's port
body_at() { # PORT: the body the edge at PORT serves for /w03/obj (the parent: as the children ask it, by its address)
    if [[ $1 == "$P_PORT" ]]; then fetch "http://127.0.0.1:$1/w03/obj"; else fetch "http://127.0.0.1:$1/w03/obj" -H "$H"; fi
    assert_status 200
    cat "$BODY"
}
set_body() { script /w03/obj "\"body\": \"$1\", \"headers\": {\"Cache-Control\": \"max-age=600\"}"; }

step "fill: v1 through both children; the parent fetched it once"
set_body v1
assert_eq v1 "$(body_at "$EDGE_PORT")" "A"
assert_eq v1 "$(body_at "$C_PORT")" "C"
assert_eq v1 "$(body_at "$EDGE_PORT")" "A again"
assert_count /w03/obj 1

step "the origin changes to v2: without a purge, every edge still serves v1"
set_body v2
assert_eq v1 "$(body_at "$EDGE_PORT")" "A"
assert_eq v1 "$(body_at "$C_PORT")" "C"
assert_eq v1 "$(body_at "$P_PORT")" "P"

step "purge --fleet: the parent first, then the children; no edge serves v1"
"$EDGECACHE" purge --fleet "$T/fleet.yaml" /w03/obj >"$T/out1" 2>"$T/err1" || fail "fleet purge failed: $(cat "$T/out1" "$T/err1")"
cat "$T/out1"
assert_match 'edge +tier +invalidation +status +objects +time_ms' "$(sed -n 1p "$T/out1")" "table header"
assert_match 'p +parent +[0-9]+ +done +1 +[0-9]+' "$(sed -n 2p "$T/out1")" "the parent's row, first"
assert_match 'a +edge +[0-9]+ +done +1 +[0-9]+' "$(sed -n 3p "$T/out1")" "A's row"
assert_match 'c +edge +[0-9]+ +done +1 +[0-9]+' "$(sed -n 4p "$T/out1")" "C's row"
assert_eq 4 "$(wc -l <"$T/out1" | tr -d ' ')" "lines of output (no retry line)"
assert_eq v2 "$(body_at "$EDGE_PORT")" "A"
assert_eq v2 "$(body_at "$C_PORT")" "C"
assert_eq v2 "$(body_at "$P_PORT")" "P"
assert_count /w03/obj 2 # the parent refetched once for everyone

step "C's admin API down: exit 1 naming C, and a retry line for C alone"
stop_extra_edge C
set_body v3
rc=0
"$EDGECACHE" purge --fleet "$T/fleet.yaml" /w03/obj >"$T/out2" 2>"$T/err2" || rc=$?
cat "$T/out2" "$T/err2"
assert_eq 1 "$rc" "exit status"
grep -Eq "^c +edge +- +failed: POST /purge on 127.0.0.1:$PC: cannot connect" "$T/out2" || fail "C's row: $(cat "$T/out2")"
grep -q '^purge: 1 of 3 edges not purged: c (failed)$' "$T/err2" || fail "stderr: $(cat "$T/err2")"
retry=$(sed -n 's/^retry: //p' "$T/out2")
assert_eq "edgecache purge --fleet $T/fleet.yaml --edges c /w03/obj" "$retry" "the retry command"
assert_eq v3 "$(body_at "$EDGE_PORT")" "A (purged)"

step "C back: the retry purges C alone, and C serves v3"
start_extra_edge C -c "$T/c.yaml"
wait_edge "$PC"
assert_eq v2 "$(body_at "$C_PORT")" "C before the retry (its store kept v2)"
# shellcheck disable=SC2086
"${EDGECACHE}" ${retry#edgecache } >"$T/out3" 2>"$T/err3" || fail "retry failed: $(cat "$T/out3" "$T/err3")"
cat "$T/out3"
assert_eq 2 "$(wc -l <"$T/out3" | tr -d ' ')" "the retry's table: a header and C's row"
assert_match 'c +edge +[0-9]+ +done +1 +[0-9]+' "$(sed -n 2p "$T/out3")" "C's row"
assert_eq v3 "$(body_at "$C_PORT")" "C"

step "the parent unreachable: no child is purged, and the output says why"
set_body v4
DEAD=$(free_port)
sed "s/admin: \"127.0.0.1:$PP\"/admin: \"127.0.0.1:$DEAD\"/" "$T/fleet.yaml" >"$T/pdown.yaml"
rc=0
"$EDGECACHE" purge --fleet "$T/pdown.yaml" --prefix /w03/ >"$T/out4" 2>"$T/err4" || rc=$?
cat "$T/out4" "$T/err4"
assert_eq 1 "$rc" "exit status"
grep -Eq '^a +edge +- +skipped: parent p failed +- +-$' "$T/out4" || fail "A's row: $(cat "$T/out4")"
grep -q 'parent p failed: the edges were not purged, since they would refill from its stale copy' "$T/err4" || fail "$(cat "$T/err4")"
assert_eq "edgecache purge --fleet $T/pdown.yaml --edges p,a,c --prefix /w03/" "$(sed -n 's/^retry: //p' "$T/out4")" "retry"
assert_eq v3 "$(body_at "$EDGE_PORT")" "A (not purged: still v3)"

step "usage: --fleet with --admin, --edges without --fleet, an unknown edge"
for args in "--fleet $T/fleet.yaml --admin 127.0.0.1:1 /x" "--edges a /x" "--fleet $T/fleet.yaml --edges zz /x"; do
    rc=0
    # shellcheck disable=SC2086
    "$EDGECACHE" purge $args >/dev/null 2>&1 || rc=$?
    assert_eq 2 "$rc" "exit status of 'purge $args'"
done

stop_extra_edge C
stop_edge
stop_extra_edge P
pass
