//! The tenant's users and groups for the plan form and the access report,
//! copied from the operator's watch-fed cache with only the fields the rules
//! read (userName, primary email, `active`, `meta.lastModified`; displayName
//! and user members), never listed from the API server. A tenant larger
//! than [`MAX_OBJECTS`] users and groups is refused with a pointer to the
//! CLI, so a console request holds at most that many small objects.

use std::collections::BTreeMap;

use crate::crd::{
    GroupMember, MultiValue, ScimGroup, ScimGroupSpec, ScimTenant, ScimUser, ScimUserSpec,
};
use crate::meta::LAST_MODIFIED;
use crate::store::Kind;
use crate::store::index::Index;

use super::gate::Owner;

/// Users and groups together that the console copies for one request.
pub const MAX_OBJECTS: usize = 20_000;

/// The users and groups of `tenant` that `index` holds (those an earlier
/// tenant left out), or why the console does not copy them.
pub fn copy(
    index: &Index,
    tenant: &ScimTenant,
    limit: usize,
) -> Result<(Vec<ScimUser>, Vec<ScimGroup>), String> {
    let count = index.count(Kind::User) + index.count(Kind::Group);
    if count > limit {
        return Err(format!(
            "This tenant has {count} users and groups, more than the console computes this from ({limit}); run `scimitar plan` or `scimitar access-report` with a kubeconfig."
        ));
    }
    let owner = Owner::of(tenant);
    let namespace = &tenant.spec.namespace;
    let users = index
        .users()
        .filter(|u| u.belongs_to(owner.uid, owner.created))
        .map(|u| {
            let last_modified = index.get(Kind::User, u.id).and_then(|s| {
                s.resource
                    .pointer("/meta/lastModified")?
                    .as_str()
                    .map(str::to_owned)
            });
            let mut user = ScimUser::new(
                u.id,
                ScimUserSpec {
                    user_name: u.user_name.to_owned(),
                    active: Some(u.active),
                    emails: u
                        .primary_email
                        .map(|e| MultiValue {
                            value: Some(e.to_owned()),
                            display: None,
                            type_: None,
                            primary: Some(true),
                        })
                        .into_iter()
                        .collect(),
                    ..ScimUserSpec::default()
                },
            );
            user.metadata.namespace = Some(namespace.clone());
            user.metadata.annotations =
                last_modified.map(|t| BTreeMap::from([(LAST_MODIFIED.to_owned(), t)]));
            user
        })
        .collect();
    let groups = index
        .groups()
        .filter(|g| g.belongs_to(owner.uid, owner.created))
        .map(|g| {
            let mut group = ScimGroup::new(
                g.id,
                ScimGroupSpec {
                    display_name: g.display_name.to_owned(),
                    members: g
                        .user_members()
                        .map(|id| GroupMember {
                            value: id.to_owned(),
                            display: None,
                            type_: Some("User".to_owned()),
                        })
                        .collect(),
                    ..ScimGroupSpec::default()
                },
            );
            group.metadata.namespace = Some(namespace.clone());
            group
        })
        .collect();
    Ok((users, groups))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::controller::testutil;
    use crate::store::index::Entry;

    fn entry(resource: serde_json::Value) -> Entry {
        Entry {
            version: "1".into(),
            resource,
            generation: None,
            tenant_uid: None,
            status: None,
        }
    }

    #[test]
    fn copies_what_the_rules_read_within_the_limit() {
        let tenant = testutil::tenant("acme", vec![]);
        let mut index = Index::default();
        let meta =
            json!({"created": "2026-12-01T00:00:00Z", "lastModified": "2026-12-02T00:00:00Z"});
        index.insert(
            Kind::User,
            "u1",
            entry(
                json!({"id": "u1", "userName": "ada", "active": true, "meta": meta,
                "emails": [{"value": "ada@example.com", "primary": true}]}),
            ),
        );
        index.insert(
            Kind::User,
            "u2",
            entry(json!({"id": "u2", "userName": "bob", "active": false, "meta": meta})),
        );
        index.insert(
            Kind::Group,
            "g1",
            entry(json!({"id": "g1", "displayName": "devs",
                "members": [{"value": "u1"}, {"value": "u2"}]})),
        );
        let (users, groups) = copy(&index, &tenant, 3).expect("within the limit");
        assert_eq!(users.len(), 2);
        let ada = users.iter().find(|u| u.spec.user_name == "ada").unwrap();
        assert_eq!(ada.spec.primary_email(), Some("ada@example.com"));
        assert!(ada.spec.is_active());
        assert_eq!(
            ada.metadata.annotations.as_ref().unwrap()[LAST_MODIFIED],
            "2026-12-02T00:00:00Z"
        );
        let bob = users.iter().find(|u| u.spec.user_name == "bob").unwrap();
        assert!(!bob.spec.is_active());
        assert_eq!(
            groups[0].user_member_ids().collect::<Vec<_>>(),
            ["u1", "u2"]
        );
        let refused = copy(&index, &tenant, 2).unwrap_err();
        assert!(refused.contains("3 users and groups") && refused.contains("scimitar plan"));
    }
}
