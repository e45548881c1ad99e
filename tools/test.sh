#!/bin/sh
# Builds and runs every test twice: a normal build (build/), then one with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/). Unit suites (Check) and end-to-end scenarios both run.
#
# tools/test.sh --stress runs that whole suite 3 times in a row with `stress-ng --cpu 2` keeping both
# cores busy, and prints a summary per run: the tests must wait on events, not on a quiet machine.
# stress-ng is stopped when the runs end, however they end.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
status=0
run() { # DIR CONFIGURE-ARGS...
    dir=$1
    shift
    sh tools/build.sh "$dir" "$@"
    if ! make -C "$dir" -j"$(nproc)" check; then
        status=1
        for log in "$dir"/tests/unit/*.log "$dir"/tests/e2e/*.log; do
            [ -f "$log" ] && ! grep -q '^:test-result: PASS\|^:test-result: SKIP' "${log%.log}.trs" 2>/dev/null && {
                echo "=== $log"
                tail -n 60 "$log"
            }
        done
    fi
    true # the failure is in $status: the ASan run still goes on after a failing plain run
}
suite() {
    run build
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
        run build-asan --enable-asan --enable-ubsan
}
# summary DIR: one line from DIR's test-suite.log header (# TOTAL, PASS, FAIL, ...), and the failures.
summary() {
    if [ -f "$1/test-suite.log" ]; then
        printf '  %s: %s\n' "$1" "$(sed -n 's/^# \([A-Z]*\): *\([0-9]*\)$/\1 \2/p' "$1/test-suite.log" | paste -sd, -)"
        for trs in $(find "$1/tests" -name '*.trs' 2>/dev/null); do
            grep -q '^:test-result: \(FAIL\|ERROR\|XPASS\)' "$trs" && printf '    failed: %s\n' "${trs%.trs}"
        done
        true
    else
        printf '  %s: no test-suite.log (the build failed?)\n' "$1"
    fi
}

case ${1:-} in
"") suite ;;
--stress)
    command -v stress-ng >/dev/null || { echo "tools/test.sh --stress needs stress-ng (tools/install-deps.sh)" >&2; exit 2; }
    stress-ng --cpu 2 --timeout 3h --quiet &
    stress=$!
    trap 'kill "$stress" 2>/dev/null || true; wait "$stress" 2>/dev/null || true' EXIT
    trap 'exit 130' INT TERM
    report=""
    for i in 1 2 3; do
        echo "=== stress run $i of 3 (stress-ng --cpu 2, pid $stress)"
        before=$status
        status=0
        suite || status=1
        line="run $i: $([ $status = 0 ] && echo PASS || echo FAIL)
$(summary build)
$(summary build-asan)"
        report="$report$line
"
        echo "$line"
        [ $before = 0 ] || status=1
    done
    echo "=== stress summary"
    printf '%s' "$report"
    ;;
*)
    echo "usage: tools/test.sh [--stress]" >&2
    exit 2
    ;;
esac
exit $status
