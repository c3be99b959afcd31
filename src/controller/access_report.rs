//! The access report: per tenant, who has what, read from the bindings the
//! controller made (labelled for the tenant), not from what it intended.
//! Pure: the caller lists the bindings, users and groups.
//!
//! One row per (user, binding): the user (userName, SCIM id, `active`, SCIM
//! `meta.lastModified`), the group the binding was made for, the role, the
//! scope (a namespace or cluster-wide) and the binding's name. A `User`
//! subject is mapped back to the users it names
//! ([`crate::meta::subject_name`] under the tenant's subject settings); a
//! `Group` subject to every member of the group. A subject that names no
//! user of the tenant still gets a row, with the user columns empty: it is
//! access that exists, and an auditor must see it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::plan::{Bound, Who};
use crate::crd::{ScimGroup, ScimUser, SubjectSettings};
use crate::meta::{LAST_MODIFIED, object_name, subject_name};

/// One row of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// Empty when the subject names no user of the tenant.
    pub user_name: String,
    pub user_id: String,
    /// `None` when the subject names no user.
    pub active: Option<bool>,
    /// SCIM `meta.lastModified` of the user.
    pub last_modified: Option<String>,
    /// The subject in the binding, as `User:<name>` or `Group:<name>`.
    pub subject: String,
    /// displayName of the group the binding was made for.
    pub group: String,
    /// `ClusterRole/<name>` or `Role/<name>`.
    pub role: String,
    /// The namespace, or `cluster-wide`.
    pub scope: String,
    pub binding: String,
}

/// The CSV header, in the order of [`Row`]'s fields.
pub const COLUMNS: [&str; 9] = [
    "userName",
    "userId",
    "active",
    "lastModified",
    "subject",
    "group",
    "role",
    "scope",
    "binding",
];

/// The rows for `bindings`, sorted by user, then scope, role and binding.
pub fn rows(
    bindings: &[Bound],
    settings: &SubjectSettings,
    users: &[ScimUser],
    groups: &[ScimGroup],
) -> Vec<Row> {
    let by_id: BTreeMap<&str, &ScimUser> = users
        .iter()
        .map(|u| (object_name(&u.metadata), u))
        .collect();
    let mut by_subject: BTreeMap<String, Vec<&ScimUser>> = BTreeMap::new();
    for user in users {
        by_subject
            .entry(subject_name(
                settings,
                &user.spec.user_name,
                user.spec.primary_email(),
            ))
            .or_default()
            .push(user);
    }
    let mut by_group: BTreeMap<String, Vec<&ScimUser>> = BTreeMap::new();
    for group in groups {
        by_group
            .entry(format!(
                "{}{}",
                settings.group_prefix, group.spec.display_name
            ))
            .or_default()
            .extend(group.user_member_ids().filter_map(|id| by_id.get(id)));
    }
    let mut out = Vec::new();
    for binding in bindings {
        let scope = binding
            .namespace
            .clone()
            .unwrap_or_else(|| "cluster-wide".to_owned());
        for who in &binding.subjects {
            let found = match who.kind.as_str() {
                "User" => by_subject.get(&who.name),
                "Group" => by_group.get(&who.name),
                _ => None,
            };
            let row = |user: Option<&ScimUser>| Row {
                user_name: user.map(|u| u.spec.user_name.clone()).unwrap_or_default(),
                user_id: user
                    .map(|u| object_name(&u.metadata).to_owned())
                    .unwrap_or_default(),
                active: user.map(|u| u.spec.is_active()),
                last_modified: user.and_then(last_modified),
                subject: subject_label(who),
                group: binding.group.clone().unwrap_or_default(),
                role: binding.role.to_string(),
                scope: scope.clone(),
                binding: binding.name.clone(),
            };
            match found {
                Some(users) if !users.is_empty() => {
                    out.extend(users.iter().map(|u| row(Some(u))));
                }
                _ => out.push(row(None)),
            }
        }
    }
    out.sort_by(|a, b| {
        (
            &a.user_name,
            &a.user_id,
            &a.scope,
            &a.role,
            &a.binding,
            &a.subject,
        )
            .cmp(&(
                &b.user_name,
                &b.user_id,
                &b.scope,
                &b.role,
                &b.binding,
                &b.subject,
            ))
    });
    out.dedup();
    out
}

fn subject_label(who: &Who) -> String {
    format!("{}:{}", who.kind, who.name)
}

fn last_modified(user: &ScimUser) -> Option<String> {
    user.metadata
        .annotations
        .as_ref()?
        .get(LAST_MODIFIED)
        .cloned()
}

fn fields(row: &Row) -> [String; 9] {
    [
        row.user_name.clone(),
        row.user_id.clone(),
        row.active.map(|a| a.to_string()).unwrap_or_default(),
        row.last_modified.clone().unwrap_or_default(),
        row.subject.clone(),
        row.group.clone(),
        row.role.clone(),
        row.scope.clone(),
        row.binding.clone(),
    ]
}

/// The rows as CSV (RFC 4180, header first), or `None` once it would pass
/// `budget` bytes: a truncated audit would read as complete. Names come
/// from the identity provider, so a cell a spreadsheet would run as a
/// formula gets a leading `'` ([`crate::scimlog::neutralise`]).
pub fn csv(rows: &[Row], budget: usize) -> Option<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS).ok()?;
    for row in rows {
        let cells = fields(row).map(|c| crate::scimlog::neutralise(c.into()).into_owned());
        writer.write_record(cells).ok()?;
        writer.flush().ok()?;
        if writer.get_ref().len() > budget {
            return None;
        }
    }
    let out = writer.into_inner().ok()?;
    (out.len() <= budget).then_some(out)
}

