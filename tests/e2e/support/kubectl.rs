//! Running `kubectl` against the test control plane, as an admin would.

use std::path::Path;
use std::process::{Command, Output};

/// Runs kubectl with `kubeconfig` and returns its output, whether it
/// succeeded or not.
pub fn run(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl is installed")
}

/// Runs kubectl with `kubeconfig` and returns stdout; panics with stderr on failure.
pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = run(kubeconfig, args);
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("kubectl prints UTF-8")
}

/// Splits kubectl's table output into rows of whitespace-separated cells,
/// keeping multi-word headers (e.g. `USER NAME`) apart by column positions.
pub fn table(output: &str) -> Vec<Vec<String>> {
    let mut lines = output.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    // Column starts are where a header cell begins after two or more spaces.
    let mut starts = vec![0];
    let bytes = header.as_bytes();
    for i in 2..bytes.len() {
        if bytes[i] != b' ' && bytes[i - 1] == b' ' && bytes[i - 2] == b' ' {
            starts.push(i);
        }
    }
    std::iter::once(header)
        .chain(lines)
        .map(|line| {
            starts
                .iter()
                .enumerate()
                .map(|(n, &s)| {
                    let end = starts
                        .get(n + 1)
                        .copied()
                        .unwrap_or(line.len())
                        .min(line.len());
                    line.get(s.min(line.len())..end)
                        .unwrap_or("")
                        .trim()
                        .to_owned()
                })
                .collect()
        })
        .collect()
}
