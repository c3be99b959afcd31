#!/usr/bin/env bash
# The suite's prerequisites, checked in the first seconds of `make test` and
# `.ci/run` (one installer for both). What Debian packages can provide is
# installed with apt when we may (root, or sudo without a password);
# otherwise this stops at once and prints the one command that fixes it.
# Toolchains (Rust, Go) are never installed here: it names how to get them.
set -euo pipefail

# command:package. chromium, node and npm drive the console's browser test
# (tests/e2e/console_sso.rs); python3-venv holds the SCIM checkers and the OIDC
# provider; setsid (util-linux) runs the control plane in its own group.
# The test node (hack/node.sh, tests/e2e/pods_on_a_node.rs) runs pods with
# containerd and runc on CNI plugins (bridge, host-local, loopback, portmap in
# /usr/lib/cni), its pause process is catatonit, kube-proxy programs iptables
# and clears conntrack entries, and the kubelet needs mount, nsenter, ip.
wanted=(curl:curl openssl:openssl python3:python3 setsid:util-linux make:make
  chromium:chromium node:nodejs npm:npm git:git
  containerd:containerd runc:runc catatonit:catatonit iptables:iptables
  conntrack:conntrack ip:iproute2 nsenter:util-linux)

missing=()
for tool in "${wanted[@]}"; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
if command -v python3 >/dev/null 2>&1; then
  python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
  python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
fi

if [ ${#missing[@]} -gt 0 ]; then
  command="apt-get install -y ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo"; else sudo=none; fi
  if [ "$sudo" = none ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "prereqs: missing ${missing[*]}; install them, e.g.: sudo $command" >&2
    exit 1
  fi
  echo "prereqs: installing ${missing[*]} with apt" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Toolchains: versions checked, not installed.
version_at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
if ! command -v cargo >/dev/null 2>&1; then
  echo "prereqs: no Rust toolchain; install one: curl https://sh.rustup.rs -sSf | sh" >&2
  exit 1
fi
rust=$(rustc --version | awk '{print $2}')
version_at_least "$rust" 1.89 || { echo "prereqs: Rust $rust is older than 1.89: rustup update stable" >&2; exit 1; }
if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^clippy' && rustup component list --installed | grep -q '^rustfmt' \
    || rustup component add rustfmt clippy >/dev/null
fi
if ! command -v go >/dev/null 2>&1; then
  echo "prereqs: Go (1.24 or newer) builds the control plane; install it from https://go.dev/dl/ or: sudo apt-get install -y golang-go" >&2
  exit 1
fi
go=$(go env GOVERSION); go=${go#go}
version_at_least "$go" 1.24 || { echo "prereqs: Go $go is older than 1.24 (the control plane needs 1.24)" >&2; exit 1; }
echo "prereqs: ok (rust $rust, go $go, $(chromium --version 2>/dev/null | head -n1), node $(node --version))" >&2
