//! `scimitar probe URL...`: GETs each URL and fails unless every answer is a
//! 2xx. The chart's `helm test` pod runs it against the SCIM discovery
//! endpoint and `/readyz` with the scimitar image itself, which has no shell
//! and no curl.
//!
//! Imports: `crd`, `scim`, `meta`, `auth`, `scimlog`, `metrics`,
//! `kubeclient`, `ready`, `shutdown`, `telemetry`, `store`, `controller`,
//! `http`, `console`, `leader` and its own layer (the top layer;
//! tests/e2e/imports_follow_the_layers.rs).

use std::time::Duration;

use clap::Args;
use openidconnect::reqwest;

/// Settings of `scimitar probe`.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// URLs to GET (`http://scimitar.scimitar-system.svc:8080/readyz`).
    #[arg(required = true, value_parser = parse_url)]
    pub urls: Vec<String>,
    /// Seconds each request may take.
    #[arg(long, default_value_t = 5)]
    pub timeout_seconds: u64,
}

fn parse_url(text: &str) -> Result<String, String> {
    let url = openidconnect::url::Url::parse(text).map_err(|e| e.to_string())?;
    match url.scheme() {
        "http" | "https" => Ok(text.to_owned()),
        other => Err(format!("{other}: only http and https URLs")),
    }
}

/// What one GET answered: the URL, and its status or why there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub url: String,
    pub result: Result<u16, String>,
}

impl Outcome {
    /// Whether the answer was a 2xx.
    pub fn passed(&self) -> bool {
        matches!(self.result, Ok(200..=299))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.passed() { "ok" } else { "FAILED" };
        match &self.result {
            Ok(status) => write!(f, "{verdict} {status} GET {}", self.url),
            Err(error) => write!(f, "{verdict} GET {}: {error}", self.url),
        }
    }
}

/// GETs every URL in turn (redirects are not followed: a redirect is not an
/// answer from the endpoint asked for).
pub async fn check(urls: &[String], timeout: Duration) -> anyhow::Result<Vec<Outcome>> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()?;
    let mut outcomes = Vec::with_capacity(urls.len());
    for url in urls {
        let result = match client.get(url).send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(error) => Err(error.to_string()),
        };
        outcomes.push(Outcome {
            url: url.clone(),
            result,
        });
    }
    Ok(outcomes)
}

/// `scimitar probe`: prints one line per URL; an error unless all passed.
pub async fn run(args: ProbeArgs) -> anyhow::Result<()> {
    let outcomes = check(&args.urls, Duration::from_secs(args.timeout_seconds)).await?;
    for outcome in &outcomes {
        println!("{outcome}");
    }
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    anyhow::ensure!(failed == 0, "{failed} of {} probes failed", outcomes.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;

    async fn server() -> String {
        let app = Router::new()
            .route("/ok", get(|| async { "fine" }))
            .route("/down", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
            .route(
                "/moved",
                get(|| async { (StatusCode::FOUND, [("location", "/ok")]) }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn only_2xx_answers_pass() {
        let base = server().await;
        let urls: Vec<String> = ["/ok", "/down", "/moved", "/missing"]
            .iter()
            .map(|p| format!("{base}{p}"))
            .collect();
        let outcomes = check(&urls, Duration::from_secs(5)).await.expect("client");
        let statuses: Vec<_> = outcomes.iter().map(|o| o.result.clone()).collect();
        assert_eq!(statuses, [Ok(200), Ok(503), Ok(302), Ok(404)]);
        let passed: Vec<bool> = outcomes.iter().map(Outcome::passed).collect();
        assert_eq!(passed, [true, false, false, false]);
        assert_eq!(
            outcomes[1].to_string(),
            format!("FAILED 503 GET {base}/down")
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_with_the_reason() {
        // A port nothing listens on: bind, note it, close.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        drop(listener);
        let url = format!("http://{addr}/readyz");
        let outcomes = check(std::slice::from_ref(&url), Duration::from_secs(2))
            .await
            .expect("client");
        assert!(!outcomes[0].passed());
        assert!(outcomes[0].result.is_err(), "{:?}", outcomes[0]);
        assert!(
            outcomes[0]
                .to_string()
                .starts_with(&format!("FAILED GET {url}: "))
        );
        let error = run(ProbeArgs {
            urls: vec![url],
            timeout_seconds: 2,
        })
        .await
        .expect_err("the probe fails");
        assert_eq!(error.to_string(), "1 of 1 probes failed");
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(parse_url("http://scimitar.ns.svc:8080/readyz").is_ok());
        assert!(parse_url("https://scim.example.com/scim/v2/ServiceProviderConfig").is_ok());
        assert!(parse_url("file:///etc/passwd").is_err());
        assert!(parse_url("scimitar:8080").is_err());
    }
}
