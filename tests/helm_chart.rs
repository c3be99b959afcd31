//! The Helm chart in `charts/scimitar`: lint, golden renderings, schema
//! validation, and install / upgrade / uninstall against the real API server.
//!
//! Golden files: `tests/golden/chart-default.yaml` and `chart-full.yaml` are
//! `helm template` of the default values and of `charts/scimitar/ci/full-values.yaml`.
//! After an intended change to the chart, rewrite them and review the diff:
//!
//! ```sh
//! SCIMITAR_UPDATE_GOLDEN=1 cargo test --test helm_chart golden
//! ```
//!
//! Needs `helm` v4 on PATH (`hack/install-tools.sh` prints its directory).

mod support;

use serde::Deserialize as _;
use std::path::PathBuf;

use support::ControlPlane;
use support::helm::{chart, helm, run};
use support::kubectl::kubectl;

fn full_values() -> String {
    chart().join("ci/full-values.yaml").display().to_string()
}

fn golden(name: &str, extra: &[&str]) {
    let chart = chart().display().to_string();
    let mut args = vec![
        "template",
        "scimitar",
        &chart,
        "--namespace",
        "scimitar-system",
    ];
    args.extend_from_slice(extra);
    let rendered = helm(&args);
    let path: PathBuf = support::repo().join("tests/golden").join(name);
    if std::env::var_os("SCIMITAR_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).expect("writing the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}); run SCIMITAR_UPDATE_GOLDEN=1 cargo test --test helm_chart golden",
            path.display()
        )
    });
    pretty_assertions::assert_eq!(
        expected,
        rendered,
        "helm template differs from tests/golden/{name}; if intended, run \
         SCIMITAR_UPDATE_GOLDEN=1 cargo test --test helm_chart golden and review the diff"
    );
}

#[test]
fn golden_default_values() {
    golden("chart-default.yaml", &[]);
}

#[test]
fn golden_full_values() {
    golden("chart-full.yaml", &["--values", &full_values()]);
}

/// Without the console the operator gets neither Secret writes nor
/// SubjectAccessReviews, and serves no console.
#[test]
fn console_off_drops_its_permissions() {
    let chart = chart().display().to_string();
    let on = helm(&["template", "scimitar", &chart, "--namespace", "s"]);
    let off = helm(&[
        "template",
        "scimitar",
        &chart,
        "--namespace",
        "s",
        "--set",
        "console.enabled=false,ingress.enabled=true,ingress.host=scim.example.com",
    ]);
    assert!(on.contains("resources: [subjectaccessreviews]"));
    assert!(on.contains("verbs: [get, list, watch, patch, create, delete]"));
    assert!(!off.contains("[subjectaccessreviews]"), "{off}");
    assert!(off.contains("verbs: [get, list, watch, patch]\n"), "{off}");
    assert!(off.contains("- --console-key-secret=\n"), "{off}");
    assert!(!off.contains("path: /console"), "{off}");
    let ingress = helm(&[
        "template",
        "scimitar",
        &chart,
        "--set",
        "ingress.enabled=true,ingress.host=scim.example.com",
    ]);
    for path in ["/scim/v2", "/api/v1", "/console", "/api/auth"] {
        assert!(ingress.contains(&format!("path: {path}\n")), "{path}");
    }
}

#[test]
fn lint_is_clean() {
    let chart = chart().display().to_string();
    let full = full_values();
    for extra in [vec![], vec!["--values", full.as_str()]] {
        let mut args = vec!["lint", "--strict", &chart];
        args.extend_from_slice(&extra);
        let out = helm(&args);
        assert!(
            !out.contains("[WARNING]") && !out.contains("[ERROR]"),
            "helm lint {extra:?}:\n{out}"
        );
    }
}

