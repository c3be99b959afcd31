//! Okta's SCIM traffic (an OIN-style app with Create/Update/Deactivate Users
//! and Push Groups), replayed against `scimitar run` on the real API server
//! (fixtures in `tests/fixtures/idp/okta/`), and what it becomes in
//! Kubernetes: `ScimUser`/`ScimGroup` objects, RoleBindings, and access as
//! the API server's RBAC authorizer decides it.
//!
//! Okta never deletes a user: unassignment, suspension and deactivation all
//! arrive as `active: false`. So the story ends with both users still
//! stored, one of them having lost access by deactivation and regained it,
//! the other by leaving the pushed group.

use std::time::{Duration, Instant};

use crate::support::operator::{Operator, Scim, access, can, create_tenant, mapping};
use crate::support::rbac::bindings;
use crate::support::replay::{Vars, replay};
use crate::support::{ControlPlane, install_crds, namespace};
use kube::{Api, Client};
use scimitar::crd::{ScimGroup, ScimTenantSpec, ScimUser};
use serde_json::json;

/// A person assigned to the Okta app.
struct Person {
    /// Prefix of the variables holding the SCIM id (`<key>_id`) and login (`<key>`).
    key: &'static str,
    login: &'static str,
    given: &'static str,
    family: &'static str,
    /// Okta's own user id, sent as `externalId`.
    okta_id: &'static str,
}

const ALICE: Person = Person {
    key: "alice",
    login: "alice.nguyen@okta.example",
    given: "Alice",
    family: "Nguyen",
    okta_id: "00ujl29u0le5T6Aj10h7",
};

const BOB: Person = Person {
    key: "bob",
    login: "bob.okafor@okta.example",
    given: "Bob",
    family: "Okafor",
    okta_id: "00ujl3a7q2XbKc9Rm0h7",
};

/// The `%`-encoding Okta applies inside a filter value (space, quote, `@`).
fn okta_encode(text: &str) -> String {
    text.replace(' ', "%20")
        .replace('"', "%22")
        .replace('@', "%40")
}

/// Points the user fixtures' variables at `person`.
fn select(vars: &mut Vars, person: &Person) {
    let set = |vars: &mut Vars, k: &str, v: String| {
        vars.insert(k.to_owned(), v);
    };
    set(vars, "login", person.login.to_owned());
    set(vars, "login_q", okta_encode(person.login));
    set(
        vars,
        "login_upper_q",
        okta_encode(&person.login.to_uppercase()),
    );
    set(vars, "given", person.given.to_owned());
    set(vars, "family", person.family.to_owned());
    set(vars, "okta_id", person.okta_id.to_owned());
    if let Some(id) = vars.get(&format!("{}_id", person.key)).cloned() {
        set(vars, "user_id", id);
    }
}

/// Points the group fixtures' variables at the group named `name`.
fn select_group(vars: &mut Vars, name: &str) {
    vars.insert("group".into(), name.into());
    vars.insert("group_q".into(), okta_encode(name));
}

