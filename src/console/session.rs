//! The console's cookies. Both are private cookies (`cookie` crate: AES-256-GCM,
//! so encrypted and authenticated, with the cookie name as associated data)
//! under the key from the console key Secret:
//!
//! - the session, `scimitar_console` on path `/console/<tenant>`: who signed
//!   in to which tenant, until when;
//! - a pending sign-in, `scimitar_login_<tenant>` on the callback path: the
//!   `state`, `nonce` and PKCE verifier of one authorization request, for ten
//!   minutes.

use std::time::Duration;

use axum_extra::extract::cookie::{Cookie, PrivateCookieJar, SameSite};
use serde::{Deserialize, Serialize};

/// The session cookie's name (one per tenant, told apart by path).
pub const SESSION: &str = "scimitar_console";
/// How long a started sign-in may take.
pub const LOGIN_TTL: Duration = Duration::from_secs(600);
/// Where pending sign-in cookies are sent.
pub const CALLBACK_PATH: &str = "/api/auth/callback";

/// A signed-in console user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    pub tenant: String,
    /// The ID token's email (or preferred_username).
    pub login: String,
    /// Unix seconds after which the session is void.
    pub expires: i64,
}

/// A sign-in in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pending {
    pub tenant: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub expires: i64,
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The cookie path of a tenant's console.
pub fn tenant_path(tenant: &str) -> String {
    format!("/console/{tenant}")
}

/// The pending sign-in cookie's name for `tenant`.
pub fn pending_name(tenant: &str) -> String {
    format!("scimitar_login_{tenant}")
}

fn cookie(
    name: String,
    value: String,
    path: String,
    max_age: Duration,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age.as_secs() as i64))
        .build()
}

/// Adds a session cookie.
pub fn start(
    jar: PrivateCookieJar,
    session: &Session,
    ttl: Duration,
    secure: bool,
) -> PrivateCookieJar {
    let value = serde_json::to_string(session).expect("a session serialises");
    jar.add(cookie(
        SESSION.into(),
        value,
        tenant_path(&session.tenant),
        ttl,
        secure,
    ))
}

/// The valid (decrypted, unexpired, same tenant) session for `tenant`, if any.
pub fn current(jar: &PrivateCookieJar, tenant: &str) -> Option<Session> {
    let session: Session = serde_json::from_str(jar.get(SESSION)?.value()).ok()?;
    (session.tenant == tenant && session.expires > now()).then_some(session)
}

/// Removes the session cookie of `tenant`.
pub fn end(jar: PrivateCookieJar, tenant: &str) -> PrivateCookieJar {
    jar.remove(Cookie::build(SESSION).path(tenant_path(tenant)).build())
}

/// Adds a pending sign-in cookie.
pub fn begin(jar: PrivateCookieJar, pending: &Pending, secure: bool) -> PrivateCookieJar {
    let value = serde_json::to_string(pending).expect("a pending sign-in serialises");
    jar.add(cookie(
        pending_name(&pending.tenant),
        value,
        CALLBACK_PATH.into(),
        LOGIN_TTL,
        secure,
    ))
}

/// The unexpired pending sign-in for `tenant`, if any.
pub fn pending(jar: &PrivateCookieJar, tenant: &str) -> Option<Pending> {
    let pending: Pending = serde_json::from_str(jar.get(&pending_name(tenant))?.value()).ok()?;
    (pending.tenant == tenant && pending.expires > now()).then_some(pending)
}

/// Removes the pending sign-in cookie of `tenant`.
pub fn finish(jar: PrivateCookieJar, tenant: &str) -> PrivateCookieJar {
    jar.remove(
        Cookie::build(pending_name(tenant))
            .path(CALLBACK_PATH)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;
    use axum::response::IntoResponse;
    use axum_extra::extract::cookie::Key;

    use super::*;

    /// The cookies `jar` would set, as a browser would send them back.
    fn roundtrip(jar: PrivateCookieJar, key: &Key) -> (PrivateCookieJar, Vec<String>) {
        let response = jar.into_response();
        let set: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let pairs: Vec<String> = set
            .iter()
            .map(|c| c.split(';').next().unwrap().to_owned())
            .collect();
        let mut headers = HeaderMap::new();
        headers.insert("cookie", pairs.join("; ").parse().unwrap());
        (PrivateCookieJar::from_headers(&headers, key.clone()), set)
    }

    #[test]
    fn sessions_are_encrypted_scoped_and_expire() {
        let key = Key::generate();
        let session = Session {
            tenant: "acme".into(),
            login: "admin@example.com".into(),
            expires: now() + 60,
        };
        let jar = start(
            PrivateCookieJar::new(key.clone()),
            &session,
            Duration::from_secs(60),
            true,
        );
        let (jar, set) = roundtrip(jar, &key);
        let header = &set[0];
        assert!(!header.contains("admin@example.com"), "encrypted: {header}");
        for attribute in [
            "HttpOnly",
            "Secure",
            "SameSite=Lax",
            "Path=/console/acme",
            "Max-Age=60",
        ] {
            assert!(header.contains(attribute), "{attribute} in {header}");
        }
        assert_eq!(current(&jar, "acme"), Some(session.clone()));
        assert_eq!(current(&jar, "other"), None);
        // Another key cannot read it.
        let (foreign, _) = roundtrip(
            start(
                PrivateCookieJar::new(Key::generate()),
                &session,
                Duration::from_secs(60),
                true,
            ),
            &key,
        );
        assert_eq!(current(&foreign, "acme"), None);
        // Expired.
        let old = Session {
            expires: now() - 1,
            ..session
        };
        let (jar, _) = roundtrip(
            start(
                PrivateCookieJar::new(key.clone()),
                &old,
                Duration::from_secs(60),
                false,
            ),
            &key,
        );
        assert_eq!(current(&jar, "acme"), None);
    }
}
