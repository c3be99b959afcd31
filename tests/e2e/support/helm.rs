//! Running `helm` (v4, from `hack/install-tools.sh`) on the chart in
//! `charts/scimitar`. A missing helm fails the test loudly.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The chart's directory.
pub fn chart() -> PathBuf {
    super::repo().join("charts/scimitar")
}

/// The helm binary: from PATH, else the one `hack/install-tools.sh` installs
/// (and caches), so a plain `cargo test` works as well as `make test`.
fn binary() -> PathBuf {
    static HELM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    HELM.get_or_init(|| {
        let on_path = Command::new("helm").arg("version").output();
        if on_path.is_ok_and(|o| o.status.success()) {
            return PathBuf::from("helm");
        }
        let out = Command::new(super::repo().join("hack/install-tools.sh"))
            .output()
            .expect("running hack/install-tools.sh");
        assert!(
            out.status.success(),
            "hack/install-tools.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(dir.lines().last().expect("tools directory").trim()).join("helm")
    })
    .clone()
}

/// Runs helm and returns its output, whether it succeeded or not.
pub fn run(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("helm could not be run ({e}); see hack/install-tools.sh"))
}

/// Runs helm and returns stdout; panics with stderr on failure.
pub fn helm(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "helm {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("helm prints UTF-8")
}

/// The operator's ServiceAccount, RBAC objects and admission policy (with
/// its binding) as the chart renders them for release `scimitar` in
/// `namespace`, with extra `helm template` args.
pub fn operator_rbac(namespace: &str, extra: &[&str]) -> String {
    let chart = chart().display().to_string();
    let mut args = vec![
        "template",
        "scimitar",
        &chart,
        "--namespace",
        namespace,
        "--show-only",
        "templates/serviceaccount.yaml",
        "--show-only",
        "templates/rbac.yaml",
        "--show-only",
        "templates/admission-policy.yaml",
    ];
    args.extend_from_slice(extra);
    helm(&args)
}
