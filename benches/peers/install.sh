#!/usr/bin/env bash
# Install the SCIM peer servers used by the benchmarks, at pinned versions, into
# ~/.cache/scimitar/bench-peers/ (override with BENCH_PEERS_DIR).
#   venv/  Python venv with scim2-server (+ gunicorn as the WSGI server)
#   node/  npm prefix with scimmy + scimmy-routers + express
# Idempotent: does nothing when the marker file lists the same pins.
# Needs: python3 (>=3.11, for scim2-server), node (>=16) and npm, and access to
# PyPI and the npm registry.
set -euo pipefail

DIR="${BENCH_PEERS_DIR:-$HOME/.cache/scimitar/bench-peers}"

# Pins. The Python transitive deps are pinned too (as pip resolved them with the
# versions below) so that a later PyPI release cannot change the peer.
PY_PINS=(
  scim2-server==0.8.3
  scim2-models==0.12.3
  pydantic==2.14.4
  pydantic_core==2.50.5
  annotated-types==0.8.0
  typing-inspection==0.4.5
  typing_extensions==4.16.0
  lark==1.3.1
  email-validator==2.4.0
  dnspython==2.9.2
  idna==3.20
  gunicorn==27.0.1
)
# npm pins: npm/package.json (scimmy 1.3.5, scimmy-routers 1.3.2, express
# 4.22.3) and npm/package-lock.json, which pins every transitive package.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

MARKER="$DIR/.installed"
WANT="$(printf '%s\n' "${PY_PINS[@]}"; cat "$HERE/npm/package.json" "$HERE/npm/package-lock.json" | sha256sum)"

if [[ -f "$MARKER" ]] && [[ "$(cat "$MARKER")" == "$WANT" ]] \
   && [[ -x "$DIR/venv/bin/python" ]] && [[ -d "$DIR/node/node_modules/scimmy-routers" ]]; then
  echo "bench peers already installed in $DIR"
  exit 0
fi

mkdir -p "$DIR"
rm -f "$MARKER"

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "install.sh: scim2-server needs Python >= 3.11 ($PY is $("$PY" -V 2>&1))" >&2
  exit 1
fi

echo "==> Python venv: $DIR/venv"
rm -rf "$DIR/venv"
"$PY" -m venv "$DIR/venv"
"$DIR/venv/bin/pip" install --quiet --disable-pip-version-check "${PY_PINS[@]}"

echo "==> npm prefix: $DIR/node"
rm -rf "$DIR/node"
mkdir -p "$DIR/node"
# Our own package.json + lock in the prefix, so npm installs exactly the locked
# tree into $DIR/node/node_modules and never walks up to another project.
cp "$HERE/npm/package.json" "$HERE/npm/package-lock.json" "$DIR/node/"
npm ci --prefix "$DIR/node" --no-audit --no-fund --loglevel=error

printf '%s\n' "$WANT" > "$MARKER"
echo "bench peers installed in $DIR"
