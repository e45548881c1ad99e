#!/usr/bin/env bash
# rfc9111-4.2.3-age: the age of a stored response (RFC 9111 §4.2.3): the corrected initial age from the
# origin's Date (apparent age) and Age header, plus the time it has been stored; the Age header sent
# (§5.1); and how invalid Age values and lists are read (conservatively: older).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

step "§4.2.3 the origin's Age counts: Age: 30 with max-age=60 leaves 30 s"
script /a/age '"body": "a", "headers": {"Cache-Control": "max-age=60", "Age": "30"}'
mark
forwarded /a/age
assert_age 30
reused /a/age
assert_age 30
assert_lifetime 60

step "§4.2.3 apparent age: a Date 100 s ago counts as age 100"
script /a/date '"body": "d", "headers": {"Cache-Control": "max-age=600", "Date": "{now-100}"}'
mark
forwarded /a/date
reused /a/date
assert_age 100
assert_lifetime 600

step "§4.2.3 a response older than its lifetime on arrival, with a validator: stored stale, revalidated"
script /a/old '"body": "o", "etag": "\"o1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=3600", "Age": "7200"}'
forwarded /a/old
forwarded /a/old
assert_cache REVALIDATED 'edgecache; fwd=stale; fwd-status=304'

step "§4.2.3 stale on arrival and no validator: never reused"
script /a/old-nov '"body": "o", "headers": {"Cache-Control": "max-age=3600", "Age": "7200"}'
forwarded /a/old-nov
forwarded /a/old-nov

step "§4.2.3 the age grows while stored: two seconds later, Age >= 2"
script /a/grow '"body": "g", "headers": {"Cache-Control": "max-age=60"}'
mark
forwarded /a/grow
sleep 2
reused /a/grow
assert_age 2
assert_lifetime 60

step "§5.1 an Age list (\"10, 20\") is invalid: read as its largest member"
script /a/list '"body": "l", "headers": {"Cache-Control": "max-age=60", "Age": "10, 20"}'
mark
forwarded /a/list
reused /a/list
assert_age 20

step "§5.1 two Age lines: the larger one"
script /a/lines '"body": "l", "headers": [["Cache-Control", "max-age=60"], ["Age", "20"], ["Age", "5"]]'
mark
forwarded /a/lines
reused /a/lines
assert_age 20

step "§5.1 an invalid Age (abc, -10, 1.5) cannot prove freshness: stale (revalidated with a validator)"
for age in abc -10 1.5; do
    script "/a/invalid$age" "\"body\": \"i\", \"etag\": \"\\\"i\\\"\", \"304_if_match\": true, \"headers\": {\"Cache-Control\": \"max-age=600\", \"Age\": \"$age\"}"
    forwarded "/a/invalid$age"
    forwarded "/a/invalid$age"
    assert_cache REVALIDATED
done

pass
