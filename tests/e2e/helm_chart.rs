//! The Helm chart in `charts/scimitar`: lint, golden renderings, schema
//! validation, and install / upgrade / uninstall against the real API server.
//!
//! Golden files: `tests/golden/chart-default.yaml` and `chart-full.yaml` are
//! `helm template` of the default values and of `charts/scimitar/ci/full-values.yaml`.
//! After an intended change to the chart, rewrite them and review the diff:
//!
//! ```sh
//! SCIMITAR_UPDATE_GOLDEN=1 cargo test --test e2e -- helm_chart::golden
//! ```
//!
//! Needs `helm` v4 on PATH (`hack/install-tools.sh` prints its directory).

use serde::Deserialize as _;
use std::path::PathBuf;

use crate::support;
use crate::support::ControlPlane;
use crate::support::helm::{chart, helm, run};
use crate::support::kubectl::kubectl;

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
            "{} is missing ({e}); run SCIMITAR_UPDATE_GOLDEN=1 cargo test --test e2e -- helm_chart::golden",
            path.display()
        )
    });
    pretty_assertions::assert_eq!(
        expected,
        rendered,
        "helm template differs from tests/golden/{name}; if intended, run \
         SCIMITAR_UPDATE_GOLDEN=1 cargo test --test e2e -- helm_chart::golden and review the diff"
    );
}

#[test]
fn golden_default_values() {
    golden("chart-default.yaml", &[]);
}

/// The full values as rendered for an upgrade (or an install whose CRDs
/// exist already): the ScimTenant API is known, so the tenants render.
#[test]
fn golden_full_values() {
    golden(
        "chart-full.yaml",
        &["--values", &full_values(), "--api-versions", TENANT_API],
    );
}

/// What `.Capabilities.APIVersions.Has` looks for before rendering tenants.
const TENANT_API: &str = "scimitar.dev/v1alpha1/ScimTenant";

/// `helm template` of the chart as release `scimitar` in `scimitar-system`,
/// with `extra` args.
fn render(extra: &[&str]) -> String {
    let chart = chart().display().to_string();
    let mut args = vec![
        "template",
        "scimitar",
        chart.as_str(),
        "--namespace",
        "scimitar-system",
    ];
    args.extend_from_slice(extra);
    helm(&args)
}

/// The YAML documents of a rendering.
fn documents(text: &str) -> Vec<serde_yaml::Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde_yaml::Value::deserialize(d).expect("YAML document"))
        .filter(|d| !d.is_null())
        .collect()
}

/// The one document of `kind` (and `name`, when given).
fn object(docs: &[serde_yaml::Value], kind: &str, name: Option<&str>) -> serde_yaml::Value {
    let found: Vec<_> = docs
        .iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .filter(|d| name.is_none_or(|n| d["metadata"]["name"].as_str() == Some(n)))
        .collect();
    assert_eq!(found.len(), 1, "one {kind} {name:?}, found {}", found.len());
    found[0].clone()
}

fn kinds(docs: &[serde_yaml::Value]) -> Vec<String> {
    docs.iter()
        .filter_map(|d| d["kind"].as_str().map(str::to_owned))
        .collect()
}

/// The CRDs are templates of the release, rendered from files/crds/ (which
/// crds_are_current.rs keeps equal to crds/): exactly the generated CRDs,
/// plus the release's labels and, with crds.keep, the keep annotation.
#[test]
fn crds_are_the_generated_ones_with_the_release_metadata() {
    let docs = documents(&render(&["--show-only", "templates/crds.yaml"]));
    let generated = scimitar::crd::all();
    assert_eq!(docs.len(), generated.len());
    for (file, crd) in generated {
        let name = format!("{}.{}", crd.spec.names.plural, crd.spec.group);
        let mut rendered = object(&docs, "CustomResourceDefinition", Some(&name));
        let metadata = rendered["metadata"]
            .as_mapping_mut()
            .expect("metadata")
            .clone();
        assert_eq!(
            metadata["annotations"]["helm.sh/resource-policy"].as_str(),
            Some("keep"),
            "{file}"
        );
        assert_eq!(
            metadata["labels"]["app.kubernetes.io/managed-by"].as_str(),
            Some("Helm")
        );
        assert_eq!(
            metadata["labels"]["app.kubernetes.io/instance"].as_str(),
            Some("scimitar")
        );
        let meta = rendered["metadata"].as_mapping_mut().expect("metadata");
        meta.remove("labels");
        meta.remove("annotations");
        let expected: serde_yaml::Value =
            serde_yaml::from_str(&scimitar::crd::to_yaml(&crd)).expect("generated CRD");
        assert!(
            rendered == expected,
            "templates/crds.yaml renders {file} differently from the code's CRD"
        );
    }
    let unkept = render(&[
        "--show-only",
        "templates/crds.yaml",
        "--set",
        "crds.keep=false",
    ]);
    assert_eq!(documents(&unkept).len(), 3);
    assert!(!unkept.contains("resource-policy"), "{unkept}");
    let off = render(&["--set", "crds.enabled=false"]);
    assert!(!off.contains("kind: CustomResourceDefinition"));
}

