#!/usr/bin/env bash
# rfc9213-targeted: targeted cache-control fields (RFC 9213): Edgecache-Cache-Control, else
# CDN-Cache-Control, replaces Cache-Control and Expires for this cache; an invalid one (not a valid
# Structured Field Dictionary) is ignored, and the next field applies.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

step "RFC 9213 §2.1 CDN-Cache-Control takes precedence over Cache-Control (no-store)"
script /t/cdn '"body": "c", "headers": {"Cache-Control": "no-store", "CDN-Cache-Control": "max-age=600"}'
forwarded /t/cdn
reused /t/cdn
assert_lifetime 600
assert_header Cache-Control no-store

step "RFC 9213 §2.1 and over Expires"
script /t/cdn-expires "\"body\": \"c\", \"headers\": {\"Expires\": \"$(http_date 3000)\", \"CDN-Cache-Control\": \"max-age=60\"}"
forwarded /t/cdn-expires
reused /t/cdn-expires
assert_lifetime 60

step "RFC 9213 §2.1 CDN-Cache-Control: no-store wins over a Cache-Control lifetime"
script /t/cdn-no-store '"body": "c", "headers": {"Cache-Control": "max-age=600", "CDN-Cache-Control": "no-store"}'
forwarded /t/cdn-no-store
forwarded /t/cdn-no-store

step "RFC 9213 §2.1 an invalid CDN-Cache-Control is ignored: Cache-Control applies"
script /t/cdn-invalid '"body": "c", "headers": {"Cache-Control": "max-age=30", "CDN-Cache-Control": "max-age=abc"}'
forwarded /t/cdn-invalid
reused /t/cdn-invalid
assert_lifetime 30
script /t/cdn-invalid2 '"body": "c", "headers": {"Cache-Control": "no-store", "CDN-Cache-Control": "Max-Age=600"}'
forwarded /t/cdn-invalid2
forwarded /t/cdn-invalid2

step "RFC 9213 §2.1 Edgecache-Cache-Control, our own targeted field, comes first"
script /t/ours '"body": "e", "headers": {"Cache-Control": "no-store", "CDN-Cache-Control": "no-store", "Edgecache-Cache-Control": "max-age=90"}'
forwarded /t/ours
reused /t/ours
assert_lifetime 90

step "RFC 9213 §2.1 an invalid Edgecache-Cache-Control falls back to CDN-Cache-Control"
script /t/ours-invalid '"body": "e", "headers": {"Cache-Control": "no-store", "CDN-Cache-Control": "max-age=70", "Edgecache-Cache-Control": "max-age=\"90\""}'
forwarded /t/ours-invalid
reused /t/ours-invalid
assert_lifetime 70

step "RFC 9213 §2.1 targeted directives: must-revalidate forbids stale use"
script /t/mr '"body": "m", "headers": {"CDN-Cache-Control": "max-age=2, must-revalidate"}'
forwarded /t/mr
sleep 3
script /t/mr '"status": 503, "body": "down"'
forwarded /t/mr
assert_status 503

pass
