# shellcheck shell=bash
# bench/wrk_scripts.sh: the Lua scripts that bench/run.sh gives wrk (sourced, not run). Every script ends
# with done.lua, whose one "BENCH key=value ..." line is what run_wrk parses; the ones that need a
# per-thread seed or key range start with ids.lua, which numbers wrk's threads.
#
# write_wrk_scripts DIR writes DIR/{done,ids,static,ae,close,paced,zipf,uniform,cold,fill}.lua; run.sh passes
# a script by its name without .lua, and its arguments after wrk's "--".
write_wrk_scripts() {
    local dir=$1
    cat >"$dir/done.lua" <<'EOF'
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("BENCH requests=%.0f duration_us=%.0f bytes=%.0f p50_us=%.0f p99_us=%.0f sockerr=%.0f status=%.0f\n",
        summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99),
        e.connect + e.read + e.write + e.timeout, e.status))
end
EOF
    # Each thread gets an id (for seeds and unique keys).
    cat >"$dir/ids.lua" <<'EOF'
local nthreads = 0
function setup(thread)
    nthreads = nthreads + 1
    thread:set("id", nthreads)
end
EOF
    cat "$dir/done.lua" >"$dir/static.lua"
    { # one path, with an Accept-Encoding; args ACCEPT_ENCODING
        cat "$dir/done.lua"
        echo 'function init(args) wrk.headers["Accept-Encoding"] = args[1] end'
    } >"$dir/ae.lua"
    { # close: one request per connection (the server closes it), so over TLS each request is a full handshake:
        # wrk keeps no TLS session to resume
        cat "$dir/done.lua"
        echo 'wrk.headers["Connection"] = "close"'
    } >"$dir/close.lua"
    { # paced: args DELAY_MS
        cat "$dir/done.lua"
        echo 'function init(args) pause = tonumber(args[1]) end'
        echo 'function delay() return pause end'
    } >"$dir/paced.lua"
    { # Zipf over N keys PREFIX0..PREFIX(N-1), rank r -> key r-1; args PREFIX N S
        cat "$dir/ids.lua" "$dir/done.lua"
        cat <<'EOF'
local cdf, reqs, n = {}, {}, 0
function init(args)
    local prefix, s = args[1], tonumber(args[3])
    n = tonumber(args[2])
    math.randomseed(7919 * id + os.time())
    local sum = 0
    for i = 1, n do sum = sum + 1 / i ^ s; cdf[i] = sum end
    for i = 1, n do cdf[i] = cdf[i] / sum; reqs[i] = wrk.format("GET", prefix .. (i - 1)) end
end
function request()
    local u, lo, hi = math.random(), 1, n
    while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if cdf[mid] < u then lo = mid + 1 else hi = mid end
    end
    return reqs[lo]
end
EOF
    } >"$dir/zipf.lua"
    { # uniform over N keys, built per request (the same client cost for 10k and 1M keys); args PREFIX N
        cat "$dir/ids.lua" "$dir/done.lua"
        cat <<'EOF'
function init(args)
    prefix, n = args[1], tonumber(args[2])
    math.randomseed(104729 * id + os.time())
end
function request() return wrk.format("GET", prefix .. math.random(0, n - 1)) end
EOF
    } >"$dir/uniform.lua"
    { # a unique query per request; args PREFIX TAG
        cat "$dir/ids.lua" "$dir/done.lua"
        cat <<'EOF'
local i = 0
function init(args) prefix = args[1] .. args[2] .. "-" .. id .. "-" end
function request()
    i = i + 1
    return wrk.format("GET", prefix .. i)
end
EOF
    } >"$dir/cold.lua"
    { # fill: keys START..START+COUNT-1 split over the threads, each once; then HIT (a path already stored)
      # until the script sees the origin's count reach COUNT and stops wrk. The first call returns HIT too:
      # wrk calls request() once on thread 1 to check the script and drops the result, so no key is lost.
      # args PREFIX START COUNT THREADS HIT
        cat "$dir/ids.lua" "$dir/done.lua"
        cat <<'EOF'
local first = true
function init(args)
    local start, count, nt = tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
    local per = math.ceil(count / nt)
    prefix, hit = args[1], wrk.format("GET", args[5])
    nxt = start + (id - 1) * per
    hi = math.min(start + count, nxt + per)
end
function request()
    if first or nxt >= hi then
        first = false
        return hit
    end
    nxt = nxt + 1
    return wrk.format("GET", prefix .. (nxt - 1))
end
EOF
    } >"$dir/fill.lua"
}
