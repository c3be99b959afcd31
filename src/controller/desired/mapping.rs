//! What a mapping says beyond one group name and a list of namespaces:
//! group patterns, the namespace a pattern derives from a group's name, the
//! guard on derived namespaces, namespace selectors, and time windows. Pure.
//!
//! A pattern is a literal with one `*`: simple enough for an identity admin
//! to read at a glance, and it cannot backtrack. Both sides compare ignoring
//! ASCII case, as group names do ([`super::names_match`]); what `*` matched
//! is lowercased before it names a namespace, which must be lowercase.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Selector, SelectorExt};

use crate::crd::{DerivedNamespaces, NamespaceCreation, RoleMapping};
use crate::meta::{CREATED_FOR_LABEL, MANAGED_BY, TENANT_LABEL};

/// The placeholder of `namespaceFromGroup`.
pub const MATCH: &str = "{match}";

/// Labels of one namespace.
pub type Labels = BTreeMap<String, String>;

/// A group-name pattern: `prefix*suffix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupPattern {
    prefix: String,
    suffix: String,
}

impl GroupPattern {
    pub fn parse(pattern: &str) -> Result<Self, &'static str> {
        let mut parts = pattern.split('*');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(prefix), Some(suffix), None) => Ok(Self {
                prefix: prefix.to_owned(),
                suffix: suffix.to_owned(),
            }),
            _ => Err("groupPattern must hold exactly one `*`"),
        }
    }

    /// What `*` matched in `name` (at least one character), if it matches.
    pub fn capture<'a>(&self, name: &'a str) -> Option<&'a str> {
        let (p, s) = (self.prefix.len(), self.suffix.len());
        if name.len() <= p + s
            || !name.is_char_boundary(p)
            || !name.is_char_boundary(name.len() - s)
            || !name[..p].eq_ignore_ascii_case(&self.prefix)
            || !name[name.len() - s..].eq_ignore_ascii_case(&self.suffix)
        {
            return None;
        }
        Some(&name[p..name.len() - s])
    }

    /// The group name whose capture is `captured` (up to ASCII case).
    pub fn name_for(&self, captured: &str) -> String {
        format!("{}{captured}{}", self.prefix, self.suffix)
    }
}

/// A `namespaceFromGroup` template: `prefix{match}suffix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    prefix: String,
    suffix: String,
}

impl Template {
    pub fn parse(template: &str) -> Result<Self, &'static str> {
        let mut parts = template.split(MATCH);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(prefix), Some(suffix), None) => Ok(Self {
                prefix: prefix.to_owned(),
                suffix: suffix.to_owned(),
            }),
            _ => Err("namespaceFromGroup must hold `{match}` exactly once"),
        }
    }

    /// The namespace for a captured group-name part.
    pub fn render(&self, captured: &str) -> String {
        format!(
            "{}{}{}",
            self.prefix,
            captured.to_ascii_lowercase(),
            self.suffix
        )
    }

    /// The captured part that renders to `namespace`, if one does.
    pub fn captured_of<'a>(&self, namespace: &'a str) -> Option<&'a str> {
        let middle = namespace
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())?;
        (!middle.is_empty()).then_some(middle)
    }
}

/// A DNS-1123 label: what a namespace name must be.
pub fn valid_namespace(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// Namespaces no derived name may ever reach, whatever the tenant allows:
/// Kubernetes' own (`kube-system`, `kube-public`, `kube-node-lease`, …).
pub fn reserved_namespace(name: &str) -> bool {
    name.starts_with("kube-")
}

/// A label selector as the rules use it; an empty one is refused, since it
/// selects everything and would turn a typo into access everywhere.
pub fn selector(selector: &LabelSelector) -> Result<Selector, String> {
    let parsed = Selector::try_from(selector.clone()).map_err(|e| e.to_string())?;
    if parsed.selects_all() {
        return Err("an empty selector would select every namespace".into());
    }
    Ok(parsed)
}

/// Whether `labels` (a namespace's) are selected.
pub fn selects(selector: &Selector, labels: Option<&Labels>) -> bool {
    selector.matches(labels.unwrap_or(&Labels::new()))
}

/// The namespaces derived names may be bound in.
#[derive(Clone, Debug, Default)]
pub struct Allowed {
    names: BTreeSet<String>,
    selector: Option<Selector>,
}

impl Allowed {
    /// The allowed set of a tenant, or why its selector is refused (then
    /// only the names are allowed).
    pub fn of(derived: &DerivedNamespaces) -> (Self, Option<String>) {
        let (selector, error) = match derived.allowed_selector.as_ref().map(selector) {
            None => (None, None),
            Some(Ok(s)) => (Some(s), None),
            Some(Err(e)) => (None, Some(e)),
        };
        let names = derived.allowed.iter().cloned().collect();
        (Self { names, selector }, error)
    }

    /// Whether `namespace` (with `labels`) is allowed. Never a reserved
    /// namespace; the labels scimitar put on a namespace it created are not
    /// read, so creating a namespace never makes it allowed.
    pub fn allows(&self, namespace: &str, labels: Option<&Labels>) -> bool {
        if reserved_namespace(namespace) {
            return false;
        }
        if self.names.contains(namespace) {
            return true;
        }
        let Some(selector) = &self.selector else {
            return false;
        };
        match labels {
            Some(labels) if labels.contains_key(CREATED_FOR_LABEL) => {
                let mut own = labels.clone();
                for key in [CREATED_FOR_LABEL, MANAGED_BY, TENANT_LABEL] {
                    own.remove(key);
                }
                selector.matches(&own)
            }
            labels => selects(selector, labels),
        }
    }
}

/// Whether `namespace` may be created for the tenant.
pub fn may_create(create: &NamespaceCreation, namespace: &str) -> bool {
    create.enabled
        && valid_namespace(namespace)
        && !reserved_namespace(namespace)
        && (create.names.iter().any(|n| n == namespace)
            || create
                .prefixes
                .iter()
                .any(|p| !p.is_empty() && namespace.starts_with(p.as_str())))
}

/// Where a mapping stands in its time window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Before `notBefore`.
    Pending,
    /// Grants.
    Active,
    /// From `notAfter` on.
    Expired,
}

