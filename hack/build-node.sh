#!/usr/bin/env bash
# Builds the test node's Kubernetes binaries (kube-scheduler, kubelet,
# kube-proxy) from the same k8s.io/kubernetes wrapper module and version as
# the control plane (hack/k8s-build), and CoreDNS (the cluster DNS) from its
# own wrapper module (hack/coredns-build), and caches them under
# ~/.cache/scimitar. A cached binary that reports the expected version is kept.
# Prints the directory that holds the four binaries on its last line.
# hack/node.sh runs them; see there for the rest of the node.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache=${SCIMITAR_CACHE:-$HOME/.cache/scimitar}
bin="$cache/bin/node-$KUBE_VERSION-coredns-$COREDNS_VERSION"
# shellcheck source=go-build.sh
source "$here/go-build.sh"

build_coredns() {
  # Read whole before matching: `grep -q` would close the pipe early, and
  # with pipefail the version check would fail at random.
  if [ -x "$bin/coredns" ] && grep -qx "CoreDNS-${COREDNS_VERSION#v}" <<<"$("$bin/coredns" -version 2>/dev/null)"; then
    return
  fi
  echo "building coredns $COREDNS_VERSION" >&2
  (cd "$here/coredns-build" && go build -trimpath -ldflags "-s -w" -o "$bin/coredns.tmp" github.com/coredns/coredns)
  mv "$bin/coredns.tmp" "$bin/coredns"
}

build_kube kube-scheduler
build_kube kubelet
build_kube kube-proxy
build_coredns
echo "$bin"
