#!/usr/bin/env bash
# A single-node Kubernetes cluster that runs real pods, for the tests that need
# them (tests/e2e/pods_on_a_node.rs) and `make node`: the control plane of
# hack/control-plane.sh in node mode (kube-apiserver on the bridge address,
# ServiceAccount tokens, the Deployment/ReplicaSet/EndpointSlice/... controllers,
# kube-scheduler), plus containerd (Debian's, with runc and the CNI plugins
# bridge, host-local, loopback, portmap), the kubelet (cgroupfs driver; cgroup
# v1 and hybrid layouts work with runc), kube-proxy (iptables) and CoreDNS as
# host processes. Needs root. Idempotent; `stop` leaves no process, mount,
# network namespace or bridge behind (see docs/security.md for what it changes).
#
#   node.sh start [--dir DIR] [--owner-pid PID]   start (or reuse) the node
#   node.sh stop [--dir DIR] [--clean]            stop everything (and delete DIR)
#   node.sh status [--dir DIR]                    exit 0 when the node is Ready
#   node.sh import ARCHIVE [--dir DIR]            import an OCI image archive into containerd
#
# DIR defaults to .dev/node in the repository. `start` prints the admin
# kubeconfig on its last line. With --owner-pid, a watchdog stops the node
# once that process is gone (the test harness passes its own pid).
#
# Addresses: pods get 10.88.0.0/16 on the bridge scimitar0 (the host is
# 10.88.0.1, where kube-apiserver, the kubelet and CoreDNS listen), Services
# 10.0.0.0/24. Pods are routed to those two ranges only, so their traffic
# stays inside the machine. One node per machine (the bridge and addresses
# are fixed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

cmd=${1:-}; shift || true
archive=""
if [ "$cmd" = import ]; then archive=${1:?an OCI archive}; shift; fi
dir="$repo/.dev/node"; owner=""; clean=false
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --owner-pid) owner=$2; shift 2 ;;
    --clean) clean=true; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
logs="$dir/logs"; run="$dir/run"; cp_dir="$dir/control-plane"
kubeconfig="$cp_dir/kubeconfig"
sock="$dir/containerd/containerd.sock"
BRIDGE=scimitar0 ADDRESS=10.88.0.1 POD_CIDR=10.88.0.0/16 SERVICE_CIDR=10.0.0.0/24
NODE_NAME=scimitar-node
PAUSE_IMAGE=scimitar.local/pause:catatonit

log() { echo "node: $*" >&2; }

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

ctr_() { ctr --address "$sock" --namespace k8s.io "$@"; }
kubectl_() { kubectl --kubeconfig "$kubeconfig" "$@"; }

node_ready() {
  kubectl_ get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True
}

preflight() {
  if [ "$(id -u)" != 0 ]; then
    log "needs root (the kubelet, containerd and runc manage mounts, cgroups and network namespaces)"; exit 1
  fi
  local missing=()
  for tool in containerd containerd-shim-runc-v2 runc ctr catatonit iptables conntrack ip nsenter kubectl; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  for plugin in bridge host-local loopback portmap; do
    [ -x "/usr/lib/cni/$plugin" ] || missing+=("/usr/lib/cni/$plugin")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "missing ${missing[*]}; hack/prereqs.sh installs them (containerd runc containernetworking-plugins catatonit iptables conntrack)"; exit 1
  fi
}

# The pause image: Debian's static catatonit, built into an OCI archive here
# (no registry is reachable), cached by the hash of its inputs.
pause_archive() {
  local cache=${SCIMITAR_CACHE:-$HOME/.cache/scimitar}/images key
  key=$(cat /usr/bin/catatonit "$here/oci-image.py" | sha256sum | cut -c1-16)
  local out="$cache/pause-catatonit-$key.tar"
  if [ ! -f "$out" ]; then
    mkdir -p "$cache"
    python3 "$here/oci-image.py" --out "$out" --name "$PAUSE_IMAGE" \
      --file /usr/bin/catatonit:/catatonit:0755 --user 65535:65535 \
      --entrypoint '["/catatonit","-P"]' >/dev/null
  fi
  echo "$out"
}

