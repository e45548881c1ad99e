#!/usr/bin/env bash
# c05-query-string: the behavior's query_string decides the cache key: "none" ignores the query
# (still forwarded to the origin), a list keeps only the named parameters, sorted, and the default
# ("all") keeps every parameter, sorted, so parameter order never splits an object.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
cat >"$T/edge.yaml" <<YAML
origins:
  default: {servers: ["http://127.0.0.1:$O_PORT"]}
behaviors:
  - {path: "/static/*", query_string: none}
  - {path: "/q/*", query_string: [a, b]}
  - {path: "*"}
YAML
start_edge -c "$T/edge.yaml"

# get URL X-CACHE BODY: one request through the edge (the origin's default body is origin:<url>).
get() {
    fetch "$1"
    assert_status 200
    assert_header X-Cache "$2"
    assert_body "$3"
}

step "query_string: none"
get '/static/a?x=1' MISS 'origin:/static/a?x=1'
get '/static/a?x=2' HIT 'origin:/static/a?x=1'
get '/static/a' HIT 'origin:/static/a?x=1'
get '/static/a?' HIT 'origin:/static/a?x=1'
assert_count /static/a 1
assert_eq '/static/a?x=1' "$(origin_requests /static/a | json_get '[0]["path"]')" "URL forwarded to the origin"

step "query_string: [a, b]"
get '/q/p?a=1&b=2' MISS 'origin:/q/p?a=1&b=2'
get '/q/p?b=2&a=1' HIT 'origin:/q/p?a=1&b=2'
get '/q/p?a=1&c=3&b=2' HIT 'origin:/q/p?a=1&b=2'
get '/q/p?utm_source=x&b=2&a=1' HIT 'origin:/q/p?a=1&b=2'
assert_count /q/p 1
get '/q/p?a=1' MISS 'origin:/q/p?a=1'
get '/q/p?a=1&c=9' HIT 'origin:/q/p?a=1'
get '/q/p?a=2&b=2' MISS 'origin:/q/p?a=2&b=2'
get '/q/p' MISS 'origin:/q/p'
get '/q/p?c=1' HIT 'origin:/q/p'
assert_count /q/p 4

step "query_string: all (the default)"
get '/all/x?a=1&b=2' MISS 'origin:/all/x?a=1&b=2'
get '/all/x?b=2&a=1' HIT 'origin:/all/x?a=1&b=2'
get '/all/x?a=1&b=3' MISS 'origin:/all/x?a=1&b=3'
get '/all/x?a=1&b=2&c=3' MISS 'origin:/all/x?a=1&b=2&c=3'
get '/all/x' MISS 'origin:/all/x'
assert_count /all/x 4

step "the path part is still case-sensitive and distinct"
get '/static/A?x=1' MISS 'origin:/static/A?x=1'
assert_count /static/A 1

pass
