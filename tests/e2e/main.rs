//! The end-to-end tests, one binary (it links the crate once): each module
//! is one behaviour, most of them against a real control plane (etcd,
//! kube-apiserver, kube-controller-manager from `hack/control-plane.sh`),
//! the real `scimitar run` process, helm, kubectl or a browser. The
//! harness is in `support/`.
//!
//! Tests share this process: one control plane and one operator, started
//! on first use ([`support::ControlPlane::shared`]). A test that restarts,
//! breaks or takes over what others rely on (the API server, the operator's
//! leadership, a chart installation, the operator's RBAC) starts a control
//! plane of its own ([`support::ControlPlane::dedicated`]).
//!
//! Run one module: `make e2e ONLY=helm_chart::` (or
//! `cargo test --test e2e -- helm_chart::`).

mod support;

mod access_follows_scim;
mod access_report_matches_bindings;
mod api_tokens;
mod apiserver_sign_in;
mod attacks_are_refused;
mod bindings_are_repaired_and_isolated;
mod conformance_on_kubernetes;
mod console_plans_and_reports;
mod console_sso;
mod crds_are_current;
mod directory_layout;
mod docs_match_the_code;
mod escalation_is_refused;
mod examples_grant_what_they_say;
mod helm_chart;
mod idp_entra;
mod idp_jumpcloud;
mod idp_okta;
mod imports_follow_the_layers;
mod kubectl_output;
mod kubernetes_crds;
mod leader_election;
mod mappings_beyond_names;
mod metrics_and_limits;
mod nested_groups;
mod one_watch_per_kind;
mod operator_blast_radius_is_bounded;
mod plan_matches_apply;
mod pods_on_a_node;
mod replicas_and_late_namespaces;
mod scim_http_memory;
mod scim_log_peers;
mod scim_logs;
mod survives_an_apiserver_restart;
mod survives_an_operator_restart;
mod user_name_anchors;
