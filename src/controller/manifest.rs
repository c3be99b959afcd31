//! ScimTenant manifests as people paste or write them, read strictly (as
//! the API server's strict field validation would): `scimitar plan -f` and
//! the console's plan form. Pure.

use anyhow::{Context as _, bail};

use crate::crd::{ScimTenant, ScimTenantSpec};

/// The most a pasted or planned manifest may hold.
pub const MAX_BYTES: usize = 256 * 1024;

/// A spec from a JSON value, unknown fields refused.
pub fn parse_spec(value: &serde_json::Value) -> anyhow::Result<ScimTenantSpec> {
    let mut unknown = Vec::new();
    let spec: ScimTenantSpec =
        serde_ignored::deserialize(value, |path| unknown.push(format!("spec.{path}")))
            .map_err(|e| anyhow::anyhow!("spec: {e}"))?;
    if !unknown.is_empty() {
        bail!("unknown fields: {}", unknown.join(", "));
    }
    Ok(spec)
}

fn yaml(text: &str) -> anyhow::Result<serde_json::Value> {
    if text.len() > MAX_BYTES {
        bail!(
            "the manifest has {} bytes; at most {MAX_BYTES} are read",
            text.len()
        );
    }
    serde_yaml::from_str(text).context("the manifest is not YAML or JSON")
}

/// A whole ScimTenant (YAML or JSON): kind and apiVersion checked, a name
/// required.
pub fn parse_tenant(text: &str) -> anyhow::Result<ScimTenant> {
    let value = yaml(text)?;
    tenant_of(&value)
}

fn tenant_of(value: &serde_json::Value) -> anyhow::Result<ScimTenant> {
    let kind = value["kind"].as_str().unwrap_or_default();
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    if kind != "ScimTenant" || api_version != "scimitar.dev/v1alpha1" {
        bail!(
            "the manifest is a {kind:?} of {api_version:?}; expected a ScimTenant of scimitar.dev/v1alpha1"
        );
    }
    let Some(name) = value["metadata"]["name"].as_str().filter(|n| !n.is_empty()) else {
        bail!("the manifest has no metadata.name");
    };
    Ok(ScimTenant::new(name, parse_spec(&value["spec"])?))
}

/// A spec for the tenant named `name`: either a whole ScimTenant manifest
/// (which must name that tenant) or only its `spec` fields.
pub fn parse_for(name: &str, text: &str) -> anyhow::Result<ScimTenant> {
    let value = yaml(text)?;
    if value.get("kind").is_some() || value.get("apiVersion").is_some() {
        let tenant = tenant_of(&value)?;
        if tenant.metadata.name.as_deref() != Some(name) {
            bail!(
                "the manifest is for tenant {:?}, not {name:?}",
                tenant.metadata.name.as_deref().unwrap_or_default()
            );
        }
        return Ok(tenant);
    }
    let spec = value.get("spec").unwrap_or(&value);
    Ok(ScimTenant::new(name, parse_spec(spec)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "apiVersion: scimitar.dev/v1alpha1\nkind: ScimTenant\nmetadata: {name: acme}\nspec:\n  namespace: idp-acme\n  mappings:\n  - {group: devs, role: {name: view}, namespaces: [dev]}\n";

    #[test]
    fn manifests_are_checked_before_anything_is_read() {
        let tenant = parse_tenant(GOOD).expect("parses");
        assert_eq!(tenant.metadata.name.as_deref(), Some("acme"));
        assert_eq!(tenant.spec.mappings[0].namespaces, ["dev"]);
        let err = |text: &str| parse_tenant(text).unwrap_err().to_string();
        assert!(err(&GOOD.replace("ScimTenant", "ConfigMap")).contains("expected a ScimTenant"));
        assert!(err(&GOOD.replace("namespaces:", "namespacez:")).contains("spec.mappings"));
        assert!(err(&GOOD.replace("name: acme", "name: ''")).contains("metadata.name"));
        assert!(err("{").contains("not YAML"));
        assert!(err(&GOOD.replace("  namespace: idp-acme\n", "")).contains("namespace"));
    }

    #[test]
    fn a_spec_alone_or_a_manifest_of_the_same_tenant_is_accepted() {
        assert!(parse_for("acme", GOOD).is_ok());
        let other = parse_for("other", GOOD).unwrap_err().to_string();
        assert!(other.contains("for tenant \"acme\""), "{other}");
        let spec = "namespace: idp-acme\nmappings: [{group: ops, role: {name: edit}, clusterWide: true}]\n";
        let tenant = parse_for("acme", spec).expect("a bare spec");
        assert!(tenant.spec.mappings[0].cluster_wide);
        assert_eq!(tenant.metadata.name.as_deref(), Some("acme"));
        let wrapped = format!(
            "spec:\n{}",
            spec.lines().map(|l| format!("  {l}\n")).collect::<String>()
        );
        assert_eq!(parse_for("acme", &wrapped).unwrap().spec, tenant.spec);
    }

    #[test]
    fn a_manifest_over_the_budget_is_refused_unread() {
        let padding = format!("# {}\n", "x".repeat(MAX_BYTES));
        let err = parse_for("acme", &(GOOD.to_owned() + &padding))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 262144"), "{err}");
        assert!(parse_for("acme", GOOD).is_ok());
    }
}
