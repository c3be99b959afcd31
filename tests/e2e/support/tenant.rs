//! A tenant set up for a test in one expression, in place of the setup the
//! tests used to copy (CRDs, a namespace, the spec, a token, an operator that
//! accepts it, then the users and groups the test starts from):
//!
//! ```ignore
//! let acme = Tenant::setup(cp, "acme")
//!     .spec(json!({"provider": "jumpcloud"}))
//!     .mapping("eng", "edit", &[&dev])
//!     .user("babs@example.com")
//!     .group("eng", &["babs@example.com"])
//!     .on(Operator::shared(cp))
//!     .create()
//!     .await;
//! acme.scim().send("GET", &format!("/Users/{}", acme.user("babs@example.com")), None);
//! ```

use std::collections::BTreeMap;

use scimitar::crd::ScimTenantSpec;
use serde_json::{Value, json};

use super::operator::{Operator, Scim, create_tenant, mapping};
use super::{ControlPlane, install_crds, namespace};

/// What a tenant is made of; [`Tenant::create`] makes it.
#[must_use = "nothing is created until .create().await"]
pub struct Tenant<'a> {
    cp: &'a ControlPlane,
    prefix: String,
    spec: serde_json::Map<String, Value>,
    mappings: Vec<Value>,
    users: Vec<Value>,
    groups: Vec<(Value, Vec<String>)>,
    operator: Option<&'a Operator>,
}

/// A created tenant: its name (also its home namespace), its token, and the
/// ids of what [`Tenant::create`] provisioned.
pub struct Created {
    /// The tenant's name, which is also its home namespace.
    pub name: String,
    pub token: String,
    scim: Option<Scim>,
    users: BTreeMap<String, String>,
    groups: BTreeMap<String, String>,
}

impl<'a> Tenant<'a> {
    /// A tenant in a new namespace named `<prefix>-<random>`, with the
    /// spec `{"namespace": <that namespace>}` so far.
    pub fn setup(cp: &'a ControlPlane, prefix: &str) -> Self {
        Self {
            cp,
            prefix: prefix.to_owned(),
            spec: serde_json::Map::new(),
            mappings: Vec::new(),
            users: Vec::new(),
            groups: Vec::new(),
            operator: None,
        }
    }

    /// Sets these fields of the spec (`provider`, `bindingSubject`, …).
    pub fn spec(mut self, fields: Value) -> Self {
        let Value::Object(fields) = fields else {
            panic!("a spec is a JSON object: {fields}");
        };
        self.spec.extend(fields);
        self
    }

    /// Maps SCIM group `group` to the ClusterRole `role` in `namespaces`.
    pub fn mapping(mut self, group: &str, role: &str, namespaces: &[&str]) -> Self {
        let mapping = mapping(group, role, namespaces);
        self.mappings
            .push(serde_json::to_value(mapping).expect("mapping JSON"));
        self
    }

    /// A user with only a `userName`, created over SCIM.
    pub fn user(self, user_name: &str) -> Self {
        self.user_with(json!({"userName": user_name}))
    }

    /// A user with this SCIM body, created over SCIM.
    pub fn user_with(mut self, body: Value) -> Self {
        assert!(body["userName"].is_string(), "a user needs a userName");
        self.users.push(body);
        self
    }

    /// A group with `members` (userNames of users set up here), created over
    /// SCIM after the users.
    pub fn group(self, display_name: &str, members: &[&str]) -> Self {
        self.group_with(json!({"displayName": display_name}), members)
    }

    /// A group with this SCIM body and `members` (userNames of users set up
    /// here) added to its `members`.
    pub fn group_with(mut self, body: Value, members: &[&str]) -> Self {
        assert!(
            body["displayName"].is_string(),
            "a group needs a displayName"
        );
        self.groups
            .push((body, members.iter().map(|m| (*m).to_owned()).collect()));
        self
    }

    /// The operator the tenant's SCIM client talks to; [`Tenant::create`]
    /// waits until it accepts the token.
    pub fn on(mut self, operator: &'a Operator) -> Self {
        self.operator = Some(operator);
        self
    }

    /// Creates the namespace, the tenant with a fresh token and, through
    /// the operator, the users and then the groups (each must answer 201).
    pub async fn create(self) -> Created {
        let admin = self.cp.admin().await;
        install_crds(&admin).await;
        let name = namespace(&admin, &self.prefix).await;
        let mut spec = self.spec;
        spec.insert("namespace".into(), json!(name));
        if !self.mappings.is_empty() {
            spec.insert("mappings".into(), Value::Array(self.mappings));
        }
        let spec: ScimTenantSpec =
            serde_json::from_value(Value::Object(spec)).expect("tenant spec");
        let token = create_tenant(&admin, &name, spec).await;
        let mut created = Created {
            name,
            scim: self.operator.map(|operator| Scim::new(operator, &token)),
            token,
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
        };
        if created.scim.is_none() {
            assert!(
                self.users.is_empty() && self.groups.is_empty(),
                "users and groups are created through an operator: call .on(operator)"
            );
            return created;
        }
        created.scim().wait_until_authorized().await;
        for body in self.users {
            let user_name = body["userName"].as_str().expect("userName").to_owned();
            let reply = created.scim().send("POST", "/Users", Some(body)).await;
            assert_eq!(reply.status, 201, "creating {user_name}: {}", reply.body);
            let id = reply.body["id"].as_str().expect("id").to_owned();
            created.users.insert(user_name, id);
        }
        for (mut body, members) in self.groups {
            let display_name = body["displayName"].as_str().expect("name").to_owned();
            if !members.is_empty() {
                let members: Vec<Value> = members
                    .iter()
                    .map(|m| json!({"value": created.user(m)}))
                    .collect();
                body["members"] = Value::Array(members);
            }
            let reply = created.scim().send("POST", "/Groups", Some(body)).await;
            assert_eq!(reply.status, 201, "creating {display_name}: {}", reply.body);
            let id = reply.body["id"].as_str().expect("id").to_owned();
            created.groups.insert(display_name, id);
        }
        created
    }
}

impl Created {
    /// The SCIM client of the tenant's token, on the operator given to
    /// [`Tenant::on`].
    pub fn scim(&self) -> &Scim {
        self.scim
            .as_ref()
            .expect("no operator: set one with Tenant::on")
    }

    /// The id of the user named `user_name`, set up with the tenant.
    pub fn user(&self, user_name: &str) -> &str {
        self.users
            .get(user_name)
            .unwrap_or_else(|| panic!("no user {user_name} was set up"))
    }

    /// The id of the group `display_name`, set up with the tenant.
    pub fn group(&self, display_name: &str) -> &str {
        self.groups
            .get(display_name)
            .unwrap_or_else(|| panic!("no group {display_name} was set up"))
    }
}