/// Waits until the tenant's RoleBindings in `namespace` are exactly `want`.
async fn bindings_become(
    admin: &Client,
    tenant: &str,
    namespace: &str,
    want: &[(&str, &str, &[&str])],
) {
    let want: Vec<(String, String, Vec<String>)> = want
        .iter()
        .map(|(g, r, s)| {
            (
                (*g).to_owned(),
                (*r).to_owned(),
                s.iter().map(|s| (*s).to_owned()).collect(),
            )
        })
        .collect();
    let started = Instant::now();
    loop {
        let have = bindings(admin, tenant, namespace).await;
        if have == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "RoleBindings in {namespace}: still {have:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_okta_app_provisions_users_and_pushes_groups() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "okta").await;
    let dev = namespace(&admin, "okta-dev").await;
    let other = namespace(&admin, "okta-other").await;
    let tenant = home.clone();
    // The pushed group starts as "Okta Engineering" (view) and is renamed
    // in Okta to "Okta Platform" (edit): the grant follows the name.
    let spec: ScimTenantSpec =
        serde_json::from_value(json!({"namespace": home, "provider": "okta"})).expect("spec");
    let spec = ScimTenantSpec {
        mappings: vec![
            mapping("Okta Engineering", "view", &[&dev]),
            mapping("Okta Platform", "edit", &[&dev]),
        ],
        ..spec
    };
    let token = create_tenant(&admin, &tenant, spec).await;
    let operator = Operator::shared(cp);
    Scim::new(operator, &token).wait_until_authorized().await;
    let base = format!("{}/scim/v2", operator.url);
    let mut vars = Vars::from([("token".to_owned(), token)]);
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), &home);
    let groups: Api<ScimGroup> = Api::namespaced(admin.clone(), &home);
    let alice = format!("oidc:{}", ALICE.login);
    let bob = format!("oidc:{}", BOB.login);

    // Test Connector Configuration, on the empty tenant.
    replay(&base, "okta/connector-test.yaml", &mut vars).await;

    // Assignment: lookup, create, the conflicting re-create, lookup again.
    for person in [&ALICE, &BOB] {
        vars.remove("user_id");
        select(&mut vars, person);
        replay(&base, "okta/assign-user.yaml", &mut vars).await;
        let id = vars["user_id"].clone();
        vars.insert(format!("{}_id", person.key), id);
        vars.insert(person.key.to_owned(), person.login.to_owned());
    }
    let stored = users.get(&vars["alice_id"]).await.expect("alice stored");
    assert_eq!(stored.spec.user_name, ALICE.login);
    assert_eq!(stored.spec.external_id.as_deref(), Some(ALICE.okta_id));
    assert_eq!(stored.spec.active, Some(true));
    assert_eq!(stored.spec.locale.as_deref(), Some("en-US"));
    assert!(
        !stored.spec.extra.contains_key("password") && !stored.spec.extra.contains_key("groups"),
        "neither the password nor the readOnly groups are stored: {:?}",
        stored.spec.extra
    );
    assert_eq!(
        users
            .list(&Default::default())
            .await
            .expect("users")
            .items
            .len(),
        2,
        "the 409 created nothing"
    );

    // A profile change: Okta reads, then PUTs the whole user.
    select(&mut vars, &ALICE);
    replay(&base, "okta/update-profile.yaml", &mut vars).await;
    let stored = users.get(&vars["alice_id"]).await.expect("alice stored");
    let name = stored.spec.name.as_ref().expect("name");
    assert_eq!(name.middle_name.as_deref(), Some("Excited"));
    assert_eq!(stored.spec.title.as_deref(), Some("Staff Engineer"));
    assert_eq!(stored.spec.locale.as_deref(), Some("en-GB"));
    assert_eq!(stored.spec.display_name.as_deref(), Some("Alice E. Nguyen"));
    assert!(!stored.spec.extra.contains_key("password"));

    // Push Groups: create empty, add both, the same-name rename, lookups.
    select_group(&mut vars, "Okta Engineering");
    replay(&base, "okta/push-group.yaml", &mut vars).await;
    let group_id = vars["group_id"].clone();
    let stored = groups.get(&group_id).await.expect("group stored");
    assert_eq!(stored.spec.display_name, "Okta Engineering");
    let members: Vec<_> = stored
        .spec
        .members
        .iter()
        .map(|m| (m.value.as_str(), m.display.as_deref()))
        .collect();
    assert_eq!(
        members,
        [
            (vars["alice_id"].as_str(), Some(ALICE.login)),
            (vars["bob_id"].as_str(), Some(BOB.login)),
        ]
    );
    bindings_become(
        &admin,
        &tenant,
        &dev,
        &[("Okta Engineering", "view", &[alice.as_str(), bob.as_str()])],
    )
    .await;
    for who in [&alice, &bob] {
        access(&admin, who, "list", "pods", &dev, true).await;
        assert!(!can(&admin, who, "create", "configmaps", &dev).await);
        assert!(
            !can(&admin, who, "list", "pods", &other).await,
            "only where mapped"
        );
    }

    // Renamed in Okta: the view binding goes, the edit binding comes.
    vars.insert("new_group".into(), "Okta Platform".into());
    vars.insert("new_group_q".into(), okta_encode("Okta Platform"));
    replay(&base, "okta/rename-group.yaml", &mut vars).await;
    select_group(&mut vars, "Okta Platform");
    bindings_become(
        &admin,
        &tenant,
        &dev,
        &[("Okta Platform", "edit", &[alice.as_str(), bob.as_str()])],
    )
    .await;
    for who in [&alice, &bob] {
        access(&admin, who, "create", "configmaps", &dev, true).await;
    }

    // Alice is deactivated in Okta: still stored, inactive, without access.
    select(&mut vars, &ALICE);
    replay(&base, "okta/deactivate.yaml", &mut vars).await;
    let revoked = access(&admin, &alice, "list", "pods", &dev, false).await;
    eprintln!("timing: Okta deactivation → access revoked in {revoked:?}");
    assert!(
        can(&admin, &bob, "list", "pods", &dev).await,
        "bob unaffected"
    );
    let stored = users
        .get(&vars["alice_id"])
        .await
        .expect("alice still stored");
    assert_eq!(stored.spec.active, Some(false));
    bindings_become(
        &admin,
        &tenant,
        &dev,
        &[("Okta Platform", "edit", &[bob.as_str()])],
    )
    .await;
    let stored = groups.get(&group_id).await.expect("group");
    assert_eq!(
        stored.spec.members.len(),
        2,
        "deactivation keeps the membership; only the binding drops her"
    );

    // ... and reactivated.
    replay(&base, "okta/reactivate.yaml", &mut vars).await;
    access(&admin, &alice, "list", "pods", &dev, true).await;
    let stored = users.get(&vars["alice_id"]).await.expect("alice");
    assert_eq!(stored.spec.active, Some(true));

    // Bob leaves the group in Okta: removed by a value filter.
    replay(&base, "okta/remove-member.yaml", &mut vars).await;
    access(&admin, &bob, "list", "pods", &dev, false).await;
    assert!(can(&admin, &alice, "create", "configmaps", &dev).await);
    bindings_become(
        &admin,
        &tenant,
        &dev,
        &[("Okta Platform", "edit", &[alice.as_str()])],
    )
    .await;
    let stored = users.get(&vars["bob_id"]).await.expect("bob still stored");
    assert_eq!(
        stored.spec.active,
        Some(true),
        "leaving a group is not deactivation"
    );

    // The group is emptied in Okta and pushed: `replace members []`.
    replay(&base, "okta/empty-group.yaml", &mut vars).await;
    access(&admin, &alice, "list", "pods", &dev, false).await;
    let stored = groups.get(&group_id).await.expect("group");
    assert!(stored.spec.members.is_empty());
    // The binding stays, naming nobody, until the mapping or group goes.
    bindings_become(&admin, &tenant, &dev, &[("Okta Platform", "edit", &[])]).await;

    // Unlinked with "Delete the group in the target app": the binding goes,
    // the users stay (Okta never deletes users).
    replay(&base, "okta/unlink-group.yaml", &mut vars).await;
    bindings_become(&admin, &tenant, &dev, &[]).await;
    assert!(groups.get_opt(&group_id).await.expect("get").is_none());
    let remaining: Vec<_> = users
        .list(&Default::default())
        .await
        .expect("users")
        .items
        .into_iter()
        .map(|u| u.spec.user_name)
        .collect();
    assert_eq!(remaining.len(), 2, "{remaining:?}");
    for person in [&ALICE, &BOB] {
        assert!(remaining.iter().any(|u| u == person.login), "{remaining:?}");
    }
}

