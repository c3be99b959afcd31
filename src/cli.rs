//! Command-line interface. Every `run` flag can also be set by environment variable.
//!
//! Imports: `crd`, `scim`, `meta`, `auth`, `scimlog`, `metrics`,
//! `kubeclient`, `ready`, `shutdown`, `telemetry`, `store`, `controller`,
//! `http`, `console`, `leader` and its own layer (the top layer;
//! tests/e2e/imports_follow_the_layers.rs).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::telemetry::LogFormat;

/// scimitar: SCIM 2.0 provisioning into Kubernetes RBAC.
#[derive(Debug, Parser)]
#[command(name = "scimitar", version, about)]
pub struct Cli {
    /// Log output format.
    #[arg(
        long,
        env = "SCIMITAR_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the operator: the SCIM HTTP server and the controller.
    Run(Box<RunArgs>),
    /// Serve the SCIM API from an in-memory store, without Kubernetes (protocol
    /// testing and benchmarks; nothing persists).
    Serve(ServeArgs),
    /// Print the CustomResourceDefinitions as YAML.
    Crds(CrdsArgs),
    /// Create, list and revoke tenants' SCIM API tokens.
    Token(crate::token_admin::TokenArgs),
    /// GET each URL and fail unless every answer is 2xx (the chart's `helm
    /// test` runs it against the SCIM discovery endpoint and /readyz).
    Probe(crate::probe::ProbeArgs),
    /// Send an identity provider's recorded SCIM traffic (tests/fixtures/idp/)
    /// to a SCIM base URL and check every answer the IdP depends on.
    Replay(crate::replay::ReplayArgs),
    /// Print what kube-apiserver and people's kubeconfigs need for a tenant's
    /// people to sign in (the console's Connect page, from the live ScimTenant).
    Connect(crate::connect_admin::ConnectArgs),
    /// Print what the controller would change for a ScimTenant (a changed
    /// manifest, or the live one): bindings created, changed and deleted,
    /// and who gains and loses which verbs where.
    Plan(crate::plan_admin::PlanArgs),
    /// Print who has what in a tenant (user → group → role → namespace or
    /// cluster-wide), read from the bindings that exist.
    AccessReport(crate::plan_admin::ReportArgs),
}

