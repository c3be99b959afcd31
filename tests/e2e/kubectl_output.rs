//! What an admin reads with `kubectl get`, against the real API server with
//! the operator reconciling a directory provisioned over SCIM:
//!
//! - golden files of `kubectl get scimusers|scimgroups|scimtenants`, plain
//!   and `-o wide` (`tests/golden/kubectl-*.txt`), with object names, the
//!   test's namespaces, the operator's port and AGE masked;
//! - `kubectl get scim -n <tenant namespace>` run, by impersonation, by the
//!   people the chart's default RBAC lets read a tenant's directory.
//!
//! After an intended change to the columns or the statuses, rewrite the
//! golden files and review the diff:
//!
//! ```sh
//! SCIMITAR_UPDATE_GOLDEN=1 cargo test --test e2e -- kubectl_output::golden
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::helm::helm;
use crate::support::kubectl::{kubectl, run, table};
use crate::support::operator::{Operator, Scim, create_tenant, mapping};
use crate::support::{ControlPlane, install_crds, namespace};
use kube::Api;
use scimitar::crd::{ScimGroup, ScimTenant, ScimTenantSpec, ScimUser};
use serde_json::{Value, json};

/// The directory of the golden files: four users (one without `active`,
/// one inactive, one in six groups) and six groups, three of them mapped.
struct Directory {
    /// The tenant's name and namespace (the same).
    home: String,
    /// Namespaces the mappings bind in.
    dev: String,
    prod: String,
    /// SCIM id → the user name or group display name it was created for.
    ids: BTreeMap<String, String>,
    /// The operator's SCIM base URL.
    scim_url: String,
}

fn users() -> Vec<Value> {
    vec![
        json!({
            "userName": "bjensen@example.com",
            "displayName": "Barbara Jensen",
            "externalId": "jc-5f1a9c",
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "active": true
        }),
        // No `active`: active, as SCIM says.
        json!({
            "userName": "ana@example.com",
            "displayName": "Ana Lima",
            "externalId": "jc-77b2e0",
            "emails": [{"value": "ana.lima@example.com", "type": "work"}]
        }),
        json!({
            "userName": "mallory@example.com",
            "displayName": "Mallory Stone",
            "emails": [{"value": "mallory@example.com", "primary": true}],
            "active": false
        }),
        // No email: bound by userName.
        json!({
            "userName": "oncall@example.com",
            "displayName": "On-call Rotation",
            "active": true
        }),
    ]
}

/// Group display name, external id, members by user name.
fn groups() -> Vec<(&'static str, Option<&'static str>, Vec<&'static str>)> {
    let oncall = "oncall@example.com";
    vec![
        (
            "engineering",
            Some("jc-g-eng"),
            vec![
                "bjensen@example.com",
                "ana@example.com",
                "mallory@example.com",
                oncall,
            ],
        ),
        ("platform", None, vec!["bjensen@example.com", oncall]),
        ("auditors", None, vec![oncall]),
        ("incident-commanders", None, vec![oncall]),
        ("release-managers", None, vec![oncall]),
        ("security-champions", None, vec![oncall]),
    ]
}

/// Provisions [`users`] and [`groups`] over SCIM into a new tenant whose
/// mappings bind three of the groups, and waits until the operator has
/// reported on every object.
async fn provision(cp: &'static ControlPlane, prefix: &str) -> Directory {
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, prefix).await;
    let dev = namespace(&admin, "dev").await;
    let prod = namespace(&admin, "prod").await;
    let spec: ScimTenantSpec = serde_json::from_value(json!({
        "namespace": home,
        "provider": "jumpcloud",
    }))
    .expect("tenant spec");
    let spec = ScimTenantSpec {
        mappings: vec![
            mapping("engineering", "edit", &[&dev]),
            mapping("platform", "admin", &[&dev, &prod]),
            mapping("auditors", "view", &[&dev, &prod]),
        ],
        ..spec
    };
    let token = create_tenant(&admin, &home, spec).await;
    let operator = Operator::shared(cp);
    let scim = Scim::new(operator, &token);
    scim.wait_until_authorized().await;

    let mut ids = BTreeMap::new();
    let mut by_name = BTreeMap::new();
    for mut user in users() {
        user["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User"]);
        let name = user["userName"].as_str().expect("userName").to_owned();
        let reply = scim.send("POST", "/Users", Some(user)).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let id = reply.body["id"].as_str().expect("id").to_owned();
        ids.insert(id.clone(), name.clone());
        by_name.insert(name, id);
    }
    for (display_name, external_id, members) in groups() {
        let members: Vec<Value> = members
            .iter()
            .map(|m| json!({"value": by_name[*m]}))
            .collect();
        let mut group = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": display_name,
            "members": members,
        });
        if let Some(external_id) = external_id {
            group["externalId"] = json!(external_id);
        }
        let reply = scim.send("POST", "/Groups", Some(group)).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let id = reply.body["id"].as_str().expect("id").to_owned();
        ids.insert(id, display_name.to_owned());
    }
    let directory = Directory {
        home,
        dev,
        prod,
        ids,
        scim_url: format!("{}/scim/v2", operator.url),
    };
    settle(&admin, &directory).await;
    directory
}

