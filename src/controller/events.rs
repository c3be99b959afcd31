//! The events phase: Kubernetes Events on the tenant for what a reconcile
//! created or deleted, and a Warning for each problem the first time it is
//! seen (remembered per tenant until it is no longer a problem, so the set
//! holds only current problems).

use std::collections::HashSet;
use std::sync::Mutex;

use kube::Resource;
use kube::runtime::events::{Event, EventType};

use super::apply::{Change, bounded};
use super::desired::Problem;
use super::run::Context;
use crate::crd::ScimTenant;

/// Problems already published as Warning Events, per tenant.
#[derive(Default)]
pub struct Warned(Mutex<HashSet<String>>);

impl Warned {
    fn key(tenant: &str, problem: &Problem) -> String {
        format!("{tenant}\0{}\0{}", problem.reason, problem.message)
    }

    /// Whether `problem` is new for `tenant` (and remembers it).
    fn first(&self, tenant: &str, problem: &Problem) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(Self::key(tenant, problem))
    }

    /// Keeps other tenants' warnings and `tenant`'s `current` ones, so a
    /// problem that comes back is published again.
    pub fn retain(&self, tenant: &str, current: &[&Problem]) {
        let current: HashSet<String> = current.iter().map(|p| Self::key(tenant, p)).collect();
        let prefix = format!("{tenant}\0");
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|key| !key.starts_with(&prefix) || current.contains(key));
    }

    /// Forgets a deleted tenant.
    pub fn forget(&self, tenant: &str) {
        self.retain(tenant, &[]);
    }
}

/// Publishes what a reconcile created and deleted. Updates are routine (every
/// membership change updates a binding and a shard): logged, not an Event,
/// which would double the writes.
pub(super) async fn changes(ctx: &Context, tenant: &ScimTenant, changes: &[Change]) {
    let name = tenant.meta().name.as_deref().unwrap_or_default();
    for change in changes {
        let (reason, note) = match change {
            Change::Created(what) => ("Created", format!("created {what}")),
            Change::Updated(what) => {
                tracing::info!(tenant = %name, "updated {what}");
                continue;
            }
            Change::Deleted(what) => ("Deleted", format!("deleted {what}")),
        };
        tracing::info!(tenant = %name, "{note}");
        publish(ctx, tenant, EventType::Normal, reason, note).await;
    }
}

/// Publishes a Warning for each problem not published before.
pub(super) async fn problems(ctx: &Context, tenant: &ScimTenant, problems: &[&Problem]) {
    let name = tenant.meta().name.as_deref().unwrap_or_default();
    for problem in problems {
        if ctx.warned.first(name, problem) {
            publish(
                ctx,
                tenant,
                EventType::Warning,
                problem.reason,
                problem.message.clone(),
            )
            .await;
        }
    }
}

/// Publishes one Event on the tenant; a failure is only logged (Events are
/// a courtesy, the status is the record).
pub(super) async fn publish(
    ctx: &Context,
    tenant: &ScimTenant,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(error) = bounded(ctx.recorder.publish(&event, &tenant.object_ref(&()))).await {
        tracing::debug!(%error, "could not publish an Event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(message: &str) -> Problem {
        Problem {
            reason: "R",
            message: message.into(),
        }
    }

    #[test]
    fn a_warning_is_published_once_while_it_lasts_and_again_when_it_returns() {
        let warned = Warned::default();
        assert!(warned.first("acme", &problem("old")));
        assert!(!warned.first("acme", &problem("old")));
        assert!(warned.first("acme", &problem("now")));
        assert!(warned.first("beta", &problem("x")));
        warned.retain("acme", &[&problem("now")]);
        assert!(!warned.first("acme", &problem("now")));
        assert!(
            !warned.first("beta", &problem("x")),
            "other tenants are kept"
        );
        assert!(
            warned.first("acme", &problem("old")),
            "a returning problem is new"
        );
        warned.forget("beta");
        assert!(warned.first("beta", &problem("x")));
    }
}
