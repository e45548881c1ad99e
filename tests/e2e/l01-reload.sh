#!/usr/bin/env bash
# l01-reload: reload without dropping anything (edge/lifecycle.h, edge/gen.h). A bounded client loop
# (tests/e2e/loop.py: new and kept-alive connections) runs through 20 reloads, half by SIGHUP, half by
# `edgecache reload` (the admin API); they change the TTL of a behavior, switch its origin between two,
# add and remove a second listener, and one file does not validate. Asserted: the loop saw 0 errors and
# 0 refused connections; right after each reload a new object has the new TTL and comes from the new
# origin; a request in flight during a reload finishes under the configuration it started with; an
# invalid file is refused with its file:line:col and the old configuration keeps serving; an added
# listener serves, a removed one refuses. The longest time one request took is printed.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin A
start_origin B
ADMIN_PORT=$(free_port)
EDGE_PORT=$(free_port)
EXTRA_PORT=$(free_port)
printf '%s\n' 'l01-token-0123456789abcdef' >"$T/admin.token"
script /hot '"body": "hot", "headers": {"Cache-Control": "max-age=3600"}' "$A_PORT"
script /hot '"body": "hot", "headers": {"Cache-Control": "max-age=3600"}' "$B_PORT"

# write_config TTL ORIGIN(A|B) [EXTRA]: the edge's file; EXTRA adds the second listener
write_config() {
    local origin_port
    [[ $2 == A ]] && origin_port=$A_PORT || origin_port=$B_PORT
    {
        echo "listen:"
        echo "  - 127.0.0.1:$EDGE_PORT"
        [[ -z ${3:-} ]] || echo "  - 127.0.0.1:$EXTRA_PORT"
        cat <<YAML
origins:
  a: {servers: ["http://127.0.0.1:$A_PORT"]}
  b: {servers: ["http://127.0.0.1:$B_PORT"]}
behaviors:
  - {path: "/t/*", origin: ${2,,}, default_ttl: $1}
  - {path: "*", origin: a}
admin: {listen: 127.0.0.1:$ADMIN_PORT, token_file: admin.token}
YAML
    } >"$T/edge.yaml.new"
    mv "$T/edge.yaml.new" "$T/edge.yaml"
}

write_config 100 A
start_edge_raw -c "$T/edge.yaml"
wait_edge "$EDGE_PORT" "$ADMIN_PORT"
fetch /hot
assert_status 200

step "the client loop starts (4 clients, new and kept-alive connections)"
"$PYTHON" "$E2E_DIR/loop.py" --port "$EDGE_PORT" --path /hot --path /hot --stop "$T/loop.stop" --out "$T/loop.json" \
    --clients 4 --max-seconds 900 >"$T/loop.log" 2>&1 &
LOOP_PID=$!
PIDS+=("$LOOP_PID")

step "a request held at the origin during a reload finishes under its own configuration (origin a)"
script /t/held '"body": "from-a", "hold": "held"' "$A_PORT"
script /t/held '"body": "from-b"' "$B_PORT"
curl -sS --max-time 60 -o "$T/held.body" "http://127.0.0.1:$EDGE_PORT/t/held" 2>"$T/held.err" &
HELD_CURL=$!
wait_held held 1 20 "$A_PORT"

gen=1
for i in $(seq 1 20); do
    ttl=$((100 + i))
    origin=A
    ((i % 4 >= 2)) && origin=B
    extra=
    ((i == 7)) && extra=yes
    write_config "$ttl" "$origin" "$extra"
    gen=$((gen + 1))
    if ((i % 2)); then
        kill -HUP "$EDGE_PID"
        wait_log "reload: generation $gen serves" 1 20
    else
        "$EDGECACHE" reload -c "$T/edge.yaml" >"$T/reload.$i.out" 2>&1 || fail "edgecache reload $i: $(cat "$T/reload.$i.out")"
        assert_eq "reloaded: generation $gen" "$(cat "$T/reload.$i.out")" "edgecache reload $i"
    fi
    # right after the reload: a new object has the new TTL and comes from the new origin
    script "/t/o$i" "\"body\": \"$origin-$i\", \"etag\": \"\\\"v$i\\\"\"" "$A_PORT"
    script "/t/o$i" "\"body\": \"$origin-$i\", \"etag\": \"\\\"v$i\\\"\"" "$B_PORT"
    fetch "/t/o$i"
    assert_status 200
    assert_cache MISS
    assert_eq "$origin-$i" "$(body)" "body of /t/o$i after reload $i"
    fetch "/t/o$i"
    assert_cache HIT
    assert_lifetime "$ttl"
    if [[ $origin == A ]]; then
        assert_count "/t/o$i" 1 "$A_PORT"
        assert_count "/t/o$i" 0 "$B_PORT"
    else
        assert_count "/t/o$i" 1 "$B_PORT"
        assert_count "/t/o$i" 0 "$A_PORT"
    fi
    if ((i == 1)); then
        release held "$A_PORT"
        wait "$HELD_CURL" || fail "the held request failed: $(cat "$T/held.err")"
        assert_eq from-a "$(cat "$T/held.body")" "the request in flight during the reload"
    fi
    if ((i == 7)); then
        step "reload 7 added a listener: it serves"
        fetch "http://127.0.0.1:$EXTRA_PORT/hot"
        assert_status 200
    fi
    if ((i == 8)); then
        step "reload 8 removed it: refused"
        try_fetch "http://127.0.0.1:$EXTRA_PORT/hot"
        [[ $CURL_RC == 7 ]] || fail "the removed listener answered (curl exit $CURL_RC)"
    fi
    if ((i == 10)); then
        step "a file that does not validate is refused with file:line:col; the old configuration serves on"
        cp "$T/edge.yaml" "$T/edge.yaml.good"
        printf 'behaviors:\n  - {path: "/t/*", default_ttl: forever}\n' >>"$T/edge.yaml"
        ! "$EDGECACHE" reload -c "$T/edge.yaml.good" >"$T/reload.bad.out" 2>&1 || fail "a bad file was reloaded"
        assert_match ".*edge.yaml:[0-9]+:[0-9]+: .*" "$(head -n 1 "$T/reload.bad.out")" "the refusal"
        kill -HUP "$EDGE_PID"
        wait_log "SIGHUP: reload refused" 1 20
        script /t/after-bad '"body": "x", "etag": "\"x\""' "$A_PORT"
        script /t/after-bad '"body": "x", "etag": "\"x\""' "$B_PORT"
        fetch /t/after-bad
        fetch /t/after-bad
        assert_cache HIT
        assert_lifetime "$ttl"
        mv "$T/edge.yaml.good" "$T/edge.yaml"
    fi
done

step "the client loop stops: 0 errors, 0 refused connections"
: >"$T/loop.stop"
wait "$LOOP_PID" || fail "the client loop failed: $(cat "$T/loop.log")"
[[ -s $T/loop.json ]] || fail "the client loop wrote no summary"
requests=$(json_get '["requests"]' <"$T/loop.json")
errors=$(json_get '["errors"]' <"$T/loop.json")
refused=$(json_get '["refused"]' <"$T/loop.json")
echo "client loop: $(cat "$T/loop.json")"
((requests > 100)) || fail "the client loop made only $requests requests"
assert_eq 0 "$errors" "errors seen by the clients"
assert_eq 0 "$refused" "connections refused"
echo "figures: 20 reloads, $requests requests, 0 errors, 0 refused, longest request $(json_get '["max_ms"]' <"$T/loop.json") ms"
assert_alive
stop_edge
pass
