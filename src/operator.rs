//! `scimitar run`: wires the Kubernetes client, the store, the controller,
//! leader election, the HTTP server, the metrics and shutdown. This is where
//! the process's one metrics registry is created and handed to each part,
//! and where the store is shown to the metrics (the gauges' sources).
//!
//! Imports: anything; nothing imports it but the binary.
//!
//! Imports: `crd`, `scim`, `meta`, `auth`, `scimlog`, `metrics`,
//! `kubeclient`, `ready`, `shutdown`, `telemetry`, `store`, `controller`,
//! `http`, `console`, `leader` and its own layer (the top layer;
//! tests/e2e/imports_follow_the_layers.rs).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client, ResourceExt};
use tokio::net::TcpListener;

use crate::auth::TokenAuthenticator;
use crate::cli::RunArgs;
use crate::http::scim::ScimState;
use crate::http::{self, Readiness, ScimLayers};
use crate::metrics::{Directory, Metrics, TenantSize, TokenExpiries, TokenExpiry};
use crate::scim::discovery::ServiceProviderConfig;
use crate::scimlog::ScimLog;
use crate::store::Kind;
use crate::store::kube::KubeStore;
use crate::store::kube::secrets::SecretPolicy;
use crate::store::kube::tenants::Tenants;
use crate::store::kube::tokens::{KubeAuthenticator, Tokens};

/// How long to wait for the CRDs to be established before giving up.
const CRD_WAIT: Duration = Duration::from_secs(30);
/// How long shutdown waits for the leader Lease to be released.
const LEASE_RELEASE_WAIT: Duration = Duration::from_secs(10);

/// Runs the operator until SIGTERM.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new());
    let client = crate::kubeclient::counted_client(
        args.kubeconfig.as_deref(),
        args.context.as_deref(),
        metrics.clone(),
    )
    .await
    .context("connecting to the Kubernetes API server")?;
    let version = client
        .apiserver_version()
        .await
        .context("reading the API server version")?;
    tracing::info!(server = %version.git_version, "connected to the Kubernetes API server");

    // Leader election's settings are validated before anything starts.
    let election = args
        .leader_election
        .then(|| {
            crate::leader::Settings::new(
                &args.namespace,
                crate::leader::identity(),
                args.leader_lease_seconds,
                args.leader_retry_seconds,
            )
        })
        .transpose()?;

    let readiness = Readiness::default();
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "HTTP server listening");

    let tenants = Arc::new(Tenants::new(SecretPolicy::new(
        &args.namespace,
        args.secret_namespaces.iter().cloned(),
    )));
    let tokens = Arc::new(Tokens::default());
    let store = Arc::new(KubeStore::new(client.clone(), tenants.clone()));
    let scim_log = Arc::new(ScimLog::with_limits(args.scim_log.limits()));
    let auth: Arc<dyn TokenAuthenticator> = Arc::new(KubeAuthenticator {
        tenants: tenants.clone(),
        tokens: tokens.clone(),
    });
    // One SCIM log across replicas: the internal endpoint peers ask, and
    // the peers this replica asks (off without `--peer-listen`).
    let replica = http::scimlog_peers::this_replica();
    let (cluster_log, internal) = match args.peers.settings(&args.namespace, &replica)? {
        Some((listen, settings, username)) => {
            let internal = TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen} (--peer-listen)"))?;
            tracing::info!(address = %internal.local_addr()?, "internal SCIM log endpoint listening");
            let reviewer = http::scimlog_internal::TokenReviewer {
                client: client.clone(),
                audience: args.peers.peer_audience.clone(),
                username,
            };
            let router =
                http::scimlog_internal::router(scim_log.clone(), replica.clone(), reviewer);
            let peers = http::scimlog_peers::Peers::new(client.clone(), settings)?;
            (
                http::scimlog_peers::ClusterLog::with_peers(scim_log.clone(), replica, peers),
                Some((internal, router)),
            )
        }
        None => (
            http::scimlog_peers::ClusterLog::local(scim_log.clone(), replica),
            None,
        ),
    };
    let cluster_log = Arc::new(cluster_log);
    let scim_state = ScimState {
        store: store.clone(),
        auth: auth.clone(),
        config: Arc::new(ServiceProviderConfig::default()),
        public_url: args.public_url.clone().map(Into::into),
        scim_log: Some(scim_log.clone()),
    };
    metrics.observe_directory(store.clone());
    metrics.observe_scim_log(scim_log.clone());
    metrics.observe_tokens(tokens.clone());
    let metrics_server = http::metrics::serve(metrics.clone(), args.metrics_listen).await?;
    let layers = ScimLayers {
        metrics: Some(metrics.clone()),
        limits: Some(Arc::new(http::limits::Limits::new(&args.limits))),
    };
    // Without its key Secret the console stays off, and says so in the log.
    let console_shared = crate::console::Shared {
        client: client.clone(),
        store: store.clone(),
        tokens: tokens.clone(),
        scim_log: cluster_log.clone(),
        namespace: args.namespace.clone(),
        public_url: args.public_url.clone(),
    };
    let console = crate::console::Console::new(console_shared, &args.console).await;
    let app = http::app(readiness.clone())
        .merge(http::scim_app_with(
            scim_state,
            &layers,
            Some(cluster_log.clone()),
        ))
        .merge(console.router());
    // One SIGTERM, seen by the HTTP server and by leader election. The
    // leader steps down at once; the HTTP server keeps serving for
    // `--shutdown-delay-seconds` while the pod leaves the endpoints.
    let shutdown = futures::FutureExt::shared(crate::shutdown::signal());
    let delay = Duration::from_secs(args.shutdown_delay_seconds);
    let drained = futures::FutureExt::shared({
        let shutdown = shutdown.clone();
        async move {
            shutdown.await;
            if !delay.is_zero() {
                tracing::info!(?delay, "still serving while the endpoints drain");
                tokio::time::sleep(delay).await;
            }
        }
    });
    let server = http::serve(listener, app, drained.clone());
    if let Some((internal, router)) = internal {
        let drained = drained.clone();
        tokio::spawn(async move {
            if let Err(error) = http::serve(internal, router, drained).await {
                tracing::error!(%error, "the internal SCIM log endpoint stopped");
            }
        });
    }
    // In-flight requests get `--shutdown-grace-seconds` after the delay, then
    // the process exits anyway (Kubernetes would SIGKILL it soon after).
    let grace = Duration::from_secs(args.shutdown_grace_seconds);
    let server = {
        async move {
            let expired = async {
                drained.await;
                tokio::time::sleep(grace).await;
            };
            tokio::select! {
                served = server => served,
                () = expired => {
                    tracing::warn!(?grace, "in-flight requests still running after the grace period; stopping");
                    Ok(())
                }
            }
        }
    };

    let startup = async {
        wait_for_crds(&client).await?;
        tokio::spawn(store.clone().run());
        tokio::spawn(tokens.clone().run(client.clone(), args.namespace.clone()));
        // Every replica serves SCIM (the store and its caches run
        // everywhere); only the leader runs the controller.
        let controller = {
            let (client, store) = (client.clone(), store.clone());
            let settings = crate::controller::Settings {
                public_url: args.public_url.clone(),
                namespace_creation: args.namespace_creation,
            };
            let metrics = metrics.clone();
            move || {
                crate::controller::run(
                    client.clone(),
                    store.clone(),
                    settings.clone(),
                    metrics.clone(),
                )
            }
        };
        let elector = match election {
            Some(settings) => Some(tokio::spawn(crate::leader::run_while_leading(
                client.clone(),
                settings,
                shutdown.clone(),
                metrics.clone(),
                controller,
            ))),
            None => {
                tracing::info!("leader election off: running the controller");
                metrics.set_leader(true);
                tokio::spawn(controller());
                None
            }
        };
        // Ready once the caches are synced and every tenant's token is
        // loaded (before that a valid token would be answered 503), then
        // while the API server answers.
        let synced = {
            let (store, tokens) = (store.clone(), tokens.clone());
            move || store.is_ready() && tokens.is_synced() && store.tenants().secrets_loaded()
        };
        while !synced() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::spawn(http::keep_ready(readiness.clone(), client.clone(), synced));
        tracing::info!("ready");
        anyhow::Ok(elector)
    };
    let (served, started, metrics_served) = tokio::join!(server, startup, metrics_server);
    let elector = started?;
    // Leader election: wait (bounded) until the controller is stopped and the
    // Lease released, so a successor takes over at once.
    if let Some(elector) = elector {
        let _ = tokio::time::timeout(LEASE_RELEASE_WAIT, elector).await;
    }
    served.context("serving HTTP")?;
    metrics_served?;
    tracing::info!("stopped");
    Ok(())
}

