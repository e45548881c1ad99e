#!/usr/bin/env bash
# a07-lru-keeps-hot: eviction is least recently *used*, not least recently stored. A hot set of 5 objects,
# stored first, is re-requested (HITs, which report their use) while a stream of unique cold objects
# several times the 4 MiB budget passes through; at the end every hot object is still a HIT (origin count
# 1) while the early cold objects were evicted (MISS).
#
# Recency is handed to the store's writer about once a second and kept at one-second granularity, so
# each round is: a batch of cold misses, a pause, the hot HITs, a pause (their use is reported, in a
# second later than every cold object stored before). The cold objects of one round (1 MB) and the hot set
# fit well under the level eviction goes down to (70 % of the budget), so the hot set is never the oldest.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE=102400
ROUNDS=5
COLD_PER_ROUND=10
start_origin O
cat >"$T/edge.yaml" <<EOF
origin: $ORIGIN_URL
cache: {max_size: 4M}
EOF
script '*' "\"body_size\": $SIZE, \"headers\": {\"Cache-Control\": \"max-age=600\"}"
start_edge -c "$T/edge.yaml"

get_many() { # EXPECTED-X-CACHE PATH...: one kept-alive connection; every response 200, whole, EXPECTED
    local want=$1 p args=() out
    shift
    for p in "$@"; do args+=(-o /dev/null -w "$p %{http_code} %{size_download} %header{x-cache}\n" "http://127.0.0.1:$EDGE_PORT$p"); done
    out=$(curl -s --max-time 60 "${args[@]}") || fail "curl failed on $*"
    bad=$(awk -v size=$SIZE -v want="$want" '$2 != 200 || $3 != size || $4 != want' <<<"$out")
    [[ -z $bad ]] || fail "expected 200 $want for every response; got: $(head -n 3 <<<"$bad")"
}

HOT=(/hot/1 /hot/2 /hot/3 /hot/4 /hot/5)
step "store the hot set"
get_many MISS "${HOT[@]}"
get_many HIT "${HOT[@]}"
sleep 1.5

c=0
for ((r = 1; r <= ROUNDS; r++)); do
    step "round $r: $COLD_PER_ROUND cold misses, then the hot set (HITs)"
    cold=()
    for ((i = 0; i < COLD_PER_ROUND; i++)); do cold+=("/cold/$((++c))"); done
    get_many MISS "${cold[@]}"
    sleep 1.3
    get_many HIT "${HOT[@]}"
    sleep 1.3
done

step "every hot object is still a HIT, origin asked once"
get_many HIT "${HOT[@]}"
for p in "${HOT[@]}"; do assert_count "$p" 1; done
step "the early cold objects were evicted"
for p in /cold/1 /cold/2 /cold/$COLD_PER_ROUND; do
    fetch "$p"
    assert_cache MISS
    assert_count "$p" 2
done
step "the last round's cold objects are still there"
fetch "/cold/$c"
assert_cache HIT
assert_count "/cold/$c" 1

pass
