//! Test harness: a real control plane (etcd, kube-apiserver with RBAC,
//! kube-controller-manager) started once per test binary by
//! `hack/control-plane.sh`, plus clients for the identities tests need.
//!
//! Set `SCIMITAR_TEST_KUBECONFIG` to reuse a running control plane instead.
//! A control plane that cannot start fails the test loudly; nothing is skipped.

pub mod console;
pub mod helm;
pub mod kubectl;
pub mod node;
pub mod oidc;
pub mod operator;
pub mod rbac;
pub mod replay;
pub mod scimlog;
pub mod tenant;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client, Config, ResourceExt};

/// Repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running control plane and its admin kubeconfig.
pub struct ControlPlane {
    /// Working directory of the control plane (None when reusing an external one).
    dir: Option<PathBuf>,
    /// Admin kubeconfig (client certificate in `system:masters`).
    pub kubeconfig: PathBuf,
}

impl ControlPlane {
    /// The control plane shared by every test in this binary.
    pub fn shared() -> &'static ControlPlane {
        static SHARED: OnceLock<ControlPlane> = OnceLock::new();
        SHARED.get_or_init(|| {
            if let Ok(path) = std::env::var("SCIMITAR_TEST_KUBECONFIG") {
                return ControlPlane {
                    dir: None,
                    kubeconfig: PathBuf::from(path),
                };
            }
            let exe = std::env::current_exe().expect("test binary path");
            let name = exe
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("tests")
                .to_owned();
            // One directory per process: a previous run's watchdog may still
            // be removing its own when the next run starts.
            Self::start(
                &repo()
                    .join("target/control-plane")
                    .join(format!("{name}-{}", std::process::id())),
            )
        })
    }

    /// A control plane of this test's own, for tests that restart or break it.
    /// Stopped and removed on drop.
    pub fn dedicated(name: &str) -> ControlPlane {
        Self::dedicated_with(name, &[])
    }

    /// [`ControlPlane::dedicated`], with more `hack/control-plane.sh start`
    /// options, such as `--authentication-config FILE`.
    pub fn dedicated_with(name: &str, options: &[&str]) -> ControlPlane {
        Self::start_with(&Self::dedicated_dir(name), options)
    }

    /// The working directory of [`ControlPlane::dedicated`]`(name)`, removed
    /// with it (a place for files it should read, such as its
    /// authentication configuration).
    pub fn dedicated_dir(name: &str) -> PathBuf {
        repo()
            .join("target/control-plane")
            .join(format!("{name}-{}", std::process::id()))
    }

    fn start(dir: &Path) -> ControlPlane {
        Self::start_with(dir, &[])
    }

    fn start_with(dir: &Path, options: &[&str]) -> ControlPlane {
        let out = Command::new(repo().join("hack/control-plane.sh"))
            .args(["start", "--dir"])
            .arg(dir)
            .args(["--owner-pid", &std::process::id().to_string()])
            .args(options)
            .output()
            .expect("running hack/control-plane.sh");
        assert!(
            out.status.success(),
            "the control plane did not start (is Go installed? see hack/build-control-plane.sh):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let kubeconfig = stdout
            .lines()
            .last()
            .expect("kubeconfig path")
            .trim()
            .into();
        ControlPlane {
            dir: Some(dir.to_owned()),
            kubeconfig,
        }
    }

    /// Kubernetes client config for the admin.
    pub async fn admin_config(&self) -> Config {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).expect("reading kubeconfig");
        Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("kubeconfig is valid")
    }

    /// A client with cluster-admin rights, for setup and assertions.
    pub async fn admin(&self) -> Client {
        Client::try_from(self.admin_config().await).expect("admin client")
    }

    /// A client acting as `user` in `groups`, by impersonation, so that RBAC
    /// decides exactly as it would for that user.
    pub async fn client_as(&self, user: &str, groups: &[&str]) -> Client {
        let mut config = self.admin_config().await;
        config.auth_info.impersonate = Some(user.to_owned());
        config.auth_info.impersonate_groups =
            Some(groups.iter().map(|g| (*g).to_owned()).collect());
        Client::try_from(config).expect("impersonating client")
    }

    /// Writes a kubeconfig named `name` next to the admin's, for the same
    /// cluster with `token` as the bearer token (a ServiceAccount token, an
    /// OIDC ID token), and returns its path. Written whole and renamed into
    /// place: a process started meanwhile never reads half of it.
    pub fn token_kubeconfig(&self, name: &str, token: &str) -> PathBuf {
        let text = std::fs::read_to_string(&self.kubeconfig).expect("admin kubeconfig");
        let admin: serde_yaml::Value = serde_yaml::from_str(&text).expect("kubeconfig YAML");
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": serde_json::to_value(&admin["clusters"]).expect("clusters"),
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [{"name": name, "context": {
                "cluster": admin["clusters"][0]["name"].as_str().expect("cluster name"),
                "user": name,
            }}],
            "current-context": name,
        });
        let path = self.kubeconfig.with_file_name(name);
        let tmp = self
            .kubeconfig
            .with_file_name(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&tmp, serde_yaml::to_string(&config).expect("YAML"))
            .expect("writing kubeconfig");
        std::fs::rename(&tmp, &path).expect("installing kubeconfig");
        path
    }

    /// Restarts kube-apiserver, keeping etcd and its data (for fault tests).
    pub fn restart_apiserver(&self) {
        let dir = self
            .dir
            .as_ref()
            .expect("only a control plane started here can be restarted");
        let status = Command::new(repo().join("hack/control-plane.sh"))
            .args(["restart-apiserver", "--dir"])
            .arg(dir)
            .status()
            .expect("running hack/control-plane.sh");
        assert!(status.success(), "kube-apiserver did not come back");
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = Command::new(repo().join("hack/control-plane.sh"))
                .args(["stop", "--clean", "--dir"])
                .arg(dir)
                .status();
        }
    }
}

/// A client with the credentials of `kubeconfig`.
pub async fn client_from(kubeconfig: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("reading kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig is valid");
    Client::try_from(config).expect("client")
}

/// Applies scimitar's CRDs (as generated by the code) and waits until they are established.
pub async fn install_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("scimitar-tests").force();
    for (_, crd) in scimitar::crd::all() {
        let name = crd.name_any();
        api.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .expect("CRD accepted");
        let established = await_condition(api.clone(), &name, conditions::is_crd_established());
        tokio::time::timeout(Duration::from_secs(30), established)
            .await
            .expect("CRD established in time")
            .expect("watching the CRD");
    }
}

/// Creates a namespace with a unique name starting with `prefix`.
pub async fn namespace(client: &Client, prefix: &str) -> String {
    let name = format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let ns = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace created");
    name
}

/// Runs the built `scimitar` with `args` and the admin kubeconfig; returns stdout.
pub fn scimitar(cp: &ControlPlane, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(args)
        .arg("--kubeconfig")
        .arg(&cp.kubeconfig)
        .output()
        .expect("scimitar ran");
    assert!(
        out.status.success(),
        "scimitar {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}
