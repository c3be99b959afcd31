//! `scimitar access-report` against the real API server: the report, read
//! from the bindings the controller made, equals the report of what the
//! controller intended (the same rows computed from `desired()`), every row
//! is access SubjectAccessReview confirms, and the CSV parses back to the
//! same rows.

use std::collections::BTreeSet;

use kube::Api;
use scimitar::controller::access_report::{COLUMNS, rows};
use scimitar::controller::desired::{Inputs, RoleState, desired};
use scimitar::controller::live;
use scimitar::controller::plan::bindings_of;
use scimitar::crd::ScimTenant;
use serde_json::{Value, json};

use crate::support::operator::{Operator, until};
use crate::support::rbac::allowed;
use crate::support::tenant::Tenant;
use crate::support::{ControlPlane, install_crds, namespace, scimitar};

/// A verb each mapped role grants in its scope: what a row promises.
fn promise(role: &str) -> (&'static str, &'static str, &'static str) {
    match role {
        "ClusterRole/edit" => ("create", "apps", "deployments"),
        "ClusterRole/view" => ("list", "", "pods"),
        other => panic!("unexpected role {other}"),
    }
}

#[tokio::test]
async fn the_report_of_what_is_bound_equals_what_was_intended() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let dev = namespace(&admin, "report-dev").await;
    let acme = Tenant::setup(cp, "report")
        .spec(json!({
            "subjects": {"bind": "both"},
            "mappings": [
                {"group": "devs", "role": {"name": "edit"}, "namespaces": [dev]},
                {"group": "ops", "role": {"name": "view"}, "clusterWide": true},
            ],
        }))
        .user_with(
            json!({"userName": "ada", "emails": [{"value": "ada@example.com", "primary": true}]}),
        )
        .user("bob")
        .group("devs", &["ada", "bob"])
        .group("ops", &["ada"])
        .on(Operator::shared(cp))
        .create()
        .await;
    // bob is deactivated: his User subject goes, the devs Group subject stays.
    let reply = acme
        .scim()
        .send(
            "PATCH",
            &format!("/Users/{}", acme.user("bob")),
            Some(json!({
                "schemas": [scimitar::scim::schema::PATCH_OP_URN],
                "Operations": [{"op": "replace", "path": "active", "value": false}],
            })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let tenant = Api::<ScimTenant>::all(admin.clone())
        .get(&acme.name)
        .await
        .expect("tenant");
    // What the controller intends, from the same directory.
    let intended = || async {
        let live = live::read(&admin, &tenant).await.expect("directory");
        let want = desired(&Inputs {
            tenant: &tenant,
            users: &live.users,
            groups: &live.groups,
            namespaces: &BTreeSet::from([dev.clone()]),
            namespace_labels: &std::collections::BTreeMap::new(),
            roles: &|_| RoleState::Bindable,
            now: jiff::Timestamp::now(),
            directory_shards: None,
        });
        serde_json::to_value(rows(
            &bindings_of(&want),
            &tenant.spec.subjects,
            &live.users,
            &live.groups,
        ))
        .unwrap()
    };
    let report = || {
        let text = scimitar(cp, &["access-report", "--tenant", &acme.name, "-o", "json"]);
        serde_json::from_str::<Value>(&text).expect("-o json is JSON")
    };
    until(
        "the report of what is bound equals the intended one",
        true,
        || async { report() == intended().await },
    )
    .await;
    let rows = report();
    let rows = rows.as_array().expect("rows");
    let summary: Vec<(&str, &str, &str, &str, bool)> = rows
        .iter()
        .map(|r| {
            (
                r["userName"].as_str().unwrap(),
                r["subject"].as_str().unwrap(),
                r["role"].as_str().unwrap(),
                r["scope"].as_str().unwrap(),
                r["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "ada",
                "Group:oidc:ops",
                "ClusterRole/view",
                "cluster-wide",
                true
            ),
            (
                "ada",
                "User:oidc:ada@example.com",
                "ClusterRole/view",
                "cluster-wide",
                true
            ),
            ("ada", "Group:oidc:devs", "ClusterRole/edit", &dev, true),
            (
                "ada",
                "User:oidc:ada@example.com",
                "ClusterRole/edit",
                &dev,
                true
            ),
            ("bob", "Group:oidc:devs", "ClusterRole/edit", &dev, false),
        ],
        "{rows:#?}"
    );
    for row in rows {
        assert!(
            row["lastModified"]
                .as_str()
                .is_some_and(|t| t.contains('T')),
            "SCIM lastModified: {row}"
        );
        assert!(row["binding"].as_str().unwrap().starts_with("scimitar-"));
    }

    // Every row is access the API server grants: to the User subject alone,
    // or to anyone carrying the Group subject.
    for row in rows {
        let (kind, name) = row["subject"].as_str().unwrap().split_once(':').unwrap();
        let (user, groups) = match kind {
            "User" => (name.to_owned(), vec![]),
            _ => ("oidc:nobody-else".to_owned(), vec![name.to_owned()]),
        };
        let (verb, group, resource) = promise(row["role"].as_str().unwrap());
        let scope = row["scope"].as_str().unwrap();
        let namespace = (scope != "cluster-wide").then_some(scope);
        assert!(
            allowed(
                &admin, &user, &groups, verb, group, resource, None, namespace
            )
            .await,
            "{row}: {user} {groups:?} may {verb} {resource}"
        );
    }
    // bob's own name is no longer bound.
    assert!(
        !allowed(
            &admin,
            "oidc:bob",
            &[],
            "create",
            "apps",
            "deployments",
            None,
            Some(&dev)
        )
        .await
    );

    // The CSV is the same rows.
    let csv = scimitar(cp, &["access-report", "--tenant", &acme.name, "-o", "csv"]);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().unwrap(), COLUMNS.as_slice());
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), rows.len());
    for (record, row) in records.iter().zip(rows) {
        for (i, column) in COLUMNS.iter().enumerate() {
            let want = match &row[column] {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            assert_eq!(&record[i], want, "{column} of {row}");
        }
    }
    let table = scimitar(cp, &["access-report", "--tenant", &acme.name]);
    assert!(table.starts_with("userName"), "{table}");
    assert_eq!(table.lines().count(), rows.len() + 1, "{table}");
    eprintln!(
        "example: scimitar access-report --tenant {}\n{table}",
        acme.name
    );
}
