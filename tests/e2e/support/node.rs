//! A node that runs pods (`hack/node.sh`: the control plane in node mode,
//! containerd, kubelet, kube-proxy, CoreDNS), started once per test binary
//! that asks for it and stopped when that binary exits (a watchdog of
//! node.sh, given this process's pid), and scimitar's image built by
//! `hack/image.sh` and imported into the node's containerd.
//!
//! Needs root (the kubelet and runc manage mounts, cgroups and network
//! namespaces). A node that cannot start fails the test loudly.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{ControlPlane, repo};

/// The running node.
pub struct Node {
    /// hack/node.sh's working directory.
    pub dir: PathBuf,
    /// The control plane of the node (its admin kubeconfig; kube-apiserver
    /// listens on the bridge address 10.88.0.1).
    pub cp: ControlPlane,
}

impl Node {
    /// The node shared by every test in this binary.
    pub fn shared() -> &'static Node {
        static SHARED: OnceLock<Node> = OnceLock::new();
        SHARED.get_or_init(|| {
            let exe = std::env::current_exe().expect("test binary path");
            let name = exe
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("tests")
                .to_owned();
            let dir = repo()
                .join("target/node")
                .join(format!("{name}-{}", std::process::id()));
            let started = std::time::Instant::now();
            let out = Command::new(repo().join("hack/node.sh"))
                .args(["start", "--dir"])
                .arg(&dir)
                .args(["--owner-pid", &std::process::id().to_string()])
                .output()
                .expect("running hack/node.sh");
            assert!(
                out.status.success(),
                "the node did not start (it needs root and the packages of hack/prereqs.sh):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!("measured: node started in {:?}", started.elapsed());
            let kubeconfig = String::from_utf8_lossy(&out.stdout)
                .lines()
                .last()
                .expect("kubeconfig path")
                .trim()
                .into();
            Node {
                dir,
                cp: ControlPlane {
                    dir: None,
                    kubeconfig,
                },
            }
        })
    }

    /// containerd's socket.
    pub fn containerd_socket(&self) -> PathBuf {
        self.dir.join("containerd/containerd.sock")
    }

    /// Runs `ctr` in the Kubernetes namespace of the node's containerd and
    /// returns stdout.
    pub fn ctr(&self, args: &[&str]) -> String {
        let out = Command::new("ctr")
            .arg("--address")
            .arg(self.containerd_socket())
            .args(["--namespace", "k8s.io"])
            .args(args)
            .output()
            .expect("ctr is installed");
        assert!(
            out.status.success(),
            "ctr {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("ctr prints UTF-8")
    }

    /// Imports an OCI image archive into the node's containerd.
    pub fn import(&self, archive: &Path) {
        let status = Command::new(repo().join("hack/node.sh"))
            .arg("import")
            .arg(archive)
            .arg("--dir")
            .arg(&self.dir)
            .status()
            .expect("running hack/node.sh import");
        assert!(status.success(), "importing {}", archive.display());
    }

    /// The host pid of a running container (`containerd://<id>` as the
    /// pod's status names it), from containerd's task list.
    pub fn container_pid(&self, container_id: &str) -> u32 {
        let id = container_id
            .strip_prefix("containerd://")
            .unwrap_or(container_id);
        self.ctr(&["tasks", "ls"])
            .lines()
            .find_map(|line| {
                let mut cells = line.split_whitespace();
                (cells.next() == Some(id)).then(|| cells.next().and_then(|p| p.parse().ok()))?
            })
            .unwrap_or_else(|| panic!("no running task {id}"))
    }
}

/// The scimitar image archives for `tags` (`hack/image.sh`: the static
/// release binary in an OCI archive named
/// `ghcr.io/scimitar-dev/scimitar:<tag>`), built once per test binary.
pub fn image_archives(tags: &[&str]) -> Vec<PathBuf> {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let missing: Vec<&str> = tags
        .iter()
        .copied()
        .filter(|t| !built.iter().any(|(b, _)| b == t))
        .collect();
    if !missing.is_empty() {
        let started = std::time::Instant::now();
        let out = Command::new(repo().join("hack/image.sh"))
            .args(&missing)
            .output()
            .expect("running hack/image.sh");
        assert!(
            out.status.success(),
            "hack/image.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("measured: image archives ready in {:?}", started.elapsed());
        let paths: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(PathBuf::from)
            .collect();
        assert_eq!(paths.len(), missing.len(), "one archive per tag");
        for (tag, path) in missing.iter().zip(paths) {
            built.push(((*tag).to_owned(), path));
        }
    }
    tags.iter()
        .map(|t| {
            built
                .iter()
                .find(|(b, _)| b == t)
                .map(|(_, p)| p.clone())
                .expect("built")
        })
        .collect()
}

/// The image configuration (`config` of the OCI image config: User,
/// Entrypoint, Cmd, ExposedPorts, …) inside an OCI archive.
pub fn image_config(archive: &Path) -> serde_json::Value {
    let json = |path: &str| -> serde_json::Value {
        let out = Command::new("tar")
            .arg("-xOf")
            .arg(archive)
            .arg(path)
            .output()
            .expect("tar is installed");
        assert!(out.status.success(), "{path} in {}", archive.display());
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let blob = |digest: &serde_json::Value| {
        format!(
            "blobs/sha256/{}",
            digest
                .as_str()
                .and_then(|d| d.strip_prefix("sha256:"))
                .expect("sha256 digest")
        )
    };
    let index = json("index.json");
    let manifest = json(&blob(&index["manifests"][0]["digest"]));
    json(&blob(&manifest["config"]["digest"]))["config"].clone()
}
