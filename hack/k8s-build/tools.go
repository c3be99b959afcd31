//go:build tools

// Package tools pins the Kubernetes binaries scimitar's tests build: the
// control plane (hack/build-control-plane.sh) and the node
// (hack/build-node.sh), all from this one module and version.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