/// Settings of `scimitar run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Address the SCIM HTTP server listens on.
    #[arg(long, env = "SCIMITAR_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Kubeconfig file; without it, `KUBECONFIG`, `~/.kube/config` or the in-cluster config is used.
    #[arg(long, env = "SCIMITAR_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, env = "SCIMITAR_CONTEXT")]
    pub context: Option<String>,
    /// Namespace the operator runs in (token Secrets and its Lease live here).
    /// Tenants' `tokenSecretRef` and `oidc.clientSecretRef` point here
    /// unless they name another namespace.
    #[arg(long, env = "SCIMITAR_NAMESPACE", default_value = "scimitar-system")]
    pub namespace: String,
    /// Further namespaces tenants may reference Secrets in (comma-separated),
    /// e.g. one a secret manager syncs into. Never a tenant's namespace:
    /// its editors could write them.
    #[arg(
        long,
        env = "SCIMITAR_SECRET_NAMESPACES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub secret_namespaces: Vec<String>,
    /// Seconds to let in-flight requests finish after SIGTERM.
    #[arg(long, env = "SCIMITAR_SHUTDOWN_GRACE_SECONDS", default_value_t = 20)]
    pub shutdown_grace_seconds: u64,
    /// Seconds to keep serving after SIGTERM before shutting down, while
    /// Kubernetes removes the pod from the Service's endpoints (kube-proxy
    /// and ingress controllers see that a little later); requests that
    /// arrive meanwhile are still answered. The grace period follows it.
    #[arg(long, env = "SCIMITAR_SHUTDOWN_DELAY_SECONDS", default_value_t = 0)]
    pub shutdown_delay_seconds: u64,
    /// Public base URL of the SCIM API (`https://scim.example.com/scim/v2`),
    /// used in `meta.location`; derived from the Host header when unset.
    #[arg(long, env = "SCIMITAR_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Let tenants have the namespaces their group patterns derive created
    /// (each tenant still lists which in spec.derivedNamespaces.create). The
    /// operator then needs `create` on namespaces (the chart's
    /// namespaceCreation.enabled).
    #[arg(long, env = "SCIMITAR_NAMESPACE_CREATION", default_value_t = false, action = clap::ArgAction::Set)]
    pub namespace_creation: bool,
    /// Limits of the in-memory SCIM request log.
    #[command(flatten)]
    pub scim_log: ScimLogArgs,
    /// Run the controller only on the replica holding the Lease
    /// `scimitar-controller` in `--namespace`; every replica serves SCIM.
    /// `--leader-election=false` runs it unconditionally (one replica only).
    #[arg(long, env = "SCIMITAR_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Seconds the leader's Lease stays valid without renewal (a dead leader
    /// is replaced after about this long); the leader steps down after two
    /// thirds of it without a successful renewal.
    #[arg(long, env = "SCIMITAR_LEADER_LEASE_SECONDS", default_value_t = 15)]
    pub leader_lease_seconds: u32,
    /// Seconds between two attempts to acquire or renew the Lease.
    #[arg(long, env = "SCIMITAR_LEADER_RETRY_SECONDS", default_value_t = 2)]
    pub leader_retry_seconds: u32,
    /// Address the Prometheus metrics are served on, at `/metrics`.
    #[arg(long, env = "SCIMITAR_METRICS_LISTEN", default_value = "0.0.0.0:9090")]
    pub metrics_listen: SocketAddr,
    /// Limits on the SCIM API.
    #[command(flatten)]
    pub limits: crate::http::limits::LimitArgs,
    /// The tenant console.
    #[command(flatten)]
    pub console: crate::console::ConsoleArgs,
    /// One SCIM log across replicas.
    #[command(flatten)]
    pub peers: PeerArgs,
}

/// How the replicas of an installation merge their SCIM logs (`scimitar run`).
#[derive(Debug, Clone, Args)]
pub struct PeerArgs {
    /// Address of the internal endpoint on which the other replicas ask this
    /// one for its part of a tenant's SCIM log (its own port, never the SCIM
    /// one). Unset: a listing holds this replica's log only.
    #[arg(long = "peer-listen", env = "SCIMITAR_PEER_LISTEN")]
    pub peer_listen: Option<SocketAddr>,
    /// The Service (in `--namespace`) whose EndpointSlices list the replicas.
    #[arg(long = "peer-service", env = "SCIMITAR_PEER_SERVICE")]
    pub peer_service: Option<String>,
    /// The ServiceAccount (in `--namespace`) every replica runs as: the only
    /// identity the internal endpoint answers.
    #[arg(long = "peer-service-account", env = "SCIMITAR_PEER_SERVICE_ACCOUNT")]
    pub peer_service_account: Option<String>,
    /// The audience of the replicas' projected ServiceAccount tokens.
    #[arg(
        long = "peer-audience",
        env = "SCIMITAR_PEER_AUDIENCE",
        default_value = "scimitar-peers"
    )]
    pub peer_audience: String,
    /// This pod's projected ServiceAccount token for `--peer-audience`
    /// (re-read at each listing: the kubelet rotates it).
    #[arg(
        long = "peer-token-file",
        env = "SCIMITAR_PEER_TOKEN_FILE",
        default_value = "/var/run/secrets/scimitar/peers/token"
    )]
    pub peer_token_file: PathBuf,
    /// Milliseconds each replica has to answer; a slower one is named as
    /// not answering.
    #[arg(
        long = "peer-timeout-ms",
        env = "SCIMITAR_PEER_TIMEOUT_MS",
        default_value_t = 2000
    )]
    pub peer_timeout_ms: u64,
    /// Bytes one replica's answer may take (`24MiB`, `512KiB`, or bytes); a
    /// larger one is named as not answering. A tenant's entries retain at
    /// most `--scim-log-tenant-bytes` on a replica; their JSON is about as
    /// large, more where text bodies need escapes.
    #[arg(long = "peer-answer-bytes", env = "SCIMITAR_PEER_ANSWER_BYTES", default_value = "24MiB", value_parser = parse_bytes)]
    pub peer_answer_bytes: usize,
    /// This pod's IP (the downward API's `status.podIP`), left out of the peers.
    #[arg(long = "pod-ip", env = "POD_IP")]
    pub pod_ip: Option<std::net::IpAddr>,
}

