#!/usr/bin/env bash
# c03-no-store-private: responses marked no-store or private are never stored, whatever else they
# say (max-age, s-maxage) and whatever the behavior's TTLs: every request reaches the origin and
# Cache-Status says fwd=miss without "stored". A plain max-age answer next to them is cached.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
start_edge --origin "$ORIGIN_URL"

never_stored() { # PATH CACHE-CONTROL
    script "$1" "\"body\": \"body of $1\", \"headers\": {\"Cache-Control\": \"$2\"}"
    local i
    for i in 1 2 3; do
        fetch "$1"
        assert_status 200
        assert_body "body of $1"
        assert_cache MISS 'edgecache; fwd=miss'
        assert_not_stored
        assert_header Cache-Control "$2"
        assert_count "$1" "$i"
    done
}

step "no-store"
never_stored /c03/nostore 'no-store'
step "no-store with max-age"
never_stored /c03/nostore-maxage 'max-age=60, no-store'
step "private"
never_stored /c03/private 'private'
step "private with max-age and s-maxage"
never_stored /c03/private-maxage 'private, max-age=60, s-maxage=60'

step "control: max-age=60 alone is cached"
script /c03/public '"body": "public", "headers": {"Cache-Control": "public, max-age=60"}'
fetch /c03/public
assert_cache MISS 'edgecache; fwd=miss; stored'
fetch /c03/public
assert_cache HIT
assert_body public
assert_count /c03/public 1

step "an object that turns no-store is not replaced by the no-store answer"
script /c03/turns '"body": "v1", "headers": {"Cache-Control": "max-age=1"}'
fetch /c03/turns
assert_cache MISS 'edgecache; fwd=miss; stored'
sleep 1.5
script /c03/turns '"body": "v2", "headers": {"Cache-Control": "no-store"}'
fetch /c03/turns
assert_body v2
assert_header X-Cache MISS
fetch /c03/turns
assert_body v2
assert_header X-Cache MISS
assert_count /c03/turns 3

pass
