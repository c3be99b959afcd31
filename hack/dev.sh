#!/usr/bin/env bash
# `make dev`: the whole product against a cluster in one command.
# Uses the cluster of the current kubeconfig context if one answers; otherwise
# starts the local control plane (hack/control-plane.sh). Then, as an install
# would: the CRDs, the chart's ServiceAccount, RBAC and admission policy, the
# example tenant (examples/acme/) with a SCIM token and an OIDC client at a
# local HTTPS provider (oidc-provider-mock, hack/oidc-provider.sh), the
# operator running under the chart's ServiceAccount with the console on, and
# a directory seeded by replaying a recorded day of JumpCloud provisioning
# over SCIM. On the local control plane, kube-apiserver also trusts the
# provider (the Connect page's AuthenticationConfiguration, `scimitar
# connect`), and each seeded person gets a kubeconfig with their ID token.
# Ports: SCIMITAR_LISTEN (127.0.0.1:8080), SCIMITAR_METRICS_LISTEN
# (127.0.0.1:9090), SCIMITAR_DEV_OIDC_PORT (9400). SCIMITAR_BIN runs that
# binary instead of building one; SCIMITAR_DEV_DIR (.dev) keeps the token,
# the kubeconfigs and the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$(hack/install-tools.sh | tail -n 1):$PATH"; export PATH
listen=${SCIMITAR_LISTEN:-127.0.0.1:8080}
metrics=${SCIMITAR_METRICS_LISTEN:-127.0.0.1:9090}
oidc_port=${SCIMITAR_DEV_OIDC_PORT:-9400}
base="http://$listen"
ns=scimitar-system
tenant=acme
dev=${SCIMITAR_DEV_DIR:-.dev}
mkdir -p "$dev"

if [ -z "${SCIMITAR_DEV_LOCAL:-}" ] && kubectl config current-context >/dev/null 2>&1 \
   && kubectl get --raw /readyz >/dev/null 2>&1; then
  echo "Using the cluster of context '$(kubectl config current-context)' (set SCIMITAR_DEV_LOCAL=1 for a local control plane)."
  as_admin=""
else
  # The API server reads the tenant's authentication config from this file,
  # written below once the tenant has its OIDC client, and reloads it.
  KUBECONFIG=$(hack/control-plane.sh start --dir "$dev/control-plane" \
    --authentication-config "$(realpath "$dev")/authentication-config.yaml" | tail -n 1); export KUBECONFIG
  echo "Started a local control plane; KUBECONFIG=$KUBECONFIG"
  as_admin="KUBECONFIG=$KUBECONFIG "
fi

# Build first: the rest takes seconds, and the operator must follow at once.
if [ -z "${SCIMITAR_BIN:-}" ]; then
  cargo build --quiet --bin scimitar
  SCIMITAR_BIN=${CARGO_TARGET_DIR:-target}/debug/scimitar
fi

