#!/usr/bin/env bash
# `make dev`: a running operator against a cluster in one command.
# Uses the cluster of the current kubeconfig context if one answers; otherwise
# starts the local control plane (hack/control-plane.sh). Then installs the CRDs
# and the example tenant and runs the operator in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$(hack/install-tools.sh | tail -n 1):$PATH"; export PATH
listen=${SCIMITAR_LISTEN:-127.0.0.1:8080}

if [ -z "${SCIMITAR_DEV_LOCAL:-}" ] && kubectl config current-context >/dev/null 2>&1 \
   && kubectl get --raw /readyz >/dev/null 2>&1; then
  echo "Using the cluster of context '$(kubectl config current-context)' (set SCIMITAR_DEV_LOCAL=1 for a local control plane)."
else
  KUBECONFIG=$(hack/control-plane.sh start | tail -n 1); export KUBECONFIG
  echo "Started a local control plane; KUBECONFIG=$KUBECONFIG"
fi

kubectl apply --server-side -f crds/ >/dev/null
kubectl wait --for condition=established --timeout=60s -f crds/ >/dev/null
kubectl apply --server-side -f examples/acme/ >/dev/null
# The operator's namespace holds its leader-election Lease and the tenant's Secrets.
kubectl create namespace scimitar-system --dry-run=client -o yaml | kubectl apply --server-side -f - >/dev/null
echo "Installed the CRDs and the example tenant 'acme' (examples/acme/)."

# The tenant's SCIM token: kept in .dev/ for you; only its digest goes into the
# cluster, in the operator's namespace (never the tenant's, whose editors could
# replace it), labelled for the tenant.
mkdir -p .dev
if [ ! -s .dev/acme-token ] || ! kubectl get secret -n scimitar-system acme-scim-token >/dev/null 2>&1; then
  openssl rand -base64 32 | tr -d '\n' > .dev/acme-token
  digest=$(tr -d '\n' < .dev/acme-token | sha256sum | cut -c1-64)
  kubectl create secret generic acme-scim-token -n scimitar-system --from-literal=token-sha256="$digest" \
    --dry-run=client -o yaml | kubectl label --local -f - scimitar.dev/tenant=acme -o yaml \
    | kubectl apply --server-side --force-conflicts -f - >/dev/null
fi
token=$(cat .dev/acme-token)

cargo build --quiet
cat <<MSG

scimitar is starting. Next:
  SCIM base URL:  http://$listen/scim/v2
  Bearer token:   $token   (also in .dev/acme-token)
  Test:           curl -H "Authorization: Bearer \$(cat .dev/acme-token)" http://$listen/scim/v2/Users
  Conformance:    hack/scim-checkers.sh http://$listen/scim/v2 "\$(cat .dev/acme-token)"
  More tokens:    KUBECONFIG=$KUBECONFIG target/debug/scimitar token create --tenant acme --name "JumpCloud SCIM"
  Metrics:        http://127.0.0.1:9090/metrics
  Try:            KUBECONFIG=$KUBECONFIG kubectl get scim -n acme
                  KUBECONFIG=$KUBECONFIG kubectl get scimusers -n acme
Stop with Ctrl-C; stop the local control plane with 'make stop'.

MSG
exec target/debug/scimitar run --listen "$listen" --metrics-listen "${SCIMITAR_METRICS_LISTEN:-127.0.0.1:9090}" --kubeconfig "$KUBECONFIG"