#[test]
fn versions_match_the_crate() {
    let text = std::fs::read_to_string(chart().join("Chart.yaml")).expect("Chart.yaml");
    let meta: serde_yaml::Value = serde_yaml::from_str(&text).expect("Chart.yaml is YAML");
    assert_eq!(meta["apiVersion"].as_str(), Some("v2"));
    assert_eq!(
        meta["appVersion"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "Chart.yaml appVersion must be Cargo.toml's version"
    );
    let rendered = helm(&[
        "template",
        "scimitar",
        &chart().display().to_string(),
        "--show-only",
        "templates/deployment.yaml",
    ]);
    assert!(
        rendered.contains(&format!(
            "image: \"ghcr.io/scimitar-dev/scimitar:{}\"",
            env!("CARGO_PKG_VERSION")
        )),
        "{rendered}"
    );
}

/// Each case: values that must fail `helm template`, and words the error
/// must contain (the field's name).
#[test]
fn invalid_values_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: &[(&str, &str, &[&str])] = &[
        ("zero replicas", "replicaCount: 0\n", &["replicaCount"]),
        ("replicas as text", "replicaCount: two\n", &["replicaCount"]),
        (
            "unknown log format",
            "operator:\n  logFormat: xml\n",
            &["logFormat"],
        ),
        ("unknown key", "operator:\n  rateLimit: 5\n", &["rateLimit"]),
        ("typo at the top", "replicas: 3\n", &["replicas"]),
        (
            "console URL with a path",
            "console:\n  url: https://scimitar.example.com/console\n",
            &["url"],
        ),
        (
            "session lifetime",
            "console:\n  sessionLifetime: forever\n",
            &["sessionLifetime"],
        ),
        (
            "pull policy",
            "image:\n  pullPolicy: Sometimes\n",
            &["pullPolicy"],
        ),
        ("port range", "service:\n  port: 70000\n", &["port"]),
        (
            "negative limit",
            "operator:\n  limits:\n    ratePerSecond: -1\n",
            &["ratePerSecond"],
        ),
        (
            "role name",
            "rbac:\n  bindableClusterRoles: [view, Cluster_Admin]\n",
            &["bindableClusterRoles"],
        ),
        (
            "roles not a list",
            "rbac:\n  bindableClusterRoles: view\n",
            &["bindableClusterRoles"],
        ),
        (
            "admission policy switch",
            "admissionPolicy:\n  enabled: sometimes\n",
            &["admissionPolicy"],
        ),
        (
            "public URL",
            "operator:\n  publicUrl: scim.example.com\n",
            &["publicUrl"],
        ),
        (
            "tenant without namespace",
            "tenants:\n  - name: acme\n    spec: {provider: jumpcloud}\n",
            &["namespace"],
        ),
        (
            "tenant provider",
            "tenants:\n  - name: acme\n    spec: {namespace: acme, provider: azure}\n",
            &["provider"],
        ),
        (
            "service type",
            "service:\n  type: ExternalName\n",
            &["type"],
        ),
        // Checked by the templates rather than the schema.
        (
            "two replicas without leader election",
            "operator:\n  leaderElection: {enabled: false}\n",
            &["leaderElection"],
        ),
        (
            "ingress without host",
            "ingress:\n  enabled: true\n",
            &["ingress.host"],
        ),
    ];
    let chart = chart().display().to_string();
    for (n, (what, values, words)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("{n}.yaml"));
        std::fs::write(&file, values).expect("writing values");
        let out = run(&[
            "template",
            "scimitar",
            &chart,
            "--values",
            &file.display().to_string(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: helm accepted\n{values}");
        for word in *words {
            assert!(
                stderr.contains(word),
                "{what}: the error does not name {word}:\n{stderr}"
            );
        }
    }
    // And the single-replica case without leader election is fine.
    let file = dir.path().join("single.yaml");
    std::fs::write(
        &file,
        "replicaCount: 1\noperator:\n  leaderElection: {enabled: false}\n",
    )
    .expect("writing values");
    let rendered = helm(&[
        "template",
        "scimitar",
        &chart,
        "--values",
        &file.display().to_string(),
    ]);
    assert!(rendered.contains("--leader-election=false"));
    assert!(
        !rendered.contains("kind: PodDisruptionBudget"),
        "no PDB for one replica"
    );
}

/// A stand-in for the Prometheus Operator's ServiceMonitor CRD, so the full
/// values (ServiceMonitor enabled) install.
const SERVICE_MONITOR_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

const USER_DATA: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: acme}
---
apiVersion: scimitar.dev/v1alpha1
kind: ScimUser
metadata: {name: 2819c223-7f76-453a-919d-413861904646, namespace: acme}
spec: {userName: bjensen@example.com}
---
apiVersion: scimitar.dev/v1alpha1
kind: ScimGroup
metadata: {name: e9e30dba-f08f-4109-8486-d5c6a331660a, namespace: acme}
spec: {displayName: acme-readers}
---
apiVersion: scimitar.dev/v1alpha1
kind: ScimTenant
metadata: {name: initech}
spec: {namespace: initech, provider: entra}
"#;

#[test]
fn install_upgrade_and_uninstall_against_the_api_server() {
    let cp = ControlPlane::shared();
    let kc = cp.kubeconfig.display().to_string();
    let k = |args: &[&str]| kubectl(&cp.kubeconfig, args);
    let dir = tempfile::tempdir().expect("tempdir");
    let apply = |name: &str, text: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, text).expect("writing manifest");
        k(&["apply", "--server-side", "-f", &file.display().to_string()]);
    };
    apply("servicemonitor-crd.yaml", SERVICE_MONITOR_CRD);
    k(&[
        "wait",
        "--for=condition=Established",
        "crd/servicemonitors.monitoring.coreos.com",
        "--timeout=30s",
    ]);

    // The namespace full-values.yaml allows Secrets in (secrets.allowedNamespaces).
    k(&["create", "namespace", "vault-sync"]);
    let chart = chart().display().to_string();
    let full = full_values();
    let base = [
        "--kubeconfig",
        kc.as_str(),
        "--namespace",
        "scimitar-system",
    ];
    let helm_on = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&base);
        helm(&all)
    };

    // Install: there is no kubelet, so pods never run; helm must not wait for them.
    let notes = helm_on(&[
        "install",
        "scimitar",
        &chart,
        "--create-namespace",
        "--values",
        &full,
    ]);
    assert!(
        notes.contains("https://scim.example.com/scim/v2"),
        "{notes}"
    );
    assert!(
        notes.contains(
            "scimitar token create --namespace scimitar-system --tenant acme --name \"JumpCloud SCIM\""
        ),
        "{notes}"
    );

    // Every object of the release exists.
    let manifest = helm_on(&["get", "manifest", "scimitar"]);
    let documents = manifest
        .split("\n---")
        .filter(|d| d.contains("kind:"))
        .count();
    let manifest_file = dir.path().join("manifest.yaml");
    std::fs::write(&manifest_file, &manifest).expect("writing manifest");
    let names = k(&[
        "get",
        "-f",
        &manifest_file.display().to_string(),
        "-o",
        "name",
    ]);
    assert_eq!(names.lines().count(), documents, "{names}");
    for object in [
        "deployment.apps/scimitar",
        "serviceaccount/scimitar",
        "service/scimitar",
        "service/scimitar-metrics",
        "ingress.networking.k8s.io/scimitar",
        "servicemonitor.monitoring.coreos.com/scimitar",
        "poddisruptionbudget.policy/scimitar",
        "networkpolicy.networking.k8s.io/scimitar",
        "clusterrole.rbac.authorization.k8s.io/scimitar-operator",
        "clusterrole.rbac.authorization.k8s.io/scimitar-directory-reader",
        "clusterrolebinding.rbac.authorization.k8s.io/scimitar-operator",
        "role.rbac.authorization.k8s.io/scimitar-tokens",
        "rolebinding.rbac.authorization.k8s.io/scimitar-tokens",
        "validatingadmissionpolicy.admissionregistration.k8s.io/scimitar-operator-writes",
        "validatingadmissionpolicybinding.admissionregistration.k8s.io/scimitar-operator-writes",
        "validatingadmissionpolicy.admissionregistration.k8s.io/scimitar-operator-bindings",
        "validatingadmissionpolicybinding.admissionregistration.k8s.io/scimitar-operator-bindings",
        "scimtenant.scimitar.dev/acme",
        "scimtenant.scimitar.dev/globex",
    ] {
        assert!(
            names.lines().any(|l| l == object),
            "{object} missing:\n{names}"
        );
    }
    for crd in ["scimtenants", "scimusers", "scimgroups"] {
        k(&["get", "crd", &format!("{crd}.scimitar.dev")]);
    }
    // The directory-reader role is aggregated into the built-in roles.
    for role in ["view", "edit", "admin"] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !k(&[
            "get",
            "clusterrole",
            role,
            "-o",
            "jsonpath={.rules[*].resources}",
        ])
        .contains("scimusers")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{role} lacks scimusers"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    let bindable = k(&[
        "get",
        "clusterrole",
        "scimitar-operator",
        "-o",
        "jsonpath={.rules[?(@.verbs[0]==\"bind\")].resourceNames}",
    ]);
    assert_eq!(bindable, r#"["view","edit","admin","acme-auditor"]"#);

    // User data created while installed.
    apply("user-data.yaml", USER_DATA);

    // Upgrade with changed values.
    helm_on(&[
        "upgrade",
        "scimitar",
        &chart,
        "--values",
        &full,
        "--set",
        "replicaCount=1",
        "--set",
        "rbac.bindableClusterRoles={view}",
        "--set",
        "metrics.serviceMonitor.enabled=false",
    ]);
    let replicas = k(&[
        "get",
        "deployment",
        "scimitar",
        "-n",
        "scimitar-system",
        "-o",
        "jsonpath={.spec.replicas}",
    ]);
    assert_eq!(replicas, "1");
    let bindable = k(&[
        "get",
        "clusterrole",
        "scimitar-operator",
        "-o",
        "jsonpath={.rules[?(@.verbs[0]==\"bind\")].resourceNames}",
    ]);
    assert_eq!(bindable, r#"["view"]"#);
    let policy_roles = k(&[
        "get",
        "validatingadmissionpolicy",
        "scimitar-operator-bindings",
        "-o",
        "jsonpath={.spec.variables[?(@.name==\"bindableClusterRoles\")].expression}",
    ]);
    assert_eq!(
        policy_roles, r#"["view"]"#,
        "the policy's allowlist follows rbac.bindableClusterRoles"
    );
    let gone = k(&[
        "get",
        "poddisruptionbudgets,servicemonitors",
        "-n",
        "scimitar-system",
        "-o",
        "name",
    ]);
    assert_eq!(
        gone.trim(),
        "",
        "PDB and ServiceMonitor removed by the upgrade"
    );
    let history = helm_on(&["history", "scimitar", "--output", "json"]);
    assert!(history.contains(r#""revision":2"#), "{history}");

    // Uninstall removes the release but keeps CRDs, tenants and user data.
    helm_on(&["uninstall", "scimitar"]);
    let left = k(&[
        "get",
        "deployments,services,serviceaccounts,roles,rolebindings,ingresses,networkpolicies",
        "-n",
        "scimitar-system",
        "-l",
        "app.kubernetes.io/instance=scimitar",
        "-o",
        "name",
    ]);
    assert_eq!(left.trim(), "", "release objects left behind");
    let cluster_left = k(&[
        "get",
        "clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings",
        "-l",
        "app.kubernetes.io/instance=scimitar",
        "-o",
        "name",
    ]);
    assert_eq!(cluster_left.trim(), "", "cluster objects left behind");
    for crd in ["scimtenants", "scimusers", "scimgroups"] {
        k(&["get", "crd", &format!("{crd}.scimitar.dev")]);
    }
    for tenant in ["acme", "globex", "initech"] {
        k(&["get", "scimtenant", tenant]);
    }
    k(&[
        "get",
        "scimuser",
        "2819c223-7f76-453a-919d-413861904646",
        "-n",
        "acme",
    ]);
    k(&[
        "get",
        "scimgroup",
        "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "-n",
        "acme",
    ]);
}

/// The chart's RBAC, as the harness installs it for every integration test,
/// is exactly what the chart renders, and grants `bind` on the allowlist only.
#[test]
fn operator_rbac_binds_only_the_allowlisted_roles() {
    let rbac = support::helm::operator_rbac("scimitar-system", &[]);
    assert!(rbac.contains("kind: ServiceAccount"));
    assert!(rbac.contains("resourceNames:\n      - \"view\"\n      - \"edit\"\n      - \"admin\""));
    assert!(!rbac.contains("verbs: [escalate"), "{rbac}");
    assert!(rbac.contains("verbs: [bind]"), "{rbac}");
    assert!(!rbac.contains("\"*\""), "no wildcards:\n{rbac}");
    // An empty allowlist must not become "bind on every role".
    let none = support::helm::operator_rbac(
        "scimitar-system",
        &["--set-json", "rbac.bindableClusterRoles=[]"],
    );
    assert!(!none.contains("verbs: [bind]"), "{none}");
    assert!(!none.contains("resourceNames"), "{none}");
}

/// Secrets are never readable cluster-wide: only in the release namespace
/// and in the namespaces `secrets.allowedNamespaces` lists (where tenants'
/// token digests and OIDC client secrets may live), and there only by name.
#[test]
fn secrets_are_readable_only_in_the_release_and_allowed_namespaces() {
    let rbac = support::helm::operator_rbac(
        "scimitar-system",
        &["--set-json", r#"secrets.allowedNamespaces=["vault-sync"]"#],
    );
    let mut secret_rules = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&rbac) {
        let object = serde_yaml::Value::deserialize(document).expect("YAML document");
        let kind = object["kind"].as_str().unwrap_or_default().to_owned();
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        for rule in object["rules"].as_sequence().into_iter().flatten() {
            let resources = serde_yaml::to_string(&rule["resources"]).expect("YAML");
            if resources.contains("secrets") {
                let verbs = serde_yaml::to_string(&rule["verbs"]).expect("YAML");
                secret_rules.push((kind.clone(), namespace.clone(), verbs));
            }
        }
    }
    assert!(
        secret_rules.iter().all(|(kind, _, _)| kind == "Role"),
        "a ClusterRole grants Secrets: {secret_rules:?}"
    );
    let namespaces: Vec<&str> = secret_rules.iter().map(|(_, ns, _)| ns.as_str()).collect();
    assert_eq!(
        namespaces,
        ["scimitar-system", "vault-sync"],
        "{secret_rules:?}"
    );
    let allowed = &secret_rules[1].2;
    assert_eq!(allowed.trim(), "- get", "only get in an allowed namespace");
}

/// The admission policy is on by default, applies to the operator's
/// ServiceAccount only, carries the role allowlist, names the operator's
/// leader Lease exactly as the code does, and can be turned off.
#[test]
fn admission_policy_follows_the_values() {
    let chart = chart().display().to_string();
    let render = |extra: &[&str]| {
        let mut args = vec![
            "template",
            "scimitar",
            &chart,
            "--namespace",
            "ops",
            "--show-only",
            "templates/admission-policy.yaml",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let out = render(&[]);
    let policy = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count = |text: &str| policy.matches(text).count();
    assert_eq!(count("kind: ValidatingAdmissionPolicy\n"), 2, "{policy}");
    assert_eq!(count("kind: ValidatingAdmissionPolicyBinding\n"), 2);
    assert_eq!(count("failurePolicy: Fail"), 2);
    assert_eq!(count("validationActions: [Deny]"), 2);
    assert_eq!(
        count("request.userInfo.username == 'system:serviceaccount:ops:scimitar'"),
        2,
        "{policy}"
    );
    assert!(policy.contains(r#"expression: '["view","edit","admin"]'"#));
    assert!(
        policy.contains(&format!(
            "request.namespace == 'ops' &&\n        request.name == '{}'",
            scimitar::leader::LEASE_NAME
        )),
        "the leader Lease's name in the policy is the operator's:\n{policy}"
    );
    // The harness installs the policy with the RBAC for every test.
    assert!(support::helm::operator_rbac("ops", &[]).contains(&*policy));

    let out = render(&["--set", "admissionPolicy.enabled=false"]);
    assert!(
        !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("kind:"),
        "disabled, the policy is not rendered"
    );
    let full = helm(&[
        "template",
        "scimitar",
        &chart,
        "--set",
        "admissionPolicy.enabled=false",
    ]);
    assert!(!full.contains("ValidatingAdmissionPolicy"), "{full}");

    // Kubernetes older than 1.30 has no admissionregistration.k8s.io/v1 policies.
    let old = render(&["--kube-version", "1.29.4"]);
    assert!(!old.status.success());
    assert!(String::from_utf8_lossy(&old.stderr).contains("admissionPolicy.enabled"));
    helm(&[
        "template",
        "scimitar",
        &chart,
        "--kube-version",
        "1.29.4",
        "--set",
        "admissionPolicy.enabled=false",
    ]);
}

/// The directory (personal data) reaches `edit` and `admin` by default, but
/// `view` only when asked for: everyone bound to `view` cluster-wide would
/// otherwise read every tenant's users.
#[test]
fn the_directory_is_not_aggregated_into_view_by_default() {
    let chart = chart().display().to_string();
    let render = |extra: &[&str]| {
        let mut args = vec![
            "template",
            "scimitar",
            chart.as_str(),
            "--show-only",
            "templates/aggregated-roles.yaml",
        ];
        args.extend_from_slice(extra);
        helm(&args)
    };
    let default = render(&[]);
    assert!(!default.contains("aggregate-to-view"), "{default}");
    assert!(default.contains("aggregate-to-edit: \"true\""), "{default}");
    assert!(
        default.contains("aggregate-to-admin: \"true\""),
        "{default}"
    );
    let with_view = render(&["--set", "rbac.aggregateToView=true"]);
    assert!(
        with_view.contains("aggregate-to-view: \"true\""),
        "{with_view}"
    );
    let none = render(&["--set", "rbac.aggregateToDefaultRoles=false"]);
    assert!(!none.contains("aggregate-to-"), "{none}");
    assert!(
        none.contains("directory-reader"),
        "still there to bind per namespace"
    );
}
