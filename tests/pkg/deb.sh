#!/usr/bin/env bash
# tests/pkg/deb.sh: builds the Debian package from this checkout and checks what it installs. Not part of
# `make check`: it rebuilds everything, about 3 minutes on 2 busy cores; .ci/run calls it.
#
#   tests/pkg/deb.sh            exit 0 pass, 1 fail, 77 skip (no dpkg-buildpackage)
#   DEB_KEEP=1                  keep the work directory (printed) instead of removing it
#   DEB_INSTALL=0               never install the package on this machine (see step 5)
#
# 1. Copies the checkout (tracked and untracked files that git does not ignore: uncommitted work counts)
#    into a temporary directory and runs `dpkg-buildpackage -b -us -uc` there, so the checkout never
#    sees debian/'s build products.
# 2. Lists the package: the binary, the unit, the logrotate file, the configuration and the manual pages
#    where Debian expects them, the /etc files marked as conffiles.
# 3. Extracts it (dpkg -x) into a scratch root, and there: the manual pages render without a warning;
#    the packaged edgecache.yaml passes the packaged binary's `edgecache check`, with its absolute paths
#    (/etc, /usr/share, /var) moved into the scratch root, because the sample site and the admin token it
#    names exist only there; systemd-analyze verify accepts the unit.
# 4. Removes the build tree, so that nothing below can fall back on it.
# 5. As root (CI), when no edgecache package is installed already and DEB_INSTALL is not 0: a real
#    `dpkg -i`, which is the only way to test the maintainer scripts. The edgecache user, the
#    directories and the admin token must exist; `edgecache check` of /etc/edgecache/edgecache.yaml, run
#    as the edgecache user, passes with the paths as shipped; systemd-analyze verify accepts the unit in
#    place (its Documentation= pages included); logrotate -d reads /etc/logrotate.d/edgecache; the
#    installed binary's embedded default serves /usr/share/edgecache/sample-site (the build tree is gone
#    by then); and `dpkg --purge` removes the configuration, the token, the cache and the logs. Where
#    systemd runs, the service that dpkg started must serve the sample site on port 80 and survive a
#    reload; where it does not (a container), dpkg skips starting it. Without root, or with a
#    package already installed (an operator's edge is never touched), this step is skipped.
#
# Scratch root and real installation both: the first runs anywhere and never touches the machine; only
# the second runs the maintainer scripts and the paths exactly as shipped.
set -Eeuo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
name=deb
W=$(mktemp -d "${TMPDIR:-/tmp}/edgecache-deb.XXXXXX")
EDGE_PID=
INSTALLED=0

