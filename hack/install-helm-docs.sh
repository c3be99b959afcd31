#!/usr/bin/env bash
# Builds helm-docs (which writes charts/scimitar/README.md from the comments in
# values.yaml) from its published Go module into ~/.cache/scimitar/tools, as
# no release download is reachable here. Prints the binary's path on its last
# line. Idempotent: a cached binary is kept.
set -euo pipefail
version=v1.14.2
cache=${SCIMITAR_CACHE:-$HOME/.cache/scimitar}
bin="$cache/tools/helm-docs-$version/bin"
if [ ! -x "$bin/helm-docs" ]; then
  export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
  export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gobuild"
  mkdir -p "$bin"
  echo "building helm-docs $version" >&2
  GOBIN="$bin" go install -trimpath -ldflags "-s -w" "github.com/norwoodj/helm-docs/cmd/helm-docs@$version"
fi
echo "$bin/helm-docs"
