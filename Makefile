# The two commands: `make dev` and `make test`. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

dev: ## the whole product locally: a control plane (if no cluster answers), the chart's RBAC, the example tenant with an OIDC provider and a seeded directory, the operator with its console
	hack/dev.sh

test: ## lint and run the whole test suite against a real control plane (what CI runs)
	hack/test.sh

e2e: ## the end-to-end tests only, or some: make e2e ONLY=helm_chart:: (a module) or ONLY=helm_chart::golden
	cargo test --test e2e -- $(ONLY)

install: ## install the scimitar CLI and the kubectl plugin (`kubectl scimitar token create …`) into ~/.cargo/bin
	cargo install --locked --path .
	ln -sf scimitar "$${CARGO_HOME:-$$HOME/.cargo}/bin/kubectl-scimitar"

crds: ## regenerate crds/ and the chart's copy (charts/scimitar/files/crds/, rendered by templates/crds.yaml) from the Rust types
	cargo run --quiet -- crds --output-dir crds
	rm -f charts/scimitar/files/crds/*.yaml && cp crds/*.yaml charts/scimitar/files/crds/

version: ## print the crate version (the image tag and the chart's appVersion)
	@grep -m1 '^version' Cargo.toml | cut -d'"' -f2

image: ## build the container image (needs docker or podman; not available in CI here)
	docker build -t ghcr.io/scimitar-dev/scimitar:$$(grep -m1 '^version' Cargo.toml | cut -d'"' -f2) .

image-archive: ## build the image without docker (static glibc binary, OCI archive for the test node; hack/image.sh prints its path)
	hack/image.sh

node: ## start a node that runs pods (control plane, containerd, kubelet, kube-proxy, CoreDNS; needs root) and import the image; prints its kubeconfig
	hack/node.sh start
	for archive in $$(hack/image.sh); do hack/node.sh import "$$archive"; done

node-stop: ## stop the node and undo its changes to the host (bridge, iptables chains, mounts)
	hack/node.sh stop

control-plane: ## start the local control plane only
	hack/control-plane.sh start

stop: ## stop the local control plane
	hack/control-plane.sh stop

bench: ## benchmarks beside SCIM peers and the Kubernetes floor; rewrites BENCHMARKS.md (~40 min)
	hack/bench.sh

.PHONY: help dev test e2e install crds control-plane stop version image image-archive node node-stop bench
