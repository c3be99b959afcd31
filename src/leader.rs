//! Leader election on a `coordination.k8s.io/v1` Lease, with the semantics of
//! client-go's `leaderelection` package.
//!
//! Every replica serves SCIM; only the one holding the Lease runs the
//! controller. Each replica tries every *retry period* to acquire or renew:
//!
//! - the Lease is free (missing, or no holder) or expired: take it, counting
//!   a transition;
//! - we hold it: renew it (`renewTime = now`);
//! - someone else holds it and it is live: follow, and stop leading if we were.
//!
//! Writes are `PUT`s carrying the `resourceVersion` that was read, so two
//! replicas racing for an expired Lease cannot both win: the loser gets a 409.
//! A leader that cannot renew within the *renew deadline* (shorter than the
//! lease duration) stops leading on its own, so it has stopped before anyone
//! else may take over. On graceful shutdown the holder clears itself from the
//! Lease, and a follower takes over at its next retry.
//!
//! Expiry is judged by the holder's `renewTime + leaseDurationSeconds`, and
//! also, to tolerate clocks that disagree, by our own monotonic clock: a
//! Lease we have seen change within the last lease duration is live,
//! whatever its `renewTime` says.
//!
//! [`decide`] is the pure part (Lease state, time, identity → action);
//! [`Elector`] does the API calls and [`run_while_leading`] starts and stops
//! the work as leadership comes and goes.
//!
//! Imports: `crd`, `scim`, `meta`, `auth`, `scimlog`, `metrics`,
//! `kubeclient`, `ready`, `shutdown`, `telemetry`, `store`, `controller` and
//! its own layer; must not import `operator`, `serve`, `cli`, `token_admin`,
//! `connect_admin`, `probe`, `replay` (layer order:
//! tests/e2e/imports_follow_the_layers.rs).

use std::future::Future;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Name of the Lease the replicas compete for.
pub const LEASE_NAME: &str = "scimitar-controller";

/// Timing and identity of one candidate.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Namespace of the Lease (the operator's own).
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity, written as `holderIdentity`.
    pub identity: String,
    /// How long a Lease stays valid after its last renewal.
    pub lease: Duration,
    /// How long a leader keeps leading without a successful renewal.
    pub renew_deadline: Duration,
    /// Pause between two attempts to acquire or renew.
    pub retry: Duration,
}

impl Settings {
    /// Settings from the command line: the renew deadline is two thirds of
    /// the lease (client-go's defaults: 15 s lease, 10 s deadline, 2 s retry).
    pub fn new(
        namespace: &str,
        identity: String,
        lease_seconds: u32,
        retry_seconds: u32,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            retry_seconds >= 1,
            "--leader-retry-seconds must be at least 1"
        );
        anyhow::ensure!(
            lease_seconds >= 2 * retry_seconds,
            "--leader-lease-seconds ({lease_seconds}) must be at least twice --leader-retry-seconds ({retry_seconds})"
        );
        anyhow::ensure!(
            i32::try_from(lease_seconds).is_ok(),
            "--leader-lease-seconds is too large"
        );
        let lease = Duration::from_secs(lease_seconds.into());
        Ok(Self {
            namespace: namespace.to_owned(),
            name: LEASE_NAME.to_owned(),
            identity,
            lease,
            renew_deadline: lease * 2 / 3,
            retry: Duration::from_secs(retry_seconds.into()),
        })
    }
}

/// This replica's identity: `POD_NAME` when set (the Downward API), else the
/// host name with a random suffix, so two processes on one host differ.
pub fn identity() -> String {
    if let Ok(pod) = std::env::var("POD_NAME")
        && !pod.is_empty()
    {
        return pod;
    }
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "scimitar".to_owned());
    format!("{host}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// What to do with the Lease as it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// It is ours: renew it.
    Renew,
    /// It is free or expired: take it.
    Acquire,
    /// Someone else holds it and it is live.
    Follow {
        /// The current holder.
        holder: String,
    },
}

