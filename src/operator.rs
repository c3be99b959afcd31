//! `scimitar run`: wires the Kubernetes client, the HTTP server and shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::ServiceExt;
use axum::extract::Request;
use tower::Layer as _;
use tower::util::MapRequestLayer;

use anyhow::Context as _;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client, ResourceExt};
use tokio::net::TcpListener;

use crate::auth::TokenAuthenticator;
use crate::cli::RunArgs;
use crate::http::scim::{self, ScimState};
use crate::http::{self, Readiness};
use crate::scim::discovery::ServiceProviderConfig;
use crate::scimlog::ScimLog;
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
    let client = crate::kubeclient::client(args.kubeconfig.as_deref(), args.context.as_deref())
        .await
        .context("connecting to the Kubernetes API server")?;
    let version = client
        .apiserver_version()
        .await
        .context("reading the API server version")?;
    tracing::info!(server = %version.git_version, "connected to the Kubernetes API server");

    // --- leader election (issue 6): validated before anything starts ---
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
    // --- end leader election ---

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
    // --- SCIM request log ---
    let scim_log = Arc::new(ScimLog::with_limits(args.scim_log.limits()));
    // --- end SCIM request log ---
    let auth: Arc<dyn TokenAuthenticator> = Arc::new(KubeAuthenticator {
        tenants: tenants.clone(),
        tokens: tokens.clone(),
    });
    let scim_state = ScimState {
        store: store.clone(),
        auth: auth.clone(),
        config: Arc::new(ServiceProviderConfig::default()),
        public_url: args.public_url.clone().map(Into::into),
        scim_log: Some(scim_log.clone()),
    };
    // --- metrics and limits (issue 6) ---
    let metrics = crate::metrics::global().clone();
    metrics.observe_directory(store.clone());
    metrics.observe_scim_log(scim_log.clone());
    metrics.observe_tokens(tokens.clone());
    let metrics_server = metrics.clone().serve(args.metrics_listen).await?;
    let edge = http::limits::Edge {
        metrics: Some(metrics),
        limits: Some(Arc::new(http::limits::Limits::new(&args.limits))),
    };
    // --- end metrics and limits ---
    // --- tenant console (issue 8): off, with a log line, without its key Secret ---
    let console_deps = crate::console::Deps {
        client: client.clone(),
        store: store.clone(),
        tokens: tokens.clone(),
        scim_log: scim_log.clone(),
        namespace: args.namespace.clone(),
        public_url: args.public_url.clone(),
    };
    let (console, console_tenants) =
        crate::console::Console::new(console_deps, &args.console).await;
    // --- end tenant console ---
    let app = http::app(readiness.clone())
        .merge(scim::router_with(scim_state, &edge))
        .merge(http::scimlog::api_router(scim_log, auth))
        .merge(console.router());
    let app = MapRequestLayer::new(scim::normalize_path).layer(app);
    // One SIGTERM, seen by the HTTP server and by leader election.
    let shutdown = futures::FutureExt::shared(crate::shutdown::signal());
    let server = axum::serve(
        listener,
        ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app),
    )
    .with_graceful_shutdown(shutdown.clone());
    // In-flight requests get `--shutdown-grace-seconds` after SIGTERM, then
    // the process exits anyway (Kubernetes would SIGKILL it soon after).
    let grace = Duration::from_secs(args.shutdown_grace_seconds);
    let server = {
        let shutdown = shutdown.clone();
        async move {
            let expired = async {
                shutdown.await;
                tokio::time::sleep(grace).await;
            };
            tokio::select! {
                served = std::future::IntoFuture::into_future(server) => served,
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
        // --- tenant console (issue 8) ---
        tokio::spawn(console_tenants.run());
        // --- end tenant console ---
        // --- leader election (issue 6): every replica serves SCIM (the store
        // and its caches run everywhere); only the leader runs the controller ---
        let controller = {
            let (client, store, url) = (client.clone(), store.clone(), args.public_url.clone());
            move || crate::controller::run(client.clone(), store.clone(), url.clone())
        };
        let elector = match election {
            Some(settings) => Some(tokio::spawn(crate::leader::run_while_leading(
                client.clone(),
                settings,
                shutdown.clone(),
                controller,
            ))),
            None => {
                tracing::info!("leader election off: running the controller");
                crate::metrics::global().set_leader(true);
                tokio::spawn(controller());
                None
            }
        };
        // --- end leader election ---
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
