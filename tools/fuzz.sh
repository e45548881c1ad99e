#!/bin/sh
# Builds every libFuzzer target in tests/fuzz/ (fuzz_NAME.c, with the module sources it names on its
# "FUZZ_SOURCES:" lines and any libraries beyond libh2o and OpenSSL on its "FUZZ_LIBS:" line) with clang,
# ASan and UBSan, in build-fuzz/, and runs each for SECONDS (default 60) from its seeds in
# tests/fuzz/corpus/NAME/ (new inputs go to build-fuzz/corpus/NAME, not into the tree).
#
#   tools/fuzz.sh [SECONDS] [NAME...]   every target, or only those named (e.g. cache_control)
#
# For CI, `tools/fuzz.sh 20` runs each target for 20 s. Exits non-zero when any target fails to build,
# crashes, leaks or reports a sanitizer error; the crashing input is left in build-fuzz/ (its path is in
# the log printed), to be replayed with build-fuzz/fuzz_NAME INPUT.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
out="$top/build-fuzz"
mkdir -p "$out"
cd "$top"

# clang with the libFuzzer runtime: install it when a trivial target does not link
probe="$out/probe"
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$probe.c"
if ! clang -fsanitize=fuzzer "$probe.c" -o "$probe" 2>/dev/null; then
    sh "$top/tools/install-deps.sh"
fi

# generated sources a target may name on its FUZZ_SOURCES line, as the Makefile makes them
mkdir -p "$out/errorpages"
sh errorpages/embed.sh . errorpages/404.html errorpages/500.html errorpages/502.html errorpages/503.html errorpages/504.html \
    > "$out/errorpages/pages.c"

CFLAGS="-g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -I$top"
LIBS="-lh2o-evloop -lssl -lcrypto"
failed=0
summary=""
if [ $# -gt 0 ]; then
    targets=""
    for n in "$@"; do targets="$targets tests/fuzz/fuzz_$n.c"; done
else
    targets=$(ls tests/fuzz/fuzz_*.c)
fi
for src in $targets; do
    name=$(basename "$src" .c)
    corpus=${name#fuzz_}
    sources=$(sed -n 's/^ \* FUZZ_SOURCES://p' "$src")
    libs=$(sed -n 's/^ \* FUZZ_LIBS://p' "$src")
    echo "== $name: building"
    # shellcheck disable=SC2086
    if ! clang $CFLAGS "$src" $sources $LIBS $libs -o "$out/$name"; then
        echo "== $name: FAILED to build"
        failed=1
        summary="$summary$name: build failed\n"
        continue
    fi
    mkdir -p "$out/corpus/$corpus"
    echo "== $name: running for ${secs}s"
    if "$out/$name" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$out/$name-" \
        "$out/corpus/$corpus" "tests/fuzz/corpus/$corpus" > "$out/$name.log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log" | tail -n 1)
        cov=$(grep -o 'cov: [0-9]*' "$out/$name.log" | tail -n 1 | sed 's/cov: //')
        ft=$(grep -o 'ft: [0-9]*' "$out/$name.log" | tail -n 1 | sed 's/ft: //')
        units=$(ls "$out/corpus/$corpus" | wc -l)
        echo "== $name: ok ($execs executions, cov $cov, ft $ft, $units corpus inputs)"
        summary="$summary$name: ok, ${secs}s, $execs executions, cov $cov, ft $ft\n"
    else
        echo "== $name: FAILED, see $out/$name.log"
        tail -n 40 "$out/$name.log"
        failed=1
        summary="$summary$name: FAILED\n"
    fi
done
printf '\n== summary\n%b' "$summary"
exit $failed