/// Waits until every scimitar CRD is established, so that a missing
/// `kubectl apply -f crds/` is reported clearly instead of as watch errors.
async fn wait_for_crds(client: &Client) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (_, crd) in crate::crd::all() {
        let name = crd.name_any();
        let established = await_condition(api.clone(), &name, conditions::is_crd_established());
        tokio::time::timeout(CRD_WAIT, established)
            .await
            .with_context(|| format!("CRD {name} is not established; apply crds/ first"))??;
    }
    Ok(())
}

/// The read cache's sizes, for the `scimitar_tenants`, `scimitar_cache_objects`
/// and `scimitar_cache_bytes` gauges.
impl Directory for KubeStore {
    fn sizes(&self) -> Vec<TenantSize> {
        let tenants = self.tenants();
        tenants
            .names()
            .into_iter()
            .map(|tenant| match tenants.namespace_of(&tenant) {
                // One namespace's read lock at a time.
                Some(namespace) => self.cache().read(&namespace, |index| TenantSize {
                    users: index.count(Kind::User),
                    groups: index.count(Kind::Group),
                    bytes: index.heap_bytes(),
                    tenant: tenant.clone(),
                }),
                None => TenantSize {
                    tenant,
                    ..TenantSize::default()
                },
            })
            .collect()
    }
}

/// The API tokens that expire, for `scimitar_api_token_expiry_timestamp_seconds`.
impl TokenExpiries for Tokens {
    fn expiries(&self) -> Vec<TokenExpiry> {
        self.expiring()
            .into_iter()
            .map(|(tenant, token, expires)| TokenExpiry {
                tenant,
                token,
                expires,
            })
            .collect()
    }
}
