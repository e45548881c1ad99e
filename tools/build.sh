#!/bin/sh
# Builds edgecache out of tree, in build/ (or the directory given), with warnings as errors.
# Extra arguments go to configure, e.g. tools/build.sh build-asan --enable-asan --enable-ubsan.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build}
[ $# -gt 0 ] && shift
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] && [ configure -nt Makefile.am ] || autoreconf -fi
mkdir -p "$dir"
cd "$dir"
[ -f Makefile ] || "$top/configure" --enable-werror "$@"
make -j"$(nproc)"
