#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager from published Go
# modules (no release downloads are reachable here) and caches them under
# ~/.cache/scimitar. A cached binary that reports the expected version is kept.
# Prints the directory that holds the three binaries on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache=${SCIMITAR_CACHE:-$HOME/.cache/scimitar}
bin="$cache/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION"
# shellcheck source=go-build.sh
source "$here/go-build.sh"

build_etcd() {
  # Read whole before matching: `grep -q` closes the pipe early, and with
  # pipefail the check then failed at random and rebuilt etcd.
  if [ -x "$bin/etcd" ] && grep -q "etcd Version: ${ETCD_VERSION#v}$" <<<"$("$bin/etcd" --version 2>/dev/null)"; then
    return
  fi
  echo "building etcd $ETCD_VERSION" >&2
  (cd "$here/etcd-build" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd.tmp" "$bin/etcd"
}

build_etcd
build_kube kube-apiserver
build_kube kube-controller-manager
echo "$bin"
