#!/usr/bin/env bash
# a01-admin-auth: the admin API's access control (edge/admin.h). /healthz answers anyone; everything else
# needs "Authorization: Bearer <admin.token_file>" and answers 401 (with WWW-Authenticate) to a missing
# token, a wrong one, one of the right length that differs only in its last character, a prefix or an
# extension of the right one, and another scheme (Basic). Without a configured token, every endpoint but
# /healthz is 401 whatever is sent. An unknown path is 404 (behind the token check). And the admin
# handler cannot be reached through a client listener: /metrics there is proxied to the origin.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
ADMIN_PORT=$(free_port)
TOKEN='a01-token-0123456789abcdef'
printf '  %s\n' "$TOKEN" >"$T/admin.token" # surrounding whitespace is trimmed
cat >"$T/edge.yaml" <<EOF
origin: $ORIGIN_URL
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
EOF
start_edge -c "$T/edge.yaml"
wait_edge "$ADMIN_PORT"
A="http://127.0.0.1:$ADMIN_PORT"

# admin METHOD PATH [CURL ARGS...]: one request to the admin listener
admin() {
    local method=$1 path=$2
    shift 2
    if [[ $method == POST ]]; then
        fetch "$A$path" -X POST --data-binary 'url=/a01/x' "$@"
    else
        fetch "$A$path" -X "$method" "$@"
    fi
}

step "/healthz: 200 'ok' without a token (GET and HEAD); other methods 405"
admin GET /healthz
assert_status 200
assert_body ok
fetch "$A/healthz" -I
assert_status 200
admin POST /healthz
assert_status 405

wrong_len=${TOKEN%?}X # the right length, the last character wrong
declare -A BAD=(
    [none]=''
    [wrong]='Authorization: Bearer a01-wrong-token-00000000'
    [last-char]="Authorization: Bearer $wrong_len"
    [prefix]="Authorization: Bearer ${TOKEN%?}"
    [longer]="Authorization: Bearer ${TOKEN}x"
    [empty]='Authorization: Bearer '
    [no-scheme]="Authorization: $TOKEN"
    [basic]="Authorization: Basic $(printf 'admin:%s' "$TOKEN" | base64)"
    [basic-raw]="Authorization: Basic $TOKEN"
)
for what in "${!BAD[@]}"; do
    for ep in "GET /metrics" "POST /purge" "GET /purge/1" "GET /nope"; do
        step "$ep with token '$what': 401"
        # shellcheck disable=SC2086
        if [[ -n ${BAD[$what]} ]]; then admin $ep -H "${BAD[$what]}"; else admin $ep; fi
        assert_status 401
        assert_header WWW-Authenticate 'Bearer realm="edgecache-admin"'
        assert_body_contains 'missing or wrong token'
        assert_body_lacks "$TOKEN"
        assert_body_lacks '# TYPE'
    done
done

step "the right token: /metrics 200, POST /purge 202 (Location), GET /purge/ID 200"
AUTH="Authorization: Bearer $TOKEN"
admin GET /metrics -H "$AUTH"
assert_status 200
assert_header Content-Type 'text/plain; version=0.0.4.*'
assert_body_contains '# TYPE edgecache_requests_total counter'
admin POST /purge -H "$AUTH"
assert_status 202
loc=$(header Location)
assert_match '/purge/[0-9]+' "$loc" Location
admin GET "$loc" -H "$AUTH"
assert_status 200
assert_body_contains '"type":"url"'
step "the scheme is case-insensitive (RFC 9110 §11.1)"
admin GET /metrics -H "Authorization: bearer $TOKEN"
assert_status 200
admin GET /metrics -H "Authorization: BEARER $TOKEN"
assert_status 200

step "unknown path with the right token: 404; GET /purge: 405"
admin GET /nope -H "$AUTH"
assert_status 404
admin GET /purge -H "$AUTH"
assert_status 405

step "the client listener never reaches the admin handler: /metrics is proxied to the origin"
fetch "/metrics" -H "$AUTH"
assert_status 200
assert_body 'origin:/metrics'
assert_body_lacks '# TYPE'
assert_count /metrics 1
fetch "/healthz"
assert_body 'origin:/healthz'
assert_count /healthz 1
fetch "/purge" -X POST --data-binary 'url=/a01/x' -H "$AUTH"
assert_body 'origin:/purge'
assert_count /purge 1
step "... nor with the admin's Host header"
fetch "/metrics" -H "$AUTH" -H "Host: 127.0.0.1:$ADMIN_PORT"
assert_body 'origin:/metrics'
assert_count /metrics 2

stop_edge

step "no token_file configured: 401 for everything but /healthz, whatever is sent"
cat >"$T/edge.yaml" <<EOF
origin: $ORIGIN_URL
admin: {listen: 127.0.0.1:$ADMIN_PORT}
EOF
start_edge -c "$T/edge.yaml"
wait_edge "$ADMIN_PORT"
admin GET /healthz
assert_status 200
for ep in "GET /metrics" "POST /purge" "GET /purge/1" "GET /nope"; do
    for h in "" "$AUTH" "Authorization: Bearer " "Authorization: Bearer (null)"; do
        # shellcheck disable=SC2086
        if [[ -n $h ]]; then admin $ep -H "$h"; else admin $ep; fi
        assert_status 401
        assert_body_contains 'no admin token is configured'
    done
done

pass