/// Decides what `me` does with the Lease `spec` at `now`.
///
/// `changed_ago` is how long ago, by our own clock, we saw the Lease change
/// (None when we have not seen it change since we started watching it): a
/// Lease that changed less than its duration ago is live even if the
/// holder's clock makes its `renewTime` look old.
pub fn decide(
    spec: Option<&LeaseSpec>,
    me: &str,
    now: Timestamp,
    changed_ago: Option<Duration>,
    default_lease: Duration,
) -> Action {
    let Some(holder) = spec
        .and_then(|s| s.holder_identity.as_deref())
        .filter(|h| !h.is_empty())
    else {
        return Action::Acquire;
    };
    if holder == me {
        return Action::Renew;
    }
    let spec = spec.expect("a holder implies a spec");
    let lease = spec
        .lease_duration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .map_or(default_lease, Duration::from_secs);
    let renewed_until = spec.renew_time.as_ref().and_then(|renewed| {
        SignedDuration::try_from(lease)
            .ok()
            .and_then(|lease| renewed.0.checked_add(lease).ok())
    });
    let live_by_holder_clock = renewed_until.is_some_and(|until| until > now);
    let live_by_our_clock = changed_ago.is_some_and(|ago| ago < lease);
    if live_by_holder_clock || live_by_our_clock {
        Action::Follow {
            holder: holder.to_owned(),
        }
    } else {
        Action::Acquire
    }
}

/// Labels the Lease `app.kubernetes.io/managed-by: scimitar`, as every object
/// the operator writes: the chart's ValidatingAdmissionPolicy refuses the
/// operator's writes to unlabelled objects.
fn label_as_ours(meta: &mut ObjectMeta) {
    meta.labels.get_or_insert_with(Default::default).insert(
        crate::meta::MANAGED_BY.to_owned(),
        crate::meta::MANAGER.to_owned(),
    );
}

/// The outcome of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Attempt {
    /// We hold the Lease, renewed just now.
    Leading,
    /// Someone else holds it (or won the race to it).
    Following(String),
}

/// One candidate: reads and writes the Lease, and knows whether it leads.
pub struct Elector {
    api: Api<Lease>,
    settings: Settings,
    /// When our last successful acquisition or renewal started, while leading.
    renewed_at: Option<Instant>,
    /// The Lease's resourceVersion as last seen, when we first saw it, and
    /// whether that was a change we witnessed (not our first look).
    seen: Option<(String, Instant, bool)>,
}

impl Elector {
    /// A candidate for `settings.name` in `settings.namespace`.
    pub fn new(client: Client, settings: Settings) -> Self {
        Self {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            renewed_at: None,
            seen: None,
        }
    }

    /// Whether we lead: the last renewal is within the renew deadline.
    pub fn is_leading(&self) -> bool {
        self.renewed_at
            .is_some_and(|at| at.elapsed() < self.settings.renew_deadline)
    }

    /// One attempt to acquire or renew, bounded in time: by the renew
    /// deadline while leading, so a hung API call cannot keep us leading.
    /// Returns whether we lead afterwards.
    pub async fn step(&mut self) -> bool {
        let started = Instant::now();
        let budget = match self.renewed_at {
            Some(at) if self.is_leading() => {
                (at + self.settings.renew_deadline).saturating_duration_since(started)
            }
            _ => self.settings.renew_deadline,
        };
        match tokio::time::timeout(budget, self.attempt()).await {
            Ok(Ok(Attempt::Leading)) => self.renewed_at = Some(started),
            Ok(Ok(Attempt::Following(holder))) => {
                if self.renewed_at.take().is_some() {
                    tracing::warn!(%holder, "the Lease is held by another replica");
                }
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, lease = %self.settings.name, "leader election: cannot read or write the Lease");
            }
            Err(_) => {
                tracing::warn!(lease = %self.settings.name, "leader election: the API server did not answer in time");
            }
        }
        if !self.is_leading() {
            self.renewed_at = None;
        }
        self.is_leading()
    }

    async fn attempt(&mut self) -> Result<Attempt, kube::Error> {
        let now = Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            let mut lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.settings.name.clone()),
                    namespace: Some(self.settings.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(self.held_since(now, 0)),
            };
            label_as_ours(&mut lease.metadata);
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Leading),
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    Ok(Attempt::Following("(another replica)".into()))
                }
                Err(error) => Err(error),
            };
        };
        let changed_ago = self.observe(lease.metadata.resource_version.as_deref());
        let spec = lease.spec.get_or_insert_with(Default::default);
        match decide(
            Some(spec),
            &self.settings.identity,
            now,
            changed_ago,
            self.settings.lease,
        ) {
            Action::Follow { holder } => return Ok(Attempt::Following(holder)),
            Action::Renew => {
                spec.renew_time = Some(MicroTime(now));
                spec.lease_duration_seconds = Some(self.lease_seconds());
            }
            Action::Acquire => {
                let transitions = spec.lease_transitions.unwrap_or(0).saturating_add(1);
                *spec = self.held_since(now, transitions);
            }
        }
        // A Lease made by an older operator lacks the label; the chart's
        // admission policy lets exactly this Lease be labelled by an update.
        label_as_ours(&mut lease.metadata);
        // The PUT carries the resourceVersion we read: a 409 means another
        // replica wrote the Lease in between, and it wins.
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(Attempt::Leading),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                Ok(Attempt::Following("(another replica)".into()))
            }
            Err(error) => Err(error),
        }
    }

    /// Gives the Lease up if we hold it, so another replica takes over at
    /// its next retry instead of waiting for the Lease to expire.
    pub async fn release(&mut self) {
        self.renewed_at = None;
        let release = async {
            let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
                return Ok(false);
            };
            let Some(spec) = lease.spec.as_mut() else {
                return Ok(false);
            };
            if spec.holder_identity.as_deref() != Some(&self.settings.identity) {
                return Ok(false);
            }
            spec.holder_identity = None;
            spec.acquire_time = None;
            spec.renew_time = None;
            label_as_ours(&mut lease.metadata);
            self.api
                .replace(&self.settings.name, &PostParams::default(), &lease)
                .await
                .map(|_| true)
        };
        match tokio::time::timeout(self.settings.renew_deadline, release).await {
            Ok(Ok(true)) => {
                tracing::info!(lease = %self.settings.name, "released the leader Lease")
            }
            Ok(Ok(false)) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "could not release the leader Lease; it expires on its own");
            }
            Err(_) => tracing::warn!("releasing the leader Lease timed out; it expires on its own"),
        }
    }

    /// The spec of a Lease we take at `now`.
    fn held_since(&self, now: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.settings.identity.clone()),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(self.lease_seconds()),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    fn lease_seconds(&self) -> i32 {
        i32::try_from(self.settings.lease.as_secs()).unwrap_or(i32::MAX)
    }

    /// Records the Lease's resourceVersion; returns how long ago we saw it
    /// change, or None if we have not witnessed a change yet.
    fn observe(&mut self, version: Option<&str>) -> Option<Duration> {
        let version = version.unwrap_or_default();
        match &self.seen {
            Some((seen, at, witnessed)) if seen == version => witnessed.then(|| at.elapsed()),
            previous => {
                let witnessed = previous.is_some();
                self.seen = Some((version.to_owned(), Instant::now(), witnessed));
                witnessed.then_some(Duration::ZERO)
            }
        }
    }
}

