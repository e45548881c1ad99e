#!/usr/bin/env bash
# rfc9111-3-storing: what may be stored (RFC 9111 §3): status codes with explicit freshness, 1xx interim
# responses before the final one, hop-by-hop fields (§3.1, RFC 9110 §7.6.1) and the proxy-specific ones
# never stored, Set-Cookie shared only when the behavior says so, requests with Authorization (§3.5),
# and a 206 from the origin never stored over the complete object (§3.4).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
edge_config 'behaviors:
  - {path: "/cookie-ok/*", cache_set_cookie: true}
  - {path: "*"}'

step "§3 any understood status is stored with explicit freshness (200, 203, 204, 301, 302, 307, 404, 500)"
for code in 200 203 204 301 302 307 404 500; do
    script "/s/status-$code" "\"status\": $code, \"body\": \"\", \"headers\": {\"Cache-Control\": \"max-age=600\", \"Location\": \"/x\"}"
    forwarded "/s/status-$code"
    assert_status "$code"
    reused "/s/status-$code"
    assert_status "$code"
done

step "§3 1xx interim responses (100, 103 Early Hints) before the final one: the final one is stored"
script /s/interim '"interim": [100, [103, {"Link": "</s.css>; rel=preload"}]], "body": "final", "headers": {"Cache-Control": "max-age=600"}'
forwarded /s/interim
assert_status 200
assert_body final
reused /s/interim
assert_body final

step "§3.1 hop-by-hop fields and those any Connection line names are neither forwarded nor stored"
script /s/hop '"body": "hop", "headers": [["Cache-Control", "max-age=600"], ["Connection", "X-Hop-A"], ["Connection", "x-hop-b"], ["X-Hop-A", "1"], ["X-Hop-B", "2"], ["Keep-Alive", "timeout=5"], ["Upgrade", "h2c"], ["Trailer", "X-T"], ["Proxy-Connection", "keep-alive"], ["X-End", "3"]]'
forwarded /s/hop
for h in X-Hop-A X-Hop-B Keep-Alive Upgrade Trailer Proxy-Connection; do assert_no_header "$h"; done
assert_header X-End 3
reused /s/hop
for h in X-Hop-A X-Hop-B Keep-Alive Upgrade Trailer Proxy-Connection; do assert_no_header "$h"; done
assert_header X-End 3

step "§3.1 the proxy-specific fields (Proxy-Authenticate, Proxy-Authentication-Info) are not stored"
script /s/proxy-auth '"body": "pa", "headers": {"Cache-Control": "max-age=600", "Proxy-Authenticate": "Basic realm=\"p\"", "Proxy-Authentication-Info": "nextnonce=\"x\"", "X-End": "1"}'
forwarded /s/proxy-auth
reused /s/proxy-auth
assert_no_header Proxy-Authenticate
assert_no_header Proxy-Authentication-Info
assert_header X-End 1

step "§3 end-to-end fields are stored as received (Content-Type, X-Frame-Options, Content-Location)"
script /s/e2e '"body": "e", "headers": {"Cache-Control": "max-age=600", "Content-Type": "text/x-test", "X-Frame-Options": "deny", "Content-Location": "/s/e2e-loc"}'
forwarded /s/e2e
reused /s/e2e
assert_header Content-Type text/x-test
assert_header X-Frame-Options deny
assert_header Content-Location /s/e2e-loc

step "§3 Set-Cookie: a response that sets a cookie is not shared (detail=set-cookie) by default"
script /s/cookie '"body": "c", "headers": {"Cache-Control": "max-age=600", "Set-Cookie": "id=1"}'
forwarded /s/cookie
assert_cache MISS 'edgecache; fwd=miss; detail=set-cookie'
forwarded /s/cookie

step "§3 Set-Cookie with cache_set_cookie: true: stored with its Set-Cookie"
script /cookie-ok/a '"body": "c", "headers": {"Cache-Control": "max-age=600", "Set-Cookie": "id=1"}'
forwarded /cookie-ok/a
reused /cookie-ok/a
assert_header Set-Cookie id=1

step "§5.2.2.4 Set-Cookie named by no-cache=\"Set-Cookie\": stored and shared without it"
script /s/cookie-nc '"body": "c", "headers": {"Cache-Control": "max-age=600, no-cache=\"Set-Cookie\"", "Set-Cookie": "id=1"}'
forwarded /s/cookie-nc
assert_header Set-Cookie id=1
reused /s/cookie-nc
assert_no_header Set-Cookie

step "§3.5 a request with Authorization: not answered from the cache by a plain max-age response"
script /s/auth '"body": "a", "headers": {"Cache-Control": "max-age=600"}'
forwarded /s/auth -H 'Authorization: Basic dTpw'
forwarded /s/auth -H 'Authorization: Basic dTpw'
assert_cache MISS
forwarded /s/auth-stored
reused /s/auth-stored
forwarded /s/auth-stored -H 'Authorization: Basic dTpw'
assert_cache MISS 'edgecache; fwd=request'

for cc in public s-maxage=600 must-revalidate; do
    step "§3.5 a request with Authorization: answered from the cache when the response says $cc"
    script "/s/auth-$cc" "\"body\": \"ok\", \"headers\": {\"Cache-Control\": \"max-age=600, $cc\"}"
    forwarded "/s/auth-$cc" -H 'Authorization: Basic dTpw'
    reused "/s/auth-$cc" -H 'Authorization: Basic b3RoZXI6cA=='
    assert_body ok
done

step "§3.4 a 206 from the origin never replaces nor corrupts the complete stored object"
script /s/partial '"body": "0123456789abcdef", "etag": "\"p1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=2"}'
forwarded /s/partial
sleep 3
script /s/partial '"status": 206, "body": "0123", "etag": "\"p1\"", "headers": {"Cache-Control": "max-age=600", "Content-Range": "bytes 0-3/16"}'
forwarded /s/partial
assert_status 206
assert_not_stored
script /s/partial '"body": "must not be served", "etag": "\"p1\"", "304_if_match": true, "headers": {"Cache-Control": "max-age=600"}'
forwarded /s/partial
assert_status 200
assert_cache REVALIDATED
assert_body 0123456789abcdef
reused /s/partial
assert_body 0123456789abcdef

pass
