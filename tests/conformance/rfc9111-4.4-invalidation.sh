#!/usr/bin/env bash
# rfc9111-4.4-invalidation: a non-error response to an unsafe method invalidates the stored responses
# for the target URI and for the same-origin URIs in Location and Content-Location (RFC 9111 §4.4);
# another origin's URIs and error responses invalidate nothing.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

store() { # PATH...: stored and proved reusable
    local p
    for p in "$@"; do
        script "$p" '"body": "stored", "headers": {"Cache-Control": "max-age=600"}'
        forwarded "$p"
        reused "$p"
    done
}

for method in POST PUT DELETE PATCH; do
    step "§4.4 a successful $method invalidates the target URI"
    store "/inv/$method"
    script "/inv/$method" '"status": 200, "body": "done"'
    forwarded "/inv/$method" -X "$method" --data-binary x
    script "/inv/$method" '"body": "fresh", "headers": {"Cache-Control": "max-age=600"}'
    forwarded "/inv/$method"
    assert_body fresh
done

step "§4.4 the same-origin URIs in Location and Content-Location are invalidated too"
store /inv/loc /inv/cloc /inv/abs
script /inv/post '"status": 201, "body": "created", "headers": {"Location": "/inv/loc", "Content-Location": "/inv/cloc"}'
forwarded /inv/post -X POST --data-binary x
forwarded /inv/loc
forwarded /inv/cloc
script /inv/post2 "\"status\": 201, \"body\": \"created\", \"headers\": {\"Location\": \"http://127.0.0.1:$EDGE_PORT/inv/abs\"}"
forwarded /inv/post2 -X POST --data-binary x
forwarded /inv/abs

step "§4.4 another origin's URI in Location is not invalidated"
store /inv/foreign
script /inv/post3 '"status": 201, "body": "created", "headers": {"Location": "http://other.example/inv/foreign"}'
forwarded /inv/post3 -X POST --data-binary x
reused /inv/foreign

step "§4.4 an error response to an unsafe method invalidates nothing"
store /inv/err
script /inv/err '"status": 500, "body": "failed"'
forwarded /inv/err -X POST --data-binary x
reused /inv/err
assert_body stored

pass
