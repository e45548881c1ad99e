#!/usr/bin/env bash
# h03-path-one-form: the cache key and the path sent to the origin are one string (cache poisoning and
# deception). The origin here treats %2F and %2e%2e literally (it answers with the raw path it received), so
# a key that decoded more than the origin was sent would serve one URL's body for another.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

step "%2e%2e is a dot segment: keyed and sent as /target1, so the later plain request is the same object"
fetch /mm1/%2e%2e/target1 --path-as-is
assert_status 200
assert_body "origin:/target1"
fetch /target1
assert_cache HIT
assert_body "origin:/target1"
assert_count /target1 1

step "%2F stays encoded: /static%2fapp.js and /static/app.js are two objects, each with its own body"
fetch /static%2fapp.js --path-as-is
assert_body "origin:/static%2Fapp.js"
fetch /static/app.js
assert_cache MISS
assert_body "origin:/static/app.js"
fetch /account/..%2fpublic.css --path-as-is
assert_body "origin:/account/..%2Fpublic.css"
fetch /public.css
assert_cache MISS
assert_body "origin:/public.css"

step "a raw /../../etc/passwd is never forwarded: /etc/passwd is both keyed and sent"
fetch /../../etc/passwd --path-as-is
assert_body "origin:/etc/passwd"

step "every path the origin received is the path its key was made from (normal form: no dot segment, no %2e)"
paths=$(curl -s "http://127.0.0.1:$O_PORT/__requests" | "$PYTHON" -c 'import json, sys; print(json.dumps([r["path"] for r in json.load(sys.stdin)]))')
assert_eq '["/target1", "/static%2Fapp.js", "/static/app.js", "/account/..%2Fpublic.css", "/public.css", "/etc/passwd"]' "$paths" "paths at the origin"
assert_alive
pass