/// On a first install the API server does not know ScimTenant when Helm
/// checks the manifest, so tenants render only once it does; the notes say
/// how to create them.
#[test]
fn tenants_wait_for_their_api_and_the_notes_say_so() {
    let full = full_values();
    let first = documents(&render(&["--values", &full]));
    let first_kinds = kinds(&first);
    assert!(
        !first_kinds.contains(&"ScimTenant".to_owned()),
        "{first_kinds:?}"
    );
    assert!(first_kinds.contains(&"CustomResourceDefinition".to_owned()));
    let later = render(&["--values", &full, "--api-versions", TENANT_API]);
    let tenants: Vec<_> = documents(&later)
        .into_iter()
        .filter(|d| d["kind"].as_str() == Some("ScimTenant"))
        .collect();
    assert_eq!(tenants.len(), 2);

    // `helm install --dry-run=client` knows no cluster API, like a first
    // install; install_upgrade_and_uninstall_against_the_api_server checks
    // that the notes of the upgrade no longer say it.
    let first_notes = notes(&["--values", &full]);
    assert!(
        first_notes.contains("The tenants in values (2) were not created")
            && first_notes.contains("This install created the CRDs")
            && first_notes
                .contains("helm upgrade scimitar <chart> -n scimitar-system --reuse-values"),
        "{first_notes}"
    );
    let own = notes(&["--values", &full, "--set", "crds.enabled=false"]);
    assert!(
        own.contains("kubectl apply --server-side -f crds/"),
        "{own}"
    );
}

/// NOTES.txt as `helm install --dry-run` prints it (no cluster needed).
fn notes(extra: &[&str]) -> String {
    let chart = chart().display().to_string();
    let mut args = vec![
        "install",
        "scimitar",
        chart.as_str(),
        "--namespace",
        "scimitar-system",
        "--dry-run=client",
    ];
    args.extend_from_slice(extra);
    let out = helm(&args);
    out.split_once("NOTES:\n")
        .unwrap_or_else(|| panic!("no NOTES in:\n{out}"))
        .1
        .to_owned()
}

/// The notes give each tenant's console URL and the redirect URI to register
/// in its identity provider, as `scimitar run` computes them
/// (src/console/mod.rs base_url, src/console/signin.rs redirect_uri).
#[test]
fn notes_print_the_console_and_redirect_uris() {
    let full = notes(&["--values", &full_values()]);
    for line in [
        "  https://scim.example.com/scim/v2",
        "  acme: https://console.example.com/console/acme/",
        "    redirect URI to register in JumpCloud: https://console.example.com/api/auth/callback/jumpcloud",
        "  globex: https://console.example.com/console/globex/",
        "    redirect URI to register in Okta: https://console.example.com/api/auth/callback/okta",
        "  kubectl scimitar token create --namespace scimitar-system --tenant acme --name \"JumpCloud SCIM\"",
        "Check the installation: helm test scimitar -n scimitar-system",
    ] {
        assert!(
            full.lines().any(|l| l == line),
            "missing {line:?} in:\n{full}"
        );
    }
    // Without console.url, the console lives at the public URL's origin.
    let ingress = notes(&[
        "--set",
        "ingress.enabled=true,ingress.host=scim.example.org",
    ]);
    assert!(
        ingress.contains("  https://scim.example.org/console/<tenant>/\n")
            && ingress.contains("https://scim.example.org/api/auth/callback/<provider>"),
        "{ingress}"
    );
    let nowhere = notes(&[]);
    assert!(
        nowhere.contains("off until its public URL is known"),
        "{nowhere}"
    );
    let off = notes(&["--set", "console.enabled=false"]);
    assert!(!off.contains("/console/"), "{off}");
}

/// serviceAccount.create=false uses an existing account: nothing creates
/// it, and the RBAC bindings and the admission policy name it.
#[test]
fn an_existing_service_account_can_be_used() {
    let docs = documents(&render(&[
        "--set",
        "serviceAccount.create=false,serviceAccount.name=platform-scim",
    ]));
    assert!(!kinds(&docs).contains(&"ServiceAccount".to_owned()));
    let deployment = object(&docs, "Deployment", None);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["serviceAccountName"].as_str(),
        Some("platform-scim")
    );
    let mut subjects = 0;
    for binding in docs.iter().filter(|d| {
        matches!(
            d["kind"].as_str(),
            Some("ClusterRoleBinding" | "RoleBinding")
        )
    }) {
        for subject in binding["subjects"].as_sequence().expect("subjects") {
            assert_eq!(subject["name"].as_str(), Some("platform-scim"));
            subjects += 1;
        }
    }
    assert!(subjects >= 2, "{subjects}");
    let policy = render(&[
        "--set",
        "serviceAccount.create=false,serviceAccount.name=platform-scim",
        "--show-only",
        "templates/admission-policy.yaml",
    ]);
    assert_eq!(
        policy
            .matches("'system:serviceaccount:scimitar-system:platform-scim'")
            .count(),
        2,
        "{policy}"
    );
}

