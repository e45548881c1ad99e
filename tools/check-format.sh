#!/bin/sh
# tools/check-format.sh: every tracked .c/.h file of the project is as clang-format (the repo's
# .clang-format) would write it. Nothing is rewritten: the files that differ are listed, then exit 1;
# `clang-format -i FILE...` fixes them. Generated files (errorpages/pages.c) are not tracked, so never
# checked. The project pins Debian's clang-format 14: another major version formats some constructs
# differently, so a different one is refused (exit 2) rather than reporting false differences.
#
#   tools/check-format.sh [TOP]      exit 0: all formatted; 1: files differ; 2: cannot run
set -eu
top=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$top"

cf=
for c in clang-format-14 clang-format; do
    command -v "$c" >/dev/null 2>&1 && { cf=$c; break; }
done
if [ -z "$cf" ]; then
    echo "check-format: clang-format 14 is not installed (apt-get install clang-format-14)" >&2
    exit 2
fi
case $("$cf" --version) in
*"version 14."*) ;;
*)
    echo "check-format: $cf is not version 14: $("$cf" --version)" >&2
    exit 2
    ;;
esac
[ -f .clang-format ] || { echo "check-format: no .clang-format in $top" >&2; exit 2; }

files=$(git ls-files -- '*.c' '*.h')
[ -n "$files" ] || { echo "check-format: no tracked C files in $top" >&2; exit 2; }
status=0
for f in $files; do
    # --dry-run -Werror: exit non-zero with a diagnostic when the file would change; only the verdict is kept
    if ! "$cf" --style=file --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "$f"
        status=1
    fi
done
[ $status -eq 0 ] || echo "check-format: the files above differ from clang-format's output (clang-format -i FILE fixes one)" >&2
exit $status
