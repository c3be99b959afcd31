//! Building a Kubernetes client from a kubeconfig file, the environment or the in-cluster config.
//!
//! Imports: `crd`, `scim`, `meta` and its own layer; must not import `store`,
//! `controller`, `http`, `console`, `leader`, `operator`, `serve`, `cli`,
//! `token_admin`, `connect_admin`, `probe`, `replay` (layer order:
//! tests/e2e/imports_follow_the_layers.rs).

use std::path::Path;
use std::sync::Arc;

use axum::body::HttpBody as _;
use kube::client::{Body, ClientBuilder};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tower::util::MapRequestLayer;

/// Connects with `path` if given, otherwise with kube's usual inference
/// (`KUBECONFIG`, `~/.kube/config`, then the in-cluster service account).
pub async fn client(path: Option<&Path>, context: Option<&str>) -> anyhow::Result<Client> {
    Ok(Client::try_from(config(path, context).await?)?)
}

/// [`client`], with every mutating request counted in `metrics`
/// (`scimitar_api_writes_total`, `scimitar_api_write_bytes_total`), and
/// every watch (`scimitar_api_watches_total`).
pub async fn counted_client(
    path: Option<&Path>,
    context: Option<&str>,
    metrics: Arc<crate::metrics::Metrics>,
) -> anyhow::Result<Client> {
    let count = MapRequestLayer::new(move |request: axum::http::Request<Body>| {
        let bytes = request.body().size_hint().exact().unwrap_or(0);
        let (method, uri) = (request.method().as_str(), request.uri());
        metrics.api_request(method, uri.path(), bytes);
        metrics.api_watch(method, uri.path(), uri.query());
        request
    });
    Ok(ClientBuilder::try_from(config(path, context).await?)?
        .with_layer(&count)
        .build())
}

async fn config(path: Option<&Path>, context: Option<&str>) -> anyhow::Result<Config> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..Default::default()
    };
    let config = match path {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)?;
            Config::from_custom_kubeconfig(kubeconfig, &options).await?
        }
        None if context.is_some() => Config::from_kubeconfig(&options).await?,
        None => Config::infer().await?,
    };
    Ok(config)
}

/// The watch configuration every watch of the operator uses. Lists are
/// quorum reads (`MostRecent`): a list served from a freshly restarted API
/// server's watch cache can be older than the watch that follows it expects,
/// and the watch then fails with "too old resource version" over and over.
pub fn watch_config() -> kube::runtime::watcher::Config {
    kube::runtime::watcher::Config::default()
        .list_semantic(kube::runtime::watcher::ListSemantic::MostRecent)
}
