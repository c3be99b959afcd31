//! Waiting, from many tasks at once, for reflector stores to hold their
//! first listing. kube-runtime's `Store::wait_until_ready` keeps one waker
//! (a oneshot receiver): of several tasks waiting at once only the last to
//! poll is woken, and the others hang until their timeout. At a start with
//! several tenants, every reconcile but one hung for 30 s. Through a
//! [`ReadyGate`] one task at a time waits on the stores.
//!
//! Imports: `crd`, `scim`, `meta` and its own layer; must not import `store`,
//! `controller`, `http`, `console`, `leader`, `operator`, `serve`, `cli`,
//! `token_admin`, `connect_admin`, `probe`, `replay` (layer order:
//! tests/e2e/imports_follow_the_layers.rs).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

/// Lets one waiter at a time wait for readiness, and everyone through once
/// it is there.
#[derive(Default)]
pub struct ReadyGate {
    ready: AtomicBool,
    turn: tokio::sync::Mutex<()>,
}

impl ReadyGate {
    /// Waits until `ready()` has completed once (for any caller). A waiter
    /// that is cancelled (a timeout) hands its turn to the next.
    pub async fn wait<F: Future>(&self, ready: impl FnOnce() -> F) {
        if self.ready.load(Ordering::Acquire) {
            return;
        }
        let _turn = self.turn.lock().await;
        if self.ready.load(Ordering::Acquire) {
            return;
        }
        ready().await;
        self.ready.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use k8s_openapi::api::core::v1::Namespace;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;

    #[tokio::test]
    async fn every_waiter_gets_through_when_the_store_is_ready() {
        let (reader, mut writer) = reflector::store::<Namespace>();
        let gate = Arc::new(ReadyGate::default());
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let (gate, reader) = (gate.clone(), reader.clone());
                tokio::spawn(async move {
                    gate.wait(|| async {
                        let _ = reader.wait_until_ready().await;
                    })
                    .await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitDone);
        for waiter in waiters {
            tokio::time::timeout(Duration::from_secs(2), waiter)
                .await
                .expect("a waiter was not woken")
                .expect("waiter");
        }
    }
}
