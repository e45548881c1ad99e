#!/bin/sh
# Installs what edgecache needs to build and test, on Debian 12, as root. Installs nothing when
# everything is already there (so a second run works offline). stress-ng is for tools/test.sh --stress; clang and
# libFuzzer for tools/fuzz.sh; clang-format for tools/check-format.sh; debhelper (with dpkg-dev, man-db,
# systemd and logrotate) for tests/pkg/deb.sh, which builds and installs the Debian package; prometheus for
# its promtool (a11-metrics-process, m01-monitoring; python3-yaml reads the rules there);
# brotli (the CLI) for g01-compress, which decodes the br variants;
# testssl.sh for k03-testssl (an independent scan of the default TLS profile); PowerDNS (with its bind and GeoIP backends),
# iproute2 and dig for the fleet test (tests/fleet/run.sh: nearest-edge DNS in network namespaces).
set -eu
PACKAGES="build-essential autoconf automake libtool pkg-config
libh2o-evloop-dev libssl-dev liblmdb-dev zlib1g-dev libbrotli-dev libyaml-dev check libsystemd-dev
curl python3 python3-yaml openssl lmdb-utils brotli
chromium fonts-dejavu-core
stress-ng
clang libfuzzer-14-dev clang-format
debhelper dpkg-dev man-db systemd logrotate
prometheus
testssl.sh
pdns-server pdns-backend-bind pdns-backend-geoip iproute2 bind9-dnsutils"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
fi
