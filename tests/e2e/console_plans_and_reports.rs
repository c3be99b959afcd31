//! The console's plan form and Access report page in a real browser, signed
//! in through a real OIDC provider, against the shared operator: the form
//! shows the plan `scimitar plan` prints for the same spec and applies
//! nothing; a paste for another namespace is refused; the report page and
//! its CSV hold the rows `scimitar access-report` prints.

use kube::Api;
use scimitar::crd::{ScimTenant, ScimTenantSpec};
use serde_json::{Value, json};

use crate::support::console::Browser;
use crate::support::oidc::Provider;
use crate::support::operator::{
    Operator, Scim, access, create_tenant, ensure_operator_namespace, tenant_secret,
};
use crate::support::{ControlPlane, install_crds, namespace, scimitar};

const CLIENT_SECRET_KEY: &str = "client-secret";

async fn create(scim: &Scim, path: &str, body: Value) -> String {
    let reply = scim.send("POST", path, Some(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

fn user(name: &str) -> Value {
    json!({"userName": name, "emails": [{"value": name, "primary": true}], "active": true})
}

fn group(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"displayName": name, "members": members})
}

fn records(csv: &str) -> Vec<Vec<String>> {
    csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn the_console_plans_without_applying_and_reports_what_is_bound() {
    let cp = ControlPlane::shared();
    let admin = cp.admin().await;
    install_crds(&admin).await;
    ensure_operator_namespace(&admin).await;
    let operator = Operator::shared(cp);
    let provider = Provider::start().await;
    let redirect_uri = format!("{}/api/auth/callback/jumpcloud", operator.url);
    let (client_id, client_secret) = provider.register(&redirect_uri).await;

    let home = namespace(&admin, "console-plan").await;
    let apps = namespace(&admin, "console-plan-apps").await;
    let prod = namespace(&admin, "console-plan-prod").await;
    let tenant = home.clone();
    let oidc_secret = format!("{tenant}-oidc");
    tenant_secret(
        &admin,
        &tenant,
        &oidc_secret,
        CLIENT_SECRET_KEY,
        &client_secret,
    )
    .await;
    let spec: ScimTenantSpec = serde_json::from_value(json!({
        "namespace": home,
        "provider": "jumpcloud",
        "oidc": {
            "issuerUrl": provider.url,
            "clientId": client_id,
            "clientSecretRef": {"name": oidc_secret, "key": CLIENT_SECRET_KEY}
        },
        "consoleAdminGroups": ["admins"],
        "mappings": [{"group": "engineering", "role": {"name": "view"}, "namespaces": [apps]}]
    }))
    .expect("tenant spec");
    let token = create_tenant(&admin, &tenant, spec).await;
    let scim = Scim::new(operator, &token);
    scim.wait_until_authorized().await;
    let ada = create(&scim, "/Users", user("ada@example.com")).await;
    let bob = create(&scim, "/Users", user("bob@example.com")).await;
    create(&scim, "/Groups", group("admins", &[&ada])).await;
    create(&scim, "/Groups", group("engineering", &[&ada, &bob])).await;
    access(&admin, "oidc:bob@example.com", "list", "pods", &apps, true).await;
    provider
        .put_user(
            "ada@example.com",
            json!({"email": "ada@example.com", "email_verified": true}),
        )
        .await;

    let base = format!("{}/console/{tenant}", operator.url);
    let changed = format!(
        "namespace: {home}\nmappings:\n- group: engineering\n  role: {{name: view}}\n  namespaces: [{prod}]\n"
    );
    let browser = Browser::new();
    let seen = browser.run(&[
        json!({"op": "login", "url": format!("{base}/"), "subject": "ada@example.com", "shot": "plan-login"}),
        json!({"op": "goto", "url": format!("{base}/access"), "shot": "plan-form"}),
        json!({"op": "fill", "selector": "textarea[name=spec]", "value": changed}),
        json!({"op": "click", "selector": "button:has-text(\"Show the plan\")", "shot": "plan-shown"}),
        json!({"op": "post", "url": format!("{base}/access/plan"),
               "form": {"spec": "namespace: kube-system\nmappings: []\n"}}),
        json!({"op": "goto", "url": format!("{base}/access-report"), "shot": "access-report"}),
        json!({"op": "download", "selector": "a:has-text(\"Download CSV\")"}),
    ]);
    assert_eq!(seen[0].status, 200, "{:?}", seen[0]);
    assert!(seen[1].text.contains("Plan a change"), "{}", seen[1].text);
    assert!(
        seen[1].html.contains("engineering"),
        "prefilled with the live mappings"
    );

    // The form's plan is the CLI's plan for the same spec.
    let plan = &seen[3];
    assert_eq!(plan.status, 200, "{plan:?}");
    assert!(
        plan.text.contains("1 to create, 0 to change, 1 to delete"),
        "{}",
        plan.text
    );
    let file = std::env::temp_dir().join(format!("{tenant}-console-plan.yaml"));
    let manifest = json!({
        "apiVersion": "scimitar.dev/v1alpha1",
        "kind": "ScimTenant",
        "metadata": {"name": tenant},
        "spec": serde_yaml::from_str::<Value>(&changed).unwrap(),
    });
    std::fs::write(&file, serde_yaml::to_string(&manifest).unwrap()).unwrap();
    let cli = scimitar(
        cp,
        &[
            "plan",
            "-f",
            &file.display().to_string(),
            "--operator-service-account",
            "scimitar-system:scimitar",
        ],
    );
    let mut lines = 0;
    for line in cli.lines().map(str::trim) {
        if let Some(summary) = line.strip_prefix("gains ").or(line.strip_prefix("loses ")) {
            assert!(
                plan.text.contains(summary),
                "{summary:?} on the page:\n{}",
                plan.text
            );
            lines += 1;
        }
    }
    assert!(
        lines >= 4,
        "ada and bob each gain in prod and lose in apps:\n{cli}"
    );

    // Nothing was applied: the spec and the access are as they were.
    let live = Api::<ScimTenant>::all(admin.clone())
        .get(&tenant)
        .await
        .unwrap();
    assert_eq!(
        live.spec.mappings[0].namespaces,
        std::slice::from_ref(&apps)
    );
    access(&admin, "oidc:bob@example.com", "list", "pods", &apps, true).await;
    access(&admin, "oidc:bob@example.com", "list", "pods", &prod, false).await;

    // Another namespace's directory is never planned.
    assert_eq!(seen[4].value["status"], 400, "{:?}", seen[4].value);
    assert!(
        seen[4].value["text"]
            .as_str()
            .unwrap()
            .contains("must stay"),
        "{:?}",
        seen[4].value
    );

    // The report page and its CSV hold the CLI's rows.
    let report = &seen[5];
    assert_eq!(report.status, 200, "{report:?}");
    for text in [
        "User:oidc:bob@example.com",
        "ClusterRole/view",
        apps.as_str(),
        "2 of 2 rows",
    ] {
        assert!(
            report.text.contains(text),
            "{text:?} on the report:\n{}",
            report.text
        );
    }
    let downloaded = seen[6].value.as_str().expect("the CSV");
    let from_cli = scimitar(cp, &["access-report", "--tenant", &tenant, "-o", "csv"]);
    assert_eq!(records(downloaded), records(&from_cli));
    assert_eq!(records(downloaded).len(), 2, "{downloaded}");
}