/// Waits (at most 60 s) until the operator has reported on the tenant and
/// each of its users and groups for their current generation, with every
/// user's groups as provisioned.
async fn settle(admin: &kube::Client, directory: &Directory) {
    let user_api: Api<ScimUser> = Api::namespaced(admin.clone(), &directory.home);
    let group_api: Api<ScimGroup> = Api::namespaced(admin.clone(), &directory.home);
    let tenants: Api<ScimTenant> = Api::all(admin.clone());
    let mut memberships: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (group, _, members) in groups() {
        for member in members {
            memberships.entry(member).or_default().push(group);
        }
    }
    let ready = |conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
                 generation: Option<i64>| {
        conditions.iter().any(|c| {
            c.type_ == "Ready" && c.status == "True" && c.observed_generation == generation
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = user_api
            .list(&Default::default())
            .await
            .expect("users")
            .items;
        let users_done = listed.len() == users().len()
            && listed.iter().all(|u| {
                u.status.as_ref().is_some_and(|s| {
                    let mut want = memberships[u.spec.user_name.as_str()].clone();
                    want.sort();
                    ready(&s.conditions, u.metadata.generation)
                        && s.active.is_some()
                        && s.groups == want
                })
            });
        let listed = group_api
            .list(&Default::default())
            .await
            .expect("groups")
            .items;
        let groups_done = listed.len() == groups().len()
            && listed.iter().all(|g| {
                g.status.as_ref().is_some_and(|s| {
                    ready(&s.conditions, g.metadata.generation)
                        && s.member_count == g.spec.members.len() as i64
                })
            });
        let tenant = tenants.get(&directory.home).await.expect("tenant");
        let tenant_done = tenant.status.as_ref().is_some_and(|s| {
            ready(&s.conditions, tenant.metadata.generation)
                && s.users == users().len() as i64
                && s.groups == groups().len() as i64
        });
        if users_done && groups_done && tenant_done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the operator has not reported on the directory after 60 s \
             (users {users_done}, groups {groups_done}, tenant {tenant_done})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A table as kubectl prints it: each column as wide as its widest cell
/// plus 3 spaces, at least 6 (kubectl's tabwriter settings), the last
/// column unpadded.
fn render(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if c + 1 < columns {
                let pad = (widths[c] + 3).max(6) - cell.chars().count();
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

/// `kubectl get` output made stable: object names (SCIM ids) become
/// `id-of(<user name or group name>)`, the test's namespaces their prefixes,
/// the operator's port `PORT`, AGE `<age>`; rows sorted by name, trailing
/// blanks (after an empty last cell) dropped.
fn masked(directory: &Directory, output: &str) -> String {
    let rows = table(output);
    assert_eq!(
        render(&rows),
        output,
        "the table was not read back as kubectl printed it"
    );
    let header = rows[0].clone();
    let port = directory
        .scim_url
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .expect("port")
        .to_owned();
    let replace = |cell: &str| -> String {
        let mut cell = cell.to_owned();
        if let Some(name) = directory.ids.get(&cell) {
            cell = format!("id-of({name})");
        }
        for (actual, shown) in [
            (&directory.home, "acme"),
            (&directory.dev, "dev"),
            (&directory.prod, "prod"),
        ] {
            cell = cell.replace(actual.as_str(), shown);
        }
        cell.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:PORT")
    };
    let mut body: Vec<Vec<String>> = rows[1..]
        .iter()
        .map(|row| {
            row.iter()
                .zip(&header)
                .map(|(cell, column)| {
                    if column == "AGE" {
                        "<age>".to_owned()
                    } else {
                        replace(cell)
                    }
                })
                .collect()
        })
        .collect();
    body.sort();
    render(&std::iter::once(header).chain(body).collect::<Vec<_>>())
        .lines()
        .map(|line| format!("{}\n", line.trim_end()))
        .collect()
}

/// Compares `actual` with `tests/golden/<name>`, or rewrites it with
/// `SCIMITAR_UPDATE_GOLDEN` set.
fn golden(name: &str, actual: &str) {
    let path = support::repo().join("tests/golden").join(name);
    if std::env::var_os("SCIMITAR_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("writing the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}); run SCIMITAR_UPDATE_GOLDEN=1 cargo test --test e2e -- kubectl_output::golden",
            path.display()
        )
    });
    pretty_assertions::assert_eq!(
        expected,
        actual,
        "kubectl output differs from tests/golden/{name}; if intended, run \
         SCIMITAR_UPDATE_GOLDEN=1 cargo test --test e2e -- kubectl_output::golden and review the diff"
    );
}

#[tokio::test]
async fn golden_kubectl_get_output() {
    let cp = ControlPlane::shared();
    let directory = provision(cp, "acme").await;
    let home = directory.home.as_str();
    let get = |args: &[&str]| masked(&directory, &kubectl(&cp.kubeconfig, args));
    let mut outputs = vec![
        (
            "kubectl-get-scimusers.txt",
            get(&["get", "scimusers", "-n", home]),
        ),
        (
            "kubectl-get-scimusers-wide.txt",
            get(&["get", "scimusers", "-n", home, "-o", "wide"]),
        ),
        (
            "kubectl-get-scimgroups.txt",
            get(&["get", "scimgroups", "-n", home]),
        ),
        (
            "kubectl-get-scimgroups-wide.txt",
            get(&["get", "scimgroups", "-n", home, "-o", "wide"]),
        ),
    ];
    // Only this test's tenant: others of this binary may exist.
    let tenant = |wide: bool| {
        let mut args = vec!["get", "scimtenants", home];
        if wide {
            args.extend(["-o", "wide"]);
        }
        get(&args)
    };
    outputs.push(("kubectl-get-scimtenants.txt", tenant(false)));
    outputs.push(("kubectl-get-scimtenants-wide.txt", tenant(true)));
    for (name, output) in &outputs {
        eprintln!("{name}:\n{output}");
    }
    for (name, output) in outputs {
        golden(name, &output);
    }
}

/// How `kubectl get scim -n <tenant namespace>` ends for someone
/// impersonated: exit status, stdout, stderr.
fn get_scim_as(cp: &ControlPlane, user: &str, namespace: &str) -> (bool, String, String) {
    // A discovery cache of its own: kubectl expands the category from
    // discovery, which it otherwise caches for 10 minutes per server.
    let cache = cp
        .kubeconfig
        .with_file_name(format!("kubectl-cache-{}", uuid::Uuid::new_v4().simple()));
    let cache = cache.display().to_string();
    let out = run(
        &cp.kubeconfig,
        &[
            "get",
            "scim",
            "-n",
            namespace,
            "-o",
            "name",
            "--as",
            user,
            "--cache-dir",
            &cache,
        ],
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Applies the chart's `templates/aggregated-roles.yaml` (release
/// `scimitar`) rendered with `extra` helm args.
fn apply_aggregated_roles(cp: &ControlPlane, extra: &[&str]) {
    let chart = support::helm::chart().display().to_string();
    let mut args = vec![
        "template",
        "scimitar",
        &chart,
        "--namespace",
        "scimitar-system",
        "--show-only",
        "templates/aggregated-roles.yaml",
    ];
    args.extend_from_slice(extra);
    let manifest = cp.kubeconfig.with_file_name(format!(
        "aggregated-roles-{}.yaml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&manifest, helm(&args)).expect("writing the aggregated roles");
    kubectl(
        &cp.kubeconfig,
        &[
            "apply",
            "--server-side",
            "--field-manager",
            "scimitar-tests",
            "-f",
            &manifest.display().to_string(),
        ],
    );
    let _ = std::fs::remove_file(&manifest);
}

/// Waits (at most 30 s) until `kubectl auth can-i list scimusers` answers
/// `want` for `user` in `namespace`: aggregation into `view`, `edit` and
/// `admin` is done by the controller manager, after the role is applied.
fn wait_can_list_users(cp: &ControlPlane, user: &str, namespace: &str, want: bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = run(
            &cp.kubeconfig,
            &[
                "auth",
                "can-i",
                "list",
                "scimusers.scimitar.dev",
                "-n",
                namespace,
                "--as",
                user,
            ],
        );
        let answer = String::from_utf8_lossy(&out.stdout).trim() == "yes";
        if answer == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{user} may {}list scimusers in {namespace} 30 s after the roles were applied",
            if answer { "" } else { "still not " }
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `kubectl get scim -n <tenant namespace>` by the people who read a
/// tenant's directory under the chart's default RBAC (aggregation into
/// `edit` and `admin` on, into `view` off): exit 0, the tenant's users and
/// groups, nothing on stderr. The cluster-scoped ScimTenant is not in the
/// `scim` category, so kubectl does not try to list tenants cluster-wide.
///
/// Who reads the directory, by design (README, "RBAC"): `edit` and `admin`
/// in the namespace; a viewer bound to the chart's
/// `scimitar-directory-reader` there; a plain `view` holder only with
/// `rbac.aggregateToView=true`, since `view` is often bound cluster-wide
/// and the directory is personal data.
#[tokio::test]
async fn a_namespace_reader_gets_the_scim_category_without_forbidden() {
    let cp = ControlPlane::shared();
    let directory = provision(cp, "viewed").await;
    let home = directory.home.as_str();
    apply_aggregated_roles(cp, &[]);
    let bind = |name: &str, role: &str, user: &str| {
        kubectl(
            &cp.kubeconfig,
            &[
                "create",
                "rolebinding",
                name,
                "-n",
                home,
                "--clusterrole",
                role,
                "--user",
                user,
            ],
        );
    };
    bind("ed-edit", "edit", "ed");
    bind("vera-view", "view", "vera");
    bind("vera-directory", "scimitar-directory-reader", "vera");
    bind("val-view", "view", "val");
    wait_can_list_users(cp, "ed", home, true);
    wait_can_list_users(cp, "vera", home, true);

    let mut expected: Vec<String> = directory
        .ids
        .iter()
        .map(|(id, name)| {
            let kind = if name.contains('@') {
                "scimuser"
            } else {
                "scimgroup"
            };
            format!("{kind}.scimitar.dev/{id}")
        })
        .collect();
    expected.sort();
    for user in ["ed", "vera"] {
        let (ok, stdout, stderr) = get_scim_as(cp, user, home);
        assert!(ok, "{user}: kubectl get scim -n {home} failed: {stderr}");
        assert_eq!(stderr, "", "{user}: nothing on stderr, no Forbidden line");
        let mut listed: Vec<String> = stdout.lines().map(str::to_owned).collect();
        listed.sort();
        assert_eq!(
            listed, expected,
            "{user}: the tenant's users and groups, and no tenant"
        );
        // The tables too (kubectl prints one per kind).
        let out = run(&cp.kubeconfig, &["get", "scim", "-n", home, "--as", user]);
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stderr), "");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("bjensen@example.com") && text.contains("engineering"));
    }

    // Tenants stay for cluster admins: a namespace's readers may not list
    // them, and are not asked to.
    let tenants = run(&cp.kubeconfig, &["get", "scimtenants", "--as", "ed"]);
    assert!(!tenants.status.success());
    assert!(String::from_utf8_lossy(&tenants.stderr).contains("Forbidden"));

    // Plain `view` does not carry the directory by default: refused, as
    // designed, for users and groups alike.
    let (ok, stdout, stderr) = get_scim_as(cp, "val", home);
    assert!(!ok, "view alone reads no directory by default: {stdout}");
    assert!(
        stderr.contains("scimusers.scimitar.dev is forbidden")
            && stderr.contains("scimgroups.scimitar.dev is forbidden"),
        "{stderr}"
    );

    // With rbac.aggregateToView=true, it does.
    apply_aggregated_roles(cp, &["--set", "rbac.aggregateToView=true"]);
    wait_can_list_users(cp, "val", home, true);
    let (ok, stdout, stderr) = get_scim_as(cp, "val", home);
    assert!(ok, "view with aggregateToView: {stderr}");
    assert_eq!(stderr, "");
    assert_eq!(stdout.lines().count(), expected.len());
    // Back to the default, for the other tests of this binary.
    apply_aggregated_roles(cp, &[]);
    wait_can_list_users(cp, "val", home, false);
}
