#!/usr/bin/env bash
# rfc9111-5.2.1-request-directives: clients' Cache-Control (RFC 9111 §5.2.1) follows the behavior's
# request_cache_control switch. "ignore" (the default, as CloudFront) answers from the cache whatever
# the client asks, so clients cannot force origin traffic; "honor" obeys max-age, max-stale, min-fresh,
# no-cache, no-store and only-if-cached, and a fresh immutable response (RFC 8246) is not revalidated.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
edge_config 'behaviors:
  - {path: "/honor/*", request_cache_control: honor}
  - {path: "*"}'

step "§5.2.1 ignored by default: no-cache, max-age=0, no-store, min-fresh are answered from the cache"
script /ignore/a '"body": "a", "headers": {"Cache-Control": "max-age=600"}'
forwarded /ignore/a
for cc in no-cache max-age=0 no-store min-fresh=3600; do
    reused /ignore/a -H "Cache-Control: $cc"
    assert_cache HIT
done

step "§5.2.1.7 ignored by default: only-if-cached on a miss still goes to the origin"
script /ignore/oic '"body": "o", "headers": {"Cache-Control": "max-age=600"}'
forwarded /ignore/oic -H 'Cache-Control: only-if-cached'
assert_status 200

step "§5.2.1.4 honored: no-cache revalidates (or refetches) a fresh response"
script /honor/nc '"body": "nc", "etag": "\"nc\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=600"}'
forwarded /honor/nc
reused /honor/nc
forwarded /honor/nc -H 'Cache-Control: no-cache'
assert_status 200
assert_body nc

step "§5.2.1.1 honored: max-age=0 is not satisfied by a response of age >= 0"
script /honor/ma '"body": "ma", "headers": {"Cache-Control": "max-age=600", "Age": "10"}'
forwarded /honor/ma
reused /honor/ma -H 'Cache-Control: max-age=60'
forwarded /honor/ma -H 'Cache-Control: max-age=5'

step "§5.2.1.3 honored: min-fresh=3600 is not satisfied by 600 s of freshness"
script /honor/mf '"body": "mf", "headers": {"Cache-Control": "max-age=600"}'
forwarded /honor/mf
reused /honor/mf -H 'Cache-Control: min-fresh=60'
forwarded /honor/mf -H 'Cache-Control: min-fresh=3600'

step "§5.2.1.2 honored: max-stale=60 accepts a response stale by less than 60 s"
script /honor/ms '"body": "ms", "headers": {"Cache-Control": "max-age=2"}'
forwarded /honor/ms
sleep 3
reused /honor/ms -H 'Cache-Control: max-stale=60'
assert_body ms

step "§5.2.1.5 honored: no-store: the response is neither answered from nor stored in the cache"
script /honor/ns '"body": "ns", "headers": {"Cache-Control": "max-age=600"}'
forwarded /honor/ns -H 'Cache-Control: no-store'
forwarded /honor/ns

step "§5.2.1.7 honored: only-if-cached: 504 on a miss, the stored response on a hit"
script /honor/oic '"body": "oic", "headers": {"Cache-Control": "max-age=600"}'
reused /honor/oic -H 'Cache-Control: only-if-cached'
assert_status 504
forwarded /honor/oic
reused /honor/oic -H 'Cache-Control: only-if-cached'
assert_status 200

step "RFC 8246 §2 honored: a fresh immutable response is not revalidated on a client's no-cache"
script /honor/imm '"body": "imm", "etag": "\"imm\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=600, immutable"}'
forwarded /honor/imm
reused /honor/imm -H 'Cache-Control: no-cache'
assert_body imm

pass
