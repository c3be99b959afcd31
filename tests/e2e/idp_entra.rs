//! Microsoft Entra ID's SCIM traffic, replayed against `scimitar run` on the
//! real API server (fixtures in `tests/fixtures/idp/entra/`), and what it
//! becomes in Kubernetes: ScimUsers with their enterprise attributes,
//! ScimGroups, RoleBindings and, as the RBAC authorizer decides, access.

use crate::support::operator::{Operator, Scim, access, can, create_tenant, mapping};
use crate::support::rbac::bindings;
use crate::support::replay::{Vars, replay};
use crate::support::{ControlPlane, install_crds, namespace};
use kube::Api;
use scimitar::crd::{ScimGroup, ScimTenantSpec, ScimUser};
use serde_json::json;

const MANAGER_EXTERNAL_ID: &str = "f8a455e5-31ee-4d96-8b50-e8ef5a9dc2a9";
const EMPLOYEE_EXTERNAL_ID: &str = "ff8c4671-7fa6-4837-adbf-79e7847c329d";
/// Subjects follow the primary (else work) email, as the API server's
/// `--oidc-username-claim=email` with prefix `oidc:` names the user.
const EMPLOYEE: &str = "oidc:Adele.Vance@contoso.example";
const MANAGER: &str = "oidc:Megan.Bowen@contoso.example";

