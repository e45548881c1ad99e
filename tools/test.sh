#!/bin/sh
# Builds and runs every test twice: a normal build (build/), then one with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/). Unit suites (Check) and end-to-end scenarios both run.
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
}
run build
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    run build-asan --enable-asan --enable-ubsan
exit $status