/// The rows as an aligned text table.
pub fn table(rows: &[Row]) -> String {
    let cells: Vec<[String; 9]> = rows.iter().map(fields).collect();
    let mut widths = COLUMNS.map(|c| c.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = cells
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        text.truncate(text.trim_end().len());
        text.push('\n');
        text
    };
    let mut out = line(&mut COLUMNS.iter().copied());
    for row in &cells {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::desired::{Inputs, RoleState, desired};
    use crate::controller::plan::bindings_of;
    use crate::controller::testutil::*;
    use crate::crd::{BindSubjects, RoleKind};

    fn report(bind: BindSubjects) -> Vec<Row> {
        let mut tenant = tenant(
            "acme",
            vec![
                in_namespaces("devs", RoleKind::ClusterRole, "edit", &["dev"]),
                cluster_wide("ops", "view"),
            ],
        );
        tenant.spec.subjects.bind = bind;
        let mut ada = user("u1", "ada");
        ada.metadata.annotations = Some(BTreeMap::from([(
            LAST_MODIFIED.to_owned(),
            "2026-12-01T10:00:00Z".to_owned(),
        )]));
        let users = vec![ada, inactive(user("u2", "bob"))];
        let groups = vec![
            group("g1", "devs", vec![member("u1"), member("u2")]),
            group("g2", "ops", vec![member("u1")]),
        ];
        let desired = desired(&Inputs {
            tenant: &tenant,
            users: &users,
            groups: &groups,
            namespaces: &namespaces(&["dev"]),
            namespace_labels: &std::collections::BTreeMap::new(),
            roles: &|_| RoleState::Bindable,
            now: jiff::Timestamp::now(),
            directory_shards: None,
        });
        rows(
            &bindings_of(&desired),
            &tenant.spec.subjects,
            &users,
            &groups,
        )
    }

    #[test]
    fn user_subjects_map_back_to_users() {
        let rows = report(BindSubjects::Users);
        // bob is inactive: the controller does not bind him.
        assert_eq!(rows.len(), 2, "{rows:#?}");
        assert_eq!(rows[0].user_name, "ada");
        assert_eq!(rows[0].active, Some(true));
        assert_eq!(
            rows[0].last_modified.as_deref(),
            Some("2026-12-01T10:00:00Z")
        );
        assert_eq!(rows[0].subject, "User:oidc:ada");
        assert_eq!(
            (
                rows[0].group.as_str(),
                rows[0].role.as_str(),
                rows[0].scope.as_str()
            ),
            ("ops", "ClusterRole/view", "cluster-wide")
        );
        assert_eq!(
            (
                rows[1].group.as_str(),
                rows[1].role.as_str(),
                rows[1].scope.as_str()
            ),
            ("devs", "ClusterRole/edit", "dev")
        );
        assert!(rows[1].binding.starts_with("scimitar-devs-edit-"));
    }

    #[test]
    fn group_subjects_list_every_member_with_their_active_flag() {
        let rows = report(BindSubjects::Group);
        let who: Vec<(&str, Option<bool>, &str)> = rows
            .iter()
            .map(|r| (r.user_name.as_str(), r.active, r.group.as_str()))
            .collect();
        assert_eq!(
            who,
            [
                ("ada", Some(true), "ops"),
                ("ada", Some(true), "devs"),
                ("bob", Some(false), "devs")
            ]
        );
    }

    #[test]
    fn a_subject_naming_no_user_is_still_reported() {
        let bound = Bound {
            namespace: Some("dev".into()),
            name: "scimitar-x".into(),
            role: crate::controller::plan::RoleName {
                kind: "ClusterRole".into(),
                name: "edit".into(),
            },
            group: Some("devs".into()),
            subjects: vec![Who {
                kind: "User".into(),
                name: "oidc:gone".into(),
            }],
        };
        let rows = rows(&[bound], &SubjectSettings::default(), &[], &[]);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].user_name.as_str(), rows[0].active), ("", None));
        assert_eq!(rows[0].subject, "User:oidc:gone");
    }

    #[test]
    fn csv_parses_back_and_stays_within_its_budget() {
        let mut rows = report(BindSubjects::Users);
        rows[0].group = "a \"quoted\", multi\nline group".into();
        rows[1].user_name = "=HYPERLINK(\"http://evil\")".into();
        let bytes = csv(&rows, 1 << 20).expect("within budget");
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        assert_eq!(reader.headers().unwrap(), COLUMNS.as_slice());
        let back: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(back.len(), rows.len());
        assert_eq!(&back[0][5], "a \"quoted\", multi\nline group");
        assert_eq!(&back[0][2], "true");
        assert_eq!(
            &back[1][0], "'=HYPERLINK(\"http://evil\")",
            "a formula is neutralised"
        );
        // A budget smaller than the export refuses it instead of cutting it.
        assert_eq!(csv(&rows, bytes.len() - 1), None);
        assert!(csv(&rows, bytes.len()).is_some());
    }

    #[test]
    fn the_table_aligns_columns() {
        let table = table(&report(BindSubjects::Users));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("userName  userId  active  lastModified"));
        let at = lines[0].find("group").unwrap();
        assert_eq!(&lines[1][at..at + 3], "ops");
    }
}
