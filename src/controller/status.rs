//! Status conditions: `Ready` (everything wanted is in place) and `Degraded`
//! (something could not be done; the reason says what), on tenants, groups and
//! users, so that `kubectl wait --for=condition=Ready` works.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::desired::Problem;

/// Conditions for an object, keeping `lastTransitionTime` of conditions whose
/// status did not change.
pub fn conditions(
    previous: &[Condition],
    problems: &[Problem],
    failures: &[String],
    ready_message: &str,
    generation: Option<i64>,
) -> Vec<Condition> {
    let ready = failures.is_empty();
    let degraded = !problems.is_empty() || !failures.is_empty();
    let first = problems.first();
    let (degraded_reason, degraded_message) = if let Some(failure) = failures.first() {
        ("ApplyFailed".to_owned(), failure.clone())
    } else if let Some(problem) = first {
        let more = problems.len() - 1;
        let suffix = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        (
            problem.reason.to_owned(),
            format!("{}{suffix}", problem.message),
        )
    } else {
        ("AsExpected".to_owned(), "nothing is wrong".to_owned())
    };
    let build = |type_: &str, status: bool, reason: String, message: String| {
        let status = if status { "True" } else { "False" }.to_owned();
        let since = previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| Time(jiff::Timestamp::now()));
        Condition {
            type_: type_.to_owned(),
            status,
            reason,
            message,
            last_transition_time: since,
            observed_generation: generation,
        }
    };
    vec![
        build(
            "Ready",
            ready,
            if ready {
                "Reconciled".into()
            } else {
                "ApplyFailed".into()
            },
            if ready {
                ready_message.to_owned()
            } else {
                failures.join("; ")
            },
        ),
        build("Degraded", degraded, degraded_reason, degraded_message),
    ]
}

/// Conditions compared without their timestamps, to decide whether to write.
pub fn same(a: &[Condition], b: &[Condition]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.type_ == y.type_
                && x.status == y.status
                && x.reason == y.reason
                && x.message == y.message
                && x.observed_generation == y.observed_generation
        })
}

/// Whether the conditions say `Ready`.
pub fn ready(conditions: &[Condition]) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}