/// Runs `work` (as a task) only while this replica holds the Lease, until
/// `shutdown` resolves; then stops the work and releases the Lease. Whether
/// it runs is published in `metrics` (`scimitar_leader`).
///
/// When leadership is lost the task is aborted at once, so two replicas never
/// run the work at the same time for longer than a clock skew.
pub async fn run_while_leading<W, F>(
    client: Client,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    mut work: W,
) where
    W: FnMut() -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let retry = settings.retry;
    tracing::info!(
        identity = %settings.identity,
        lease = %format!("{}/{}", settings.namespace, settings.name),
        lease_seconds = settings.lease.as_secs(),
        retry_seconds = retry.as_secs(),
        "leader election: candidate"
    );
    let mut elector = Elector::new(client, settings);
    let mut task: Option<JoinHandle<()>> = None;
    tokio::pin!(shutdown);
    loop {
        let leading = tokio::select! {
            () = &mut shutdown => break,
            leading = elector.step() => leading,
        };
        match (leading, task.take()) {
            (true, Some(running)) if !running.is_finished() => task = Some(running),
            (true, finished) => {
                if finished.is_some() {
                    tracing::error!("the controller stopped on its own; starting it again");
                } else {
                    tracing::info!("leader election: became the leader; starting the controller");
                }
                task = Some(tokio::spawn(work()));
            }
            (false, Some(running)) => {
                tracing::warn!("leader election: lost leadership; stopping the controller");
                running.abort();
            }
            (false, None) => {}
        }
        metrics.set_leader(task.is_some());
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(retry) => {}
        }
    }
    if let Some(running) = task.take() {
        tracing::info!("leader election: shutting down; stopping the controller");
        running.abort();
        let _ = running.await;
    }
    metrics.set_leader(false);
    elector.release().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(15);

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).expect("timestamp")
    }

    fn held(holder: &str, renewed: i64, seconds: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(at(renewed))),
            lease_duration_seconds: Some(seconds),
            ..Default::default()
        }
    }

    fn follow(holder: &str) -> Action {
        Action::Follow {
            holder: holder.into(),
        }
    }

    #[test]
    fn the_lease_is_labelled_as_scimitars_keeping_other_labels() {
        let mut meta = ObjectMeta::default();
        label_as_ours(&mut meta);
        let labels = meta.labels.clone().expect("labels");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "scimitar");
        meta.labels = Some([("team".to_owned(), "platform".to_owned())].into());
        label_as_ours(&mut meta);
        let labels = meta.labels.expect("labels");
        assert_eq!(labels.len(), 2);
        assert_eq!(labels["team"], "platform");
    }

    #[test]
    fn a_missing_or_free_lease_is_acquired() {
        assert_eq!(decide(None, "a", at(0), None, LEASE), Action::Acquire);
        let free = LeaseSpec::default();
        assert_eq!(
            decide(Some(&free), "a", at(0), None, LEASE),
            Action::Acquire
        );
        let released = LeaseSpec {
            holder_identity: Some(String::new()),
            ..held("x", 0, 15)
        };
        assert_eq!(
            decide(Some(&released), "a", at(0), None, LEASE),
            Action::Acquire
        );
    }

    #[test]
    fn our_own_lease_is_renewed_even_when_expired() {
        assert_eq!(
            decide(Some(&held("a", 0, 15)), "a", at(1), None, LEASE),
            Action::Renew
        );
        assert_eq!(
            decide(Some(&held("a", 0, 15)), "a", at(100), None, LEASE),
            Action::Renew
        );
    }

    #[test]
    fn a_live_lease_of_another_is_followed_until_it_expires() {
        let lease = held("b", 0, 15);
        assert_eq!(decide(Some(&lease), "a", at(0), None, LEASE), follow("b"));
        assert_eq!(decide(Some(&lease), "a", at(14), None, LEASE), follow("b"));
        assert_eq!(
            decide(Some(&lease), "a", at(15), None, LEASE),
            Action::Acquire
        );
        assert_eq!(
            decide(Some(&lease), "a", at(60), None, LEASE),
            Action::Acquire
        );
    }

    #[test]
    fn the_lease_duration_written_in_the_lease_counts() {
        let short = held("b", 0, 4);
        assert_eq!(decide(Some(&short), "a", at(3), None, LEASE), follow("b"));
        assert_eq!(
            decide(Some(&short), "a", at(5), None, LEASE),
            Action::Acquire
        );
        let unset = LeaseSpec {
            lease_duration_seconds: None,
            ..held("b", 0, 0)
        };
        assert_eq!(decide(Some(&unset), "a", at(10), None, LEASE), follow("b"));
        assert_eq!(
            decide(Some(&unset), "a", at(16), None, LEASE),
            Action::Acquire
        );
    }

    #[test]
    fn a_holder_without_renew_time_is_expired_unless_seen_changing() {
        let lease = LeaseSpec {
            renew_time: None,
            ..held("b", 0, 15)
        };
        assert_eq!(
            decide(Some(&lease), "a", at(0), None, LEASE),
            Action::Acquire
        );
        assert_eq!(
            decide(
                Some(&lease),
                "a",
                at(0),
                Some(Duration::from_secs(3)),
                LEASE
            ),
            follow("b")
        );
    }

    #[test]
    fn a_lease_seen_changing_recently_is_live_whatever_the_holder_clock_says() {
        // The holder's clock is a minute behind: its renewTime looks stale.
        let lease = held("b", -60, 15);
        assert_eq!(
            decide(Some(&lease), "a", at(0), None, LEASE),
            Action::Acquire
        );
        assert_eq!(
            decide(
                Some(&lease),
                "a",
                at(0),
                Some(Duration::from_secs(2)),
                LEASE
            ),
            follow("b")
        );
        assert_eq!(
            decide(
                Some(&lease),
                "a",
                at(0),
                Some(Duration::from_secs(15)),
                LEASE
            ),
            Action::Acquire
        );
    }

    #[test]
    fn settings_keep_the_renew_deadline_between_retry_and_lease() {
        let s = Settings::new("ns", "me".into(), 15, 2).expect("valid");
        assert_eq!(s.renew_deadline, Duration::from_secs(10));
        assert_eq!(s.retry, Duration::from_secs(2));
        assert_eq!(s.name, LEASE_NAME);
        let s = Settings::new("ns", "me".into(), 4, 1).expect("valid");
        assert!(s.retry < s.renew_deadline && s.renew_deadline < s.lease);
        assert!(Settings::new("ns", "me".into(), 3, 2).is_err());
        assert!(Settings::new("ns", "me".into(), 15, 0).is_err());
    }

    #[test]
    fn identities_differ_between_processes_on_one_host() {
        // POD_NAME is not set under `cargo test`.
        if std::env::var_os("POD_NAME").is_none() {
            assert_ne!(identity(), identity());
        }
    }
}
