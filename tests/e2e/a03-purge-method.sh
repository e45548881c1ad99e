#!/usr/bin/env bash
# a03-purge-method: the PURGE method on a client listener (Varnish, Fastly) invalidates the request's URL
# (every Vary variant) when the client's address is in admin.purge_allow, answering 200 with the
# invalidation's JSON status; the object is then a MISS (origin count moves) and a HIT again. From an
# address outside purge_allow (or with no purge_allow at all) it is 403 and the object stays a HIT. A
# PURGE never reaches the origin. (The invalidation is applied by the store's writer after the 200: the
# scenario waits for it through the admin API, GET /purge/<id>, before the next GET; a02 covers the race.)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
CC='"Cache-Control": "max-age=600"'
script /x "\"body\": \"x\", \"headers\": {$CC}"
script /y "\"body\": \"y\", \"headers\": {$CC}"
script /v "\"body\": \"enc=\", \"body_from_header\": \"Accept-Encoding\", \"headers\": {$CC, \"Vary\": \"Accept-Encoding\"}"

ADMIN_PORT=$(free_port)
TOKEN='a03-token-0123456789abcdef'
printf '%s\n' "$TOKEN" >"$T/admin.token"
edge_with() { # PURGE_ALLOW-YAML: (re)starts the edge on the same cache directory
    [[ -z $EDGE_PID ]] || stop_edge
    printf 'origin: %s\nadmin: {listen: "127.0.0.1:%s", token_file: admin.token%s}\n' "$ORIGIN_URL" "$ADMIN_PORT" "${1:+, $1}" >"$T/edge.yaml"
    start_edge -c "$T/edge.yaml"
    wait_edge "$ADMIN_PORT"
}

# purge_done: waits until the invalidation whose JSON the last response carried is done
purge_done() {
    local id i st
    id=$(json_get '["id"]' <"$BODY")
    for ((i = 0; i < 100; i++)); do
        st=$(curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$ADMIN_PORT/purge/$id" | json_get '["status"]')
        [[ $st == "done" ]] && return 0
        sleep 0.1
    done
    fail "invalidation $id not done after 10 s"
}

edge_with 'purge_allow: [127.0.0.1]'

step "store /x, /y and two variants of /v"
for p in /x /y; do
    fetch $p
    assert_cache MISS
    fetch $p
    assert_cache HIT
done
for enc in gzip identity; do
    fetch /v -H "Accept-Encoding: $enc"
    assert_cache MISS
    fetch /v -H "Accept-Encoding: $enc"
    assert_cache HIT
    assert_body "enc=${enc/identity/}" # identity: Accept-Encoding is forwarded reduced to br/gzip
done

step "PURGE /x from 127.0.0.1 (allowed): 200 JSON; /x is a MISS then a HIT, /y still a HIT"
fetch /x -X PURGE
assert_status 200
assert_header Content-Type 'application/json'
assert_eq url "$(json_get '["type"]' <"$BODY")" type
assert_eq "127.0.0.1:$EDGE_PORT/x" "$(json_get '["target"]' <"$BODY")" "target (the request's own host)"
assert_match '[0-9]+' "$(json_get '["id"]' <"$BODY")" id
assert_count /x 1
purge_done
fetch /x
assert_status 200
assert_body x
assert_cache MISS
assert_count /x 2
fetch /x
assert_cache HIT
assert_count /x 2
fetch /y
assert_cache HIT
assert_count /y 1

step "PURGE /v takes both variants"
fetch /v -X PURGE
assert_status 200
purge_done
for enc in gzip identity; do
    fetch /v -H "Accept-Encoding: $enc"
    assert_cache MISS
    assert_body "enc=${enc/identity/}" # identity: Accept-Encoding is forwarded reduced to br/gzip
done
assert_count /v 4

step "purge_allow: [10.0.0.0/8] only: PURGE from 127.0.0.1 is 403, /y still a HIT"
edge_with 'purge_allow: [10.0.0.0/8, "::1"]'
fetch /y -X PURGE
assert_status 403
assert_body_contains 'not allowed'
fetch /y
assert_cache HIT
assert_count /y 1

step "no purge_allow at all: 403"
edge_with ''
fetch /y -X PURGE
assert_status 403
fetch /y
assert_cache HIT
assert_count /y 1

step "the origin never saw a PURGE"
for p in /x /y /v; do
    n=$(origin_requests $p | "$PYTHON" -c 'import json, sys; print(sum(r["method"] == "PURGE" for r in json.load(sys.stdin)))')
    assert_eq 0 "$n" "PURGE requests at the origin for $p"
done

pass
