#!/usr/bin/env bash
# r02-report-html-chromium: `edgecache report popular --format html` is one self-contained page that a
# real browser renders: Debian's headless chromium loads it from file:// (no network needed: the page
# references nothing outside itself), runs its script, and the DOM it dumps has the chart (inline SVG:
# one bar per time bucket, the hit-ratio line), the top-objects table with the exact counts, and the
# summary line that only the script writes. A screenshot is taken too (set R02_SCREENSHOT=PATH to keep
# it, e.g. docs/report.png).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[[ -n $CHROMIUM ]] || skip "chromium is not installed (tools/install-deps.sh installs it)"

start_origin O
cat >"$T/edge.yaml" <<YAML
origin: $ORIGIN_URL
reports: {bucket: 1s}
YAML
start_edge -c "$T/edge.yaml"
script /r02/a '"body": "aaaaaaaaaa", "headers": {"Cache-Control": "max-age=60"}'
script /r02/b '"body": "bbbbb", "headers": {"Cache-Control": "max-age=60"}'

step "traffic over more than one bucket: 5 x /r02/a, 3 x /r02/b"
for i in 1 2 3; do fetch /r02/a -H 'Host: r02.example'; done
sleep 1.1
for i in 1 2; do fetch /r02/a -H 'Host: r02.example'; done
for i in 1 2 3; do fetch /r02/b -H 'Host: r02.example'; done
assert_count /r02/a 1
assert_count /r02/b 1
stop_edge

step "the HTML report"
"$EDGECACHE" report popular --cache-dir "$T/cache" --since 1h --format html -o "$T/report.html"
grep -q '<svg id="chart"' "$T/report.html" || fail "no inline SVG chart"
! grep -Eq '(src|href)=' "$T/report.html" || fail "the page references something outside itself"

chrome() { # ARGS...: headless chromium on the report, with a profile of its own, bounded in time
    timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
        --user-data-dir="$T/chrome" --virtual-time-budget=2000 "$@" "file://$T/report.html" 2>>"$T/chrome.log"
}

step "chromium renders it and runs its script"
chrome --dump-dom >"$T/dom.html" || fail "chromium failed: $(tail -5 "$T/chrome.log")"
grep -q 'id="summary" data-rendered="yes">8 requests in [0-9]* time buckets, hit ratio 75.0 %, 2 top objects listed<' "$T/dom.html" ||
    fail "the script's summary is missing: $(grep -o '<p id="summary"[^<]*' "$T/dom.html")"
bars=$(grep -o '<rect class="bar" ' "$T/dom.html" | wc -l)
[[ $bars -ge 2 ]] || fail "expected a bar per bucket (>= 2), found $bars"
grep -q '<polyline class="hit" id="hitline" points="' "$T/dom.html" || fail "no hit-ratio line"
grep -q '<td class="url">r02.example/r02/a</td><td>5</td><td>0</td><td>4</td><td>1</td><td>80.0</td>' "$T/dom.html" || fail "row of /r02/a"
grep -q '<td class="url">r02.example/r02/b</td><td>3</td><td>0</td><td>2</td><td>1</td><td>66.7</td>' "$T/dom.html" || fail "row of /r02/b"

step "a screenshot"
chrome --screenshot="$T/report.png" --window-size=1200,900 >/dev/null || fail "no screenshot: $(tail -5 "$T/chrome.log")"
assert_eq "89504e47" "$(head -c 4 "$T/report.png" | od -An -tx1 | tr -d ' \n')" "PNG signature"
size=$(wc -c <"$T/report.png")
[[ $size -gt 10000 ]] || fail "the screenshot is suspiciously small ($size bytes)"
[[ -z ${R02_SCREENSHOT:-} ]] || cp "$T/report.png" "$R02_SCREENSHOT"

pass