/// No fixed uid by default (OpenShift's restricted-v2 SCC assigns one), yet
/// non-root, no privilege escalation, read-only root, no capabilities,
/// RuntimeDefault seccomp; and every field can be overridden.
#[test]
fn security_contexts_fit_restricted_sccs_and_can_be_overridden() {
    let docs = documents(&render(&[]));
    let deployment = object(&docs, "Deployment", None);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0]["securityContext"];
    for context in [&pod["securityContext"], container] {
        assert_eq!(context["runAsNonRoot"].as_bool(), Some(true));
        assert!(context["runAsUser"].is_null(), "{context:?}");
        assert!(context["runAsGroup"].is_null(), "{context:?}");
        assert_eq!(
            context["seccompProfile"]["type"].as_str(),
            Some("RuntimeDefault")
        );
    }
    assert!(pod["securityContext"]["fsGroup"].is_null());
    assert_eq!(container["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(container["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(container["capabilities"]["drop"][0].as_str(), Some("ALL"));
    // The test pod runs under the same contexts.
    let test = object(&docs, "Pod", None);
    assert_eq!(test["spec"]["securityContext"], pod["securityContext"]);
    assert_eq!(test["spec"]["containers"][0]["securityContext"], *container);

    let pinned = documents(&render(&[
        "--set",
        "podSecurityContext.runAsUser=65532,podSecurityContext.fsGroup=65532,securityContext.runAsUser=65532",
    ]));
    let pod = &object(&pinned, "Deployment", None)["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsUser"].as_u64(), Some(65532));
    assert_eq!(pod["securityContext"]["fsGroup"].as_u64(), Some(65532));
    assert_eq!(
        pod["containers"][0]["securityContext"]["runAsUser"].as_u64(),
        Some(65532)
    );
}

/// Extra volumes and mounts (a private CA for the identity provider) join
/// the chart's own /tmp; probes, the PDB and the update strategy follow the
/// values.
#[test]
fn volumes_probes_pdb_and_strategy_follow_the_values() {
    let docs = documents(&render(&["--values", &full_values()]));
    let deployment = object(&docs, "Deployment", None);
    let spec = &deployment["spec"];
    let pod = &spec["template"]["spec"];
    let volumes: Vec<&str> = pod["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(volumes, ["tmp", "peer-token", "idp-ca"]);
    // The token the replicas show each other: bound to the peers' audience.
    assert_eq!(
        pod["volumes"][1]["projected"]["sources"][0]["serviceAccountToken"]["audience"].as_str(),
        Some("scimitar-peers-full")
    );
    assert_eq!(
        pod["volumes"][2]["configMap"]["name"].as_str(),
        Some("idp-ca")
    );
    let container = &pod["containers"][0];
    let mounts: Vec<(&str, &str)> = container["volumeMounts"]
        .as_sequence()
        .expect("mounts")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default(),
                m["mountPath"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            ("tmp", "/tmp"),
            ("peer-token", "/var/run/secrets/scimitar/peers"),
            ("idp-ca", "/etc/scimitar/idp-ca")
        ]
    );
    let env = serde_yaml::to_string(&container["env"]).expect("env");
    assert!(
        env.contains("name: SSL_CERT_FILE\n  value: /etc/scimitar/idp-ca/ca.crt"),
        "{env}"
    );
    assert_eq!(
        container["livenessProbe"]["periodSeconds"].as_u64(),
        Some(15)
    );
    assert_eq!(
        container["readinessProbe"]["failureThreshold"].as_u64(),
        Some(3)
    );
    assert_eq!(
        container["startupProbe"]["failureThreshold"].as_u64(),
        Some(40)
    );
    assert_eq!(
        spec["strategy"]["rollingUpdate"]["maxSurge"].as_str(),
        Some("25%")
    );
    let pdb = object(&docs, "PodDisruptionBudget", None);
    assert_eq!(pdb["spec"]["minAvailable"].as_u64(), Some(2));
    assert!(
        pdb["spec"]["maxUnavailable"].is_null(),
        "only one of the two"
    );

    // Defaults: the probes the operator's endpoints are made for, one pod
    // at a time without going below the replica count, maxUnavailable 1.
    let docs = documents(&render(&[]));
    let spec = &object(&docs, "Deployment", None)["spec"];
    let container = &spec["template"]["spec"]["containers"][0];
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    assert_eq!(
        container["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/healthz")
    );
    assert_eq!(
        spec["strategy"]["rollingUpdate"]["maxUnavailable"].as_u64(),
        Some(0)
    );
    let pdb = object(&docs, "PodDisruptionBudget", None);
    assert_eq!(pdb["spec"]["maxUnavailable"].as_u64(), Some(1));
    assert!(pdb["spec"]["minAvailable"].is_null());
    let recreate = documents(&render(&["--set", "strategy.type=Recreate"]));
    let strategy = &object(&recreate, "Deployment", None)["spec"]["strategy"];
    assert_eq!(strategy["type"].as_str(), Some("Recreate"));
    assert!(strategy["rollingUpdate"].is_null(), "{strategy:?}");
    let percent = documents(&render(&["--set", "podDisruptionBudget.minAvailable=50%"]));
    let pdb = object(&percent, "PodDisruptionBudget", None);
    assert_eq!(pdb["spec"]["minAvailable"].as_str(), Some("50%"));
}

