#!/usr/bin/env bash
# w08-fleet-check-dns-zone: the fleet file on the command line, without root or PowerDNS (tests/fleet/run.sh
# proves the zone with the real server in network namespaces). `edgecache check` tells a fleet file from a
# configuration and validates it (FILE, -c FILE, --fleet FILE; errors as file:line:col, exit 2);
# `edgecache dns-zone` writes the zone to stdout or, whole, to -o with the PowerDNS drop-in and the bind
# backend's zone statement, and refuses what it cannot write (exit 2) before writing anything.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

F="$TOP_SRCDIR/tests/fleet/fleet.yaml"
run() { # EXPECTED-STATUS CMD...: runs CMD, output in $T/out (stdout and stderr)
    local want=$1 rc=0
    shift
    "$@" >"$T/out" 2>&1 || rc=$?
    [[ $rc == "$want" ]] || fail "$* exited $rc, expected $want: $(cat "$T/out")"
}

step "check: a fleet file by its content, whichever way it is named"
for args in "$F" "-c $F" "--fleet $F"; do
    # shellcheck disable=SC2086
    run 0 "$EDGECACHE" check $args
    assert_eq "$F: ok (fleet: 3 edges, 2 regions)" "$(cat "$T/out")" "check $args"
done
step "check: a refusal at its line and column, exit 2; --fleet on an edge's configuration refuses it"
sed 's/fallback: \[us\]/fallback: [eu]/' "$F" >"$T/self.yaml"
run 2 "$EDGECACHE" check "$T/self.yaml"
assert_match "$T/self.yaml:[0-9]+:16: fallback: region \"eu\" cannot fall back to itself" "$(cat "$T/out")"
printf 'origin: http://127.0.0.1:1\n' >"$T/edge.yaml"
run 0 "$EDGECACHE" check "$T/edge.yaml"
assert_eq "$T/edge.yaml: ok" "$(cat "$T/out")"
run 2 "$EDGECACHE" check --fleet "$T/edge.yaml"
assert_match "$T/edge.yaml:1:1: unknown key \"origin\" in the fleet file.*" "$(cat "$T/out")"
run 2 "$EDGECACHE" check "$T/edge.yaml" "$F"

step "dns-zone: to stdout; to files, with the PowerDNS drop-in and the zone statement"
run 0 "$EDGECACHE" dns-zone "$F" --serial 7
grep -q '^@ 5 IN SOA ns1 hostmaster 7 300 60 1209600 5$' "$T/out" || fail "SOA: $(cat "$T/out")"
assert_eq 4 "$(grep -c ' IN LUA A\{1,4\} ' "$T/out")" "LUA records (A and AAAA for @ and www)"
mkdir "$T/pdns"
run 0 "$EDGECACHE" dns-zone "$F" -o "$T/pdns/z.zone" --pdns-conf "$T/pdns/e.conf" --named-conf "$T/pdns/named.conf"
[[ -z $(cat "$T/out") ]] || fail "dns-zone -o printed: $(cat "$T/out")"
grep -q "^zone \"cdn.test\" { type master; file \"$T/pdns/z.zone\"; };$" "$T/pdns/named.conf" || fail "$(cat "$T/pdns/named.conf")"
grep -q '^lua-health-checks-interval=1$' "$T/pdns/e.conf" || fail "$(cat "$T/pdns/e.conf")"
assert_eq "" "$(ls "$T/pdns" | grep tmp || true)" "temporary files left"

step "dns-zone refuses, exit 2 and nothing written: no dns section, differing healthz, --named-conf without -o"
sed '/^dns:/,/^regions:/{/^regions:/!d}' "$F" >"$T/nodns.yaml"
run 2 "$EDGECACHE" dns-zone "$T/nodns.yaml" -o "$T/none.zone"
assert_match ".*no dns section.*" "$(cat "$T/out")"
sed 's|admin: "10.2.0.10:9090"}|admin: "10.2.0.10:9090", healthz: "http://10.2.0.10:8080/edgecache/healthz"}|' "$F" >"$T/hz.yaml"
run 2 "$EDGECACHE" dns-zone "$T/hz.yaml" -o "$T/none.zone"
assert_match '.*edges "eu-1" and "us-1" have healthz URLs that differ.*' "$(cat "$T/out")"
[[ ! -e $T/none.zone ]] || fail "a zone was written"
run 2 "$EDGECACHE" dns-zone "$F" --named-conf "$T/n.conf"
pass
