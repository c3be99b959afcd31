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

use crate::cli::RunArgs;
use crate::http::scim::{self, ScimState};
use crate::http::{self, Readiness};
use crate::scim::discovery::ServiceProviderConfig;
use crate::store::kube::KubeStore;
use crate::store::kube::tenants::Tenants;

/// How long to wait for the CRDs to be established before giving up.
const CRD_WAIT: Duration = Duration::from_secs(30);

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

    let readiness = Readiness::default();
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "HTTP server listening");

    let tenants = Arc::new(Tenants::default());
    let store = Arc::new(KubeStore::new(client.clone(), tenants.clone()));
    let scim_state = ScimState {
        store: store.clone(),
        auth: tenants.clone(),
        config: Arc::new(ServiceProviderConfig::default()),
        public_url: args.public_url.clone().map(Into::into),
    };
    // --- metrics and limits (issue 6) ---
    let metrics = crate::metrics::global().clone();
    metrics.observe_directory(store.clone());
    let metrics_server = metrics.clone().serve(args.metrics_listen).await?;
    let edge = http::limits::Edge {
        metrics: Some(metrics),
        limits: Some(Arc::new(http::limits::Limits::new(&args.limits))),
    };
    let app = http::app(readiness.clone()).merge(scim::router_with(scim_state, &edge));
    // --- end metrics and limits ---
    let app = MapRequestLayer::new(scim::normalize_path).layer(app);
    let server = axum::serve(
        listener,
        ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app),
    )
    .with_graceful_shutdown(crate::shutdown::signal());

    let startup = async {
        wait_for_crds(&client).await?;
        tokio::spawn(store.clone().run());
        tokio::spawn(crate::controller::run(
            client.clone(),
            store.clone(),
            args.public_url.clone(),
        ));
        while !store.is_ready() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Ready while the caches are synced and the API server answers (issue 6).
        let synced = store.clone();
        tokio::spawn(http::keep_ready(
            readiness.clone(),
            client.clone(),
            move || synced.is_ready(),
        ));
        anyhow::Ok(())
    };
    let (served, started, metrics_served) = tokio::join!(server, startup, metrics_server);
    started?;
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