impl PeerArgs {
    /// Where to listen and how to reach the peers, when `--peer-listen` is
    /// set; an error names what else it needs.
    pub fn settings(
        &self,
        namespace: &str,
        pod_name: &str,
    ) -> anyhow::Result<Option<(SocketAddr, crate::http::scimlog_peers::PeerSettings, String)>>
    {
        let Some(listen) = self.peer_listen else {
            return Ok(None);
        };
        let (Some(service), Some(account)) = (&self.peer_service, &self.peer_service_account)
        else {
            anyhow::bail!("--peer-listen needs --peer-service and --peer-service-account");
        };
        if self.peer_timeout_ms == 0 || self.peer_answer_bytes == 0 {
            anyhow::bail!("--peer-timeout-ms and --peer-answer-bytes must be more than 0");
        }
        let settings = crate::http::scimlog_peers::PeerSettings {
            namespace: namespace.to_owned(),
            service: service.clone(),
            port: listen.port(),
            pod_name: pod_name.to_owned(),
            pod_ip: self.pod_ip,
            token_file: self.peer_token_file.clone(),
            timeout: std::time::Duration::from_millis(self.peer_timeout_ms),
            answer_bytes: self.peer_answer_bytes,
        };
        let username = format!("system:serviceaccount:{namespace}:{account}");
        Ok(Some((listen, settings, username)))
    }
}

/// Settings of `scimitar crds`.
#[derive(Debug, Clone, Args)]
pub struct CrdsArgs {
    /// Write one file per CRD into this directory instead of printing them.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
}

/// Settings of `scimitar serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SCIMITAR_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// A tenant and its bearer token, as `TENANT=TOKEN`; repeat for more tenants.
    #[arg(long = "token", env = "SCIMITAR_TOKENS", value_delimiter = ',', required = true, value_parser = parse_token)]
    pub tokens: Vec<(String, String)>,
    /// Public base URL of the SCIM API, if not derived from the Host header.
    #[arg(long, env = "SCIMITAR_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Let tenants have the namespaces their group patterns derive created
    /// (each tenant still lists which in spec.derivedNamespaces.create). The
    /// operator then needs `create` on namespaces (the chart's
    /// namespaceCreation.enabled).
    #[arg(long, env = "SCIMITAR_NAMESPACE_CREATION", default_value_t = false, action = clap::ArgAction::Set)]
    pub namespace_creation: bool,
    /// Limits of the in-memory SCIM request log.
    #[command(flatten)]
    pub scim_log: ScimLogArgs,
    /// Address to serve Prometheus metrics on (`/metrics`); none without it.
    /// (`serve` applies no limits: it is for conformance checks and benchmarks.)
    #[arg(long, env = "SCIMITAR_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
}

/// Limits of the in-memory SCIM request log (`scimitar run` and `serve`).
#[derive(Debug, Clone, Args)]
pub struct ScimLogArgs {
    /// Entries of the in-memory SCIM request log this replica keeps (all
    /// tenants together); 0 stores nothing.
    #[arg(long = "scim-log-capacity", env = "SCIMITAR_SCIM_LOG_CAPACITY", default_value_t = crate::scimlog::DEFAULT_CAPACITY)]
    pub capacity: usize,
    /// Memory the SCIM request log of this replica may retain, all tenants
    /// together (`32MiB`, `512KiB`, or bytes); 0 stores nothing.
    #[arg(long = "scim-log-bytes", env = "SCIMITAR_SCIM_LOG_BYTES", default_value = "32MiB", value_parser = parse_bytes)]
    pub bytes: usize,
    /// Memory one tenant's entries in the SCIM request log may retain (its
    /// own oldest go first beyond it); 0 stores nothing.
    #[arg(long = "scim-log-tenant-bytes", env = "SCIMITAR_SCIM_LOG_TENANT_BYTES", default_value = "8MiB", value_parser = parse_bytes)]
    pub tenant_bytes: usize,
}

