#!/usr/bin/env bash
# a05-access-log: access_log writes one line per client request in EDGE_CONF_ACCESS_LOG_FORMAT (combined,
# then the cache status, the origin time in ms or "-", the behavior's pattern and the request's duration
# in seconds), checked field by field for a MISS, a HIT and a 404; SIGHUP reopens the file after a
# logrotate-style move (new lines in the new file, old ones kept in the moved one); a custom format is
# used as given; `format: json` writes one JSON object per line that python's json module parses, with
# every field, even when the path and the User-Agent carry quotes, backslashes and control bytes.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
script /a05/page '"body": "hello page", "headers": {"Cache-Control": "max-age=600"}'
script /a05/missing '"status": 404, "body": "no such page", "headers": {"Cache-Control": "max-age=600"}'

write_conf() { # [FORMAT]
    cat >"$T/edge.yaml" <<EOF
origin: $ORIGIN_URL
behaviors:
  - {path: "/a05/*", default_ttl: 60}
  - {path: "*"}
access_log: {path: $T/access.log${1:+, format: $(printf '%s' "$1" | sed 's/^[^j].*/"&"/')}}
EOF
}

# wait_lines FILE N: until FILE has N lines (a line is written when its request is done)
wait_lines() {
    local i n=0
    for ((i = 0; i < 100; i++)); do
        n=$(wc -l <"$1" 2>/dev/null || echo 0)
        ((n >= $2)) && break
        sleep 0.05
    done
    ((n == $2)) || fail "$1 has $n lines, expected $2: $(cat "$1" 2>/dev/null)"
}

# check_line LINE METHOD PATH STATUS BYTES REFERER UA CACHE ORIGIN-MS-REGEX BEHAVIOR (then the site, default, and the duration)
check_line() {
    local re='^([^ ]+) ([^ ]+) ([^ ]+) \[([^]]+)\] "([^"]*)" ([0-9]{3}) ([^ ]+) "([^"]*)" "([^"]*)" ([^ ]+) ([^ ]+) "([^"]*)" ([^ ]+) ([^ ]+)$'
    [[ $1 =~ $re ]] || fail "access log line does not have the default format: $1"
    local m=("${BASH_REMATCH[@]}")
    assert_eq 127.0.0.1 "${m[1]}" "remote address in: $1"
    assert_eq - "${m[2]}" "identity (%l)"
    assert_eq - "${m[3]}" "user (%u)"
    assert_match '[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}' "${m[4]}" "time (%t)"
    assert_eq "$2 $3 HTTP/1.1" "${m[5]}" "request line"
    assert_eq "$4" "${m[6]}" "status"
    assert_eq "$5" "${m[7]}" "bytes"
    assert_eq "$6" "${m[8]}" "referer"
    assert_eq "$7" "${m[9]}" "user-agent"
    assert_eq "$8" "${m[10]}" "cache status"
    assert_match "$9" "${m[11]}" "origin ms"
    assert_eq "${10}" "${m[12]}" "behavior"
    assert_eq default "${m[13]}" "site (a file without sites: \"default\")"
    # libh2o's %{duration}x: whole seconds, then six decimals unless they are all zero
    assert_match '[0-9]+(\.[0-9]{6})?' "${m[14]}" "duration (s)"
    awk -v d="${m[14]}" 'BEGIN { exit !(d < 10) }' || fail "duration ${m[14]} s is not plausible"
}

write_conf
start_edge -c "$T/edge.yaml"

step "a MISS, a HIT and a 404: one line each, field by field"
fetch /a05/page -e 'http://ref.example/from?x=1' -A 'a05-agent/1.0 (test)'
assert_cache MISS
fetch /a05/page -H 'User-Agent:' -H 'Referer:'
assert_cache HIT
fetch /a05/missing -A 'quote"inside'
assert_status 404
fetch /other
assert_status 200
wait_lines "$T/access.log" 4
mapfile -t L <"$T/access.log"
check_line "${L[0]}" GET /a05/page 200 10 'http://ref.example/from?x=1' 'a05-agent/1.0 (test)' MISS '[0-9]+' '/a05/*'
check_line "${L[1]}" GET /a05/page 200 10 - - HIT - '/a05/*'
check_line "${L[2]}" GET /a05/missing 404 12 - 'quote\x22inside' MISS '[0-9]+' '/a05/*'
check_line "${L[3]}" GET /other 200 13 - "$(curl --version | awk 'NR == 1 { print "curl/" $2 }')" MISS '[0-9]+' '*'