children=()
cleanup() { for p in "${children[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

apply() { kubectl apply --server-side --field-manager scimitar-dev --force-conflicts "$@" >/dev/null; }
apply -f crds/
kubectl wait --for condition=established --timeout=60s -f crds/ >/dev/null
kubectl create namespace "$ns" --dry-run=client -o yaml | apply -f -
# The operator gets exactly what the chart gives it (release `scimitar`).
helm template scimitar charts/scimitar --namespace "$ns" \
  --show-only templates/serviceaccount.yaml --show-only templates/rbac.yaml \
  --show-only templates/admission-policy.yaml | apply -f -
apply -f examples/acme/
echo "Installed the CRDs, the chart's RBAC and the example tenant '$tenant' (examples/acme/)."

# The tenant's SCIM token: kept in $SCIMITAR_DEV_DIR (.dev/) for you; only its digest goes into the
# cluster, in the operator's namespace (never the tenant's, whose editors could
# replace it), labelled for the tenant.
secret() { # name key value
  kubectl create secret generic "$1" -n "$ns" --from-literal="$2=$3" --dry-run=client -o yaml \
    | kubectl label --local -f - scimitar.dev/tenant=$tenant -o yaml | apply -f -
}
if [ ! -s "$dev/acme-token" ] || ! kubectl get secret -n "$ns" acme-scim-token >/dev/null 2>&1; then
  openssl rand -base64 32 | tr -d '\n' > "$dev/acme-token"
  secret acme-scim-token token-sha256 "$(tr -d '\n' < "$dev/acme-token" | sha256sum | cut -c1-64)"
fi
token=$(cat "$dev/acme-token")

# The tenant's identity provider: oidc-provider-mock on loopback, with a
# client registered for the console's redirect URI; its secret goes into a
# Secret beside the token's, and the tenant's spec.oidc points at it.
# HTTPS with a CA of its own ($dev/oidc/ca.crt): kube-apiserver trusts only
# https issuers, and the operator trusts the CA through SSL_CERT_FILE.
issuer="https://127.0.0.1:$oidc_port"
ca="$dev/oidc/ca.crt"
hack/oidc-provider.sh serve --dir "$dev/oidc" --port "$oidc_port" --require-registration true \
  --require-nonce true --token-max-age 28800 >"$dev/oidc-provider.log" 2>&1 &
children+=($!)
for _ in $(seq 300); do
  curl -fsS --cacert "$ca" "$issuer/.well-known/openid-configuration" >/dev/null 2>&1 && break
  kill -0 "${children[-1]}" 2>/dev/null || { echo "the OIDC provider stopped; see $dev/oidc-provider.log" >&2; exit 1; }
  sleep 0.2
done
redirect_uri="$base/api/auth/callback/jumpcloud"
client=$(curl -fsS --cacert "$ca" -X POST "$issuer/oauth2/clients" -H 'Content-Type: application/json' \
  -d "{\"redirect_uris\": [\"$redirect_uri\"], \"token_endpoint_auth_method\": \"client_secret_basic\"}")
client_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$client")
client_secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$client")
secret acme-oidc client-secret "$client_secret"
kubectl patch scimtenant "$tenant" --type merge -p "{\"spec\": {\"oidc\": {\"issuerUrl\": \"$issuer\", \
\"clientId\": \"$client_id\", \"clientSecretRef\": {\"name\": \"acme-oidc\", \"key\": \"client-secret\"}}}}" >/dev/null
if [ -n "$as_admin" ]; then
  # What the Connect page tells a cluster admin, with the provider's CA;
  # kube-apiserver picks the file up about 10 s after it changes.
  "$SCIMITAR_BIN" connect --tenant $tenant --certificate-authority "$ca" > "$dev/authentication-config.yaml.new"
  mv "$dev/authentication-config.yaml.new" "$dev/authentication-config.yaml"
fi

# The operator's kubeconfig: this cluster, as the chart's ServiceAccount.
kubectl config view --minify --flatten > "$dev/operator.kubeconfig"
admin_user=$(kubectl config view --minify -o jsonpath='{.users[0].name}')
sa_token=$(kubectl create token scimitar -n "$ns" --duration 24h)
KUBECONFIG="$dev/operator.kubeconfig" kubectl config unset "users.$admin_user" >/dev/null
KUBECONFIG="$dev/operator.kubeconfig" kubectl config set-credentials scimitar --token="$sa_token" >/dev/null
KUBECONFIG="$dev/operator.kubeconfig" kubectl config set-context --current --user=scimitar >/dev/null

SSL_CERT_FILE="$ca" "$SCIMITAR_BIN" run --listen "$listen" --metrics-listen "$metrics" \
  --kubeconfig "$dev/operator.kubeconfig" --public-url "$base/scim/v2" &
children+=($!)
operator=$!
# Ready once the directory answers: the token is known and the cache synced.
for _ in $(seq 300); do
  curl -fsS -H "Authorization: Bearer $token" "$base/scim/v2/Users?count=1" >/dev/null 2>&1 && break
  kill -0 "$operator" 2>/dev/null || { echo "the operator stopped" >&2; exit 1; }
  sleep 0.2
done

# A directory to look at: JumpCloud's recorded day (three users, three
# groups, a rename and a deactivation), replayed over SCIM into an empty tenant.
if [ -z "$(kubectl get scimusers -n $tenant -o name)" ]; then
  "$SCIMITAR_BIN" replay --url "$base/scim/v2" --token-file "$dev/acme-token" \
    tests/fixtures/idp/jumpcloud/day.yaml >"$dev/seed.log"
  echo "Seeded the directory: tests/fixtures/idp/jumpcloud/day.yaml replayed over SCIM ($(grep -c '^ok' "$dev/seed.log") requests)."
fi
# The provider vouches for each provisioned person's email, as the tenant's
# IdP would: the claims come from their ScimUsers.
kubectl wait --for=jsonpath='{.status.email}' --timeout=30s scimusers --all -n $tenant >/dev/null
kubectl get scimusers -n $tenant -o json | python3 -c '
import json, sys
for u in json.load(sys.stdin)["items"]:
    email = u["status"]["email"]
    claims = {"email": email, "email_verified": True, "groups": u["status"].get("groups", []),
              "name": u["spec"].get("displayName", email), "preferred_username": u["spec"]["userName"]}
    print(email, json.dumps(claims))' | while read -r sub claims; do
  curl -fsS --cacert "$ca" -X PUT "$issuer/users/$sub" -H 'Content-Type: application/json' -d "$claims" >/dev/null
done
admin=$(kubectl get scimusers -n $tenant -o json | python3 -c '
import json, sys
users = json.load(sys.stdin)["items"]
print(next(u["status"]["email"] for u in users if "acme-platform" in u["status"].get("groups", [])))')

# On the local control plane: a kubeconfig per seeded person, holding the ID
# token they get by signing in at the provider (the authorization-code flow,
# as a browser would run it; valid 8 hours).
people=""
if [ -n "$as_admin" ]; then
  mkdir -p "$dev/people"
  for email in $(kubectl get scimusers -n $tenant -o jsonpath='{.items[*].status.email}'); do
    query=$(python3 -c 'import sys, urllib.parse as u; print(u.urlencode({"response_type": "code", "client_id": sys.argv[1],
      "redirect_uri": sys.argv[2], "scope": "openid email profile", "state": "dev", "nonce": "dev"}))' "$client_id" "$redirect_uri")
    back=$(curl -fsS --cacert "$ca" -o /dev/null -w '%{redirect_url}' -X POST "$issuer/oauth2/authorize?$query" --data-urlencode "sub=$email")
    code=$(python3 -c 'import sys, urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["code"][0])' "$back")
    id_token=$(curl -fsS --cacert "$ca" -u "$client_id:$client_secret" "$issuer/oauth2/token" -d grant_type=authorization_code \
      --data-urlencode "code=$code" --data-urlencode "redirect_uri=$redirect_uri" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id_token"])')
    file="$dev/people/${email%%@*}.kubeconfig"
    kubectl config view --minify --flatten > "$file"
    KUBECONFIG="$file" kubectl config unset "users.$admin_user" >/dev/null
    KUBECONFIG="$file" kubectl config set-credentials "$email" --token="$id_token" >/dev/null
    KUBECONFIG="$file" kubectl config set-context --current --user="$email" >/dev/null
  done
  people="
  As a person:    KUBECONFIG=$dev/people/${admin%%@*}.kubeconfig kubectl auth whoami
                  KUBECONFIG=$dev/people/bob.kubeconfig kubectl auth can-i --list -n acme-dev
                  (the API server accepts their ID tokens about 10 s after start; ada is deactivated)"
fi

cat <<MSG

scimitar is running. Next:
  Console:        $base/console/$tenant/
                  sign in as $admin (type it into the provider's form; the
                  tenant's console admins are the group acme-platform).
                  The provider, $issuer, has a certificate from make dev's
                  own CA ($ca): the browser warns once; proceed, or trust it.
  SCIM base URL:  $base/scim/v2
  Bearer token:   $token   (also in $dev/acme-token)
  Test:           curl -H "Authorization: Bearer \$(cat $dev/acme-token)" $base/scim/v2/Users
  Conformance:    hack/scim-checkers.sh $base/scim/v2 "\$(cat $dev/acme-token)"
  Replay an IdP:  $SCIMITAR_BIN replay --url $base/scim/v2 --token-file $dev/acme-token --var test_email=it@acme.example tests/fixtures/idp/jumpcloud/activate.yaml
  More tokens:    ${as_admin}$SCIMITAR_BIN token create --tenant $tenant --name "JumpCloud SCIM"
  Metrics:        http://$metrics/metrics$people
  Try:            ${as_admin}kubectl get scim -n $tenant
                  ${as_admin}kubectl get scimusers -n $tenant -o wide
Stop with Ctrl-C; stop the local control plane with 'make stop'.

MSG
wait "$operator"
