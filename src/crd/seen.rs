//! What the cache keeps of a user's or group's status: a digest, to tell
//! whether the status the controller computes is already there, and since
//! when each condition holds, to carry its `lastTransitionTime` over. The
//! status itself is not kept: with it, 100,000 users would hold their group
//! lists twice.

use std::hash::{Hash, Hasher};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde::Serialize;

use super::{ScimGroupStatus, ScimUserStatus};

/// The condition types the controller writes, in the order it writes them.
pub const CONDITIONS: [&str; 2] = ["Ready", "Degraded"];

/// A digest of a status and its conditions' transitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusSeen {
    /// Of the status with its conditions' `lastTransitionTime` left out
    /// (they say when, not what).
    pub digest: u64,
    /// Per entry of [`CONDITIONS`]: whether it is `True`, since (Unix seconds).
    pub since: [Option<(bool, i64)>; 2],
}

impl StatusSeen {
    /// The conditions as far as [`crate::controller`] needs the old ones:
    /// type, status and transition time.
    pub fn conditions(&self) -> Vec<Condition> {
        CONDITIONS
            .iter()
            .zip(self.since)
            .filter_map(|(type_, since)| {
                let (status, at) = since?;
                Some(Condition {
                    type_: (*type_).to_owned(),
                    status: if status { "True" } else { "False" }.to_owned(),
                    last_transition_time: Time(jiff::Timestamp::from_second(at).ok()?),
                    reason: String::new(),
                    message: String::new(),
                    observed_generation: None,
                })
            })
            .collect()
    }
}

impl ScimUserStatus {
    /// See [`StatusSeen`].
    pub fn seen(&self) -> StatusSeen {
        seen(self, &self.conditions)
    }
}

impl ScimGroupStatus {
    /// See [`StatusSeen`].
    pub fn seen(&self) -> StatusSeen {
        seen(self, &self.conditions)
    }
}

fn seen<S: Serialize>(status: &S, conditions: &[Condition]) -> StatusSeen {
    let mut value = serde_json::to_value(status).unwrap_or_default();
    if let Some(listed) = value
        .get_mut("conditions")
        .and_then(serde_json::Value::as_array_mut)
    {
        for condition in listed.iter_mut().filter_map(|c| c.as_object_mut()) {
            condition.remove("lastTransitionTime");
        }
    }
    // Same bytes for the same status within one process is all it needs:
    // digests are never stored or compared across processes.
    let mut hasher = std::hash::DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    let since = CONDITIONS.map(|type_| {
        conditions
            .iter()
            .find(|c| c.type_ == type_)
            .map(|c| (c.status == "True", c.last_transition_time.0.as_second()))
    });
    StatusSeen {
        digest: hasher.finish(),
        since,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(type_: &str, status: &str, at: i64, message: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: "R".into(),
            message: message.into(),
            last_transition_time: Time(jiff::Timestamp::from_second(at).expect("time")),
            observed_generation: Some(1),
        }
    }

    #[test]
    fn the_digest_follows_what_the_status_says_not_when() {
        let status = |at: i64, message: &str, groups: &[&str]| ScimUserStatus {
            conditions: vec![
                condition("Ready", "True", at, message),
                condition("Degraded", "False", at, "fine"),
            ],
            subject: Some("oidc:jane".into()),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            observed_generation: Some(1),
            ..Default::default()
        };
        let base = status(1_700_000_000, "bound", &["ops"]).seen();
        assert_eq!(base, status(1_700_000_000, "bound", &["ops"]).seen());
        assert_eq!(
            base.digest,
            status(1_800_000_000, "bound", &["ops"]).seen().digest
        );
        assert_ne!(
            base.digest,
            status(1_700_000_000, "bound!", &["ops"]).seen().digest
        );
        assert_ne!(
            base.digest,
            status(1_700_000_000, "bound", &["ops", "dev"])
                .seen()
                .digest
        );
        assert_eq!(
            base.since,
            [Some((true, 1_700_000_000)), Some((false, 1_700_000_000))]
        );
        let back = base.conditions();
        assert_eq!(back.len(), 2);
        assert_eq!(
            (back[0].type_.as_str(), back[0].status.as_str()),
            ("Ready", "True")
        );
        assert_eq!(back[1].last_transition_time.0.as_second(), 1_700_000_000);
        assert_eq!(ScimUserStatus::default().seen().since, [None, None]);
    }
}
