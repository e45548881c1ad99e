#!/usr/bin/env bash
# c11-unsafe-invalidates (RFC 9111 §4.4): a non-error response to an unsafe method (POST, PUT, DELETE,
# PATCH) invalidates the stored response for the target URI, and for same-origin URIs named by
# Location and Content-Location; an error response, and a URI of another origin, invalidate nothing.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

cached() { # PATH: stores PATH (MISS then HIT), origin count 1 on top of what it was
    fetch "$1"
    fetch "$1"
    assert_cache HIT
}

step "§4.4: a successful POST invalidates the target URI"
cached /c11/a
script /c11/a '"status": 200, "body": "posted"'
fetch /c11/a -X POST -d x
assert_status 200
script /c11/a '"body": "fresh a", "headers": {"Cache-Control": "max-age=60"}'
fetch /c11/a
assert_cache MISS
assert_body "fresh a"

step "§4.4: PUT, DELETE and PATCH too"
for m in PUT DELETE PATCH; do
    script /c11/$m '"body": "v1", "headers": {"Cache-Control": "max-age=60"}'
    cached /c11/$m
    n=$(origin_count /c11/$m)
    fetch /c11/$m -X $m -d x
    fetch /c11/$m
    assert_cache MISS
    assert_count /c11/$m $((n + 2))
done

step "§4.4: an error response invalidates nothing"
script /c11/err '"body": "keep", "headers": {"Cache-Control": "max-age=60"}'
cached /c11/err
script /c11/err '"status": 500, "body": "no"'
fetch /c11/err -X POST -d x
assert_status 500
fetch /c11/err
assert_cache HIT
assert_body keep

step "§4.4: same-origin Location and Content-Location are invalidated; another origin's are not"
for p in loc cloc other; do
    script /c11/$p '"body": "'$p'", "headers": {"Cache-Control": "max-age=60"}'
    cached /c11/$p
done
script /c11/form "\"status\": 201, \"body\": \"created\", \"headers\": {\"Location\": \"/c11/loc\", \"Content-Location\": \"http://127.0.0.1:$EDGE_PORT/c11/cloc\"}"
fetch /c11/form -X POST -d x
assert_status 201
fetch /c11/loc
assert_cache MISS
fetch /c11/cloc
assert_cache MISS
script /c11/form2 '"status": 201, "body": "created", "headers": {"Location": "http://elsewhere.example/c11/other"}'
fetch /c11/form2 -X POST -d x
fetch /c11/other
assert_cache HIT

pass
