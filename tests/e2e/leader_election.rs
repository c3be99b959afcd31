//! Several replicas serve SCIM; only the one holding the Lease runs the
//! controller. When the leader dies (SIGKILL) another takes over once the
//! Lease expires and reconciles what changed meanwhile; when it stops
//! gracefully it releases the Lease and the successor takes over at once.

use scimitar::scim::schema::PATCH_OP_URN;
use std::time::{Duration, Instant};

use crate::support::operator::{Operator, Scim, can, create_tenant, until};
use crate::support::{ControlPlane, install_crds, namespace};
use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use scimitar::crd::ScimTenantSpec;
use serde_json::json;
/// Short timings so the test is quick: a 4 s Lease, renewed every second.
const TIMINGS: &[&str] = &["--leader-lease-seconds", "4", "--leader-retry-seconds", "1"];
const LEASE_SECONDS: u64 = 4;

async fn lease(admin: &Client) -> Option<Lease> {
    Api::<Lease>::namespaced(admin.clone(), "scimitar-system")
        .get_opt(scimitar::leader::LEASE_NAME)
        .await
        .expect("reading the Lease")
}

async fn holder(admin: &Client) -> Option<String> {
    lease(admin)
        .await
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

async fn transitions(admin: &Client) -> i32 {
    lease(admin)
        .await
        .and_then(|l| l.spec)
        .and_then(|s| s.lease_transitions)
        .unwrap_or(0)
}

/// Waits (at most 30 s) until `who` holds the Lease; returns how long it took.
async fn until_holder(admin: &Client, who: &str) -> Duration {
    let started = Instant::now();
    loop {
        if holder(admin).await.as_deref() == Some(who) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{who} does not hold the Lease after 30 s (holder: {:?})",
            holder(admin).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many times the operator's log says it started the controller.
fn times_led(operator: &Operator) -> usize {
    std::fs::read_to_string(&operator.log)
        .unwrap_or_default()
        .matches("became the leader")
        .count()
}

#[tokio::test]
async fn one_leader_runs_the_controller_and_hands_over_when_it_dies_or_stops() {
    // Its own control plane: the test decides who holds the leader Lease.
    let cp = &ControlPlane::dedicated("leader-election");
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "lead").await;
    let dev = namespace(&admin, "lead-dev").await;
    let spec: ScimTenantSpec = serde_json::from_value(json!({
        "namespace": home,
        "mappings": [{"group": "eng", "role": {"name": "view"}, "namespaces": [dev]}]
    }))
    .expect("spec");
    let token = create_tenant(&admin, &home, spec).await;

    // Two replicas: exactly one holds the Lease and runs the controller.
    let mut a = Operator::start_with(cp, TIMINGS);
    let mut b = Operator::start_with(cp, TIMINGS);
    let started = Instant::now();
    let first = loop {
        if let Some(h) = holder(&admin).await {
            break h;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "nobody leads");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (leader, follower) = if first == a.identity {
        (&mut a, &mut b)
    } else {
        assert_eq!(first, b.identity, "the holder is one of the two replicas");
        (&mut b, &mut a)
    };
    // Several renewals later, still one leader, and the other never led.
    tokio::time::sleep(Duration::from_secs(LEASE_SECONDS + 1)).await;
    assert_eq!(holder(&admin).await.as_deref(), Some(&*leader.identity));
    assert_eq!(times_led(leader), 1, "see {}", leader.log.display());
    assert_eq!(times_led(follower), 0, "see {}", follower.log.display());

    // Both serve SCIM; writes through the follower are reconciled by the leader.
    let on_follower = Scim::new(follower, &token);
    let on_leader = Scim::new(leader, &token);
    on_follower.wait_until_authorized().await;
    on_leader.wait_until_authorized().await;
    let jo = on_follower
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "jo@example.com"})),
        )
        .await;
    assert_eq!(jo.status, 201, "{}", jo.body);
    let kim = on_leader
        .send(
            "POST",
            "/Users",
            Some(json!({"userName": "kim@example.com"})),
        )
        .await;
    assert_eq!(kim.status, 201, "{}", kim.body);
    let group = on_follower
        .send(
            "POST",
            "/Groups",
            Some(json!({"displayName": "eng", "members": [{"value": jo.body["id"]}]})),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.body);
    let group_path = format!("/Groups/{}", group.body["id"].as_str().expect("id"));
    let may = |user: &'static str| {
        let admin = admin.clone();
        let dev = dev.clone();
        move || {
            let admin = admin.clone();
            let dev = dev.clone();
            async move { can(&admin, user, "list", "pods", &dev).await }
        }
    };
    until("jo's access", true, may("oidc:jo@example.com")).await;
    assert!(!can(&admin, "oidc:kim@example.com", "list", "pods", &dev).await);

    // The leader dies. A change made right after, through the survivor, is
    // reconciled once the survivor has taken the expired Lease over.
    let before = transitions(&admin).await;
    leader.kill();
    let died = Instant::now();
    let add = on_follower
        .send(
            "PATCH",
            &group_path,
            Some(json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "add", "path": "members", "value": [{"value": kim.body["id"]}]}]})),
        )
        .await;
    assert_eq!(add.status, 200, "{}", add.body);
    let took_over = until_holder(&admin, &follower.identity).await;
    until("kim's access", true, may("oidc:kim@example.com")).await;
    let reconciled = died.elapsed();
    eprintln!(
        "timing: leader SIGKILLed → successor holds the Lease in {took_over:?}, the change made meanwhile is access in {reconciled:?} (lease {LEASE_SECONDS} s, retry 1 s)"
    );
    assert!(
        took_over < Duration::from_secs(LEASE_SECONDS + 3),
        "takeover {took_over:?}"
    );
    assert_eq!(transitions(&admin).await, before + 1, "a takeover counts");
    assert_eq!(times_led(follower), 1, "see {}", follower.log.display());

    // A third replica joins as a follower; the leader stops gracefully and
    // releases the Lease, so the third takes over well before it would expire.
    let mut c = Operator::start_with(cp, TIMINGS);
    let on_c = Scim::new(&c, &token);
    on_c.wait_until_authorized().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(holder(&admin).await.as_deref(), Some(&*follower.identity));
    assert_eq!(times_led(&c), 0, "see {}", c.log.display());
    let stopping = Instant::now();
    follower.stop();
    let stopped = stopping.elapsed();
    let handed = until_holder(&admin, &c.identity).await;
    let remove = on_c
        .send(
            "PATCH",
            &group_path,
            Some(json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "remove", "path": format!("members[value eq \"{}\"]", jo.body["id"].as_str().expect("id"))}]})),
        )
        .await;
    assert_eq!(remove.status, 200, "{}", remove.body);
    until("jo's access revoked", false, may("oidc:jo@example.com")).await;
    eprintln!(
        "timing: graceful stop (SIGTERM → exit) took {stopped:?}; the next replica held the Lease {handed:?} after the exit, {:?} after SIGTERM",
        stopped + handed
    );
    assert!(
        handed < Duration::from_secs(LEASE_SECONDS - 1),
        "a released Lease is taken before it would have expired: {handed:?}"
    );
    assert!(
        std::fs::read_to_string(&follower.log)
            .unwrap_or_default()
            .contains("released the leader Lease"),
        "see {}",
        follower.log.display()
    );
    c.stop();
}
