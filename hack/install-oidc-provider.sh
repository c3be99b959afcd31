#!/usr/bin/env bash
# Installs the OIDC provider that `make dev` and the console tests sign in
# at (PyPI oidc-provider-mock, pinned) into a venv in the cache. Prints the
# executable's path on its last line. Idempotent.
set -euo pipefail
pin=oidc-provider-mock==0.3.4
venv=${SCIMITAR_CACHE:-$HOME/.cache/scimitar}/oidc-venv
if [ ! -e "$venv/.$pin" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "$pin"
  touch "$venv/.$pin"
fi
echo "$venv/bin/oidc-provider-mock"
