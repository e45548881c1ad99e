#!/usr/bin/env bash
# c15-vary (RFC 9111 §4.1): responses with Vary are stored per variant, side by side: alternating
# requests for two variants are all HITs once each is stored (nginx's proxy_cache keeps one and
# flip-flops); Accept-Encoding is normalised, so browsers' spellings share a variant; "Vary: *" never
# matches; concurrent misses for different variants are not given each other's response. The variants are
# of Accept-Language, which is forwarded by default: a header that is not forwarded cannot make the
# origin vary (README, forward_headers).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export EDGECACHE_DEBUG=1 # the request state log lines: the concurrent revalidation step waits on them

start_origin O
start_edge --origin "$ORIGIN_URL"

step "§4.1: two variants side by side, no flip-flop"
script /c15/lang '"body": "lang=", "body_from_header": "Accept-Language", "headers": {"Cache-Control": "max-age=600", "Vary": "Accept-Language"}'
fetch /c15/lang -H 'Accept-Language: en'
assert_body lang=en
assert_cache MISS
fetch /c15/lang -H 'Accept-Language: fr'
assert_body lang=fr
assert_cache MISS 'edgecache; fwd=vary-miss'
for i in 1 2 3; do
    fetch /c15/lang -H 'Accept-Language: en'
    assert_body lang=en
    assert_cache HIT
    fetch /c15/lang -H 'Accept-Language: fr'
    assert_body lang=fr
    assert_cache HIT
done
fetch /c15/lang
assert_body lang=
assert_cache MISS
fetch /c15/lang
assert_cache HIT
assert_count /c15/lang 3

step "Accept-Encoding is normalised: gzip, x-gzip;q=1 and 'deflate, gzip' are one variant; q=0 is not gzip"
script /c15/ae '"body": "ae=", "body_from_header": "Accept-Encoding", "headers": {"Cache-Control": "max-age=600", "Vary": "Accept-Encoding"}'
fetch /c15/ae -H 'Accept-Encoding: gzip'
assert_cache MISS
fetch /c15/ae -H 'Accept-Encoding: deflate, gzip'
assert_cache HIT
assert_body ae=gzip
fetch /c15/ae -H 'Accept-Encoding: x-gzip;q=1'
assert_cache HIT
fetch /c15/ae -H 'Accept-Encoding: gzip;q=0'
assert_cache MISS
fetch /c15/ae -H 'Accept-Encoding: identity'
assert_cache HIT
assert_count /c15/ae 2

step "§4.1: Vary: * never matches"
script /c15/star '"body": "star", "headers": {"Cache-Control": "max-age=600", "Vary": "*"}'
fetch /c15/star
fetch /c15/star
assert_cache MISS
assert_count /c15/star 2

step "concurrent misses for two variants: each client gets its own"
script /c15/race '"body": "v=", "body_from_header": "Accept-Language", "delay": 1, "headers": {"Cache-Control": "max-age=600", "Vary": "Accept-Language"}'
pids=()
for i in 1 2 3 4 5 6; do
    v=$((i % 2))
    curl -sS --max-time 10 -H "Accept-Language: $v" -o "$T/race.$i" "http://127.0.0.1:$EDGE_PORT/c15/race" &
    pids+=($!)
done
for i in 1 2 3 4 5 6; do
    wait "${pids[$((i - 1))]}" || fail "client $i failed"
    assert_eq "v=$((i % 2))" "$(cat "$T/race.$i")" "client $i body"
done
n=$(origin_count /c15/race)
((n >= 2 && n <= 6)) || fail "origin count $n"
fetch /c15/race -H 'Accept-Language: 0'
assert_cache HIT
assert_body v=0
fetch /c15/race -H 'Accept-Language: 1'
assert_cache HIT
assert_body v=1

step "concurrent revalidations of two variants: each client gets its own variant back (found by tools/soak.sh)"
# Both variants share one ETag, so the origin answers every revalidation 304. The en revalidation is held
# at a gate until the debug log shows the fr request waiting too: fr has joined the fetch in flight for
# the URL, whose 304 refreshes en's variant. fr must not be given en's body: it revalidates its own.
script /c15/rv '"body": "lang=", "body_from_header": "Accept-Language", "etag": "\"rv\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=1", "Vary": "Accept-Language"}'
fetch /c15/rv -H 'Accept-Language: en'
assert_body lang=en
fetch /c15/rv -H 'Accept-Language: fr'
assert_body lang=fr
sleep 2 # past max-age=1: both variants are stale
script /c15/rv '"body": "lang=", "body_from_header": "Accept-Language", "etag": "\"rv\"", "304_if_match": true, "hold": "rv", "headers": {"Cache-Control": "max-age=600", "Vary": "Accept-Language"}'
curl -sS --max-time 20 -H 'Accept-Language: en' -o "$T/rv.en" "http://127.0.0.1:$EDGE_PORT/c15/rv" &
en=$!
wait_held rv 1
curl -sS --max-time 20 -H 'Accept-Language: fr' -o "$T/rv.fr" "http://127.0.0.1:$EDGE_PORT/c15/rv" &
fr=$!
wait_log '/c15/rv: WAIT' 2
release rv
wait "$en" || fail "the en client failed"
wait "$fr" || fail "the fr client failed"
assert_eq lang=en "$(cat "$T/rv.en")" "en body after the concurrent revalidation"
assert_eq lang=fr "$(cat "$T/rv.fr")" "fr body after the concurrent revalidation"
fetch /c15/rv -H 'Accept-Language: fr'
assert_body lang=fr
assert_cache HIT

pass