host_network() {
  # Forwarding carries pod -> Service -> pod; bridge netfilter lets
  # kube-proxy's rules see traffic between pods on the bridge.
  if [ ! -f "$run/ip_forward.saved" ]; then cat /proc/sys/net/ipv4/ip_forward > "$run/ip_forward.saved"; fi
  echo 1 > /proc/sys/net/ipv4/ip_forward
  modprobe br_netfilter 2>/dev/null || true
  if [ -f /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
    echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables
  fi
  # The bridge exists before kube-apiserver binds its address; the CNI
  # bridge plugin adopts it.
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
  ip addr show dev "$BRIDGE" | grep -q "inet $ADDRESS/" || ip addr add "$ADDRESS/16" dev "$BRIDGE"
  ip link set "$BRIDGE" up
}

write_configs() {
  mkdir -p "$dir/cni/net.d" "$dir/cni/ipam" "$dir/containerd" "$dir/kubelet" "$dir/coredns"
  cat > "$dir/cni/net.d/10-scimitar.conflist" <<CNI
{
  "cniVersion": "1.0.0",
  "name": "scimitar-node",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$dir/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$ADDRESS"}]],
        "routes": [{"dst": "$SERVICE_CIDR"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI
  cat > "$dir/containerd/config.toml" <<TOML
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # The kubelet gives sandboxes oom_score_adj -998; lowering it needs
  # CAP_SYS_RESOURCE, which some machines (VMs, CI runners) do not grant even
  # to root: runc then fails with "can't get final child's PID from pipe".
  # Clamp to containerd's own score instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
TOML
  # Pods resolve through CoreDNS only; nothing is forwarded upstream.
  : > "$dir/kubelet/resolv.conf"
  cat > "$dir/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
address: $ADDRESS
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $cp_dir/pki/ca.crt}
authorization: {mode: Webhook}
clusterDNS: [$ADDRESS]
clusterDomain: cluster.local
resolvConf: $dir/kubelet/resolv.conf
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
serializeImagePulls: false
YAML
  cat > "$dir/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$PROXY_METRICS_PORT
nodePortAddresses: ["$ADDRESS/32"]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
  cat > "$dir/coredns/Corefile" <<COREFILE
.:53 {
    bind $ADDRESS
    errors
    health 127.0.0.1:$DNS_HEALTH_PORT
    ready 127.0.0.1:$DNS_READY_PORT
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $kubeconfig
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
COREFILE
}

start_containerd() {
  containerd --config "$dir/containerd/config.toml" >>"$logs/containerd.log" 2>&1 &
  echo $! > "$run/containerd.pid"
  wait_until 30 containerd ctr --address "$sock" version
  ctr_ images import "$(pause_archive)" >/dev/null
}

start_kubelet() {
  "$BIN_NODE/kubelet" --config "$dir/kubelet/config.yaml" --kubeconfig "$kubeconfig" \
    --root-dir "$dir/kubelet/root" --cert-dir "$dir/kubelet/pki" \
    --hostname-override "$NODE_NAME" --node-ip "$ADDRESS" \
    >>"$logs/kubelet.log" 2>&1 &
  echo $! > "$run/kubelet.pid"
}

start_kube_proxy() {
  "$BIN_NODE/kube-proxy" --config "$dir/kube-proxy.yaml" >>"$logs/kube-proxy.log" 2>&1 &
  echo $! > "$run/kube-proxy.pid"
}

start_coredns() {
  (cd "$dir/coredns" && exec "$BIN_NODE/coredns" -conf Corefile) >>"$logs/coredns.log" 2>&1 &
  echo $! > "$run/coredns.pid"
}

start_watchdog() {
  [ -n "$owner" ] || return 0
  stop_one watchdog
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop --dir "$3" --clean' \
    _ "$owner" "$here/node.sh" "$dir" >/dev/null 2>&1 < /dev/null &
  echo $! > "$run/watchdog.pid"
}

# Everything containerd ran: kill the tasks (the shims outlive containerd),
# remove the network namespaces the CNI plugins set up.
stop_pods() {
  [ -S "$sock" ] || return 0
  ctr --address "$sock" version >/dev/null 2>&1 || return 0
  local ids id
  ids=$(ctr_ tasks ls -q 2>/dev/null || true)
  for id in $ids; do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
  for id in $ids; do
    for _ in $(seq 1 50); do
      ctr_ tasks ls 2>/dev/null | awk -v id="$id" '$1==id {print $3}' | grep -q RUNNING || break
      sleep 0.1
    done
    ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true
  done
  for id in $(ctr_ containers ls -q 2>/dev/null || true); do ctr_ containers delete "$id" >/dev/null 2>&1 || true; done
}

cleanup_host() {
  local ns m
  # Network namespaces of this node's pods (their veths go with them).
  if [ -f "$run/netns.before" ] && [ -d /var/run/netns ]; then
    for ns in $(ls /var/run/netns); do
      grep -qx "$ns" "$run/netns.before" || { [[ $ns == cni-* ]] && ip netns delete "$ns" 2>/dev/null; } || true
    done
  fi
  # Mounts under DIR (kubelet volumes, containerd rootfs, shm), deepest first.
  { awk '{print $2}' /proc/mounts | grep "^$dir/" || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  ip link del "$BRIDGE" 2>/dev/null || true
  if [ -n "${BIN_NODE:-}" ] && [ -x "$BIN_NODE/kube-proxy" ]; then
    "$BIN_NODE/kube-proxy" --cleanup >/dev/null 2>&1 || true
  fi
  # What kube-proxy --cleanup leaves: the kubelet's chains (KUBE-FIREWALL,
  # the canaries) and the CNI plugins' (CNI-*), in IPv4 and IPv6.
  local tool table rule chain
  for tool in iptables ip6tables; do
    command -v "$tool" >/dev/null 2>&1 || continue
    for table in filter nat mangle; do
      { "$tool" -t "$table" -S 2>/dev/null | grep -E '^-A .* -j (KUBE|CNI)-' || true; } | sed 's/^-A/-D/' | while read -r rule; do
        eval "$tool -t $table $rule" 2>/dev/null || true
      done
      for chain in $("$tool" -t "$table" -S 2>/dev/null | awk '/^-N (KUBE|CNI)-/ {print $2}'); do
        "$tool" -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$tool" -t "$table" -S 2>/dev/null | awk '/^-N (KUBE|CNI)-/ {print $2}'); do
        "$tool" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
  # The pods' cgroups the kubelet made.
  for m in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$m" ] && find "$m" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  if [ -f "$run/ip_forward.saved" ]; then
    cat "$run/ip_forward.saved" > /proc/sys/net/ipv4/ip_forward || true
    rm -f "$run/ip_forward.saved"
  fi
}

# One node per machine (the bridge and its addresses are fixed). The node
# that owns the machine is named in $active until its stop has finished; a
# start waits for it, e.g. for the watchdog of the previous test binary,
# which notices its owner's exit within a second and then cleans up.
active=/run/scimitar-node.active
stopping=/run/scimitar-node.stopping
other_node_running() {
  local other
  if [ -f "$stopping" ] && kill -0 "$(cat "$stopping" 2>/dev/null || echo 0)" 2>/dev/null; then return 0; fi
  [ -f "$active" ] || return 1
  other=$(cat "$active" 2>/dev/null || true)
  [ -n "$other" ] && [ "$other" != "$dir" ] || return 1
  for p in watchdog kubelet containerd; do
    [ -f "$other/run/$p.pid" ] && kill -0 "$(cat "$other/run/$p.pid")" 2>/dev/null && return 0
  done
  return 1
}
wait_for_other_node() {
  local deadline=$(( $(date +%s) + 120 ))
  while other_node_running; do
    [ "$(date +%s)" -lt "$deadline" ] || { log "another node ($(cat "$active" 2>/dev/null)) still runs; one node per machine: stop it first"; exit 1; }
    sleep 0.2
  done
  echo "$dir" > "$active"
}

case "$cmd" in
  start)
    preflight
    wait_for_other_node
    mkdir -p "$logs" "$run"
    BIN_NODE=$("$here/build-node.sh" | tail -n 1)
    if [ -f "$run/ports" ]; then
      # shellcheck disable=SC1091
      source "$run/ports"
      if alive containerd && alive kubelet && alive kube-proxy && alive coredns \
        && "$here/control-plane.sh" status --dir "$cp_dir" && node_ready; then
        start_watchdog
        echo "$kubeconfig"; exit 0
      fi
      "$0" stop --dir "$dir"
      mkdir -p "$logs" "$run"
    fi
    started=$(date +%s.%N)
    KUBELET_PORT=$(free_port); KUBELET_HEALTHZ_PORT=$(free_port)
    PROXY_HEALTHZ_PORT=$(free_port); PROXY_METRICS_PORT=$(free_port)
    DNS_HEALTH_PORT=$(free_port); DNS_READY_PORT=$(free_port)
    printf 'KUBELET_PORT=%s\nKUBELET_HEALTHZ_PORT=%s\nPROXY_HEALTHZ_PORT=%s\nPROXY_METRICS_PORT=%s\nDNS_HEALTH_PORT=%s\nDNS_READY_PORT=%s\nBIN_NODE=%s\n' \
      "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT" "$PROXY_HEALTHZ_PORT" "$PROXY_METRICS_PORT" \
      "$DNS_HEALTH_PORT" "$DNS_READY_PORT" "$BIN_NODE" > "$run/ports"
    ls /var/run/netns 2>/dev/null > "$run/netns.before" || : > "$run/netns.before"
    # A start that fails half-way leaves nothing running.
    trap '"$0" stop --dir "$dir"' ERR
    host_network
    "$here/control-plane.sh" start --dir "$cp_dir" --node "$ADDRESS" >/dev/null
    write_configs
    start_containerd
    start_kubelet
    start_kube_proxy
    start_coredns
    start_watchdog
    wait_until 90 "the node to be Ready" node_ready
    wait_until 30 kube-proxy curl -fsS "http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz"
    wait_until 30 CoreDNS curl -fsS "http://127.0.0.1:$DNS_READY_PORT/ready"
    # Pods in a namespace need its default ServiceAccount.
    wait_until 30 "the default ServiceAccount" kubectl_ get serviceaccount default
    trap - ERR
    log "ready in $(python3 -c "print(round($(date +%s.%N) - $started, 1))")s: node $NODE_NAME, pods on $BRIDGE ($POD_CIDR), Services $SERVICE_CIDR (logs in $logs)"
    echo "$kubeconfig"
    ;;
  stop)
    if [ -f "$run/watchdog.pid" ] && [ "$(cat "$run/watchdog.pid")" = "$$" ]; then
      rm -f "$run/watchdog.pid"
    fi
    echo $$ > "$stopping"
    # shellcheck disable=SC1091
    source "$run/ports" 2>/dev/null || true
    stop_one watchdog
    # kube-proxy and CoreDNS take seconds to exit; they stop meanwhile.
    stop_one kube-proxy & stop_one coredns &
    stop_one kubelet
    stop_pods
    wait
    stop_one containerd
    "$here/control-plane.sh" stop --dir "$cp_dir" >/dev/null 2>&1 || true
    cleanup_host
    rm -f "$run/ports"
    if $clean; then rm -rf "$dir"; fi
    if [ "$(cat "$active" 2>/dev/null)" = "$dir" ]; then rm -f "$active"; fi
    rm -f "$stopping"
    ;;
  status)
    [ -f "$run/ports" ] || exit 1
    alive kubelet && alive containerd && node_ready
    ;;
  import)
    ctr_ images import "$archive" >/dev/null
    ;;
  *) sed -n '2,27p' "$0" >&2; exit 2 ;;
esac
