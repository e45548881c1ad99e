# tests/conformance/lib.sh: what every conformance scenario sources (tests/conformance/*.sh).
#
# The scenarios are grouped by RFC section (RFC 9111 HTTP caching, RFC 5861 stale-*, RFC 9213 targeted
# fields, RFC 9211 Cache-Status); each `step` names the section it checks, and docs/conformance.md maps
# every requirement to its scenario and step. They run on the end-to-end harness (tests/e2e/lib.sh: the
# real binary against tests/e2e/origin.py) and add only a few words for the questions a cache test asks.
# Reuse is always proved by the origin's request count, never by a header alone.
#
#   reused URL [CURL ARGS]     fetch URL; the origin must not have been asked (count unchanged)
#   forwarded URL [CURL ARGS]  fetch URL; the origin must have been asked exactly once more
#   http_date OFFSET [FORMAT]  the HTTP date OFFSET seconds from now: imf (default), rfc850 or asctime
#                              (for a date the origin sends, prefer its "{now+N}" template: see origin.py)
#   mark; assert_age FROM      the last response's Age is FROM plus the time since `mark` at most: FROM <=
#                              Age <= FROM + elapsed + 1, however slow the machine was in between
#   header_lines NAME          every line of a field in the last response, in order, one per line
#   edge_config YAML           writes $T/edge.yaml (listen and origin filled in) and starts the edge on it

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../e2e/lib.sh"

export LC_ALL=C

reused() {
    local url=$1 before
    shift
    before=$(origin_count "$url")
    fetch "$url" "$@"
    assert_count "$url" "$before"
}

forwarded() {
    local url=$1 before
    shift
    before=$(origin_count "$url")
    fetch "$url" "$@"
    assert_count "$url" $((before + 1))
}

http_date() {
    local t=$(($(date +%s) + $1))
    case ${2:-imf} in
    imf) date -u -d "@$t" '+%a, %d %b %Y %H:%M:%S GMT' ;;
    rfc850) date -u -d "@$t" '+%A, %d-%b-%y %H:%M:%S GMT' ;;
    asctime) date -u -d "@$t" '+%a %b %e %H:%M:%S %Y' ;;
    *) fail "http_date: unknown format $2" ;;
    esac
}

mark() { MARK=$EPOCHSECONDS; }

assert_age() {
    local age elapsed=$((EPOCHSECONDS - MARK))
    age=$(header Age)
    [[ $age =~ ^[0-9]+$ ]] || fail "Age '$age' is not a number"
    ((age >= $1 && age <= $1 + elapsed + 1)) || fail "Age $age, expected $1..$(($1 + elapsed + 1)) ($elapsed s since the mark)"
}

header_lines() {
    tr -d '\r' <"$HDRS" | awk -v name="$1" '
        /^HTTP\// { n = 0; delete v; next }
        { i = index($0, ":"); if (i == 0) next
          if (tolower(substr($0, 1, i - 1)) == tolower(name)) { val = substr($0, i + 1); sub(/^[ \t]+/, "", val); v[n++] = val } }
        END { for (i = 0; i < n; i++) print v[i] }'
}

# edge_config 'YAML behaviors and more': the origin is $ORIGIN_URL, named "default".
edge_config() {
    cat >"$T/edge.yaml" <<YAML
origins:
  default: {servers: ["$ORIGIN_URL"]}
$1
YAML
    start_edge -c "$T/edge.yaml"
}
