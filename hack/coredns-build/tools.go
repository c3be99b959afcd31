//go:build tools

// Package tools pins CoreDNS, the cluster DNS of the test node
// (hack/build-node.sh). Its own module, so its dependency graph stays apart
// from Kubernetes'.
package tools

import _ "github.com/coredns/coredns"