cleanup() {
    local rc=$?
    trap - EXIT
    if [[ -n $EDGE_PID ]]; then
        kill -TERM "$EDGE_PID" 2>/dev/null || true
        wait "$EDGE_PID" 2>/dev/null || true
    fi
    if ((INSTALLED)); then
        dpkg --purge edgecache >>"$W/purge.log" 2>&1 || echo "WARN: $name: dpkg --purge edgecache failed (see $W/purge.log)" >&2
    fi
    if [[ ${DEB_KEEP:-0} == 1 ]]; then echo "kept $W" >&2; else rm -rf "$W"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "ERROR: $name: line $LINENO: command failed: $BASH_COMMAND" >&2' ERR

fail() {
    echo "FAIL: $name: $*" >&2
    exit 1
}
step() { echo "== $*"; }
elapsed() { echo "$((SECONDS - $1)) s"; }

command -v dpkg-buildpackage >/dev/null || { echo "SKIP: $name: no dpkg-buildpackage (apt-get install dpkg-dev debhelper)"; exit 77; }
command -v dh >/dev/null || { echo "SKIP: $name: no debhelper (apt-get install debhelper)"; exit 77; }

# --- 1. build ----------------------------------------------------------------------------------------------
step "copy the checkout and build the package"
t0=$SECONDS
mkdir "$W/src"
(cd "$top" && git ls-files -z -co --exclude-standard) | (cd "$top" && tar --null -T - -cf -) | tar -C "$W/src" -xf -
if ! (cd "$W/src" && dpkg-buildpackage -b -us -uc -j"$(nproc)") >"$W/build.log" 2>&1; then
    tail -n 40 "$W/build.log" >&2
    # a unit suite that failed in the package's build: its own log, which the tail above does not reach
    for trs in "$W"/src/obj-deb/tests/unit/*.trs; do
        grep -q ':test-result: \(FAIL\|ERROR\)' "$trs" 2>/dev/null || continue
        echo "--- ${trs%.trs}.log ---" >&2
        tail -n 40 "${trs%.trs}.log" >&2
    done
    fail "dpkg-buildpackage failed (log above; DEB_KEEP=1 keeps $W/build.log)"
fi
shopt -s nullglob
debs=("$W"/edgecache_*.deb)
shopt -u nullglob
((${#debs[@]} == 1)) || fail "expected one edgecache_*.deb in $W, found ${#debs[@]}"
DEB=${debs[0]}
echo "built $(basename "$DEB") in $(elapsed "$t0")"

# --- 2. contents -------------------------------------------------------------------------------------------
step "the package's files and conffiles"
dpkg-deb -c "$DEB" | awk '{print $NF}' | sed 's|^\./|/|' >"$W/files"
for f in /usr/bin/edgecache /lib/systemd/system/edgecache.service /etc/edgecache/edgecache.yaml \
    /etc/logrotate.d/edgecache /usr/share/man/man8/edgecache.8.gz /usr/share/man/man5/edgecache.yaml.5.gz \
    /usr/share/edgecache/sample-site/index.html /usr/share/edgecache/sample-site/hello.txt; do
    grep -qx "$f" "$W/files" || fail "the package lacks $f"
done
dpkg-deb -e "$DEB" "$W/control"
for f in /etc/edgecache/edgecache.yaml /etc/logrotate.d/edgecache; do
    grep -qx "$f" "$W/control/conffiles" || fail "$f is not a conffile: $(cat "$W/control/conffiles")"
done
grep -q '^Depends:.*adduser' "$W/control/control" || fail "Depends lacks adduser"

# --- 3. a scratch root -------------------------------------------------------------------------------------
step "extract into a scratch root: manual pages"
R=$W/root
dpkg -x "$DEB" "$R"
for page in man8/edgecache.8.gz man5/edgecache.yaml.5.gz; do
    out=$(MANWIDTH=80 man --warnings -l "$R/usr/share/man/$page" 2>&1 >"$W/page.txt") || fail "man -l $page failed: $out"
    [[ -z $out ]] || fail "man -l $page warns: $out"
    grep -q edgecache "$W/page.txt" || fail "man -l $page rendered no text"
done

step "the packaged configuration passes edgecache check (its paths moved into the scratch root)"
sed -e "s|/etc/edgecache/|$R/etc/edgecache/|g" -e "s|/usr/share/edgecache/|$R/usr/share/edgecache/|g" \
    -e "s|/var/|$R/var/|g" "$R/etc/edgecache/edgecache.yaml" >"$R/etc/edgecache/scratch.yaml"
grep -q "file://$R/usr/share/edgecache/sample-site" "$R/etc/edgecache/scratch.yaml" ||
    fail "the packaged configuration does not serve the packaged sample site"
od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$R/etc/edgecache/admin.token" # postinst's job in a real install
out=$("$R/usr/bin/edgecache" check -c "$R/etc/edgecache/scratch.yaml" 2>&1) || fail "edgecache check: $out"
[[ $out == "$R/etc/edgecache/scratch.yaml: ok" ]] || fail "edgecache check said: $out"

step "systemd-analyze verify accepts the unit"
# verify wants ExecStart's program to exist: a copy of the unit runs the scratch root's. (--root would
# look for everything there, down to sysinit.target and /bin/kill.) --man=no: the pages are not
# installed on this machine yet; step 5 checks Documentation= against the installed ones.
mkdir "$W/unit"
sed "s|/usr/bin/edgecache|$R/usr/bin/edgecache|g" "$R/lib/systemd/system/edgecache.service" >"$W/unit/edgecache.service"
out=$(systemd-analyze verify --man=no "$W/unit/edgecache.service" 2>&1) || fail "systemd-analyze verify: $out"
[[ -z $out ]] || fail "systemd-analyze verify warns: $out"

# --- 4. no build tree ----------------------------------------------------------------------------------------
rm -rf "$W/src"

# --- 5. a real installation ------------------------------------------------------------------------------------
if [[ $(id -u) != 0 || ${DEB_INSTALL:-1} == 0 ]]; then
    echo "PASS: $name (scratch root only: the real installation needs root and DEB_INSTALL != 0)"
    exit 0
fi
if dpkg-query -W -f='${Status}' edgecache 2>/dev/null | grep -q 'ok installed\|config-files'; then
    echo "PASS: $name (scratch root only: an edgecache package is already installed here, left alone)"
    exit 0
fi
step "dpkg -i"
INSTALLED=1
dpkg -i "$DEB" >"$W/install.log" 2>&1 || { cat "$W/install.log" >&2; fail "dpkg -i failed"; }
getent passwd edgecache >/dev/null || fail "postinst created no edgecache user"
for d in /var/cache/edgecache /var/log/edgecache /var/lib/edgecache; do
    [[ $(stat -c %U "$d" 2>/dev/null) == edgecache ]] || fail "$d is missing or not owned by edgecache"
done
[[ $(stat -c '%U:%G %a' /etc/edgecache/admin.token) == "root:edgecache 640" ]] ||
    fail "admin.token: $(stat -c '%U:%G %a' /etc/edgecache/admin.token), expected root:edgecache 640"

step "edgecache check of the installed configuration, as the edgecache user"
out=$(runuser -u edgecache -- /usr/bin/edgecache check -c /etc/edgecache/edgecache.yaml 2>&1) || fail "edgecache check: $out"
[[ $out == "/etc/edgecache/edgecache.yaml: ok" ]] || fail "edgecache check said: $out"
out=$(systemd-analyze verify /lib/systemd/system/edgecache.service 2>&1) || fail "systemd-analyze verify: $out"
[[ -z $out ]] || fail "systemd-analyze verify warns: $out"
# logrotate reads its file only now that the edgecache user (named by "create") exists
if command -v logrotate >/dev/null; then
    out=$(logrotate -d -s "$W/logrotate.state" /etc/logrotate.d/edgecache 2>&1) || fail "logrotate -d: $out"
    ! grep -qi 'error' <<<"$out" || fail "logrotate -d: $out"
else
    echo "(no logrotate here: /etc/logrotate.d/edgecache not checked)"
fi

if [[ -d /run/systemd/system ]]; then
    # systemd runs here: dpkg started the service, sandbox and all; it must serve the sample site on port 80
    # and reload (SIGHUP) without stopping.
    step "the service runs under systemd: port 80, reload"
    systemctl --quiet is-active edgecache.service || fail "edgecache.service is not active: $(systemctl status edgecache 2>&1 | tail -20)"
    body=$(curl -sS --max-time 10 http://127.0.0.1/hello.txt) || fail "curl http://127.0.0.1/hello.txt failed"
    [[ $body == "$(cat /usr/share/edgecache/sample-site/hello.txt)" ]] || fail "service: /hello.txt: '$body'"
    systemctl reload edgecache.service || fail "systemctl reload edgecache failed"
    systemctl --quiet is-active edgecache.service || fail "edgecache.service stopped after a reload"
fi

step "the installed binary's embedded default serves the installed sample site"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$W/run"
(cd "$W/run" && exec /usr/bin/edgecache serve --listen "127.0.0.1:$port" --cache-dir "$W/run/cache") >"$W/edge.log" 2>&1 &
EDGE_PID=$!
for ((i = 0; i < 200; i++)); do
    grep -q 'listening on' "$W/edge.log" && break
    kill -0 "$EDGE_PID" 2>/dev/null || { cat "$W/edge.log" >&2; fail "edgecache serve exited"; }
    sleep 0.05
done
body=$(curl -sS --max-time 10 "http://127.0.0.1:$port/hello.txt") || { cat "$W/edge.log" >&2; fail "curl failed"; }
[[ $body == "$(cat /usr/share/edgecache/sample-site/hello.txt)" ]] || fail "/hello.txt: '$body'"
kill -TERM "$EDGE_PID"
wait "$EDGE_PID" || fail "edgecache serve exited with $? after SIGTERM"
EDGE_PID=

step "dpkg --purge removes the configuration, the token, the cache and the logs"
INSTALLED=0
dpkg --purge edgecache >"$W/purge.log" 2>&1 || { cat "$W/purge.log" >&2; fail "dpkg --purge failed"; }
for p in /usr/bin/edgecache /etc/edgecache /var/cache/edgecache /var/log/edgecache /var/lib/edgecache \
    /usr/share/edgecache /etc/logrotate.d/edgecache; do
    [[ ! -e $p ]] || fail "$p is still there after dpkg --purge"
done

echo "PASS: $name (built, scratch root, installed and purged in $(elapsed 0))"
