#!/usr/bin/env bash
# rfc9111-4.1-vary: responses with Vary (RFC 9111 §4.1) are stored as variants side by side, each
# selected by the request's values of the Vary'd fields; Vary: * never matches; Accept-Encoding is
# normalised so that equivalent values share one variant and variants never replace one another.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

step "§4.1 two variants side by side, each selected by the request's Accept-Language (forwarded by default, so the origin can vary on it)"
script /vary/x '"body": "variant:", "body_from_header": "Accept-Language", "headers": {"Cache-Control": "max-age=600", "Vary": "Accept-Language"}'
forwarded /vary/x -H 'Accept-Language: a'
assert_body variant:a
forwarded /vary/x -H 'Accept-Language: b'
assert_body variant:b
assert_cache MISS 'edgecache; fwd=vary-miss'
reused /vary/x -H 'Accept-Language: a'
assert_body variant:a
reused /vary/x -H 'Accept-Language: b'
assert_body variant:b

step "§4.1 a request without the field is a variant of its own"
forwarded /vary/x
assert_body variant:
reused /vary/x
assert_body variant:
reused /vary/x -H 'Accept-Language: a'
assert_body variant:a

step "§4.1 Vary: * never matches: every request goes to the origin"
script /vary/star '"body": "s", "headers": {"Cache-Control": "max-age=600", "Vary": "*"}'
forwarded /vary/star
assert_cache MISS 'edgecache; fwd=miss; detail=vary-star'
forwarded /vary/star

step "§4.1 Accept-Encoding normalised: gzip, x-gzip and \"deflate, gzip\" are one variant"
script /vary/ae '"body": "ae:", "body_from_header": "Accept-Encoding", "headers": {"Cache-Control": "max-age=600", "Vary": "Accept-Encoding"}'
forwarded /vary/ae -H 'Accept-Encoding: gzip'
reused /vary/ae -H 'Accept-Encoding: x-gzip'
reused /vary/ae -H 'Accept-Encoding: deflate, gzip'

step "§4.1 no flip-flop: storing the identity variant does not evict the gzip one"
forwarded /vary/ae -H 'Accept-Encoding: identity'
reused /vary/ae -H 'Accept-Encoding: gzip'
reused /vary/ae -H 'Accept-Encoding: identity'
reused /vary/ae -H 'Accept-Encoding: gzip'

step "§4.1 Vary names fields case-insensitively, in any order"
script /vary/two '"body": "two", "headers": {"Cache-Control": "max-age=600", "Vary": "x-a, X-B"}'
forwarded /vary/two -H 'X-A: 1' -H 'X-B: 2'
reused /vary/two -H 'x-b: 2' -H 'x-a: 1'
forwarded /vary/two -H 'X-A: 1' -H 'X-B: 3'

pass
