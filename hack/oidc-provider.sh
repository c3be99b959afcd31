#!/usr/bin/env bash
# The test OIDC provider (PyPI oidc-provider-mock, pinned), served over HTTPS
# with a CA of its own: kube-apiserver accepts only https issuers. Used by
# tests/e2e/apiserver_sign_in.rs; `make dev` can run it the same way.
#
#   oidc-provider.sh install                     create the cached venv (once);
#                                                print its bin directory
#   oidc-provider.sh serve --dir DIR --port PORT [oidc-provider-mock options...]
#
# `serve` creates DIR/ca.crt and a serving certificate for 127.0.0.1 and
# localhost signed by it (once), then runs the provider in the foreground on
# 127.0.0.1:PORT. The issuer is https://127.0.0.1:PORT (no trailing slash);
# trust DIR/ca.crt to reach it (in an AuthenticationConfiguration, its PEM text
# goes in jwt[].issuer.certificateAuthority). Other options are passed to
# oidc-provider-mock: --token-max-age SECONDS, --require-registration true, ...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

pinned="oidc-provider-mock==0.3.4"
venv=${SCIMITAR_CACHE:-$HOME/.cache/scimitar}/oidc-venv

install() {
  [ -f "$venv/.$pinned" ] && return 0
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "$pinned"
  touch "$venv/.$pinned"
}

make_pki() {
  local dir=$1
  [ -f "$dir/tls.crt" ] && return 0
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=scimitar-oidc-test-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj "/CN=oidc-provider-mock" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > tls.ext
    openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 3650 -extfile tls.ext 2>/dev/null
    rm -f tls.csr tls.ext
  )
}

cmd=${1:-}; shift || true
case "$cmd" in
  install)
    install
    echo "$venv/bin"
    ;;
  serve)
    dir=""; port=""
    while [ $# -gt 0 ]; do
      case "$1" in
        --dir) dir=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        *) break ;;
      esac
    done
    if [ -z "$dir" ] || [ -z "$port" ]; then sed -n '2,15p' "$0" >&2; exit 2; fi
    install
    make_pki "$dir"
    exec "$venv/bin/python" "$here/oidc_provider_tls.py" "$dir/tls.crt" "$dir/tls.key" \
      --host 127.0.0.1 --port "$port" "$@"
    ;;
  *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
