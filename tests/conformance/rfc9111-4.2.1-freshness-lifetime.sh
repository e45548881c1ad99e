#!/usr/bin/env bash
# rfc9111-4.2.1-freshness-lifetime: the explicit freshness lifetime (RFC 9111 §4.2.1): s-maxage over
# max-age over Expires − Date, Expires in each of the three HTTP date formats (RFC 9110 §5.6.7), an
# invalid Expires meaning "already stale" (§5.3), and the behavior's clamp into [min_ttl, max_ttl].
# Cache-Control parsing (§5.2): case-insensitive names, quoted and malformed values, duplicates.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
edge_config 'behaviors:
  - {path: "/clamp/*", min_ttl: 30, max_ttl: 50}
  - {path: "*"}'

step "§4.2.1 max-age: stored and reused for max-age seconds"
script /f/max-age '"body": "m", "headers": {"Cache-Control": "max-age=60"}'
forwarded /f/max-age
assert_cache MISS 'edgecache; fwd=miss; stored'
reused /f/max-age
assert_cache HIT
assert_lifetime 60

step "§4.2.1 s-maxage wins over max-age and Expires in a shared cache"
script /f/s-maxage "\"body\": \"s\", \"headers\": {\"Cache-Control\": \"max-age=1, s-maxage=60\", \"Expires\": \"$(http_date 600)\"}"
forwarded /f/s-maxage
reused /f/s-maxage
assert_lifetime 60

step "§4.2.1 max-age wins over Expires"
script /f/max-age-expires "\"body\": \"e\", \"headers\": {\"Cache-Control\": \"max-age=60\", \"Expires\": \"$(http_date -600)\"}"
forwarded /f/max-age-expires
reused /f/max-age-expires
assert_lifetime 60

for format in imf rfc850 asctime; do
    step "§4.2.1 Expires − Date, Expires as $format (RFC 9110 §5.6.7)"
    # (the origin writes Expires as it answers, 120 s after its Date: a lifetime of exactly 120)
    script "/f/expires-$format" "\"body\": \"x\", \"headers\": {\"Expires\": \"{now+120:$format}\"}"
    forwarded "/f/expires-$format"
    assert_cache MISS 'edgecache; fwd=miss; stored'
    reused "/f/expires-$format"
    assert_lifetime 120
done

step "§4.2.1 Expires is relative to the origin's Date, not to the edge's clock"
script /f/expires-date "\"body\": \"d\", \"headers\": {\"Date\": \"$(http_date -100)\", \"Expires\": \"$(http_date 100)\", \"ETag\": \"\\\"d\\\"\"}"
forwarded /f/expires-date
reused /f/expires-date
assert_lifetime 200

step "§5.3 an invalid Expires is already stale: with a validator, revalidated on every use"
script /f/expires-invalid '"body": "i", "etag": "\"i1\"", "304_if_match": true, "headers": {"Expires": "0"}'
forwarded /f/expires-invalid
assert_cache MISS 'edgecache; fwd=miss; stored'
forwarded /f/expires-invalid
assert_cache REVALIDATED 'edgecache; fwd=stale; fwd-status=304'
assert_body i

step "§5.3 an invalid Expires without a validator: never reused"
script /f/expires-garbage '"body": "g", "headers": {"Expires": "next tuesday"}'
forwarded /f/expires-garbage
assert_not_stored
forwarded /f/expires-garbage

step "§4.2.1 an Expires in the past is stale"
script /f/expires-past "\"body\": \"p\", \"headers\": {\"Expires\": \"$(http_date -60)\"}"
forwarded /f/expires-past
forwarded /f/expires-past

step "§4.2.1 the behavior's clamp: max-age=5 raised to min_ttl 30, max-age=600 lowered to max_ttl 50"
script /clamp/low '"body": "l", "headers": {"Cache-Control": "max-age=5"}'
forwarded /clamp/low
reused /clamp/low
assert_lifetime 30
script /clamp/high '"body": "h", "headers": {"Cache-Control": "max-age=600"}'
forwarded /clamp/high
reused /clamp/high
assert_lifetime 50

step "§5.2 directive names are case-insensitive: MAX-AGE=60"
script /f/case '"body": "c", "headers": {"Cache-Control": "MAX-AGE=60"}'
forwarded /f/case
reused /f/case
assert_lifetime 60

step "§5.2 a quoted lifetime (max-age=\"60\") is invalid here: stale, the conservative reading"
script /f/quoted '"body": "q", "headers": {"Cache-Control": "max-age=\"60\""}'
forwarded /f/quoted
forwarded /f/quoted

step "§5.2 a directive inside another's quoted value is not one: extension=\"max-age=3600\", max-age=600"
script /f/in-quotes '"body": "q", "headers": {"Cache-Control": "extension=\"max-age=3600\", max-age=600"}'
forwarded /f/in-quotes
reused /f/in-quotes
assert_lifetime 600

step "§1.2.2 an invalid number (max-age=60s, max-age=-1) is stale, never the default"
script /f/invalid '"body": "n", "headers": {"Cache-Control": "max-age=60s"}'
forwarded /f/invalid
forwarded /f/invalid
script /f/negative '"body": "n", "headers": {"Cache-Control": "max-age=-1"}'
forwarded /f/negative
forwarded /f/negative

step "§4.2.1 duplicate directives: the smaller lifetime, on one line or two"
script /f/dup '"body": "d", "headers": {"Cache-Control": "max-age=600, max-age=40"}'
forwarded /f/dup
reused /f/dup
assert_lifetime 40
script /f/dup2 '"body": "d", "headers": [["Cache-Control", "max-age=40"], ["Cache-Control", "max-age=600"]]'
forwarded /f/dup2
reused /f/dup2
assert_lifetime 40

step "§4.2.1 conflicting directives: no-store wins over max-age"
script /f/conflict '"body": "x", "headers": {"Cache-Control": "max-age=600, no-store"}'
forwarded /f/conflict
forwarded /f/conflict

pass
