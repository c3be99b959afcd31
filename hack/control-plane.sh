#!/usr/bin/env bash
# A real, local Kubernetes control plane for scimitar's tests, `make dev` and the
# benchmarks: etcd + kube-apiserver (RBAC on) + kube-controller-manager (garbage
# collector, namespace and ClusterRole-aggregation controllers), on 127.0.0.1
# with free ports. Idempotent; leaves no stray processes after `stop`.
#
#   control-plane.sh start [--dir DIR] [--owner-pid PID] [--authentication-config FILE]
#                          [--node ADDRESS]               start (or reuse) one
#   control-plane.sh stop [--dir DIR] [--clean]           stop it (and delete DIR)
#   control-plane.sh restart-apiserver [--dir DIR]        restart kube-apiserver, keep etcd
#   control-plane.sh status [--dir DIR]                   exit 0 when it answers
#
# DIR defaults to .dev/control-plane in the repository. `start` prints the admin
# kubeconfig path on its last line. With --owner-pid, a watchdog stops the control
# plane once that process is gone (used by the test harness).
#
# --authentication-config FILE passes a structured AuthenticationConfiguration
# (apiserver.config.k8s.io/v1, e.g. the console's Connect page output plus
# issuer.certificateAuthority) to kube-apiserver, which signs in OIDC users with
# it. A missing FILE is created with no authenticators. kube-apiserver watches
# FILE and applies edits once every new issuer answers (about 10 s), so
# authenticators can be added while it runs. The path is kept for
# restart-apiserver; a running control plane started with another (or none) is
# restarted.
#
# --node ADDRESS makes it the control plane of a node that runs pods
# (hack/node.sh passes it; nothing else does): kube-apiserver binds ADDRESS (an
# address on the node's bridge, which pods reach) instead of 127.0.0.1 and
# publishes it as the `kubernetes` Service's endpoint, ServiceAccount admission
# mounts tokens, kube-controller-manager also runs the controllers pods need
# (Deployments, ReplicaSets, EndpointSlices, ServiceAccounts and their tokens,
# the root CA publisher, PodDisruptionBudgets, pod GC, node lifecycle, which
# lifts the not-ready taint), and kube-scheduler runs. Without it nothing
# changes: processes on loopback, three controllers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

cmd=${1:-}; shift || true
dir="$repo/.dev/control-plane"; owner=""; clean=false; authn=""; node=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --owner-pid) owner=$2; shift 2 ;;
    --clean) clean=true; shift ;;
    --authentication-config) authn=$2; shift 2 ;;
    --node) node=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
if [ -n "$authn" ]; then
  mkdir -p "$(dirname "$authn")"; authn="$(cd "$(dirname "$authn")" && pwd)/$(basename "$authn")"
fi
pki="$dir/pki"; logs="$dir/logs"; run="$dir/run"
kubeconfig="$dir/kubeconfig"

