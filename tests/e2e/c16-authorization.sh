#!/usr/bin/env bash
# c16-authorization (RFC 9111 §3.5): a request with Authorization is answered from the cache only by a
# stored response that said public, s-maxage or must-revalidate, and its own response is stored only
# when it says so; one user's answer never reaches another.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

step "§3.5: a plain max-age response stored for anonymous users does not answer a request with credentials"
script /c16/a '"body": "user=", "body_from_header": "Authorization", "headers": {"Cache-Control": "max-age=600"}'
fetch /c16/a
assert_body user=
fetch /c16/a
assert_cache HIT
fetch /c16/a -H 'Authorization: Bearer alice'
assert_body 'user=Bearer alice'
assert_cache MISS 'edgecache; fwd=request'
fetch /c16/a -H 'Authorization: Bearer bob'
assert_body 'user=Bearer bob'
assert_cache MISS
fetch /c16/a
assert_body user=
assert_cache HIT
assert_count /c16/a 3

step "§3.5: nor is the response to a request with credentials stored without public / s-maxage / must-revalidate"
script /c16/b '"body": "user=", "body_from_header": "Authorization", "headers": {"Cache-Control": "max-age=600"}'
fetch /c16/b -H 'Authorization: Bearer alice'
assert_not_stored
fetch /c16/b
assert_body user=
assert_cache MISS
assert_count /c16/b 2

step "§3.5: public allows both: stored from a request with credentials, and answering one"
script /c16/p '"body": "shared", "headers": {"Cache-Control": "public, max-age=600"}'
fetch /c16/p -H 'Authorization: Bearer alice'
assert_cache MISS 'edgecache; stored'
fetch /c16/p -H 'Authorization: Bearer bob'
assert_cache HIT
fetch /c16/p
assert_cache HIT
assert_count /c16/p 1

pass
