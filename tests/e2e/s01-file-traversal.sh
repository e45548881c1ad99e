#!/usr/bin/env bash
# s01-file-traversal: a file:// origin serves the files under its directory (200, Content-Type by
# extension, ETag, Last-Modified; MISS then HIT; index.html for a directory; 404 for a missing file)
# and nothing outside it: "..", percent-encoded dots and slashes, backslashes, NUL bytes and symlinks
# leading out of the root all get a 4xx and never the outside file's bytes.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

secret="TOPSECRET-$RANDOM$RANDOM-e2e"
site="$T/site"
mkdir -p "$site/sub" "$T/outside"
printf '%s\n' "$secret" >"$T/secret.txt"
printf '%s\n' "$secret" >"$T/outside/secret2.txt"
printf 'hello from a.txt\n' >"$site/a.txt"
printf 'body { color: red; }\n' >"$site/style.css"
printf '{"k": 1}\n' >"$site/sub/b.json"
printf '<html>index</html>\n' >"$site/index.html"
printf '<html>sub index</html>\n' >"$site/sub/index.html"
ln -s ../secret.txt "$site/link.txt"           # a file symlink that leaves the root
ln -s "$T/secret.txt" "$site/abs-link.txt"      # the same, absolute
ln -s "$T/outside" "$site/outdir"               # a directory symlink that leaves the root
ln -s ../../secret.txt "$site/sub/uplink.txt"

start_edge --origin "file://$site"

step "normal files"
fetch /a.txt
assert_status 200
assert_body 'hello from a.txt'
assert_header Content-Type 'text/plain.*'
assert_header ETag '(W/)?"[^"]+"'
assert_header Last-Modified '[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT'
assert_header Content-Length 17
assert_cache MISS 'edgecache; fwd=miss; stored'
etag=$(header ETag)
fetch /a.txt
assert_status 200
assert_body 'hello from a.txt'
assert_cache HIT
assert_eq "$etag" "$(header ETag)" "ETag on the HIT"

fetch /style.css
assert_status 200
assert_header Content-Type 'text/css.*'
fetch /sub/b.json
assert_status 200
assert_header Content-Type 'application/json.*'
assert_body '{"k": 1}'
fetch /
assert_status 200
assert_body '<html>index</html>'
assert_header Content-Type 'text/html.*'
fetch /sub/
assert_status 200
assert_body '<html>sub index</html>'
fetch '/a.txt?v=1'
assert_status 200
assert_body 'hello from a.txt'
fetch /missing.txt
assert_status 404
assert_body_lacks "$secret"

step "ways out of the root"
for p in \
    /../secret.txt \
    /../../../../../../etc/passwd \
    /sub/../../secret.txt \
    /%2e%2e/secret.txt \
    /%2E%2E/secret.txt \
    /%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd \
    /sub/%2e%2e/%2e%2e/secret.txt \
    /..%2fsecret.txt \
    /..%2f..%2f..%2f..%2fetc/passwd \
    /sub%2f..%2f..%2fsecret.txt \
    /%2e%2e%2fsecret.txt \
    /.%2e/secret.txt \
    /..%5csecret.txt \
    '/..\secret.txt' \
    /%252e%252e/secret.txt \
    /a.txt%00/../../secret.txt \
    /link.txt \
    /abs-link.txt \
    /outdir/secret2.txt \
    /outdir/ \
    /sub/uplink.txt \
    //etc/passwd \
    /%2fetc/passwd \
    ; do
    try_fetch "$p" --path-as-is
    echo "   $p -> $STATUS (curl exit $CURL_RC)"
    assert_alive
    [[ $STATUS != 200 ]] || fail "$p: status 200"
    [[ $STATUS =~ ^(4[0-9][0-9]|000)$ ]] || fail "$p: status $STATUS, expected 400 or 404"
    assert_body_lacks "$secret"
    assert_body_lacks 'root:x:0:0'
done

step "the same through a raw socket, bypassing curl's URL handling"
for p in '/../secret.txt' '/sub/../../secret.txt' '/..%2fsecret.txt' '/%2e%2e/%2e%2e/etc/passwd'; do
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$p" | raw_request "$EDGE_PORT" 3 >"$T/raw"
    first=$(head -n 1 "$T/raw" | tr -d '\r')
    echo "   raw $p -> $first"
    [[ -z $first || $first =~ ^HTTP/1\.[01]\ 4[0-9][0-9] ]] || fail "raw $p: got '$first'"
    ! grep -qF -e "$secret" -e 'root:x:0:0' "$T/raw" || fail "raw $p: the outside file was served"
done

step "legitimate dots still work"
fetch /sub/../a.txt --path-as-is
echo "   /sub/../a.txt -> $STATUS"
[[ $STATUS =~ ^(200|400|404)$ ]] || fail "/sub/../a.txt: status $STATUS"
[[ $STATUS != 200 ]] || assert_body 'hello from a.txt'
assert_alive

pass
