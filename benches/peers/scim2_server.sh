#!/usr/bin/env bash
# Start scim2-server (in memory) on 127.0.0.1:<port>, in the foreground.
# Base URL: http://127.0.0.1:<port>/scim/v2   Auth: none (see README.md).
# Run install.sh first.
set -euo pipefail
if [[ $# -ne 1 ]]; then echo "usage: $0 <port>" >&2; exit 2; fi
DIR="${BENCH_PEERS_DIR:-$HOME/.cache/scimitar/bench-peers}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ ! -x "$DIR/venv/bin/python" ]]; then
  echo "$0: $DIR/venv missing; run $HERE/install.sh" >&2; exit 1
fi
exec "$DIR/venv/bin/python" "$HERE/scim2_peer.py" "$1"
