//! Server-rendered HTML: one escaping helper and the page frame.
//!
//! Every value that did not come from this file goes through [`escape`]: the
//! pages show SCIM data an identity provider sent, which may contain markup.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

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
th{background:#e4e7eb}.no{color:#b91c1c}.yes{color:#047857}.box{background:#fff;padding:1rem 1.5rem;border:1px solid #d9e2ec;max-width:48rem}\
code{background:#e4e7eb;padding:0 .2rem}header code{background:#323f4b}input[type=search]{width:20rem;padding:.3rem}";

/// A page: a title, the tenant it belongs to (if any), an optional signed-in
/// bar, and `body` (already escaped HTML).
pub struct Page<'a> {
    pub title: &'a str,
    pub tenant: Option<&'a str>,
    /// The signed-in console user, for the header and the logout button.
    pub signed_in: Option<&'a str>,
    pub body: String,
}

impl Page<'_> {
    /// The complete document.
    pub fn render(&self) -> String {
        let mut header = String::from("<header><strong>scimitar console</strong>");
        if let Some(tenant) = self.tenant {
            let t = escape(tenant);
            header.push_str(&format!("<span>tenant <code>{t}</code></span>"));
            if let Some(user) = self.signed_in {
                header.push_str(&format!(
                    "<a href=\"/console/{t}/users\">Users</a><form method=\"post\" action=\"/console/{t}/logout\"><span>{}</span> <button type=\"submit\">Sign out</button></form>",
                    escape(user)
                ));
            }
        }
        header.push_str("</header>");
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{} · scimitar</title><style>{STYLE}</style></head><body>{header}<main>{}</main></body></html>",
            escape(self.title),
            self.body
        )
    }

    /// The page as a response with `status`.
    pub fn respond(&self, status: StatusCode) -> Response {
        let mut response = (status, Html(self.render())).into_response();
        response
            .headers_mut()
            .insert("cache-control", "no-store".parse().expect("valid header"));
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
        }
        .render();
        assert!(!page.contains("<b>") && !page.contains("<i>") && !page.contains("a<b"));
        assert!(page.contains("&lt;b&gt;"));
    }
}
