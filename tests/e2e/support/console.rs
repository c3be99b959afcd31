//! The console test harness: an OIDC provider on loopback (PyPI
//! `oidc-provider-mock`, see `support::oidc`) and Debian's Chromium driven by
//! `playwright-core` (tests/console/browse.cjs), both installed into the
//! cache on first use.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::repo;

/// Pinned test tools, installed into the cache on first use.
const PLAYWRIGHT_CORE: &str = "playwright-core@1.65.1";
const CHROMIUM: &str = "/usr/bin/chromium";

pub fn cache() -> PathBuf {
    std::env::var_os("SCIMITAR_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/scimitar")
        })
}

pub fn run(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The directory whose node_modules holds playwright-core.
pub fn node_modules() -> PathBuf {
    let dir = cache().join("node");
    let pinned = dir.join(format!(".{PLAYWRIGHT_CORE}"));
    if !pinned.exists() {
        std::fs::create_dir_all(&dir).expect("node cache dir");
        run(
            Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--save-exact",
                    "--prefix",
                ])
                .arg(&dir)
                .arg(PLAYWRIGHT_CORE),
            "npm install playwright-core",
        );
        std::fs::write(&pinned, "").expect("marking node_modules");
    }
    dir.join("node_modules")
}

/// What the browser saw after one step.
#[derive(Debug, Default)]
pub struct Seen {
    pub status: u16,
    pub url: String,
    /// The page's text, as a user reads it.
    pub text: String,
    /// The page's HTML.
    pub html: String,
    /// The authorization request's query (`login` steps).
    pub authorize: Value,
    /// What `count`, `text`, `download` and `copy` steps return.
    pub value: Value,
}

/// One browser profile (its own cookies).
pub struct Browser {
    profile: tempfile::TempDir,
    shots: PathBuf,
    /// The base64 SHA-256 of a server key to accept despite an unknown CA.
    trust_spki: Option<String>,
}

impl Browser {
    pub fn new() -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: apt-get install chromium"
        );
        let shots = repo().join("target/console-screenshots");
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        Browser {
            profile: tempfile::tempdir().expect("profile dir"),
            shots,
            trust_spki: None,
        }
    }

    /// A profile that accepts the server certificate in PEM file `cert`,
    /// whatever signed it, as a user who trusted its CA would.
    pub fn trusting(cert: &Path) -> Browser {
        let script = format!(
            "openssl x509 -pubkey -noout -in '{}' | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
            cert.display()
        );
        let out = Command::new("bash")
            .args(["-c", &script])
            .output()
            .expect("openssl runs");
        let spki = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success() && spki.len() == 44,
            "the key hash of {}: {spki:?}",
            cert.display()
        );
        Browser {
            trust_spki: Some(spki),
            ..Browser::new()
        }
    }

    /// Runs `steps` (see tests/console/browse.cjs) in one browser session.
    pub fn run(&self, steps: &[Value]) -> Vec<Seen> {
        let script = repo().join("tests/console/browse.cjs");
        let file = self.profile.path().join("steps.json");
        std::fs::write(&file, serde_json::to_vec(steps).expect("steps JSON")).expect("steps file");
        let out = Command::new("timeout")
            .args(["120", "node"])
            .arg(&script)
            .arg(self.profile.path().join("chromium"))
            .arg(&file)
            .arg(&self.shots)
            .env("NODE_PATH", node_modules())
            .env(
                "SCIMITAR_BROWSER_TRUST_SPKI",
                self.trust_spki.as_deref().unwrap_or_default(),
            )
            .stdin(Stdio::null())
            .output()
            .expect("node runs");
        assert!(
            out.status.success(),
            "browser script failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let seen: Vec<Value> = serde_json::from_slice(&out.stdout).expect("browser JSON");
        seen.into_iter()
            .map(|s| Seen {
                status: s["status"].as_u64().unwrap_or(0) as u16,
                url: s["url"].as_str().unwrap_or_default().to_owned(),
                text: s["text"].as_str().unwrap_or_default().to_owned(),
                html: s["html"].as_str().unwrap_or_default().to_owned(),
                authorize: s["authorize"].clone(),
                value: s["value"].clone(),
            })
            .collect()
    }

    /// Signs in to the console at `console` as `subject`.
    pub fn login(&self, console: &str, subject: &str, shot: &str) -> Seen {
        let step = json!({"op": "login", "url": console, "subject": subject, "shot": shot});
        self.run(&[step]).remove(0)
    }

    /// Opens `url`.
    pub fn open(&self, url: &str, shot: &str) -> Seen {
        self.run(&[json!({"op": "goto", "url": url, "shot": shot})])
            .remove(0)
    }
}
