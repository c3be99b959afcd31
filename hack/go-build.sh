# Sourced by build-control-plane.sh and build-node.sh after they source
# versions.env and set $here, $cache and $bin: the Go environment (modules and build cache under
# ~/.cache/scimitar, no toolchain download, static binaries) and build_kube,
# which builds one command of the k8s.io/kubernetes wrapper (hack/k8s-build)
# with the version stamped in, unless $bin holds it at $KUBE_VERSION already.
# shellcheck shell=bash
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gobuild"
mkdir -p "$bin"

minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean"

build_kube() {
  local name=$1
  # Read whole before matching: `grep -q` closes the pipe early, and with
  # pipefail the check then fails at random and rebuilds.
  if [ -x "$bin/$name" ] && grep -qx "Kubernetes $KUBE_VERSION" <<<"$("$bin/$name" --version 2>/dev/null)"; then
    return
  fi
  echo "building $name $KUBE_VERSION (a cold build takes many minutes on 2 cores)" >&2
  (cd "$here/k8s-build" && go build -trimpath -ldflags "$ldflags" -o "$bin/$name.tmp" "k8s.io/kubernetes/cmd/$name")
  mv "$bin/$name.tmp" "$bin/$name"
}
