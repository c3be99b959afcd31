//! scimitar: a Kubernetes operator that receives users and groups over SCIM 2.0
//! and turns them into RBAC bindings and directory ConfigMaps.
#![forbid(unsafe_code)]

/// Bearer tokens: principals, scopes, digests, token format.
pub mod auth;
/// Command-line interface of the `scimitar` binary.
pub mod cli;
/// `scimitar connect`: the Connect page's API-server and kubeconfig text for a tenant.
pub mod connect_admin;
/// The tenant console: OIDC sign-in and server-rendered pages.
pub mod console;
/// The controller: tenants, users and groups become RBAC bindings and ConfigMaps.
pub mod controller;
/// Custom resource types (`ScimTenant`, `ScimUser`, `ScimGroup`) and CRD generation.
pub mod crd;
/// The HTTP layer: health probes and the SCIM API.
pub mod http;
/// Kubernetes client construction.
pub mod kubeclient;
/// Lease-based leader election: only the leader runs the controller.
pub mod leader;
/// Labels, annotations, hashed names, owner references and subject naming
/// shared by every layer that writes or reads Kubernetes objects.
pub mod meta;
/// Prometheus metrics and their `/metrics` endpoint.
pub mod metrics;
/// `scimitar run`: the operator process.
pub mod operator;
/// `scimitar plan` and `scimitar access-report`: a tenant change's effect, and who has what.
pub mod plan_admin;
/// `scimitar probe`: HTTP checks for the chart's `helm test` pod.
pub mod probe;
/// Waiting for reflector stores from many tasks at once.
pub mod ready;
/// `scimitar replay`: an IdP's recorded SCIM traffic, sent and checked.
pub mod replay;
/// The SCIM 2.0 protocol: schemas, filters, PATCH, listing and errors. Pure, no I/O.
pub mod scim;
/// The SCIM request log: records, redaction, per-tenant storage within byte budgets, queries, CSV. Pure, no I/O.
pub mod scimlog;
/// `scimitar serve`: the SCIM API over the in-memory store.
pub mod serve;
/// SIGTERM/SIGINT handling.
pub mod shutdown;
/// Storage of SCIM resources: the store trait and its implementations.
pub mod store;
/// Logging setup shared by every subcommand.
pub mod telemetry;
/// `scimitar token`: managing tenants' API tokens from the command line.
pub mod token_admin;
