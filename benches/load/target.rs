//! A SCIM server under test, reached over HTTP on 127.0.0.1: the requests
//! the benchmark sends, tolerant only of what RFC 7644 allows (PATCH may
//! answer 200 with the resource or 204).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A process started for the benchmark; killed on drop, and by a watchdog
/// shell when the benchmark process exits.
pub struct Process {
    _child: Child,
    pub pid: Option<u32>,
    pub log: PathBuf,
}

impl Process {
    /// Runs `command` (a shell command line) in `dir`, output to `log`.
    pub fn spawn(name: &str, command: &str, dir: &std::path::Path) -> Process {
        let log = crate::out_dir().join(format!("{name}.log"));
        let pid_file = log.with_extension("pid");
        let _ = std::fs::remove_file(&pid_file);
        // The server runs as the leader of a session of its own, which
        // writes its pid: stopping that process group stops a start script's
        // children too.
        let inner = format!("echo $$ >{}; exec {command}", pid_file.display());
        let script = format!(
            "cd {dir} && setsid bash -c {quoted} >{log} 2>&1 & \
             until [ -s {pid} ]; do sleep 0.05; done; p=$(cat {pid}); \
             while kill -0 {parent} 2>/dev/null && kill -0 $p 2>/dev/null; do sleep 0.5; done; kill -- -$p 2>/dev/null",
            quoted = shell_quote(&inner),
            dir = dir.display(),
            log = log.display(),
            pid = pid_file.display(),
            parent = std::process::id(),
        );
        let child = Command::new("bash")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("process started");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut pid = None;
        while pid.is_none() && Instant::now() < deadline {
            pid = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|p| p.trim().parse().ok());
            std::thread::sleep(Duration::from_millis(20));
        }
        Process {
            _child: child,
            pid,
            log,
        }
    }

    /// Resident memory of the process and its children, in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        self.pid.and_then(rss_mib)
    }

    /// Peak resident memory (VmHWM) of the process and its children, in MiB.
    pub fn hwm_mib(&self) -> Option<f64> {
        self.pid.and_then(hwm_mib)
    }
}

impl Drop for Process {
    /// Stops the whole process group (a start script's children too).
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = Command::new("kill")
                .args(["--", &format!("-{pid}")])
                .status();
        }
    }
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Resident memory of `pid` and its descendants, in MiB (Linux /proc).
pub fn rss_mib(pid: u32) -> Option<f64> {
    status_mib(pid, "VmRSS:")
}

/// Peak resident memory (VmHWM) of `pid`, plus that of its descendants, in MiB.
pub fn hwm_mib(pid: u32) -> Option<f64> {
    status_mib(pid, "VmHWM:")
}

/// A `/proc/<pid>/status` memory field of `pid` and its descendants, summed.
fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let mut total_kib = 0u64;
    let mut stack = vec![pid];
    while let Some(pid) = stack.pop() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        total_kib += kib;
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
            stack.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    Some(total_kib as f64 / 1024.0)
}

/// A SCIM endpoint.
#[derive(Clone)]
pub struct Target {
    pub name: String,
    /// Base URL without trailing slash, e.g. `http://127.0.0.1:8080/scim/v2`.
    pub base: String,
    token: String,
    http: reqwest::Client,
}

/// The userName of benchmark user `i`.
pub fn user_name(i: usize) -> String {
    format!("user{i:07}@bench.example.com")
}

impl Target {
    pub fn new(name: &str, base: &str, token: &str) -> Target {
        Target {
            name: name.to_owned(),
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .timeout(Duration::from_secs(60))
                .build()
                .expect("HTTP client"),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("accept", "application/scim+json")
    }

    /// Waits until the server answers `GET /ServiceProviderConfig`.
    pub async fn wait_until_up(&self, log: &std::path::Path) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up = self
                .request(reqwest::Method::GET, "/ServiceProviderConfig")
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not come up; see {}",
                self.name,
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The user resource for benchmark user `i`.
    pub fn user(i: usize) -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "userName": user_name(i),
            "externalId": format!("ext-{i}"),
            "name": {"givenName": "Bench", "familyName": format!("User {i}")},
            "displayName": format!("Bench User {i}"),
            "active": true,
            "emails": [{"value": user_name(i), "type": "work", "primary": true}]
        })
    }

    /// Benchmark user `i` as identity providers send people: [`Target::user`]
    /// with a title and the enterprise extension.
    pub fn person(i: usize) -> Value {
        let mut user = Self::user(i);
        user["schemas"] = json!([USER_SCHEMA, ENTERPRISE_SCHEMA]);
        user["title"] = json!("Engineer");
        user[ENTERPRISE_SCHEMA] = json!({
            "employeeNumber": format!("{i:07}"),
            "organization": "Bench Example",
            "division": format!("Division {}", i % 7),
            "department": format!("Department {}", i % 53),
            "costCenter": format!("CC-{:04}", i % 211),
        });
        user
    }

    /// `POST /Groups` with `members`; the new id on 201.
    pub async fn create_group(&self, name: &str, members: &[String]) -> Option<String> {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let mut body = json!({"schemas": [GROUP_SCHEMA], "displayName": name});
        if !members.is_empty() {
            body["members"] = Value::Array(members);
        }
        self.create("/Groups", &body).await
    }

    /// `POST` of `body` to `path`; the new id on 201.
    pub async fn create(&self, path: &str, body: &Value) -> Option<String> {
        let response = self
            .request(reqwest::Method::POST, path)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await
            .ok()?;
        if response.status().as_u16() != 201 {
            return None;
        }
        let created: Value = response.json().await.ok()?;
        created["id"].as_str().map(str::to_owned)
    }

    /// `GET /Users?filter=userName eq "…"`: whether exactly that user came back.
    pub async fn find_user(&self, user_name: &str) -> bool {
        let filter = format!("userName eq \"{user_name}\"");
        let response = self
            .request(reqwest::Method::GET, "/Users")
            .query(&[("filter", filter.as_str())])
            .send()
            .await;
        let Ok(response) = response else {
            return false;
        };
        if !response.status().is_success() {
            return false;
        }
        let Ok(list) = response.json::<Value>().await else {
            return false;
        };
        list["totalResults"] == 1
            && list["Resources"][0]["userName"]
                .as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(user_name))
    }

    /// `PATCH /Groups/{id}` adding one member (200 or 204).
    pub async fn add_member(&self, group: &str, user: &str) -> bool {
        self.patch(
            &format!("/Groups/{group}"),
            json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]}),
        )
        .await
    }

    /// `PATCH /Users/{id}` setting `active: false`.
    pub async fn deactivate(&self, user: &str) -> bool {
        self.patch(
            &format!("/Users/{user}"),
            json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]}),
        )
        .await
    }

    async fn patch(&self, path: &str, body: Value) -> bool {
        self.request(reqwest::Method::PATCH, path)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await
            .is_ok_and(|r| matches!(r.status().as_u16(), 200 | 204))
    }

    /// `totalResults` of `GET /Users?count=0`.
    pub async fn user_count(&self) -> Option<u64> {
        let response = self
            .request(reqwest::Method::GET, "/Users")
            .query(&[("count", "0")])
            .send()
            .await
            .ok()?;
        response.json::<Value>().await.ok()?["totalResults"].as_u64()
    }
}
