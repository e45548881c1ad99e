#!/usr/bin/env bash
# e03-config-check: `edgecache check -c FILE` exits 0 for a valid file and 2 for an invalid one,
# naming the place as FILE:LINE:COL on stderr (an unknown key, a bad duration, a behavior that an
# earlier one makes unreachable, broken YAML, a bad listen address); `serve -c BAD` refuses to start
# with the same message and exit status 2.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$T"

cat >good.yaml <<'YAML'
listen: 127.0.0.1:18080
origins:
  default: {servers: ["http://127.0.0.1:9000"], read_timeout: 1s, connect_timeout: 250ms}
behaviors:
  - {path: "/static/*", default_ttl: 100, query_string: none}
  - {path: "/short/*", max_ttl: 1}
  - {path: "/q/*", query_string: [a, b]}
  - {path: "*", default_ttl: 0}
error_pages:
  - {status: [502, 503, connect_error, reset], page: 502.html, response_code: 503, error_caching_min_ttl: 1}
  - {status: [timeout, 504], page: 504.html}
YAML

# check_bad FILE LINE COLS-REGEX WORD-REGEX: exit 2; stderr has FILE:LINE:COL: and a message that
# mentions what is wrong (WORD-REGEX, case-insensitive).
check_bad() {
    local f=$1 line=$2 cols=$3 word=$4 rc=0
    timeout 10 "$EDGECACHE" check -c "$f" >"$f.out" 2>"$f.err" || rc=$?
    echo "   $f: exit $rc: $(head -n 3 "$f.err")"
    [[ $rc == 2 ]] || fail "check -c $f: exit $rc, expected 2 (stderr: $(cat "$f.err"))"
    grep -Eq "(^|[^[:alnum:]])$f:$line:($cols): " "$f.err" ||
        fail "check -c $f: stderr lacks '$f:$line:<$cols>: ': $(cat "$f.err")"
    grep -Eiq "$word" "$f.err" || fail "check -c $f: the message does not mention /$word/: $(cat "$f.err")"
}

step "a valid file"
rc=0
timeout 10 "$EDGECACHE" check -c good.yaml >good.out 2>good.err || rc=$?
[[ $rc == 0 ]] || fail "check -c good.yaml: exit $rc: $(cat good.err)"

step "an unknown top-level key (line 3, col 1)"
cat >unknown.yaml <<'YAML'
listen: 127.0.0.1:18080
origins: {default: {servers: ["http://127.0.0.1:9000"]}}
bogus_key: 1
behaviors:
  - {path: "*"}
YAML
check_bad unknown.yaml 3 1 'bogus_key|unknown'

step "an unknown key inside a behavior (line 4: the key at col 5)"
cat >unknown2.yaml <<'YAML'
origins: {default: {servers: ["http://127.0.0.1:9000"]}}
behaviors:
  - path: "/a/*"
    defualt_ttl: 10
  - {path: "*"}
YAML
check_bad unknown2.yaml 4 5 'defualt_ttl|unknown'

step "a bad duration (line 4: the key at col 5 or the value at col 19)"
cat >duration.yaml <<'YAML'
origins:
  default:
    servers: ["http://127.0.0.1:9000"]
    read_timeout: 10 parsecs
behaviors:
  - {path: "*"}
YAML
check_bad duration.yaml 4 '5|19' 'duration|read_timeout|parsecs'

step "an unreachable behavior (line 5, after /a/* which covers /a/b/*)"
cat >unreachable.yaml <<'YAML'
origins: {default: {servers: ["http://127.0.0.1:9000"]}}
behaviors:
  - {path: "/a/*", default_ttl: 10}
  - {path: "/z/*"}
  - {path: "/a/b/*", default_ttl: 20}
  - {path: "*"}
YAML
check_bad unreachable.yaml 5 '[0-9]+' 'unreachable|never|covered|shadow|/a/b/\*'

step "a behavior after the catch-all (line 4)"
cat >after-star.yaml <<'YAML'
origins: {default: {servers: ["http://127.0.0.1:9000"]}}
behaviors:
  - {path: "*"}
  - {path: "/images/*"}
YAML
check_bad after-star.yaml 4 '[0-9]+' 'unreachable|never|covered|shadow|/images/\*'

step "broken YAML (an unclosed flow sequence)"
cat >syntax.yaml <<'YAML'
origins: {default: {servers: ["http://127.0.0.1:9000"]}}
behaviors: [{path: "*"}
error_pages: []
YAML
check_bad syntax.yaml '[0-9]+' '[0-9]+' '.'

step "a bad listen address (line 1)"
cat >listen.yaml <<'YAML'
listen: 127.0.0.1:notaport
origins: {default: {servers: ["http://127.0.0.1:9000"]}}
behaviors:
  - {path: "*"}
YAML
check_bad listen.yaml 1 '[0-9]+' 'port|listen'

step "a missing file: exit 2 and its name on stderr"
rc=0
timeout 10 "$EDGECACHE" check -c missing.yaml >missing.out 2>missing.err || rc=$?
[[ $rc == 2 ]] || fail "check -c missing.yaml: exit $rc, expected 2"
grep -q 'missing.yaml' missing.err || fail "check -c missing.yaml: stderr does not name the file: $(cat missing.err)"

step "serve -c BAD: exit 2, the same message, nothing listening"
rc=0
timeout 10 "$EDGECACHE" serve -c unknown.yaml --cache-dir "$T/cache" >serve.out 2>serve.err || rc=$?
[[ $rc == 2 ]] || fail "serve -c unknown.yaml: exit $rc, expected 2 (stderr: $(cat serve.err))"
grep -q 'unknown.yaml:3:1: ' serve.err || fail "serve -c unknown.yaml: stderr lacks unknown.yaml:3:1: $(cat serve.err)"
! port_open 18080 || echo "   (note: something listens on 18080, not necessarily us)"

step "serve -c with a bad duration: exit 2"
rc=0
timeout 10 "$EDGECACHE" serve -c duration.yaml --cache-dir "$T/cache" >serve2.out 2>serve2.err || rc=$?
[[ $rc == 2 ]] || fail "serve -c duration.yaml: exit $rc, expected 2 (stderr: $(cat serve2.err))"
grep -q 'duration.yaml:4:' serve2.err || fail "serve -c duration.yaml: stderr lacks duration.yaml:4: $(cat serve2.err)"

pass
