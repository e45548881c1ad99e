#!/usr/bin/env bash
# rfc9111-5.4-pragma: Pragma: no-cache (RFC 9111 §5.4). In a response without Cache-Control it counts as
# Cache-Control: no-cache (stored, revalidated on every use); with Cache-Control it is ignored. In a
# request it follows the request_cache_control switch, like Cache-Control: no-cache.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_origin O
edge_config 'behaviors:
  - {path: "/honor/*", request_cache_control: honor}
  - {path: "*"}'

step "§5.4 response Pragma: no-cache without Cache-Control: revalidated on every use"
script /p/resp "\"body\": \"r\", \"etag\": \"\\\"r\\\"\", \"304_if_match\": true, \"headers\": {\"Pragma\": \"no-cache\", \"Expires\": \"$(http_date 600)\"}"
forwarded /p/resp
forwarded /p/resp
assert_cache REVALIDATED 'edgecache; fwd=stale; fwd-status=304'

step "§5.4 response Pragma: no-cache with Cache-Control: Cache-Control decides"
script /p/resp-cc '"body": "c", "headers": {"Pragma": "no-cache", "Cache-Control": "max-age=600"}'
forwarded /p/resp-cc
reused /p/resp-cc

step "§5.4 request Pragma: no-cache is ignored by default (request_cache_control: ignore)"
script /p/req '"body": "q", "headers": {"Cache-Control": "max-age=600"}'
forwarded /p/req
reused /p/req -H 'Pragma: no-cache'

step "§5.4 request Pragma: no-cache without Cache-Control, honored: goes to the origin"
script /honor/req '"body": "q", "headers": {"Cache-Control": "max-age=600"}'
forwarded /honor/req
forwarded /honor/req -H 'Pragma: no-cache'

pass
