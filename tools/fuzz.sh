#!/bin/sh
# Builds every libFuzzer target in tests/fuzz/ (fuzz_NAME.c, with the module sources it names on its
# "FUZZ_SOURCES:" line) with clang, ASan and UBSan, in build-fuzz/, and runs each for SECONDS (default
# 60) from its seeds in tests/fuzz/corpus/NAME/ (new inputs go to build-fuzz/corpus/NAME, not into the
# tree). Exits non-zero when a target crashes; the crashing input is left in build-fuzz/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
out="$top/build-fuzz"
mkdir -p "$out"
cd "$top"

# clang with the libFuzzer runtime: install it when a trivial target does not link
probe="$out/probe"
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$probe.c"
if ! clang -fsanitize=fuzzer "$probe.c" -o "$probe" 2>/dev/null; then
    sh "$top/tools/install-deps.sh"
fi

CFLAGS="-g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -I$top"
LIBS="-lh2o-evloop -lssl -lcrypto"
failed=0
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    corpus=${name#fuzz_}
    sources=$(sed -n 's/^ \* FUZZ_SOURCES://p' "$src")
    echo "== $name: building"
    # shellcheck disable=SC2086
    clang $CFLAGS "$src" $sources $LIBS -o "$out/$name"
    mkdir -p "$out/corpus/$corpus"
    echo "== $name: running for ${secs}s"
    if "$out/$name" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$out/$name-" \
        "$out/corpus/$corpus" "tests/fuzz/corpus/$corpus" > "$out/$name.log" 2>&1; then
        echo "== $name: ok ($(grep -c . "$out/$name.log") log lines, $(grep -m1 'stat::number_of_executed_units' "$out/$name.log" || true))"
    else
        echo "== $name: FAILED, see $out/$name.log"
        tail -n 40 "$out/$name.log"
        failed=1
    fi
done
exit $failed
