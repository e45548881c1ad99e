#!/bin/sh
# tools/lint.sh: the source checks that need no build: module directions and include cycles
# (tools/check-includes.sh), then formatting (tools/check-format.sh). Both always run, so one report
# lists everything; the exit status is non-zero when either failed (the larger of the two).
#
#   tools/lint.sh [TOP]
top=$(cd "${1:-$(dirname "$0")/..}" && pwd)
tools=$(cd "$(dirname "$0")" && pwd)
status=0
echo "== include directions and cycles"
python3 "$tools/check-includes.sh" "$top" || { rc=$?; [ $rc -gt $status ] && status=$rc; }
echo "== clang-format"
sh "$tools/check-format.sh" "$top" || { rc=$?; [ $rc -gt $status ] && status=$rc; }
[ $status -eq 0 ] && echo "lint: ok" || echo "lint: failed" >&2
exit $status