impl ScimLogArgs {
    /// The log's limits.
    pub fn limits(&self) -> crate::scimlog::Limits {
        crate::scimlog::Limits {
            entries: self.capacity,
            bytes: self.bytes,
            tenant_bytes: self.tenant_bytes,
        }
    }
}

/// A size in bytes: a number, optionally followed by `B`, `KiB`, `MiB` or
/// `GiB` (also `Ki`, `Mi`, `Gi` as in Kubernetes quantities; any case).
/// Decimal units (`MB`, `M`) are refused rather than guessed.
pub fn parse_bytes(value: &str) -> Result<usize, String> {
    let value = value.trim();
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits);
    let expected = || format!("{value:?}: expected bytes such as 33554432, 32MiB or 512KiB");
    let number: usize = number.parse().map_err(|_| expected())?;
    let multiplier: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        _ => return Err(expected()),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{value:?}: too large"))
}

fn parse_token(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((tenant, token)) if !tenant.is_empty() && !token.is_empty() => {
            Ok((tenant.to_owned(), token.to_owned()))
        }
        _ => Err("expected TENANT=TOKEN".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_take_binary_units() {
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("33554432"), Ok(32 << 20));
        assert_eq!(parse_bytes("32MiB"), Ok(32 << 20));
        assert_eq!(parse_bytes("32Mi"), Ok(32 << 20));
        assert_eq!(parse_bytes(" 8 mib "), Ok(8 << 20));
        assert_eq!(parse_bytes("512KiB"), Ok(512 << 10));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("100B"), Ok(100));
        for bad in ["", "MiB", "32MB", "32M", "1.5MiB", "-1", "32 MiB extra"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn peer_flags_make_peer_settings_and_incomplete_ones_are_refused() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
        let run = |extra: &[&str]| {
            let cli = Cli::try_parse_from(["scimitar", "run"].iter().chain(extra)).expect("parses");
            let Command::Run(args) = cli.command else {
                panic!("run")
            };
            args
        };
        let off = run(&[]);
        assert!(off.peers.settings("ns", "pod-a").unwrap().is_none());
        let on = run(&[
            "--peer-listen=0.0.0.0:8081",
            "--peer-service=scimitar",
            "--peer-service-account=scimitar",
            "--peer-answer-bytes=1MiB",
            "--pod-ip=10.0.0.5",
        ]);
        let (listen, settings, username) = on.peers.settings("ns", "pod-a").unwrap().unwrap();
        assert_eq!(listen.port(), 8081);
        assert_eq!(settings.port, 8081);
        assert_eq!(settings.answer_bytes, 1 << 20);
        assert_eq!(settings.timeout, std::time::Duration::from_secs(2));
        assert_eq!(settings.pod_ip, "10.0.0.5".parse().ok());
        assert_eq!(username, "system:serviceaccount:ns:scimitar");
        let half = run(&["--peer-listen=0.0.0.0:8081", "--peer-service=scimitar"]);
        let error = half.peers.settings("ns", "pod-a").unwrap_err().to_string();
        assert!(error.contains("--peer-service-account"), "{error}");
    }

    #[test]
    fn scim_log_flags_default_to_the_documented_budgets() {
        let cli = Cli::try_parse_from(["scimitar", "serve", "--token", "a=b"]).expect("parses");
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert_eq!(args.scim_log.limits(), crate::scimlog::Limits::default());
        let cli = Cli::try_parse_from([
            "scimitar",
            "serve",
            "--token",
            "a=b",
            "--scim-log-bytes",
            "4MiB",
            "--scim-log-tenant-bytes=1MiB",
            "--scim-log-capacity",
            "7",
        ])
        .expect("parses");
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert_eq!(
            args.scim_log.limits(),
            crate::scimlog::Limits {
                entries: 7,
                bytes: 4 << 20,
                tenant_bytes: 1 << 20
            }
        );
    }
}
