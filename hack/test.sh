#!/usr/bin/env bash
# `make test`: lint, then the whole suite against a real control plane.
# .ci/run runs exactly this after installing what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

hack/prereqs.sh                                      # seconds: apt packages, toolchains (hack/prereqs.sh)
PATH="$(hack/install-tools.sh | tail -n 1):$PATH"   # kubectl v1.35 and helm v4 (cached)
export PATH
hack/build-control-plane.sh >/dev/null               # etcd + kube-apiserver + kube-controller-manager (cached)
hack/build-node.sh >/dev/null                        # kube-scheduler, kubelet, kube-proxy, CoreDNS for the pod tests (cached)

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
step "cargo test (unit tests, then tests/e2e and tests/memory: each binary starts a real control plane on first use)"
cargo test
step "SCIM conformance: scim2-tester and scim-sanity against a live scimitar serve"
hack/scim-checkers.sh