step "logrotate: move the file away, SIGHUP, new lines go to a new access.log"
mv "$T/access.log" "$T/access.log.1"
fetch /a05/page # written to the moved file: the edge still has it open
wait_lines "$T/access.log.1" 5
kill -HUP "$EDGE_PID"
wait_log 'SIGHUP: reopened the access log' 1
[[ -e $T/access.log ]] || fail "no new access.log after SIGHUP"
fetch /a05/page -A after-rotation
assert_cache HIT
fetch /a05/new
assert_cache MISS
wait_lines "$T/access.log" 2
wait_lines "$T/access.log.1" 5
mapfile -t N <"$T/access.log"
check_line "${N[0]}" GET /a05/page 200 10 - after-rotation HIT - '/a05/*'
[[ ${N[1]} == *'"GET /a05/new HTTP/1.1" 200 '* ]] || fail "second line of the new log: ${N[1]}"
mapfile -t O <"$T/access.log.1"
assert_eq "${L[*]}" "${O[*]:0:4}" "the old lines, kept in access.log.1"
assert_alive

step "a custom format: \"%s %{cache}e\""
stop_edge
rm -f "$T/access.log"
write_conf '%s %{cache}e'
start_edge -c "$T/edge.yaml"
fetch /a05/page
fetch /a05/fresh
fetch /a05/fresh
fetch /a05/missing
wait_lines "$T/access.log" 4
assert_eq "200 HIT
200 MISS
200 HIT
404 HIT" "$(cat "$T/access.log")" "custom-format lines"

step "format: json: one object per line, every value JSON-escaped"
stop_edge
rm -f "$T/access.log"
write_conf json
start_edge -c "$T/edge.yaml"
fetch /a05/page -e 'http://ref.example/?a="b"' -H 'X-Request-Id: req-42'
assert_cache HIT
# a quote, a backslash and a control byte (TAB: libh2o itself refuses a request whose head carries any
# other, before a logger sees it) in the path and the User-Agent, and UTF-8 bytes, escaped as \u00XX
fetch '/a05/q"u\o%01te' -A $'ua "quoted" back\\slash\ttab \xc3\xa9 end' --path-as-is
assert_status 200 # (origin.py answers any path it has no script for)
assert_cache MISS
wait_lines "$T/access.log" 2
"$PYTHON" - "$T/access.log" "$(curl --version | awk 'NR == 1 { print "curl/" $2 }')" <<'PY' || fail "JSON access log: $(cat "$T/access.log")"
import json, re, sys
lines = open(sys.argv[1], encoding="ascii").read().split("\n")
assert lines[-1] == "" and len(lines) == 3, lines
keys = ["time", "client", "method", "path", "protocol", "status", "bytes", "referer", "user_agent", "cache",
        "origin_ms", "behavior", "site", "duration", "request_id"]
a, b = (json.loads(l) for l in lines[:2])
for o in (a, b):
    assert list(o) == keys, list(o)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", o["time"]), o["time"]
    assert o["client"] == "127.0.0.1" and o["method"] == "GET" and o["protocol"] == "HTTP/1.1", o
    assert isinstance(o["duration"], (int, float)) and 0 <= o["duration"] < 10, o["duration"]
    assert o["behavior"] == "/a05/*", o
want_a = {"path": "/a05/page", "status": 200, "bytes": 10, "referer": 'http://ref.example/?a="b"',
          "user_agent": sys.argv[2], "cache": "HIT", "origin_ms": None, "request_id": "req-42"}
for k, v in want_a.items():
    assert a[k] == v, (k, a[k], v)
assert b["path"] == '/a05/q"u\\o%01te', b["path"]
# libh2o escapes each byte outside printable ASCII on its own: the UTF-8 of "é" reads back as two code points
assert b["user_agent"] == 'ua "quoted" back\\slash\ttab \u00c3\u00a9 end', repr(b["user_agent"])
assert b["status"] == 200 and b["cache"] == "MISS" and isinstance(b["origin_ms"], int), b
assert b["referer"] is None and b["request_id"] is None, b
PY
assert_alive

pass
