#!/usr/bin/env bash
# e01-origin-down-error-page: when the origin refuses connections the client quickly gets an error
# page, never a hang: with no error_pages the built-in 502 page with status 502; with an error_pages
# entry for connect_error its page (a built-in name or a file next to the config) and its
# response_code. Origin error statuses listed in error_pages get that page, and the error answer is
# cached for error_caching_min_ttl. Every such answer says X-Cache: ERROR or comes from the origin.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
dead=$(free_port) # nothing listens there

builtin_page() { # NAME: the shipped page, when the tree has it
    local f="$TOP_SRCDIR/errorpages/$1"
    [[ -f $f ]] && cat "$f"
}

step "no error_pages: built-in 502, fast"
start_edge --origin "http://127.0.0.1:$dead"
fetch /e01/a
assert_status 502
assert_cache ERROR 'edgecache; fwd=miss; detail=.+'
assert_time_between 0 5 # a refused connect, not a connect timeout (10 s, 5 s here); room for a loaded machine
page=$(builtin_page 502.html) || true
if [[ -n $page ]]; then
    assert_eq "$page" "$(body)" "body is errorpages/502.html"
else
    assert_body_contains 502
fi
assert_header Content-Type 'text/html.*'
step "a second request: still the error page, never a hang"
fetch /e01/a
assert_status 502
assert_time_between 0 5 # a refused connect, not a connect timeout (10 s, 5 s here); room for a loaded machine
assert_alive
stop_edge

step "error_pages: connect_error -> custom page with response_code 503; origin 500 -> built-in 500.html"
printf '<html><body>custom outage page e01</body></html>\n' >"$T/oops.html"
cat >"$T/edge.yaml" <<YAML
origins:
  dead: {servers: ["http://127.0.0.1:$dead"], connect_timeout: 5s}
  live: {servers: ["http://127.0.0.1:$O_PORT"], connect_timeout: 1s, read_timeout: 2s}
behaviors:
  - {path: "/down/*", origin: dead}
  - {path: "*", origin: live}
error_pages:
  - {status: [connect_error, reset], page: oops.html, response_code: 503, error_caching_min_ttl: 1}
  - {status: [500], page: 500.html, error_caching_min_ttl: 5}
YAML
start_edge -c "$T/edge.yaml"

fetch /down/x
assert_status 503
assert_header X-Cache ERROR
assert_cache ERROR 'edgecache; fwd=miss; detail=.+'
assert_eq "$(cat "$T/oops.html")" "$(body)" "custom error page body"
assert_time_between 0 5 # a refused connect, not a connect timeout (10 s, 5 s here); room for a loaded machine

step "the live origin still serves through the same edge"
fetch /fine
assert_status 200
assert_body 'origin:/fine'
assert_cache MISS

step "origin answers 500: the 500 page, cached for error_caching_min_ttl (5 s: the second fetch must come within it, on a loaded machine too)"
script /err/x '"status": 500, "body": "origin stack trace, must not leak"'
fetch /err/x
assert_status 500
assert_body_lacks 'stack trace'
page=$(builtin_page 500.html) || true
[[ -z $page ]] || assert_eq "$page" "$(body)" "body is errorpages/500.html"
assert_count /err/x 1
fetch /err/x
assert_status 500
assert_body_lacks 'stack trace'
assert_count /err/x 1
sleep 5.5 # past error_caching_min_ttl
fetch /err/x
assert_status 500
assert_count /err/x 2

step "a status with no error_pages entry passes through as the origin sent it"
script /err/teapot '"status": 503, "body": "origin 503 body", "headers": {"Retry-After": "5"}'
fetch /err/teapot
assert_status 503
assert_body 'origin 503 body'
assert_header Retry-After 5
assert_alive

pass