impl Window {
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Pending => "Pending",
            Window::Active => "Active",
            Window::Expired => "Expired",
        }
    }
}

/// Whether `mapping` grants at `now`: from `notBefore` (included) to
/// `notAfter` (excluded).
pub fn window(mapping: &RoleMapping, now: Timestamp) -> Window {
    if mapping.not_after.as_ref().is_some_and(|t| now >= t.0) {
        Window::Expired
    } else if mapping.not_before.as_ref().is_some_and(|t| now < t.0) {
        Window::Pending
    } else {
        Window::Active
    }
}

/// Whether `mapping` has a time window at all.
pub fn timed(mapping: &RoleMapping) -> bool {
    mapping.not_before.is_some() || mapping.not_after.is_some()
}

/// The next time after `now` at which one of `mappings` starts or stops
/// granting.
pub fn next_change(mappings: &[RoleMapping], now: Timestamp) -> Option<Timestamp> {
    mappings
        .iter()
        .flat_map(|m| [m.not_before.as_ref(), m.not_after.as_ref()])
        .flatten()
        .map(|t| t.0)
        .filter(|t| *t > now)
        .min()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, Time};

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_pattern_captures_what_its_star_matched_ignoring_ascii_case() {
        let p = GroupPattern::parse("team-*").unwrap();
        assert_eq!(p.capture("team-payments"), Some("payments"));
        assert_eq!(p.capture("TEAM-Search"), Some("Search"));
        assert_eq!(
            p.capture("team-"),
            None,
            "the star matches at least one character"
        );
        assert_eq!(p.capture("teams-x"), None);
        assert_eq!(p.capture("xteam-payments"), None);
        let p = GroupPattern::parse("k8s-*-admins").unwrap();
        assert_eq!(p.capture("K8S-prod-Admins"), Some("prod"));
        assert_eq!(p.capture("k8s--admins"), None);
        assert_eq!(p.name_for("prod"), "k8s-prod-admins");
        // A multi-byte character at the edge is no panic and no match.
        assert_eq!(
            GroupPattern::parse("é*").unwrap().capture("e\u{301}x"),
            None
        );
        assert_eq!(
            GroupPattern::parse("*").unwrap().capture("ops"),
            Some("ops")
        );
    }

    #[test]
    fn a_pattern_or_template_without_exactly_one_placeholder_is_refused() {
        assert!(GroupPattern::parse("team-").is_err());
        assert!(GroupPattern::parse("*-*").is_err());
        assert!(Template::parse("payments").is_err());
        assert!(Template::parse("{match}-{match}").is_err());
    }

    #[test]
    fn a_template_names_the_namespace_lowercased_and_inverts() {
        let t = Template::parse("team-{match}").unwrap();
        assert_eq!(t.render("Payments"), "team-payments");
        assert_eq!(t.captured_of("team-payments"), Some("payments"));
        assert_eq!(t.captured_of("team-"), None);
        assert_eq!(t.captured_of("payments"), None);
        assert_eq!(
            Template::parse("{match}").unwrap().render("Search"),
            "search"
        );
    }

    #[test]
    fn namespace_names_follow_dns_1123_labels() {
        assert!(valid_namespace("payments-2"));
        for bad in ["", "-a", "a-", "Pay", "a.b", "a_b", &"a".repeat(64)] {
            assert!(!valid_namespace(bad), "{bad:?}");
        }
    }

    #[test]
    fn an_empty_allowed_set_allows_nothing() {
        let (allowed, error) = Allowed::of(&DerivedNamespaces::default());
        assert!(error.is_none());
        assert!(!allowed.allows("payments", None));
        assert!(!allowed.allows("payments", Some(&labels(&[("team", "x")]))));
    }

    #[test]
    fn kube_namespaces_are_never_allowed_even_when_listed() {
        let derived = DerivedNamespaces {
            allowed: vec!["kube-system".into(), "payments".into()],
            allowed_selector: Some(LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: "kubernetes.io/metadata.name".into(),
                    operator: "Exists".into(),
                    values: None,
                }]),
                ..LabelSelector::default()
            }),
            ..DerivedNamespaces::default()
        };
        let (allowed, _) = Allowed::of(&derived);
        let system = labels(&[("kubernetes.io/metadata.name", "kube-system")]);
        assert!(!allowed.allows("kube-system", Some(&system)));
        assert!(allowed.allows("payments", None));
    }

    #[test]
    fn an_empty_allowed_selector_is_refused_and_allows_nothing() {
        let derived = DerivedNamespaces {
            allowed_selector: Some(LabelSelector::default()),
            ..DerivedNamespaces::default()
        };
        let (allowed, error) = Allowed::of(&derived);
        assert!(error.unwrap().contains("every namespace"));
        assert!(!allowed.allows("payments", Some(&labels(&[("a", "b")]))));
    }

    #[test]
    fn labels_scimitar_set_on_a_namespace_it_created_do_not_make_it_allowed() {
        let derived = DerivedNamespaces {
            allowed_selector: Some(LabelSelector {
                match_labels: Some(labels(&[(MANAGED_BY, "scimitar")])),
                ..LabelSelector::default()
            }),
            ..DerivedNamespaces::default()
        };
        let (allowed, _) = Allowed::of(&derived);
        let created = labels(&[(MANAGED_BY, "scimitar"), (CREATED_FOR_LABEL, "acme")]);
        assert!(!allowed.allows("team-x", Some(&created)));
        // A namespace the cluster admin labelled is allowed.
        assert!(allowed.allows("team-y", Some(&labels(&[(MANAGED_BY, "scimitar")]))));
        // So is one scimitar created, once the admin adds the label itself
        // with a key scimitar does not set.
        let derived = DerivedNamespaces {
            allowed_selector: Some(LabelSelector {
                match_labels: Some(labels(&[("tenant-access", "acme")])),
                ..LabelSelector::default()
            }),
            ..DerivedNamespaces::default()
        };
        let (allowed, _) = Allowed::of(&derived);
        let mut labelled = created.clone();
        labelled.insert("tenant-access".into(), "acme".into());
        assert!(!allowed.allows("team-x", Some(&created)));
        assert!(allowed.allows("team-x", Some(&labelled)));
    }

    #[test]
    fn creation_needs_the_switch_a_listed_name_or_prefix_and_a_valid_unreserved_name() {
        let mut create = NamespaceCreation {
            enabled: false,
            names: vec!["search".into()],
            prefixes: vec!["team-".into(), String::new()],
            max_count: 3,
        };
        assert!(!may_create(&create, "search"), "off by default");
        create.enabled = true;
        assert!(may_create(&create, "search"));
        assert!(may_create(&create, "team-a"));
        assert!(
            !may_create(&create, "payments"),
            "an empty prefix allows nothing"
        );
        assert!(!may_create(&create, "team-A"));
        create.prefixes.push("kube-".into());
        assert!(!may_create(&create, "kube-x"));
    }

    fn at(s: &str) -> Option<Time> {
        Some(Time(s.parse().unwrap()))
    }

    #[test]
    fn a_window_grants_from_not_before_until_not_after() {
        let mapping = RoleMapping {
            not_before: at("2026-12-01T10:00:00Z"),
            not_after: at("2026-12-01T11:00:00Z"),
            ..RoleMapping::default()
        };
        let now = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(
            window(&mapping, now("2026-12-01T09:59:59Z")),
            Window::Pending
        );
        assert_eq!(
            window(&mapping, now("2026-12-01T10:00:00Z")),
            Window::Active
        );
        assert_eq!(
            window(&mapping, now("2026-12-01T10:59:59Z")),
            Window::Active
        );
        assert_eq!(
            window(&mapping, now("2026-12-01T11:00:00Z")),
            Window::Expired
        );
        assert_eq!(
            window(&RoleMapping::default(), now("2030-01-01T00:00:00Z")),
            Window::Active
        );
        let other = RoleMapping {
            not_after: at("2026-12-01T10:30:00Z"),
            ..RoleMapping::default()
        };
        let mappings = [mapping, other];
        assert_eq!(
            next_change(&mappings, now("2026-12-01T09:00:00Z")),
            Some(now("2026-12-01T10:00:00Z"))
        );
        assert_eq!(
            next_change(&mappings, now("2026-12-01T10:00:00Z")),
            Some(now("2026-12-01T10:30:00Z"))
        );
        assert_eq!(next_change(&mappings, now("2026-12-01T11:00:00Z")), None);
    }
}
