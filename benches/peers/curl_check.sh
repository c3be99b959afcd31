#!/usr/bin/env bash
# Functional check of a running peer with curl (the requests the benchmark sends).
#   benches/peers/curl_check.sh http://127.0.0.1:<port>/scim/v2 [token]
# Loopback only. Exits non-zero on the first failed check.
set -euo pipefail
B="${1:?usage: $0 BASE_URL [token]}"; B="${B%/}"
case "$B" in http://127.0.0.1:*|http://localhost:*) ;; *) echo "loopback only" >&2; exit 2;; esac
AUTH=(-H "Authorization: Bearer ${2:-bench}")
CT=(-H "Content-Type: application/scim+json")
T="c$(date +%s%N)"
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); exec("print(" + sys.argv[1] + ")")' "$1"; }
fail() { echo "FAIL $*" >&2; exit 1; }

out=$(curl -sS -w '\n%{http_code}' -X POST "$B/Users" "${AUTH[@]}" "${CT[@]}" \
  -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"'"$T"'"}')
code=${out##*$'\n'}; body=${out%$'\n'*}
[[ $code == 201 ]] || fail "POST /Users -> $code $body"
uid=$(jget 'd["id"]' <<<"$body"); echo "ok   POST /Users -> 201 id=$uid"

n=$(curl -sS -G "$B/Users" "${AUTH[@]}" --data-urlencode "filter=userName eq \"$T\"" | jget 'd["totalResults"]')
[[ $n == 1 ]] || fail "filter userName eq -> totalResults=$n"; echo "ok   GET /Users?filter=userName eq -> 1 result"

out=$(curl -sS -w '\n%{http_code}' -X POST "$B/Groups" "${AUTH[@]}" "${CT[@]}" \
  -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"'"$T"'"}')
code=${out##*$'\n'}; body=${out%$'\n'*}
[[ $code == 201 ]] || fail "POST /Groups -> $code $body"
gid=$(jget 'd["id"]' <<<"$body"); echo "ok   POST /Groups -> 201 id=$gid"

code=$(curl -sS -o /dev/null -w '%{http_code}' -X PATCH "$B/Groups/$gid" "${AUTH[@]}" "${CT[@]}" \
  -d '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"'"$uid"'"}]}]}')
[[ $code == 200 || $code == 204 ]] || fail "PATCH /Groups/$gid -> $code"; echo "ok   PATCH /Groups/{id} add members -> $code"

m=$(curl -sS "$B/Groups/$gid" "${AUTH[@]}" | jget '[m["value"] for m in d.get("members", [])]')
[[ $m == "['$uid']" ]] || fail "GET /Groups/$gid members=$m"; echo "ok   GET /Groups/{id} members=$m"

for path in "Groups/$gid" "Users/$uid"; do
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$B/$path" "${AUTH[@]}")
  [[ $code == 204 ]] || fail "DELETE /$path -> $code"
done
echo "ok   DELETE group + user -> 204"
echo "curl check OK"
