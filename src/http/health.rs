//! `/healthz` (the process is alive) and `/readyz` (it can serve: the caches
//! are synced and the API server answers, checked every [`PROBE_EVERY`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

/// Shared readiness flag, flipped by the operator once its dependencies are usable.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the process ready or not ready.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }

    /// Whether the process is ready.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Routes for the two probes.
pub fn health_routes(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(readiness)
}

async fn readyz(State(readiness): State<Readiness>) -> (StatusCode, &'static str) {
    if readiness.get() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// How often readiness is re-checked.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);
/// How long the API server has to answer the readiness check.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Keeps `readiness` current until the process stops: ready while `synced()`
/// holds and the API server answers `GET /version` (a cheap request every
/// identity may make) within [`PROBE_TIMEOUT`]. A failure shows within
/// [`PROBE_EVERY`] + [`PROBE_TIMEOUT`].
pub async fn keep_ready(
    readiness: Readiness,
    client: kube::Client,
    synced: impl Fn() -> bool + Send + 'static,
) {
    keep_ready_with(readiness, move || {
        let client = client.clone();
        let synced = synced();
        async move {
            if !synced {
                return Err("the caches are not synced".to_owned());
            }
            client
                .apiserver_version()
                .await
                .map(|_| ())
                .map_err(|e| format!("the API server does not answer: {e}"))
        }
    })
    .await
}

/// [`keep_ready`] with any check.
pub async fn keep_ready_with<F, Fut>(readiness: Readiness, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was = None;
    loop {
        tick.tick().await;
        let outcome = tokio::time::timeout(PROBE_TIMEOUT, check())
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {PROBE_TIMEOUT:?}")));
        let ready = outcome.is_ok();
        readiness.set(ready);
        if was != Some(ready) {
            match outcome {
                Ok(()) => tracing::info!("ready"),
                Err(reason) => tracing::warn!(%reason, "not ready"),
            }
        }
        was = Some(ready);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn readiness_follows_the_check_within_seconds() {
        let readiness = Readiness::default();
        let healthy = Arc::new(AtomicBool::new(true));
        let hanging = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicU32::new(0));
        let probe = {
            let (healthy, hanging, calls) = (healthy.clone(), hanging.clone(), calls.clone());
            keep_ready_with(readiness.clone(), move || {
                let (healthy, hanging) = (
                    healthy.load(Ordering::SeqCst),
                    hanging.load(Ordering::SeqCst),
                );
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if hanging {
                        std::future::pending::<()>().await;
                    }
                    if healthy {
                        Ok(())
                    } else {
                        Err("down".to_owned())
                    }
                }
            })
        };
        let task = tokio::spawn(probe);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(readiness.get(), "ready after the first check");
        healthy.store(false, Ordering::SeqCst);
        tokio::time::sleep(PROBE_EVERY).await;
        assert!(!readiness.get(), "a failed check shows at the next tick");
        healthy.store(true, Ordering::SeqCst);
        tokio::time::sleep(PROBE_EVERY).await;
        assert!(readiness.get());
        // An API server that never answers counts as down after the timeout.
        hanging.store(true, Ordering::SeqCst);
        tokio::time::sleep(PROBE_EVERY + PROBE_TIMEOUT).await;
        assert!(!readiness.get(), "a hanging check is a failure");
        assert!(calls.load(Ordering::SeqCst) >= 4);
        task.abort();
    }
}
