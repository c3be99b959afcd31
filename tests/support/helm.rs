//! Running `helm` (v4, from `hack/install-tools.sh`) on the chart in
//! `charts/scimitar`. A missing helm fails the test loudly.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The chart's directory.
pub fn chart() -> PathBuf {
    super::repo().join("charts/scimitar")
}

/// Runs helm and returns its output, whether it succeeded or not.
pub fn run(args: &[&str]) -> Output {
    Command::new("helm")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "helm could not be run ({e}); put it on PATH: \
             export PATH=\"$(hack/install-tools.sh | tail -n 1):$PATH\""
            )
        })
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

/// The operator's ServiceAccount and RBAC objects as the chart renders them
/// for release `scimitar` in `namespace`, with extra `helm template` args.
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
    ];
    args.extend_from_slice(extra);
    helm(&args)
}