/// Waits until the tenant's RoleBindings in `namespace` are exactly `want`.
async fn until_bindings(
    admin: &kube::Client,
    namespace: &str,
    tenant: &str,
    want: &[(&str, &[&str])],
) {
    let want: Vec<(String, Vec<String>)> = want
        .iter()
        .map(|(role, subjects)| {
            (
                (*role).to_owned(),
                subjects.iter().map(|s| (*s).to_owned()).collect(),
            )
        })
        .collect();
    let started = std::time::Instant::now();
    loop {
        // (ClusterRole, subject names): this test maps each group once.
        let have: Vec<(String, Vec<String>)> = bindings(admin, tenant, namespace)
            .await
            .into_iter()
            .map(|(_group, role, subjects)| (role, subjects))
            .collect();
        if have == want {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "RoleBindings in {namespace}: want {want:?}, still {have:?} after 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Waits until the operator reports `want` as the ScimUser's RBAC subject.
async fn until_subject(users: &Api<ScimUser>, id: &str, want: &str) {
    let started = std::time::Instant::now();
    loop {
        let user = users.get(id).await.expect("ScimUser");
        let have = user.status.and_then(|s| s.subject);
        if have.as_deref() == Some(want) {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "subject of {id}: want {want:?}, still {have:?} after 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_entra_provisioning_cycle_grants_and_revokes_access() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    let home = namespace(&admin, "entra").await;
    let dev = namespace(&admin, "entra-dev").await;
    let spec: ScimTenantSpec =
        serde_json::from_value(json!({"namespace": home, "provider": "entra"})).expect("spec");
    let spec = ScimTenantSpec {
        mappings: vec![
            mapping("k8s-dev-editors", "edit", &[&dev]),
            mapping("k8s-dev-viewers", "view", &[&dev]),
        ],
        ..spec
    };
    let tenant = home.clone();
    let token = create_tenant(&admin, &tenant, spec).await;
    let operator = Operator::shared(cp);
    Scim::new(operator, &token).wait_until_authorized().await;
    let base = format!("{}/scim/v2", operator.url);
    let mut vars = Vars::from([("token".to_owned(), token)]);
    let users: Api<ScimUser> = Api::namespaced(admin.clone(), &home);
    let groups: Api<ScimGroup> = Api::namespaced(admin.clone(), &home);

    // Test Connection, then the first cycle's users.
    replay(&base, "entra/test-connection.yaml", &mut vars).await;
    replay(&base, "entra/create-users.yaml", &mut vars).await;
    let employee_id = vars["employee_id"].clone();
    let manager_id = vars["manager_id"].clone();
    let employee = users.get(&employee_id).await.expect("employee ScimUser");
    assert_eq!(employee.spec.user_name, "AdeleV@contoso.example");
    assert_eq!(
        employee.spec.external_id.as_deref(),
        Some(EMPLOYEE_EXTERNAL_ID)
    );
    let enterprise = employee
        .spec
        .enterprise
        .expect("enterprise attributes stored");
    assert_eq!(enterprise.employee_number.as_deref(), Some("1001"));
    assert_eq!(enterprise.department.as_deref(), Some("Retail"));
    assert_eq!(
        enterprise.manager.and_then(|m| m.value).as_deref(),
        Some(manager_id.as_str())
    );
    assert!(
        !employee.spec.extra.contains_key("roles") && !employee.spec.extra.contains_key("meta"),
        "Entra's empty roles and meta are not stored: {:?}",
        employee.spec.extra
    );

    // Subjects: the primary email, or the userName (UPN) of a user without mail.
    until_subject(&users, &employee_id, EMPLOYEE).await;
    until_subject(&users, &manager_id, "oidc:MeganB@contoso.example").await;

    // Both PATCH dialects, the manager reference and a late mail.
    replay(&base, "entra/update-user.yaml", &mut vars).await;
    let employee = users.get(&employee_id).await.expect("employee ScimUser");
    assert_eq!(employee.spec.display_name.as_deref(), Some("Adele Vance"));
    assert_eq!(employee.spec.nick_name.as_deref(), Some("Adele"));
    let enterprise = employee.spec.enterprise.expect("enterprise attributes");
    assert_eq!(enterprise.employee_number.as_deref(), Some("1002"));
    assert_eq!(enterprise.department.as_deref(), Some("Sales"));
    assert_eq!(
        enterprise.manager.and_then(|m| m.value).as_deref(),
        Some(manager_id.as_str()),
        "a bare manager id is stored as {{value: id}}"
    );
    until_subject(&users, &manager_id, MANAGER).await;
    let manager = users.get(&manager_id).await.expect("manager ScimUser");
    assert_eq!(
        manager.spec.external_id.as_deref(),
        Some(MANAGER_EXTERNAL_ID)
    );
    assert_eq!(
        manager.spec.emails.first().and_then(|e| e.value.as_deref()),
        Some("Megan.Bowen@contoso.example")
    );
    assert_eq!(
        manager
            .spec
            .enterprise
            .and_then(|e| e.employee_number)
            .as_deref(),
        Some("1000")
    );

    // The group, filled by PATCH: both users get `edit` in dev, bound by email.
    replay(&base, "entra/create-group.yaml", &mut vars).await;
    let group_id = vars["group_id"].clone();
    let group = groups.get(&group_id).await.expect("ScimGroup");
    assert_eq!(group.spec.display_name, "k8s-dev-editors");
    assert_eq!(
        group.spec.external_id.as_deref(),
        Some("e3d1f8c6-52ee-41c7-b588-bf9add5f7ba5")
    );
    let mut members: Vec<_> = group.spec.members.iter().map(|m| m.value.clone()).collect();
    members.sort();
    let mut want = vec![employee_id.clone(), manager_id.clone()];
    want.sort();
    assert_eq!(members, want);
    until_bindings(&admin, &dev, &tenant, &[("edit", &[EMPLOYEE, MANAGER])]).await;
    access(&admin, EMPLOYEE, "create", "pods", &dev, true).await;
    access(&admin, MANAGER, "create", "pods", &dev, true).await;
    assert!(
        !can(&admin, "oidc:MeganB@contoso.example", "list", "pods", &dev).await,
        "the manager is bound by email now, not by userName"
    );
    assert!(
        !can(&admin, EMPLOYEE, "list", "pods", &home).await,
        "nothing outside the mapped namespace"
    );

    // Member removal without the flag removes only the listed member.
    vars.insert("member".into(), manager_id.clone());
    vars.insert("keep".into(), employee_id.clone());
    replay(&base, "entra/remove-member.yaml", &mut vars).await;
    until_bindings(&admin, &dev, &tenant, &[("edit", &[EMPLOYEE])]).await;
    access(&admin, MANAGER, "list", "pods", &dev, false).await;
    assert!(can(&admin, EMPLOYEE, "create", "pods", &dev).await);

    // Added back, then removed in the aadOptscim062020 dialect.
    replay(&base, "entra/add-member.yaml", &mut vars).await;
    access(&admin, MANAGER, "create", "pods", &dev, true).await;
    replay(
        &base,
        "entra/remove-member-aadoptscim062020.yaml",
        &mut vars,
    )
    .await;
    until_bindings(&admin, &dev, &tenant, &[("edit", &[EMPLOYEE])]).await;
    access(&admin, MANAGER, "list", "pods", &dev, false).await;
    assert!(can(&admin, EMPLOYEE, "create", "pods", &dev).await);

    // Renamed to the group mapped to `view`: edit goes, view comes.
    replay(&base, "entra/rename-group.yaml", &mut vars).await;
    until_bindings(&admin, &dev, &tenant, &[("view", &[EMPLOYEE])]).await;
    access(&admin, EMPLOYEE, "create", "pods", &dev, false).await;
    assert!(can(&admin, EMPLOYEE, "list", "pods", &dev).await);

    // Soft delete: "False" disables, access goes, the user stays.
    vars.insert("member".into(), employee_id.clone());
    vars.insert("external_id".into(), EMPLOYEE_EXTERNAL_ID.into());
    replay(&base, "entra/disable-user.yaml", &mut vars).await;
    access(&admin, EMPLOYEE, "list", "pods", &dev, false).await;
    until_bindings(&admin, &dev, &tenant, &[("view", &[])]).await;
    let employee = users.get(&employee_id).await.expect("still a ScimUser");
    assert_eq!(employee.spec.active, Some(false), "stored as a boolean");

    // Restored: access comes back (the fixture ends enabled).
    replay(&base, "entra/enable-user.yaml", &mut vars).await;
    access(&admin, EMPLOYEE, "list", "pods", &dev, true).await;
    assert_eq!(
        users.get(&employee_id).await.expect("ScimUser").spec.active,
        Some(true)
    );

    // Hard delete: the ScimUser and its membership are gone, and access.
    replay(&base, "entra/hard-delete.yaml", &mut vars).await;
    access(&admin, EMPLOYEE, "list", "pods", &dev, false).await;
    assert!(users.get_opt(&employee_id).await.expect("get").is_none());
    let group = groups.get(&group_id).await.expect("ScimGroup");
    assert!(group.spec.members.is_empty(), "{:?}", group.spec.members);
    until_bindings(&admin, &dev, &tenant, &[("view", &[])]).await;

    // The group leaves the scope: its binding goes with it.
    replay(&base, "entra/delete-group.yaml", &mut vars).await;
    until_bindings(&admin, &dev, &tenant, &[]).await;
    assert!(groups.get_opt(&group_id).await.expect("get").is_none());
    assert!(users.get_opt(&manager_id).await.expect("get").is_some());
}
