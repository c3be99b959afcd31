//! The events phase: Kubernetes Events on the tenant for what a reconcile
//! created or deleted, and a Warning for each problem the first time it is
//! seen (remembered per tenant until it is no longer a problem, so the set
//! holds only current problems).

use std::collections::HashSet;
use std::sync::Mutex;

use kube::Resource;
use kube::runtime::events::{Event, EventType};

use super::apply::{Change, with_timeout};
use super::context::Context;
use super::desired::Problem;
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

/// Events per reason a reconcile publishes one by one; beyond that, one
/// Event sums them up (a first pass at 100,000 users creates 10,000
/// bindings: an Event each would be 10,000 more API writes, and the
/// recorder's cache scans itself on every publish).
const EVENTS_PER_REASON: usize = 10;

/// Publishes what a reconcile created and deleted. Updates are routine (every
/// membership change updates a binding and a shard): logged, not an Event,
/// which would double the writes.
pub(super) async fn changes(ctx: &Context, tenant: &ScimTenant, changes: &[Change]) {
    let name = tenant.meta().name.as_deref().unwrap_or_default();
    let (mut created, mut deleted) = (Vec::new(), Vec::new());
    for change in changes {
        match change {
            Change::Created(what) => created.push(what.as_str()),
            Change::Updated(what) => tracing::info!(tenant = %name, "updated {what}"),
            Change::Deleted(what) => deleted.push(what.as_str()),
        }
    }
    for (reason, verb, what) in [
        ("Created", "created", created),
        ("Deleted", "deleted", deleted),
    ] {
        for object in &what {
            tracing::info!(tenant = %name, "{verb} {object}");
        }
        for note in notes(verb, &what) {
            publish(ctx, tenant, EventType::Normal, reason, note).await;
        }
    }
}

/// The notes of the Events for `objects` that were `verb`: one each, or
/// one for all beyond [`EVENTS_PER_REASON`].
fn notes(verb: &str, objects: &[&str]) -> Vec<String> {
    if objects.len() <= EVENTS_PER_REASON {
        return objects.iter().map(|o| format!("{verb} {o}")).collect();
    }
    vec![format!(
        "{verb} {} objects: {} and {} more",
        objects.len(),
        objects[..EVENTS_PER_REASON].join(", "),
        objects.len() - EVENTS_PER_REASON
    )]
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
    if let Err(error) = with_timeout(ctx.recorder.publish(&event, &tenant.object_ref(&()))).await {
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
    fn many_creations_make_one_event() {
        assert_eq!(notes("created", &["a", "b"]), ["created a", "created b"]);
        let many: Vec<String> = (0..10_000)
            .map(|n| format!("RoleBinding apps/b{n}"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let summed = notes("created", &many);
        assert_eq!(summed.len(), 1);
        assert!(summed[0].starts_with("created 10000 objects: RoleBinding apps/b0, "));
        assert!(summed[0].ends_with("and 9990 more"));
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
