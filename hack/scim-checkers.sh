#!/usr/bin/env bash
# Runs the third-party SCIM conformance checkers, scim2-tester (through
# scim2-cli) and scim-sanity, against a live scimitar.
#
#   hack/scim-checkers.sh              start `scimitar serve` (in-memory store) and check it
#   hack/scim-checkers.sh URL TOKEN    check a running server, e.g. the `make dev` operator
#                                      (`scimitar run`, Kubernetes store, shipped limits) at
#                                      http://127.0.0.1:8080/scim/v2 with the tenant's token
#
# Output of each checker goes to target/scim-checkers/; a summary line per
# checker is printed. Exits non-zero when either reports a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${SCIMITAR_CACHE:-$HOME/.cache/scimitar}
venv="$cache/venv-checkers"
out=${SCIM_CHECKERS_OUT:-target/scim-checkers}; mkdir -p "$out"

pins="scim2-tester==0.5.2 scim2-cli==0.6.0 scim-sanity==0.7.4"
if [ ! -f "$venv/.pins" ] || [ "$(cat "$venv/.pins")" != "$pins" ]; then
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet $pins
  echo "$pins" > "$venv/.pins"
fi

server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

if [ $# -ge 2 ]; then
  base=$1; token=$2
else
  cargo build --quiet
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  token="checker-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  "${CARGO_TARGET_DIR:-target}/debug/scimitar" serve --listen "127.0.0.1:$port" --token "checkers=$token" \
    > "$out/server.log" 2>&1 &
  server_pid=$!
  base="http://127.0.0.1:$port/scim/v2"
  for _ in $(seq 1 100); do
    curl -fsS "$base/ServiceProviderConfig" >/dev/null 2>&1 && break
    sleep 0.1
  done
fi

status=0
SCIM_CLI_HEADERS="Authorization: Bearer $token" "$venv/bin/scim2" --url "$base" test > "$out/scim2-tester.log" 2>&1 || status=1
ok=$(grep -c '^SUCCESS' "$out/scim2-tester.log" || true)
bad=$(grep -c '^ERROR' "$out/scim2-tester.log" || true)
skipped=$(grep -c '^SKIPPED' "$out/scim2-tester.log" || true)
echo "scim2-tester: $ok passed, $bad failed, $skipped skipped"
if [ "$bad" != 0 ] || [ "$skipped" != 0 ] || [ "$ok" = 0 ]; then
  grep -E '^(ERROR|SKIPPED)' "$out/scim2-tester.log" | head -40 || true
  status=1
fi

if "$venv/bin/scim-sanity" probe "$base" --token "$token" --i-accept-side-effects > "$out/scim-sanity.log" 2>&1; then
  :
else
  status=1
  grep -iE 'fail' "$out/scim-sanity.log" | head -40 || true
fi
echo "scim-sanity: $(grep -E '[0-9]+ passed' "$out/scim-sanity.log" | tail -n 1 | sed 's/^[^0-9]*//')"
exit $status
