#!/usr/bin/env bash
# w01-warm: `edgecache warm` fetches every URL of a list through the edge, so that each is stored. The
# proof is the origin's count: after the warm, each URL is a HIT and the origin saw it exactly once.
# Failures (404s, a refused connection) are listed and make the exit status 1; duplicates are fetched
# once; a second run finds everything already cached and exits 0; bad input is a usage error (2) that
# names its line; the progress bar appears only on a terminal.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

script /w01/missing1 '"status": 404, "body": "gone", "headers": {"Cache-Control": "no-store"}'
script /w01/missing2 '"status": 404, "body": "gone", "headers": {"Cache-Control": "no-store"}'

GOOD=(/w01/a1 /w01/a2 /w01/a3 /w01/a4 /w01/a5 /w01/a6 /w01/a7 /w01/a8 /w01/a9 /w01/a10
    '/w01/q?x=1' '/w01/q?x=2'
    http://example.test/w01/abs https://example.test:8443/w01/tls "http://127.0.0.1:$EDGE_PORT/w01/self")
# what each GOOD line fetches, as the edge's cache key sees it (the path and query), and with which Host (the
# host is in the key; "-": the edge's own address)
KEYS=(/w01/a1 /w01/a2 /w01/a3 /w01/a4 /w01/a5 /w01/a6 /w01/a7 /w01/a8 /w01/a9 /w01/a10
    '/w01/q?x=1' '/w01/q?x=2' /w01/abs /w01/tls /w01/self)
HOSTS=(- - - - - - - - - - - - example.test example.test:8443 -)

{
    echo "# the top URLs of the day"
    printf '%s\n' "${GOOD[@]:0:8}"
    echo
    echo /w01/missing1
    echo "   /w01/a1   " # a duplicate, with spaces around it
    printf '%s\n' "${GOOD[@]:8}"
    printf '/w01/missing2\r\n' # a CRLF line
    echo /w01/a2
    echo http://example.test/w01/abs
} >"$T/list.txt"
printf '%s\n' "${GOOD[@]}" >"$T/good.txt"

step "warm: 17 distinct URLs (3 duplicates), 2 of them 404: exit 1, the failures listed"
rc=0
"$EDGECACHE" warm --edge "127.0.0.1:$EDGE_PORT" --concurrency 4 "$T/list.txt" >"$T/out1" 2>"$T/err1" || rc=$?
cat "$T/out1"
assert_eq 1 "$rc" "exit status"
assert_match 'warmed 15 of 17 URLs in [0-9.]+ s \([0-9]+ req/s\): 0 already cached, 15 fetched, 2 failed' "$(head -n 1 "$T/out1")" summary
grep -qx 'skipped 3 duplicate lines' "$T/out1" || fail "no 'skipped 3 duplicate lines' in the output"
grep -qx 'failed: /w01/missing1 (status 404)' "$T/out1" || fail "/w01/missing1 is not listed as failed"
grep -qx 'failed: /w01/missing2 (status 404)' "$T/out1" || fail "/w01/missing2 is not listed as failed"
assert_eq 2 "$(grep -c '^failed:' "$T/out1")" "failed lines"
! grep -q 'ETA' "$T/err1" || fail "a progress bar was drawn although stderr is not a terminal"

step "every good URL is now a HIT, and the origin saw each once"
for i in "${!KEYS[@]}"; do
    key=${KEYS[i]}
    if [[ ${HOSTS[i]} == - ]]; then fetch "$key"; else fetch "$key" -H "Host: ${HOSTS[i]}"; fi
    assert_status 200
    assert_cache HIT
    assert_count "$key" 1
done
assert_count /w01/missing1 1
assert_count /w01/missing2 1

step "a second run: everything already cached, exit 0"
rc=0
"$EDGECACHE" warm --edge "127.0.0.1:$EDGE_PORT" --concurrency 4 "$T/good.txt" >"$T/out2" 2>"$T/err2" || rc=$?
cat "$T/out2"
assert_eq 0 "$rc" "exit status"
assert_match 'warmed 15 of 15 URLs in [0-9.]+ s \([0-9]+ req/s\): 15 already cached, 0 fetched, 0 failed' "$(head -n 1 "$T/out2")" summary
! grep -q '^failed:' "$T/out2" || fail "failures listed on a clean run"
for key in "${KEYS[@]}"; do assert_count "$key" 1; done

step "the edge address from -c (its first cleartext listener), the list from stdin"
printf 'listen: 127.0.0.1:%s\norigin: %s\n' "$EDGE_PORT" "$ORIGIN_URL" >"$T/edge.yaml"
out=$(printf '/w01/a1\n/w01/new\n' | "$EDGECACHE" warm -c "$T/edge.yaml" -)
assert_match 'warmed 2 of 2 URLs in .*: 1 already cached, 1 fetched, 0 failed' "$out" summary
assert_count /w01/new 1

step "the progress bar on a terminal"
# util-linux script(1) gives the command a pty; `type -P` because lib.sh has a function named script
if script_bin=$(type -P script); then
    rc=0
    "$script_bin" -qec "$(printf '%q ' "$EDGECACHE" warm --edge "127.0.0.1:$EDGE_PORT" "$T/good.txt")" /dev/null >"$T/tty" </dev/null || rc=$?
    assert_eq 0 "$rc" "exit status under a terminal"
    grep -q 'req/s' "$T/tty" || fail "no 'req/s' on the terminal: $(tr '\r' '\n' <"$T/tty")"
    grep -q 'ETA' "$T/tty" || fail "no 'ETA' on the terminal: $(tr '\r' '\n' <"$T/tty")"
    grep -q '15/15' "$T/tty" || fail "no '15/15' count on the terminal: $(tr '\r' '\n' <"$T/tty")"
else
    echo "(script(1) is not installed: the terminal check is skipped)"
fi

step "a refused connection is a failure, listed with its reason"
dead=$(free_port)
rc=0
printf '/w01/a1\n' | "$EDGECACHE" warm --edge "127.0.0.1:$dead" - >"$T/out3" 2>&1 || rc=$?
assert_eq 1 "$rc" "exit status"
grep -q '^failed: /w01/a1 (cannot connect: Connection refused)$' "$T/out3" || fail "refusal not listed: $(cat "$T/out3")"

step "usage errors: exit 2, a bad line named by its number"
rc=0
printf '/ok\n\nftp://example.test/x\n' | "$EDGECACHE" warm --edge "127.0.0.1:$EDGE_PORT" - >"$T/out4" 2>&1 || rc=$?
assert_eq 2 "$rc" "exit status for a bad line"
grep -q -- '-:3: expected an absolute http:// or https:// URL' "$T/out4" || fail "bad line not reported: $(cat "$T/out4")"
rc=0
"$EDGECACHE" warm --edge "127.0.0.1:$EDGE_PORT" --concurrency 0 "$T/good.txt" >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "exit status for --concurrency 0"
rc=0
"$EDGECACHE" warm --edge "127.0.0.1:$EDGE_PORT" "$T/no-such-list" >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "exit status for a missing list"
rc=0
"$EDGECACHE" warm --edge "127.0.0.1:$EDGE_PORT" -H 'Bad header' "$T/good.txt" >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "exit status for a bad -H"
assert_count /ok 0

pass
