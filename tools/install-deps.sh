#!/bin/sh
# Installs what edgecache needs to build and test, on Debian 12, as root. Installs nothing when
# everything is already there (so a second run works offline). stress-ng is for tools/test.sh --stress; clang and
# libFuzzer for tools/fuzz.sh; clang-format for tools/check-format.sh; debhelper (with dpkg-dev, man-db,
# systemd and logrotate) for tests/pkg/deb.sh, which builds and installs the Debian package; prometheus for
# its promtool (a11-metrics-process);
# brotli (the CLI) for g01-compress, which decodes the br variants; nginx with its brotli filter for the bench's
# compression cells;
# testssl.sh for k03-testssl (an independent scan of the default TLS profile).
set -eu
PACKAGES="build-essential autoconf automake libtool pkg-config
libh2o-evloop-dev libssl-dev liblmdb-dev zlib1g-dev libbrotli-dev libyaml-dev check libsystemd-dev
curl python3 openssl lmdb-utils brotli
nginx libnginx-mod-http-brotli-filter
chromium fonts-dejavu-core
stress-ng
clang libfuzzer-14-dev clang-format
debhelper dpkg-dev man-db systemd logrotate
prometheus
testssl.sh"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
fi
