#!/usr/bin/env bash
# h04-unkeyed-headers: headers outside the cache key cannot poison it with the default settings. The origin
# reflects Host, X-Forwarded-Host and X-Original-URL into its body; a poisoned request then a clean one: the
# clean one gets the clean body from the cache (the origin count proves the HIT), because none of those headers
# reached the origin. A behavior's forward_headers are put in the key: two values, two objects.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
cat >"$T/edge.yaml" <<YAML
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"], connect_timeout: 1s, read_timeout: 2s}
behaviors:
  - {path: "/fw/*", origin: default, forward_headers: [x-tenant]}
  - {path: "*", origin: default}
YAML
start_edge -c "$T/edge.yaml"

script /h04/page '"headers": {"Cache-Control": "max-age=60"}, "body": "page", "body_from_headers": ["Host", "X-Forwarded-Host", "X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override"]'
step "the poisoned request: none of its headers reach the origin"
fetch /h04/page -H 'Host: evil.example' -H 'X-Forwarded-Host: evil.example' -H 'X-Original-URL: /admin' \
    -H 'X-Rewrite-URL: /admin' -H 'X-HTTP-Method-Override: DELETE' -H 'X-Forwarded-Scheme: nothttps'
assert_status 200
clean="page|Host=127.0.0.1:$O_PORT|X-Forwarded-Host=|X-Original-URL=|X-Rewrite-URL=|X-HTTP-Method-Override="
assert_body "$clean"
for h in x-forwarded-host x-original-url x-rewrite-url x-http-method-override x-forwarded-scheme; do
    assert_eq "<absent>" "$(origin_requests /h04/page | json_get "[0][\"headers\"].get(\"$h\", \"<absent>\")")" "$h at the origin"
done
step "the same host without those headers: a HIT with the clean body (they are neither keyed nor forwarded)"
fetch /h04/page -H 'Host: evil.example'
assert_cache HIT
assert_body "$clean"
assert_count /h04/page 1
step "the edge's own host: another object (the Host is in the key), with the clean body"
fetch /h04/page
assert_cache MISS
assert_body "$clean"
assert_count /h04/page 2

step "forward_headers are in the key: two X-Tenant values are two objects"
script /fw/t '"headers": {"Cache-Control": "max-age=60"}, "body": "t", "body_from_headers": ["X-Tenant"]'
fetch /fw/t -H 'X-Tenant: a'
assert_body "t|X-Tenant=a"
fetch /fw/t -H 'X-Tenant: b'
assert_cache MISS
assert_body "t|X-Tenant=b"
fetch /fw/t -H 'X-Tenant: a'
assert_cache HIT
assert_body "t|X-Tenant=a"
assert_count /fw/t 2
assert_alive
pass