/// `helm test` runs the scimitar image's own `probe` subcommand against the
/// SCIM discovery endpoint and /readyz through the Service, in a pod that
/// does not carry the Deployment's selector labels.
#[test]
fn the_helm_test_pod_probes_discovery_and_readiness() {
    let docs = documents(&render(&["--set", "service.port=8443"]));
    let pod = object(&docs, "Pod", Some("scimitar-test"));
    assert_eq!(
        pod["metadata"]["annotations"]["helm.sh/hook"].as_str(),
        Some("test")
    );
    let container = &pod["spec"]["containers"][0];
    assert_eq!(
        container["image"].as_str(),
        Some(
            format!(
                "ghcr.io/scimitar-dev/scimitar:{}",
                env!("CARGO_PKG_VERSION")
            )
            .as_str()
        )
    );
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(
        args,
        [
            "probe",
            "--timeout-seconds=10",
            "http://scimitar.scimitar-system.svc:8443/scim/v2/ServiceProviderConfig",
            "http://scimitar.scimitar-system.svc:8443/readyz",
        ]
    );
    // The args parse as `scimitar probe` arguments.
    let cli = <scimitar::cli::Cli as clap::Parser>::try_parse_from(
        std::iter::once("scimitar").chain(args.iter().copied()),
    )
    .expect("the test pod's args are a valid scimitar command line");
    assert!(matches!(cli.command, scimitar::cli::Command::Probe(_)));
    assert_eq!(pod["spec"]["restartPolicy"].as_str(), Some("Never"));
    assert_eq!(
        pod["spec"]["automountServiceAccountToken"].as_bool(),
        Some(false)
    );
    let deployment = object(&docs, "Deployment", None);
    let selector = deployment["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .expect("selector");
    let labels = pod["metadata"]["labels"].as_mapping().expect("labels");
    assert!(
        !selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
        "the test pod would join the Deployment's ReplicaSet and Service"
    );
    // With a NetworkPolicy restricting SCIM, the test pod may still reach it.
    let restricted = documents(&render(&["--values", &full_values()]));
    let policy = object(&restricted, "NetworkPolicy", None);
    let from = serde_yaml::to_string(&policy["spec"]["ingress"][0]["from"]).expect("from");
    assert!(from.contains("app.kubernetes.io/component: test"), "{from}");
    let off = render(&["--set", "tests.enabled=false"]);
    assert!(!off.contains("helm.sh/hook: test"));
}

/// The names of the `scimitar_*` series a text refers to.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("scimitar_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// Every series name the operator exports, as Prometheus stores them
/// (counters with `_total`, histograms with `_bucket`, `_sum`, `_count`).
fn exported_series() -> std::collections::BTreeSet<String> {
    use scimitar::metrics::{Directory, Metrics, TenantSize, TokenExpiries, TokenExpiry};
    struct OneTenant;
    impl Directory for OneTenant {
        fn sizes(&self) -> Vec<TenantSize> {
            vec![TenantSize {
                tenant: "acme".into(),
                users: 1,
                groups: 1,
                bytes: 1,
            }]
        }
    }
    struct OneToken;
    impl TokenExpiries for OneToken {
        fn expiries(&self) -> Vec<TokenExpiry> {
            vec![TokenExpiry {
                tenant: "acme".into(),
                token: "t".into(),
                expires: jiff::Timestamp::UNIX_EPOCH,
            }]
        }
    }
    let metrics = Metrics::new();
    // A labelled family shows in the text once it has a sample.
    metrics.scim_request(&scimitar::metrics::ScimRequest {
        tenant: "acme",
        method: "GET",
        resource_type: scimitar::scimlog::ResourceType::User,
        status: 200,
        elapsed: std::time::Duration::from_millis(1),
    });
    metrics.auth_failure(scimitar::metrics::AuthFailure::InvalidToken);
    metrics.limited("acme", scimitar::metrics::Limit::Rate);
    metrics.reconciled(Some("apply"), std::time::Duration::from_millis(1));
    metrics.visited(1, true);
    metrics.directory_read();
    metrics.api_request(
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/acme/rolebindings",
        100,
    );
    metrics.api_watch(
        "GET",
        "/apis/scimitar.dev/v1alpha1/scimtenants",
        Some("watch=true"),
    );
    metrics.observe_directory(std::sync::Arc::new(OneTenant));
    metrics.observe_tokens(std::sync::Arc::new(OneToken));
    metrics.observe_scim_log(std::sync::Arc::new(scimitar::scimlog::ScimLog::default()));
    let mut series = std::collections::BTreeSet::new();
    for line in metrics.encode().lines() {
        let Some(declared) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut words = declared.split(' ');
        let name = words.next().expect("name").to_owned();
        let suffixes: &[&str] = match words.next() {
            Some("counter") => &["_total"],
            Some("histogram") => &["_bucket", "_sum", "_count"],
            _ => &[""],
        };
        for suffix in suffixes {
            series.insert(format!("{name}{suffix}"));
        }
    }
    series
}

/// The PrometheusRule is off by default; on, it has the five alerts, and
/// every series it queries is one the operator exports.
#[test]
fn alerts_query_what_the_operator_exports() {
    assert!(!render(&[]).contains("kind: PrometheusRule"));
    let docs = documents(&render(&[
        "--set",
        "metrics.prometheusRule.enabled=true",
        "--show-only",
        "templates/prometheusrule.yaml",
    ]));
    let rule = object(&docs, "PrometheusRule", None);
    let rules = rule["spec"]["groups"][0]["rules"]
        .as_sequence()
        .expect("rules");
    let alerts: Vec<&str> = rules.iter().filter_map(|r| r["alert"].as_str()).collect();
    assert_eq!(
        alerts,
        [
            "ScimitarLeaderMissing",
            "ScimitarReconcileErrors",
            "ScimitarScimErrors",
            "ScimitarTokenExpiring",
            "ScimitarRequestLogDroppingEntries",
        ]
    );
    let exported = exported_series();
    for rule in rules {
        let expr = rule["expr"].as_str().expect("expr");
        assert!(
            expr.contains(r#"namespace="scimitar-system",job="scimitar-metrics""#),
            "{expr}"
        );
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{expr}");
        for name in names {
            assert!(
                exported.contains(&name),
                "{} queries {name}, which the operator does not export ({exported:?})",
                rule["alert"].as_str().unwrap_or_default()
            );
        }
        assert!(rule["labels"]["severity"].as_str().is_some());
    }
    let token = rules[3]["expr"].as_str().expect("expr");
    assert!(token.contains(&format!("< {}", 14 * 86_400)), "{token}");
}

/// The Grafana dashboard is off by default; on, it is a ConfigMap the
/// sidecar picks up, and every panel queries series the operator exports.
#[test]
fn the_dashboard_queries_what_the_operator_exports() {
    assert!(!render(&[]).contains("grafana_dashboard"));
    let docs = documents(&render(&[
        "--set",
        "metrics.dashboard.enabled=true",
        "--show-only",
        "templates/dashboard.yaml",
    ]));
    let map = object(&docs, "ConfigMap", Some("scimitar-dashboard"));
    assert_eq!(
        map["metadata"]["labels"]["grafana_dashboard"].as_str(),
        Some("1")
    );
    let json = map["data"]["scimitar.json"].as_str().expect("dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(json).expect("dashboard JSON");
    assert_eq!(dashboard["uid"], "scimitar");
    let exported = exported_series();
    let mut queried = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("expr");
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{expr}");
            queried.extend(names);
        }
    }
    for name in &queried {
        assert!(
            exported.contains(name),
            "the dashboard queries {name}, not exported"
        );
    }
    // Every family the operator exports has a panel, except the histogram
    // of objects visited (an implementation detail of the controller).
    let families: std::collections::BTreeSet<String> = queried
        .iter()
        .map(|n| {
            ["_total", "_bucket", "_sum", "_count"]
                .iter()
                .fold(n.clone(), |n, s| {
                    n.strip_suffix(s).map(str::to_owned).unwrap_or(n)
                })
        })
        .collect();
    for name in exported_series() {
        let family = ["_total", "_bucket", "_sum", "_count"]
            .iter()
            .fold(name.clone(), |n, s| {
                n.strip_suffix(s).map(str::to_owned).unwrap_or(n)
            });
        if family == "scimitar_reconcile_objects_visited" {
            continue;
        }
        assert!(
            families.contains(&family)
                || [
                    "scimitar_api_write_bytes",
                    "scimitar_scim_log_entries",
                    "scimitar_scim_log_tenant_bytes",
                    "scimitar_scim_log_tenant_entries",
                ]
                .contains(&family.as_str()),
            "no panel shows {family}"
        );
    }
    let elsewhere = documents(&render(&[
        "--set",
        "metrics.dashboard.enabled=true,metrics.dashboard.namespace=monitoring",
        "--show-only",
        "templates/dashboard.yaml",
    ]));
    assert_eq!(
        elsewhere[0]["metadata"]["namespace"].as_str(),
        Some("monitoring")
    );
}

/// Artifact Hub reads Chart.yaml's annotations: they must list the chart's
/// real CRDs and default image, and parse as the YAML lists it expects.
#[test]
fn artifact_hub_annotations_match_the_chart() {
    let text = std::fs::read_to_string(chart().join("Chart.yaml")).expect("Chart.yaml");
    let meta: serde_yaml::Value = serde_yaml::from_str(&text).expect("Chart.yaml is YAML");
    let annotations = &meta["annotations"];
    let list = |key: &str| -> Vec<serde_yaml::Value> {
        let text = annotations[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing"));
        serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{key}: {e}"))
    };
    assert_eq!(
        annotations["artifacthub.io/license"].as_str(),
        Some("Apache-2.0")
    );
    let crds = list("artifacthub.io/crds");
    let mut named: Vec<(String, String)> = crds
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_owned(),
                c["kind"].as_str().expect("kind").to_owned(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = scimitar::crd::all()
        .into_iter()
        .map(|(_, crd)| {
            (
                format!("{}.{}", crd.spec.names.plural, crd.spec.group),
                crd.spec.names.kind.clone(),
            )
        })
        .collect();
    named.sort();
    expected.sort();
    assert_eq!(named, expected);
    for example in list("artifacthub.io/crdsExamples") {
        let kind = example["kind"].as_str().expect("kind");
        assert!(expected.iter().any(|(_, k)| k == kind), "{kind}");
        assert_eq!(
            example["apiVersion"].as_str(),
            Some("scimitar.dev/v1alpha1")
        );
    }
    let images = list("artifacthub.io/images");
    assert_eq!(
        images[0]["image"].as_str(),
        Some(
            format!(
                "ghcr.io/scimitar-dev/scimitar:{}",
                env!("CARGO_PKG_VERSION")
            )
            .as_str()
        )
    );
    for change in list("artifacthub.io/changes") {
        assert!(matches!(
            change["kind"].as_str(),
            Some("added" | "changed" | "deprecated" | "removed" | "fixed" | "security")
        ));
        assert!(
            change["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    for link in list("artifacthub.io/links") {
        let url = link["url"].as_str().expect("url");
        let local = url
            .strip_prefix("https://github.com/scimitar-dev/scimitar/blob/main/")
            .map(|path| support::repo().join(path));
        assert!(
            local.is_none_or(|p| p.exists()),
            "{url} names a missing file"
        );
    }
}

/// charts/scimitar/README.md is what helm-docs makes of README.md.gotmpl
/// and the comments in values.yaml (helm-docs is built from its Go module
/// by hack/install-helm-docs.sh when missing).
#[test]
fn the_chart_readme_is_generated_from_the_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("scimitar");
    let out = std::process::Command::new(support::repo().join("hack/helm-docs.sh"))
        .arg(&copy)
        .output()
        .expect("running hack/helm-docs.sh");
    assert!(
        out.status.success(),
        "hack/helm-docs.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = std::fs::read_to_string(copy.join("README.md")).expect("generated README");
    let checked_in = std::fs::read_to_string(chart().join("README.md")).expect("README.md");
    pretty_assertions::assert_eq!(
        checked_in,
        generated,
        "charts/scimitar/README.md is stale: run hack/helm-docs.sh"
    );
    for key in [
        "crds.enabled",
        "serviceAccount.create",
        "podSecurityContext",
        "metrics.prometheusRule.enabled",
    ] {
        assert!(
            generated.contains(&format!("| {key} |")),
            "{key} undocumented"
        );
    }
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
fn namespace_creation_is_granted_only_when_enabled() {
    let chart = chart().display().to_string();
    let rule = |text: &str| -> Vec<String> {
        let docs = documents(text);
        let role = object(&docs, "ClusterRole", Some("scimitar-operator"));
        let rules = role["rules"].as_sequence().expect("rules").clone();
        rules
            .into_iter()
            .filter(|r| r["resources"][0].as_str() == Some("namespaces"))
            .flat_map(|r| r["verbs"].as_sequence().cloned().unwrap_or_default())
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let off = helm(&["template", "scimitar", &chart, "--namespace", "s"]);
    let on = helm(&[
        "template",
        "scimitar",
        &chart,
        "--namespace",
        "s",
        "--set",
        "namespaceCreation.enabled=true",
    ]);
    assert_eq!(rule(&off), ["get", "list", "watch"]);
    assert_eq!(rule(&on), ["get", "list", "watch", "create"]);
    assert!(off.contains("- --namespace-creation=false\n"), "{off}");
    assert!(on.contains("- --namespace-creation=true\n"), "{on}");
    // The admission policy holds namespaces to the managed-by label too.
    assert!(
        on.contains("resources: [configmaps, secrets, namespaces]"),
        "{on}"
    );
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
        (
            "existing service account without a name",
            "serviceAccount:\n  create: false\n",
            &["name"],
        ),
        ("crds switch", "crds:\n  enabled: maybe\n", &["crds"]),
        (
            "misspelt security context field",
            "securityContext:\n  runAsUserr: 1000\n",
            &["runAsUserr"],
        ),
        (
            "negative uid",
            "podSecurityContext:\n  runAsUser: -1\n",
            &["runAsUser"],
        ),
        (
            "volume shadowing /tmp",
            "extraVolumes:\n  - {name: tmp, emptyDir: {}}\n",
            &["extraVolumes"],
        ),
        (
            "mount without a path",
            "extraVolumeMounts:\n  - {name: idp-ca}\n",
            &["mountPath"],
        ),
        (
            "probe timing",
            "readinessProbe:\n  periodSeconds: 0\n",
            &["periodSeconds"],
        ),
        (
            "minAvailable as words",
            "podDisruptionBudget:\n  minAvailable: half\n",
            &["minAvailable"],
        ),
        ("strategy type", "strategy:\n  type: BlueGreen\n", &["type"]),
        (
            "5xx ratio over 1",
            "metrics:\n  prometheusRule:\n    scimErrorRatio: 5\n",
            &["scimErrorRatio"],
        ),
        (
            "dashboard namespace",
            "metrics:\n  dashboard:\n    namespace: Monitoring\n",
            &["namespace"],
        ),
        (
            "helm test switch",
            "tests:\n  enabled: yes please\n",
            &["tests"],
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

/// Stand-ins for the Prometheus Operator's ServiceMonitor and
/// PrometheusRule CRDs, so the full values (both enabled) install.
const MONITORING_CRDS: &str = r#"
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
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: prometheusrules.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names: {kind: PrometheusRule, listKind: PrometheusRuleList, plural: prometheusrules, singular: prometheusrule}
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
    // Its own control plane: the release owns scimitar-system, where the
    // other tests' operators get their RBAC.
    let cp = &ControlPlane::dedicated("helm-install");
    let kc = cp.kubeconfig.display().to_string();
    let k = |args: &[&str]| kubectl(&cp.kubeconfig, args);
    let dir = tempfile::tempdir().expect("tempdir");
    let apply = |name: &str, text: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, text).expect("writing manifest");
        k(&["apply", "--server-side", "-f", &file.display().to_string()]);
    };
    apply("monitoring-crds.yaml", MONITORING_CRDS);
    k(&[
        "wait",
        "--for=condition=Established",
        "crd/servicemonitors.monitoring.coreos.com",
        "crd/prometheusrules.monitoring.coreos.com",
        "--timeout=30s",
    ]);

    // The namespace full-values.yaml allows Secrets in (secrets.allowedNamespaces),
    // and the one its Grafana dashboard goes to.
    k(&["create", "namespace", "vault-sync"]);
    k(&["create", "namespace", "monitoring"]);
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

    // Install: there is no kubelet, so pods never run; helm must not wait for
    // them. The release creates the CRDs; the tenants must wait for them.
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
    assert!(
        notes.contains("The tenants in values (2) were not created"),
        "{notes}"
    );
    assert_eq!(k(&["get", "scimtenants", "-o", "name"]).trim(), "");
    // The upgrade the notes ask for creates them.
    let notes = helm_on(&["upgrade", "scimitar", &chart, "--values", &full]);
    assert!(!notes.contains("were not created"), "{notes}");
    assert!(
        notes.contains("redirect URI to register in JumpCloud: https://console.example.com/api/auth/callback/jumpcloud"),
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
        "serviceaccount/scimitar-operator",
        "prometheusrule.monitoring.coreos.com/scimitar",
        "configmap/scimitar-dashboard",
        "customresourcedefinition.apiextensions.k8s.io/scimtenants.scimitar.dev",
        "customresourcedefinition.apiextensions.k8s.io/scimusers.scimitar.dev",
        "customresourcedefinition.apiextensions.k8s.io/scimgroups.scimitar.dev",
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
    assert!(history.contains(r#""revision":3"#), "{history}");

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
    let dashboards = k(&[
        "get",
        "configmaps,prometheusrules",
        "-A",
        "-l",
        "app.kubernetes.io/instance=scimitar",
        "-o",
        "name",
    ]);
    assert_eq!(dashboards.trim(), "", "monitoring objects left behind");
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

/// The CRDs' release ownership, as `kubectl` shows it: the release's name
/// annotation, Helm's managed-by label, and the keep policy.
fn crd_ownership(kubeconfig: &std::path::Path, crd: &str) -> String {
    kubectl(
        kubeconfig,
        &[
            "get",
            "crd",
            crd,
            "-o",
            r#"jsonpath={.metadata.annotations.meta\.helm\.sh/release-name} {.metadata.labels.app\.kubernetes\.io/managed-by} {.metadata.annotations.helm\.sh/resource-policy} {.metadata.labels.helm\.sh/chart}"#,
        ],
    )
}

/// Chart 0.1.0 (`tests/fixtures/charts/scimitar-0.1.0.tgz`, packaged from
/// the chart as it was before its CRDs became templates) installed the CRDs
/// from its `crds/` directory, outside the release. Upgrading to this chart
/// takes them over with `--take-ownership`, as the chart's README says:
/// the CRDs stay (never deleted, so nothing stored in them is), now belong
/// to the release, and the tenants, users and groups are all still there.
/// Its own control plane: the CRDs are cluster-wide.
#[test]
fn upgrade_from_the_chart_that_installed_crds_from_its_crds_directory() {
    let cp = ControlPlane::dedicated("helm-crd-upgrade");
    let kc = cp.kubeconfig.display().to_string();
    let k = |args: &[&str]| kubectl(&cp.kubeconfig, args);
    let dir = tempfile::tempdir().expect("tempdir");
    let old = support::repo()
        .join("tests/fixtures/charts/scimitar-0.1.0.tgz")
        .display()
        .to_string();
    let chart_meta: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart().join("Chart.yaml")).expect("Chart.yaml"),
    )
    .expect("Chart.yaml");
    let chart_version = chart_meta["version"].as_str().expect("version").to_owned();
    let chart = chart().display().to_string();
    let values = dir.path().join("values.yaml");
    std::fs::write(
        &values,
        "tenants:\n  - name: acme\n    spec: {namespace: acme, provider: jumpcloud}\n",
    )
    .expect("values");
    let values = values.display().to_string();
    let base = [
        "--kubeconfig",
        kc.as_str(),
        "--namespace",
        "scimitar-system",
    ];
    let on = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&base);
        run(&all)
    };
    let ok = |args: &[&str]| {
        let out = on(args);
        assert!(
            out.status.success(),
            "helm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    ok(&[
        "install",
        "scimitar",
        &old,
        "--create-namespace",
        "--values",
        &values,
    ]);
    for crd in ["scimtenants", "scimusers", "scimgroups"] {
        let owner = crd_ownership(&cp.kubeconfig, &format!("{crd}.scimitar.dev"));
        assert_eq!(
            owner.trim(),
            "",
            "chart 0.1.0 left {crd} outside the release"
        );
    }
    let file = dir.path().join("user-data.yaml");
    std::fs::write(&file, USER_DATA).expect("user data");
    k(&["apply", "--server-side", "-f", &file.display().to_string()]);
    let uid = |kind: &str, name: &str, ns: &[&str]| {
        let mut args = vec!["get", kind, name, "-o", "jsonpath={.metadata.uid}"];
        args.extend_from_slice(ns);
        k(&args)
    };
    let user = "2819c223-7f76-453a-919d-413861904646";
    let before = (
        uid("scimuser", user, &["-n", "acme"]),
        uid("scimtenant", "acme", &[]),
        uid("crd", "scimusers.scimitar.dev", &[]),
    );

    // Helm does not adopt objects made outside the release unasked.
    let refused = on(&["upgrade", "scimitar", &chart, "--values", &values]);
    assert!(!refused.status.success(), "helm adopted the CRDs unasked");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("CustomResourceDefinition") && stderr.contains("ownership"),
        "{stderr}"
    );

    let notes = ok(&[
        "upgrade",
        "scimitar",
        &chart,
        "--values",
        &values,
        "--take-ownership",
    ]);
    assert!(
        notes.contains("CRDs: installed and upgraded by this release"),
        "{notes}"
    );
    for crd in ["scimtenants", "scimusers", "scimgroups"] {
        let owner = crd_ownership(&cp.kubeconfig, &format!("{crd}.scimitar.dev"));
        assert_eq!(
            owner,
            format!("scimitar Helm keep scimitar-{chart_version}"),
            "{crd} is not owned by the release"
        );
    }
    assert_ne!(chart_version, "0.1.0", "the fixture is chart 0.1.0");
    let after = (
        uid("scimuser", user, &["-n", "acme"]),
        uid("scimtenant", "acme", &[]),
        uid("crd", "scimusers.scimitar.dev", &[]),
    );
    assert_eq!(
        before, after,
        "a ScimUser, the tenant or a CRD was recreated"
    );
    k(&[
        "get",
        "scimgroup",
        "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "-n",
        "acme",
    ]);
    k(&["get", "scimtenant", "initech"]);
    let manifest = ok(&["get", "manifest", "scimitar"]);
    assert!(
        manifest.contains("name: scimusers.scimitar.dev"),
        "the CRDs are part of the release now"
    );

    // From now on `helm upgrade` upgrades them, and uninstall keeps them.
    ok(&["upgrade", "scimitar", &chart, "--values", &values]);
    ok(&["uninstall", "scimitar"]);
    for crd in ["scimtenants", "scimusers", "scimgroups"] {
        k(&["get", "crd", &format!("{crd}.scimitar.dev")]);
    }
    assert_eq!(uid("scimuser", user, &["-n", "acme"]), before.0);
}

/// The README's sizing table marks the chart's default memory request and
/// limit "(default)": they must be what values.yaml sets.
#[test]
fn default_memory_matches_the_readme_sizing_table() {
    let values: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart().join("values.yaml")).expect("values.yaml"),
    )
    .expect("values.yaml is YAML");
    let request = values["resources"]["requests"]["memory"]
        .as_str()
        .expect("memory request");
    let limit = values["resources"]["limits"]["memory"]
        .as_str()
        .expect("memory limit");
    let readme = std::fs::read_to_string(support::repo().join("README.md")).expect("README.md");
    let table = readme
        .split_once("### Sizing")
        .expect("README has a Sizing section")
        .1;
    let rows: Vec<Vec<&str>> = table
        .lines()
        .skip_while(|l| !l.starts_with("| users"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    assert!(!rows.is_empty(), "no sizing rows");
    let mut defaults = 0;
    for row in &rows {
        for (cell, value) in [(row[2], request), (row[3], limit)] {
            if let Some(quantity) = cell.strip_suffix(" (default)") {
                assert_eq!(quantity, value, "README sizing row {row:?}");
                defaults += 1;
            }
        }
    }
    assert!(defaults >= 2, "the table marks no default: {rows:?}");
    assert_eq!(limit, "512Mi");
}
