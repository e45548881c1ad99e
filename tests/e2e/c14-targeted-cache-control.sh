#!/usr/bin/env bash
# c14-targeted-cache-control (RFC 9213, RFC 9111 §4.2.3): CDN-Cache-Control overrides Cache-Control and
# Expires for the edge; Edgecache-Cache-Control overrides both; an invalid targeted field is ignored;
# the origin's Age counts in the object's age.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
cat >"$T/edge.yaml" <<YAML
listen: 127.0.0.1:1
origin: $ORIGIN_URL
behaviors: [{path: "*", default_ttl: 0}]
YAML
start_edge -c "$T/edge.yaml"

step "RFC 9213 §2.1: CDN-Cache-Control wins over Cache-Control: no-store"
script /c14/cdn '"body": "cdn", "headers": {"Cache-Control": "no-store", "CDN-Cache-Control": "max-age=600"}'
fetch /c14/cdn
assert_cache MISS 'edgecache; stored'
fetch /c14/cdn
assert_cache HIT
assert_header Cache-Control no-store # passed on to the browser untouched
assert_count /c14/cdn 1

step "RFC 9213 §2.1: CDN-Cache-Control: no-store wins over Cache-Control: max-age"
script /c14/nostore '"body": "x", "headers": {"Cache-Control": "max-age=600", "CDN-Cache-Control": "no-store"}'
fetch /c14/nostore
fetch /c14/nostore
assert_cache MISS
assert_count /c14/nostore 2

step "Edgecache-Cache-Control comes first of all"
script /c14/own '"body": "own", "headers": {"Edgecache-Cache-Control": "max-age=300", "CDN-Cache-Control": "no-store", "Cache-Control": "no-store"}'
fetch /c14/own
fetch /c14/own
assert_cache HIT
assert_lifetime 300
assert_count /c14/own 1

step "RFC 9213 §2.1: an invalid CDN-Cache-Control is ignored (Cache-Control applies)"
script /c14/bad '"body": "bad", "headers": {"CDN-Cache-Control": "max-age=abc", "Cache-Control": "max-age=120"}'
fetch /c14/bad
fetch /c14/bad
assert_cache HIT
assert_lifetime 120

step "RFC 9111 §4.2.3: the origin's Age makes the object older"
script /c14/age '"body": "aged", "headers": {"Cache-Control": "max-age=100", "Age": "40"}'
fetch /c14/age
fetch /c14/age
assert_cache HIT
assert_ttl_between 55 60
age=$(header Age)
((age >= 40 && age <= 45)) || fail "Age $age, expected 40..45"

pass
