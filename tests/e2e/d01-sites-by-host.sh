#!/usr/bin/env bash
# d01-sites-by-host: one edge, one listener, two sites (CloudFront distributions) chosen by the request's Host,
# each with its own origin. The same path on two hosts is two objects (the normalised host is in the cache key),
# and every spelling of one host (case, trailing dot, default port) is one; a wildcard host covers its
# subdomains; a host no site claims gets 421 (or, with unknown_host.site, that site); a purge of one site's URL
# leaves the other site's object a HIT; `edgecache check` refuses a host claimed twice, naming both sites at
# file:line:col. Every HIT and MISS is proved by the origins' request counts.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin S --name shop
start_origin B --name blog
CC='"Cache-Control": "max-age=600"'
script /p "\"body\": \"shop p\", \"headers\": {$CC}" "$S_PORT"
script /p "\"body\": \"blog p\", \"headers\": {$CC}" "$B_PORT"

ADMIN_PORT=$(free_port)
printf '%s\n' 'd01-token-0123456789abcdef' >"$T/admin.token"
# write_conf [UNKNOWN_HOST-YAML]
write_conf() {
    cat >"$T/edge.yaml" <<YAML
admin: {listen: "127.0.0.1:$ADMIN_PORT", token_file: admin.token}
cache: {path: $T/cache}
access_log: {path: $T/access.log}
sites:
  - name: shop
    hosts: [shop.example.com]
    origin: http://127.0.0.1:$S_PORT
  - name: blog
    hosts: [blog.example.com, "*.blog.example.com"]
    origin: http://127.0.0.1:$B_PORT
${1:-}
YAML
}
write_conf
start_edge -c "$T/edge.yaml"
wait_edge "$ADMIN_PORT"
PURGE=("$EDGECACHE" purge --admin "127.0.0.1:$ADMIN_PORT" --token-file "$T/admin.token")

# get HOST X-CACHE BODY: GET /p with that Host
get() {
    fetch /p -H "Host: $1"
    assert_status 200
    assert_cache "$2"
    assert_body "$3"
}

step "two sites on one listener: each Host reaches its own origin"
get shop.example.com MISS 'shop p'
assert_header X-Origin-Name shop
get blog.example.com MISS 'blog p'
assert_header X-Origin-Name blog
assert_count /p 1 "$S_PORT"
assert_count /p 1 "$B_PORT"

step "the same path on two hosts is two objects: each a HIT of its own"
get shop.example.com HIT 'shop p'
get blog.example.com HIT 'blog p'
assert_count /p 1 "$S_PORT"
assert_count /p 1 "$B_PORT"

step "Host: SHOP.example.com.:80 is shop.example.com (case, trailing dot, default port)"
get SHOP.example.com.:80 HIT 'shop p'
get Shop.Example.Com HIT 'shop p'
assert_count /p 1 "$S_PORT"

step "a wildcard host: *.blog.example.com covers a.b.blog.example.com, as an object of its own"
get a.b.blog.example.com MISS 'blog p'
get a.b.blog.example.com HIT 'blog p'
assert_count /p 2 "$B_PORT"
assert_count /p 1 "$S_PORT"

step "the access log names the site"
# (the site, then the request's duration)
wait_until grep -Eq '"GET /p HTTP/1.1" 200 .* blog [0-9.]+$' "$T/access.log"
grep -Eq '"GET /p HTTP/1.1" 200 .* shop [0-9.]+$' "$T/access.log" || fail "no access log line names the site shop"

step "a host no site claims: 421, no origin asked"
fetch /p -H 'Host: nobody.example'
assert_status 421
assert_body_contains 'no site'
fetch /p -H 'Host: blog.example.com.evil'
assert_status 421
fetch /p --http1.0 -H 'Host:' # no Host at all
assert_status 421
assert_count /p 1 "$S_PORT"
assert_count /p 2 "$B_PORT"

step "a host that is no host name: 400"
fetch /p -H 'Host: shop.example.com/x'
assert_status 400

step "purge one site's URL: that object only; the other site's /p stays a HIT"
out=$("${PURGE[@]}" http://shop.example.com/p)
assert_match 'purge [A-Za-z0-9_-]+ accepted: url shop.example.com/p
purge [A-Za-z0-9_-]+ done: 1 object' "$out" "purge output"
get blog.example.com HIT 'blog p'
get a.b.blog.example.com HIT 'blog p'
assert_count /p 2 "$B_PORT"
get shop.example.com MISS 'shop p'
assert_count /p 2 "$S_PORT"

step "purge --site blog /p: every host of blog (the wildcard's too), not shop"
out=$("${PURGE[@]}" --site blog /p)
assert_match '.*done: 2 objects' "$out" "purge output"
get shop.example.com HIT 'shop p'
assert_count /p 2 "$S_PORT"
get blog.example.com MISS 'blog p'
get a.b.blog.example.com MISS 'blog p'
assert_count /p 4 "$B_PORT"

step "a path without host nor site: every site"
out=$("${PURGE[@]}" /p)
assert_match '.*done: 3 objects' "$out" "purge output"
get shop.example.com MISS 'shop p'
assert_count /p 3 "$S_PORT"

step "unknown_host: {site: shop}: a host no site claims is served as shop"
stop_edge
write_conf 'unknown_host: {site: shop}'
start_edge -c "$T/edge.yaml"
wait_edge "$ADMIN_PORT"
get nobody.example MISS 'shop p'
assert_header X-Origin-Name shop
get nobody.example HIT 'shop p'
get shop.example.com HIT 'shop p' # the objects survived the restart: the keys are the hosts'
assert_count /p 4 "$S_PORT"

step "reports: objects carry their host; --site keeps one site's objects and behaviors"
stop_edge # (flushes the reports)
"$EDGECACHE" report popular -c "$T/edge.yaml" --since 1h --format csv --site blog >"$T/blog.csv"
grep -q '^blog.example.com/p,' "$T/blog.csv" || fail "no blog.example.com/p in: $(cat "$T/blog.csv")"
grep -q '^a.b.blog.example.com/p,' "$T/blog.csv" || fail "no a.b.blog.example.com/p in: $(cat "$T/blog.csv")"
! grep -q 'shop.example.com' "$T/blog.csv" || fail "shop's objects in blog's report: $(cat "$T/blog.csv")"
"$EDGECACHE" report stats -c "$T/edge.yaml" --since 1h --format csv --site shop >"$T/shop.csv"
grep -q 'shop:\*' "$T/shop.csv" || fail "no behavior shop:* in: $(cat "$T/shop.csv")"
! grep -q 'blog:' "$T/shop.csv" || fail "blog's behaviors in shop's stats: $(cat "$T/shop.csv")"

step "edgecache check: a host claimed by two sites is refused with file:line:col naming both"
cat >"$T/dup.yaml" <<YAML
sites:
  - name: shop
    hosts: [shop.example.com]
    origin: http://127.0.0.1:$S_PORT
  - name: blog
    hosts: [blog.example.com, Shop.Example.com]
    origin: http://127.0.0.1:$B_PORT
YAML
rc=0
"$EDGECACHE" check -c "$T/dup.yaml" >"$T/dup.out" 2>"$T/dup.err" || rc=$?
assert_eq 2 "$rc" "exit status of check on a duplicate host"
assert_match ".*dup.yaml:6:31: hosts: \"shop.example.com\" is claimed by site \"shop\" \(line 3:13\) and by site \"blog\".*" \
    "$(cat "$T/dup.err")" "check's message"

pass
