//! Server-rendered HTML: one escaping helper and the page frame.
//!
//! Every value that did not come from this file goes through [`escape`]: the
//! pages show SCIM data an identity provider sent, which may contain markup.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}\
header{background:#1f2933;color:#fff;padding:.6rem 1.5rem;display:flex;gap:1.5rem;align-items:center}\
header a{color:#fff}header form{margin-left:auto}main{padding:1.5rem;max-width:80rem}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #d9e2ec;vertical-align:top}\
th{background:#e4e7eb}.no{color:#b91c1c}.yes{color:#047857}.box{background:#fff;padding:1rem 1.5rem;border:1px solid #d9e2ec;max-width:48rem;margin-bottom:1rem}\
code{background:#e4e7eb;padding:0 .2rem}header code{background:#323f4b}input[type=search]{width:20rem;padding:.3rem}\
nav a{margin-right:1rem}nav a.here{font-weight:bold;text-decoration:none}\
form.filters{display:flex;flex-wrap:wrap;gap:.8rem;align-items:end;margin-bottom:1rem}form.filters label{display:flex;flex-direction:column;font-size:.85rem}\
pre{background:#f0f4f8;padding:.5rem;overflow-x:auto;max-width:70rem;white-space:pre-wrap;word-break:break-all}\
.allowed{color:#047857;font-weight:bold}.denied{color:#b91c1c;font-weight:bold}.secret{font-family:monospace;font-size:1.05rem;background:#fffbea;padding:.4rem;border:1px solid #f0b429;word-break:break-all;display:inline-block;max-width:40rem}\
.muted{color:#616e7c}td form{display:inline}";

/// The one script of the console: `Copy` buttons (`data-copy` names the
/// element whose text they copy). Allowed by its hash in the CSP, as the
/// style is; no other script can run on a console page.
pub const COPY_SCRIPT: &str = "document.querySelectorAll('button[data-copy]').forEach(function(b){b.addEventListener('click',function(){var t=document.getElementById(b.dataset.copy).textContent.trim();navigator.clipboard.writeText(t).then(function(){b.textContent='Copied';},function(){b.textContent='Copy failed: select the text';});});});";

fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Content-Security-Policy of every console page.
static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let policy = format!(
        "default-src 'none'; style-src {}; script-src {}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        csp_hash(STYLE),
        csp_hash(COPY_SCRIPT)
    );
    HeaderValue::from_str(&policy).expect("a valid header")
});

/// The console's pages, in navigation order: (path under the tenant, label).
pub const NAV: [(&str, &str); 7] = [
    ("users", "Users"),
    ("groups", "Groups"),
    ("access", "Access"),
    ("access-report", "Access report"),
    ("logs", "SCIM logs"),
    ("tokens", "API tokens"),
    ("connect", "Connect kubectl"),
];

/// A page: a title, the tenant it belongs to (if any), an optional signed-in
/// bar, and `body` (already escaped HTML).
pub struct Page<'a> {
    /// The page title; a [`NAV`] label marks that link as the current page.
    pub title: &'a str,
    pub tenant: Option<&'a str>,
    /// The signed-in console user, for the header and the logout button.
    pub signed_in: Option<&'a str>,
    pub body: String,
    /// A script to run, [`COPY_SCRIPT`] or none.
    pub script: Option<&'static str>,
}

impl Page<'_> {
    /// The complete document.
    pub fn render(&self) -> String {
        let mut header = String::from("<header><strong>scimitar console</strong>");
        if let Some(tenant) = self.tenant {
            let t = escape(tenant);
            header.push_str(&format!("<span>tenant <code>{t}</code></span>"));
            if let Some(user) = self.signed_in {
                header.push_str("<nav>");
                for (path, label) in NAV {
                    let here = if label == self.title {
                        " class=\"here\""
                    } else {
                        ""
                    };
                    header.push_str(&format!(
                        "<a href=\"/console/{t}/{path}\"{here}>{label}</a>"
                    ));
                }
                header.push_str(&format!(
                    "</nav><form method=\"post\" action=\"/console/{t}/logout\"><span>{}</span> <button type=\"submit\">Sign out</button></form>",
                    escape(user)
                ));
            }
        }
        header.push_str("</header>");
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{} · scimitar</title><style>{STYLE}</style></head><body>{header}<main>{}</main>{}</body></html>",
            escape(self.title),
            self.body,
            self.script
                .map(|s| format!("<script>{s}</script>"))
                .unwrap_or_default()
        )
    }

    /// The page as a response with `status`.
    pub fn respond(&self, status: StatusCode) -> Response {
        let mut response = (status, Html(self.render())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::CONTENT_SECURITY_POLICY, CSP.clone());
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

/// A page that only says something: `message` is plain text.
pub fn message(status: StatusCode, title: &str, tenant: Option<&str>, message: &str) -> Response {
    Page {
        title,
        tenant,
        signed_in: None,
        body: format!(
            "<div class=\"box\"><h1>{}</h1><p>{}</p></div>",
            escape(title),
            escape(message)
        ),
        script: None,
    }
    .respond(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert('x')</script> & "q""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn page_escapes_title_and_tenant() {
        let page = Page {
            title: "<b>",
            tenant: Some("a<b"),
            signed_in: Some("<i>"),
            body: String::new(),
            script: None,
        }
        .render();
        assert!(!page.contains("<b>") && !page.contains("<i>") && !page.contains("a<b"));
        assert!(page.contains("&lt;b&gt;"));
    }
}