log() { echo "control-plane: $*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

alive() { [ -f "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

stop_one() {
  local name=$1 pid
  [ -f "$run/$name.pid" ] || return 0
  pid=$(cat "$run/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$run/$name.pid"
}

wait_until() { # wait_until SECONDS DESCRIPTION COMMAND...
  local deadline=$(( $(date +%s) + $1 )) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "timed out waiting for $what; last log lines:"; tail -n 30 "$logs"/*.log >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

make_pki() {
  [ -f "$pki/admin.crt" ] && return 0
  mkdir -p "$pki"; local o="openssl"
  (
    cd "$pki"
    $o req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=scimitar-test-ca" 2>/dev/null
    $o req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    local sans="IP:127.0.0.1,DNS:localhost"
    if [ -n "$node" ]; then
      # Pods call it at its bridge address (the Service's endpoint) and by
      # the `kubernetes` Service's cluster IP and names.
      sans="$sans,IP:$node,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    fi
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$sans" > apiserver.ext
    $o x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 -extfile apiserver.ext 2>/dev/null
    $o req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=scimitar-admin" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > client.ext
    $o x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 3650 -extfile client.ext 2>/dev/null
    $o genrsa -out sa.key 2048 2>/dev/null
    $o rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr
  )
}

write_kubeconfig() {
  local port=$1
  cat > "$kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: scimitar-dev
  cluster:
    server: https://${NODE_ADDRESS:-127.0.0.1}:$port
    certificate-authority: $pki/ca.crt
users:
- name: scimitar-admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: scimitar-dev
  context: {cluster: scimitar-dev, user: scimitar-admin}
current-context: scimitar-dev
KCFG
}

apiserver_ready() {
  curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://${NODE_ADDRESS:-127.0.0.1}:$API_PORT/readyz" | grep -qx ok
}

# Bootstrap RBAC and the aggregated roles (admin/edit/view) must carry rules
# before tests rely on them.
aggregation_done() {
  curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://${NODE_ADDRESS:-127.0.0.1}:$API_PORT/apis/rbac.authorization.k8s.io/v1/clusterroles/view" | grep -q '"verbs"'
}

start_etcd() {
  "$BIN/etcd" --name scimitar --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "scimitar=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync=true --quota-backend-bytes=4294967296 --log-level=warn \
    >>"$logs/etcd.log" 2>&1 &
  echo $! > "$run/etcd.pid"
  wait_until 60 etcd sh -c "curl -fsS http://127.0.0.1:$ETCD_PORT/health | grep -q '\"health\":\"true\"'"
}

start_apiserver() {
  local authn_flags=()
  if [ -n "${AUTHN_CONFIG:-}" ]; then
    if [ ! -f "$AUTHN_CONFIG" ]; then
      printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\njwt: []\n' > "$AUTHN_CONFIG"
    fi
    authn_flags=(--authentication-config "$AUTHN_CONFIG")
  fi
  local address=127.0.0.1 node_flags=(--disable-admission-plugins ServiceAccount --endpoint-reconciler-type none)
  if [ -n "${NODE_ADDRESS:-}" ]; then
    # The kubelet (logs, exec) by its InternalIP, never by a DNS lookup of the node name.
    address=$NODE_ADDRESS
    node_flags=(--kubelet-preferred-address-types InternalIP --kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key")
  fi
  "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$address" --advertise-address "$address" --secure-port "$API_PORT" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --authorization-mode RBAC \
    --service-account-issuer "https://127.0.0.1:$API_PORT" \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --profiling=false \
    "${node_flags[@]}" \
    "${authn_flags[@]}" \
    >>"$logs/kube-apiserver.log" 2>&1 &
  echo $! > "$run/kube-apiserver.pid"
  wait_until 120 kube-apiserver apiserver_ready
}

start_controller_manager() {
  local controllers=garbage-collector-controller,namespace-controller,clusterrole-aggregation-controller node_flags=()
  if [ -n "${NODE_ADDRESS:-}" ]; then
    controllers="$controllers,deployment-controller,replicaset-controller,endpointslice-controller,endpoints-controller"
    controllers="$controllers,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller"
    controllers="$controllers,disruption-controller,pod-garbage-collector-controller,ttl-controller,node-lifecycle-controller"
    node_flags=(--service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" --use-service-account-credentials=false)
  fi
  "$BIN/kube-controller-manager" --kubeconfig "$kubeconfig" \
    --controllers "$controllers" \
    --leader-elect=false --secure-port 0 \
    "${node_flags[@]}" \
    >>"$logs/kube-controller-manager.log" 2>&1 &
  echo $! > "$run/kube-controller-manager.pid"
  wait_until 60 "ClusterRole aggregation" aggregation_done
}

# Node mode only: places pods on the node (hack/node.sh runs the kubelet).
start_scheduler() {
  [ -n "${NODE_ADDRESS:-}" ] || return 0
  "$BIN_NODE/kube-scheduler" --kubeconfig "$kubeconfig" \
    --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" \
    >>"$logs/kube-scheduler.log" 2>&1 &
  echo $! > "$run/kube-scheduler.pid"
}

start_watchdog() {
  [ -n "$owner" ] || return 0
  stop_one watchdog
  # setsid: the watchdog must outlive the shell that started it.
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop --dir "$3" --clean' \
    _ "$owner" "$here/control-plane.sh" "$dir" >/dev/null 2>&1 < /dev/null &
  echo $! > "$run/watchdog.pid"
}

case "$cmd" in
  start)
    mkdir -p "$logs" "$run"
    BIN=$("$here/build-control-plane.sh" | tail -n 1)
    BIN_NODE=""
    if [ -n "$node" ]; then BIN_NODE=$("$here/build-node.sh" | tail -n 1); fi
    if [ -f "$run/ports" ]; then
      # shellcheck disable=SC1091
      source "$run/ports"
      if [ "${AUTHN_CONFIG:-}" = "$authn" ] && [ "${NODE_ADDRESS:-}" = "$node" ] \
        && alive etcd && alive kube-apiserver && alive kube-controller-manager \
        && { [ -z "$node" ] || alive kube-scheduler; } && apiserver_ready; then
        start_watchdog
        echo "$kubeconfig"; exit 0
      fi
    fi
    for p in kube-scheduler etcd kube-apiserver kube-controller-manager; do stop_one "$p"; done
    ETCD_PORT=$(free_port); ETCD_PEER_PORT=$(free_port); API_PORT=$(free_port); SCHEDULER_PORT=$(free_port)
    AUTHN_CONFIG=$authn NODE_ADDRESS=$node
    printf 'ETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPI_PORT=%s\nSCHEDULER_PORT=%s\nBIN=%s\nBIN_NODE=%s\nAUTHN_CONFIG=%q\nNODE_ADDRESS=%s\n' \
      "$ETCD_PORT" "$ETCD_PEER_PORT" "$API_PORT" "$SCHEDULER_PORT" "$BIN" "$BIN_NODE" "$AUTHN_CONFIG" "$NODE_ADDRESS" > "$run/ports"
    make_pki
    write_kubeconfig "$API_PORT"
    started=$(date +%s.%N)
    start_etcd
    start_apiserver
    start_controller_manager
    start_scheduler
    start_watchdog
    log "ready in $(python3 -c "print(round($(date +%s.%N) - $started, 1))")s at https://${NODE_ADDRESS:-127.0.0.1}:$API_PORT (logs in $logs)"
    echo "$kubeconfig"
    ;;
  restart-apiserver)
    # shellcheck disable=SC1091
    source "$run/ports"
    stop_one kube-apiserver
    start_apiserver
    ;;
  stop)
    # The watchdog execs this very command, so it must not signal itself.
    if [ -f "$run/watchdog.pid" ] && [ "$(cat "$run/watchdog.pid")" = "$$" ]; then
      rm -f "$run/watchdog.pid"
    fi
    for p in watchdog kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_one "$p"; done
    if $clean; then rm -rf "$dir"; fi
    ;;
  status)
    # shellcheck disable=SC1091
    source "$run/ports" 2>/dev/null || exit 1
    alive kube-apiserver && apiserver_ready
    ;;
  *) sed -n '2,33p' "$0" >&2; exit 2 ;;
esac
