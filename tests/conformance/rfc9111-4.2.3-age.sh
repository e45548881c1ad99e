#!/usr/bin/env bash
# rfc9111-4.2.3-age: the age of a stored response (RFC 9111 §4.2.3): the corrected initial age from the
# origin's Date (apparent age) and Age header, plus the time it has been stored; the Age header sent
# (§5.1); how invalid Age values and lists are read (an invalid one ignored, a list's first member); and
# the Date a reused response carries (RFC 9110 §6.6.1: the origin's, not the time of reuse).
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

step "§5.1 an Age list (\"10, 20\") is read as its first member"
script /a/list '"body": "l", "headers": {"Cache-Control": "max-age=60", "Age": "10, 20"}'
mark
forwarded /a/list
reused /a/list
assert_age 10

step "§5.1 a list whose first member is invalid (\"abc, 20\") is ignored whole"
script /a/list-bad '"body": "l", "headers": {"Cache-Control": "max-age=60", "Age": "abc, 20"}'
mark
forwarded /a/list-bad
reused /a/list-bad
assert_age 0
assert_ttl_between 50 60

step "§5.1 two Age lines: the first one"
script /a/lines '"body": "l", "headers": [["Cache-Control", "max-age=60"], ["Age", "5"], ["Age", "20"]]'
mark
forwarded /a/lines
reused /a/lines
assert_age 5

step "§5.1 an invalid Age (1.5, -1, abc, 1a) is ignored: stored and reused as if it had none, even without a validator"
for age in 1.5 -1 abc 1a; do
    script "/a/invalid$age" "\"body\": \"i\", \"headers\": {\"Cache-Control\": \"max-age=600\", \"Age\": \"$age\"}"
    mark
    forwarded "/a/invalid$age"
    reused "/a/invalid$age"
    assert_cache HIT
    assert_age 0
    assert_ttl_between 590 600
done

step "RFC 9110 §6.6.1 the origin's Date, 5 s old, is kept on the MISS and on the HIT; Age counts from it"
date5=$(http_date -5)
script /a/keep-date "\"body\": \"k\", \"headers\": {\"Cache-Control\": \"max-age=3600\", \"Date\": \"$date5\"}"
forwarded /a/keep-date
assert_eq "$date5" "$(header Date)" "Date on the MISS"
reused /a/keep-date
assert_eq "$date5" "$(header Date)" "Date on the HIT"
assert_eq 1 "$(header_lines Date | wc -l)" "Date lines on the HIT"
age=$(header Age)
[[ $age -ge 5 ]] || fail "Age $age on the HIT is less than the 5 s since the origin's Date"
reused /a/keep-date --http2-prior-knowledge
assert_eq 2 "$HTTP_VERSION" "HTTP version with --http2-prior-knowledge"
assert_eq "$date5" "$(header Date)" "Date on the HIT over HTTP/2"

step "RFC 9110 §6.6.1 a stored RFC 850 Date is sent back as the same time, in IMF-fixdate"
script /a/date850 "\"body\": \"r\", \"headers\": {\"Cache-Control\": \"max-age=3600\", \"Date\": \"$(http_date -30 rfc850)\"}"
forwarded /a/date850
reused /a/date850
got=$(date -u -d "$(header Date)" +%s)
want=$(($(date +%s) - 30))
[[ $got -ge $((want - 3)) && $got -le $want ]] || fail "Date on the HIT: $(header Date), expected about $(http_date -30)"
assert_match '[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT' "$(header Date)" "IMF-fixdate"

pass