#[tokio::test]
async fn the_oin_spec_test_passes() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "okta-spec").await;
    let spec: ScimTenantSpec =
        serde_json::from_value(json!({"namespace": home, "provider": "okta"})).expect("spec");
    let token = create_tenant(&admin, &home, spec).await;
    let operator = Operator::shared(cp);
    Scim::new(operator, &token).wait_until_authorized().await;
    let base = format!("{}/scim/v2", operator.url);
    let random = "rosa.random@okta.example";
    let mut vars = Vars::from([
        ("token".to_owned(), token),
        ("run".to_owned(), home.clone()),
        ("random".to_owned(), random.to_owned()),
        ("random_q".to_owned(), okta_encode(random)),
        (
            "random_upper_q".to_owned(),
            okta_encode(&random.to_uppercase()),
        ),
    ]);
    // The suite needs one complete user to be there already.
    select(&mut vars, &ALICE);
    replay(&base, "okta/assign-user.yaml", &mut vars).await;
    replay(&base, "okta/oin-spec-test.yaml", &mut vars).await;

    // The suite also wants a non-empty `detail` on its 401 and 404, which
    // the fixture's subset matching cannot say.
    let http = reqwest::Client::new();
    for (path, auth, status) in [
        ("/Users?count=1", "non-token".to_owned(), 401),
        (
            "/Users/00919288221112222",
            format!("Bearer {}", vars["token"]),
            404,
        ),
    ] {
        let response = http
            .get(format!("{base}{path}"))
            .header("Authorization", auth)
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status().as_u16(), status);
        let body: serde_json::Value = response.json().await.expect("JSON error body");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{body}"
        );
    }
}
