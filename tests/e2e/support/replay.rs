//! The IdP tests replay recorded SCIM traffic with the product's own
//! replayer (`scimitar::replay`, the `scimitar replay` command); a step that
//! does not answer as the IdP needs fails the test.

pub use scimitar::replay::Vars;

/// Sends every step of `tests/fixtures/idp/<fixture_name>` to `base` (the
/// `/scim/v2` URL), checking each answer and capturing variables into
/// `vars`. Panics at the first step that does not answer as recorded.
pub async fn replay(base: &str, fixture_name: &str, vars: &mut Vars) {
    let path = super::repo().join("tests/fixtures/idp").join(fixture_name);
    let fixture = scimitar::replay::Fixture::load(&path).unwrap_or_else(|e| panic!("{e:#}"));
    let http = reqwest::Client::new();
    scimitar::replay::run(&http, base, fixture_name, &fixture, vars, |_| ())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
}
