use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::scim::filter::{AttrInfo, Filter, matches, parse_filter};
use crate::scim::path::parse_attr_path;
use crate::scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
use crate::store::Stored;

fn entry(resource: Value, version: &str) -> Entry {
    Entry {
        version: version.into(),
        resource,
        generation: None,
        tenant_uid: None,
        status: None,
    }
}

fn meta(kind: &str, version: &str) -> Value {
    json!({"resourceType": kind, "created": "2026-01-01T00:00:00Z",
        "lastModified": "2026-01-02T03:04:05.678Z", "version": format!("W/\"{version}\"")})
}

fn user(id: &str, name: &str, email: &str) -> Value {
    json!({"schemas": [crate::scim::schema::USER_SCHEMA_URN], "id": id,
        "externalId": format!("ext-{id}"), "userName": name,
        "emails": [{"value": email, "type": "work", "primary": true}],
        "meta": meta("User", "1")})
}

fn group(id: &str, name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members
        .iter()
        .map(|m| json!({"value": m, "type": "User"}))
        .collect();
    json!({"schemas": [crate::scim::schema::GROUP_SCHEMA_URN], "id": id,
        "displayName": name, "members": members, "meta": meta("Group", "2")})
}

#[test]
fn get_gives_back_what_was_inserted_with_groups_before_meta() {
    let mut index = Index::default();
    let ann = user("u1", "ann", "ann@example.com");
    index.insert(Kind::User, "u1", entry(ann.clone(), "1"));
    index.insert(
        Kind::Group,
        "g1",
        entry(group("g1", "Dev", &["u1", "nobody"]), "2"),
    );
    let got = index.get(Kind::User, "u1").expect("user");
    assert_eq!(got.version, "1");
    let mut want = ann;
    let meta = want.as_object_mut().unwrap().shift_remove("meta").unwrap();
    want["groups"] = json!([{"value": "g1", "display": "Dev", "type": "direct"}]);
    want["meta"] = meta;
    // The text, so that attribute order counts.
    assert_eq!(got.resource.to_string(), want.to_string());
    let g = index.get(Kind::Group, "g1").expect("group");
    assert_eq!(g.resource, group("g1", "Dev", &["u1", "nobody"]));
}

#[test]
fn a_list_costs_what_the_indexes_narrow_it_to_not_the_tenant() {
    let mut index = Index::default();
    for n in 0..2000 {
        let id = format!("u{n}");
        let name = format!("user{n}");
        index.insert(
            Kind::User,
            &id,
            entry(user(&id, &name, &format!("{name}@example.com")), "1"),
        );
    }
    let by_name = parse_filter(r#"userName eq "USER7""#).unwrap();
    let all = crate::scim::list::Window {
        start_index: 1,
        count: usize::MAX,
        ..Default::default()
    };
    assert_eq!(index.list_cost(Kind::User, Some(&by_name), &all), 1);
    assert_eq!(index.list(Kind::User, Some(&by_name)).len(), 1);
    let scan = parse_filter(r#"userName co "7""#).unwrap();
    assert_eq!(index.list_cost(Kind::User, Some(&scan), &all), 2000);
    assert_eq!(index.list_cost(Kind::User, None, &all), 2000);
    let page = crate::scim::list::Window {
        count: 100,
        ..all.clone()
    };
    assert_eq!(
        index.list_cost(Kind::User, None, &page),
        100,
        "a page is a slice"
    );
}

#[test]
fn indexes_follow_replace_rename_and_remove() {
    let mut index = Index::default();
    index.insert(Kind::User, "u1", entry(user("u1", "Ann", "a@x"), "1"));
    index.insert(Kind::User, "u2", entry(user("u2", "bob", "b@x"), "1"));
    assert_eq!(index.user_named("ANN"), Some("u1"));
    index.insert(Kind::User, "u1", entry(user("u1", "anna", "a@x"), "2"));
    assert_eq!(index.user_named("ann"), None);
    assert_eq!(index.user_named("Anna"), Some("u1"));

    let touched = index.insert(
        Kind::Group,
        "g1",
        entry(group("g1", "Dev", &["u1", "u9"]), "3"),
    );
    assert_eq!(touched.names, ["Dev"]);
    assert_eq!(touched.members, ["u1", "u9"]);
    assert_eq!(index.groups_of("u1"), ["g1"]);
    assert_eq!(index.groups_of("u9"), ["g1"]);
    let touched = index.insert(
        Kind::Group,
        "g1",
        entry(group("g1", "Ops", &["u2", "u1"]), "4"),
    );
    assert_eq!(touched.names, ["Dev", "Ops"]);
    assert_eq!(touched.members, ["u2", "u9"]);
    assert_eq!(index.groups_named("dev"), 0);
    assert_eq!(index.group_ids_named("OPS").collect::<Vec<_>>(), ["g1"]);
    assert!(index.groups_of("u9").is_empty());
    let g = index.group("g1").expect("group");
    assert_eq!(
        g.members().collect::<Vec<_>>(),
        [("u2", Some("User")), ("u1", Some("User"))]
    );
    assert_eq!(g.member_count(), 2);

    let (removed, touched) = index.remove(Kind::Group, "g1").expect("removed");
    assert_eq!(removed.resource, group("g1", "Ops", &["u2", "u1"]));
    assert_eq!(touched.names, ["Ops"]);
    assert_eq!(touched.members, ["u1", "u2"]);
    assert!(index.groups_of("u1").is_empty());
    index.remove(Kind::User, "u1");
    index.remove(Kind::User, "u2");
    assert!(index.is_empty());
    assert_eq!(index.slots(), 0, "every id is released");
}

#[test]
fn views_read_the_typed_fields() {
    let mut index = Index::default();
    let mut resource = user("u1", "ann", "ann@work");
    resource["displayName"] = json!("Ann A");
    resource["active"] = json!(false);
    resource["emails"] =
        json!([{"value": "ann@home", "type": "home"}, {"value": "ann@work", "type": "work"}]);
    index.insert(
        Kind::User,
        "u1",
        Entry {
            generation: Some(7),
            tenant_uid: Some("t1".into()),
            status: None,
            ..entry(resource, "5")
        },
    );
    let u = index.user("u1").expect("user");
    assert_eq!(
        (u.id, u.user_name, u.display_name, u.primary_email, u.active),
        ("u1", "ann", Some("Ann A"), Some("ann@work"), false)
    );
    assert_eq!(u.generation(), Some(7));
    assert!(u.belongs_to(Some("t1"), None));
    assert!(!u.belongs_to(Some("t2"), None));
    let e = index.entry(Kind::User, "u1").expect("entry");
    assert_eq!(
        (e.version, e.generation, e.tenant_uid),
        ("5", Some(7), Some("t1"))
    );
    // Without a recorded uid, the creation time decides.
    index.insert(Kind::User, "u2", entry(user("u2", "bob", "b@x"), "1"));
    let bob = index.user("u2").expect("user");
    let at = |t: &str| Some(t.parse::<jiff::Timestamp>().expect("time"));
    assert!(bob.belongs_to(Some("t1"), at("2025-12-31T00:00:00Z")));
    assert!(!bob.belongs_to(Some("t1"), at("2026-01-02T00:00:00Z")));
}

#[test]
fn the_schema_compares_indexed_attributes_as_the_indexes_do() {
    let exact = |rt: &crate::scim::schema::ResourceTypeDef, path: &str| {
        rt.case_exact(&parse_attr_path(path).expect("path"))
    };
    assert!(exact(&USER_RESOURCE, "id") && exact(&GROUP_RESOURCE, "id"));
    assert!(exact(&USER_RESOURCE, "externalId") && exact(&GROUP_RESOURCE, "externalId"));
    assert!(exact(&GROUP_RESOURCE, "members.value") && exact(&USER_RESOURCE, "groups.value"));
}

#[test]
fn a_relist_sweep_keeps_what_was_marked_or_is_newer() {
    let mut index = Index::default();
    for (id, version) in [("a", "5"), ("b", "6"), ("c", "50")] {
        index.insert(Kind::User, id, entry(user(id, id, "x@x"), version));
    }
    index.mark(Kind::User, "a", 1);
    // A replace keeps the mark.
    index.insert(Kind::User, "a", entry(user("a", "a2", "x@x"), "7"));
    index.sweep(Kind::User, 1, |v| v.parse::<u64>().is_ok_and(|v| v > 40));
    assert_eq!(index.ids(Kind::User), ["a", "c"]);
}

impl Index {
    /// Every index as a rebuild from the records would make it.
    fn assert_consistent(&self) {
        let mut rebuilt = Index::default();
        rebuilt.ids.hasher_from(&self.ids);
        let mut referenced = BTreeSet::new();
        for kind in [Kind::User, Kind::Group] {
            for record in &self.tables[k(kind)] {
                let resource = self.unpack(record);
                rebuilt.index_keys(kind, record.slot, &resource, true);
                referenced.insert(self.ids.text(record.slot).to_owned());
                referenced.extend(record.members.iter().map(|m| self.ids.text(*m).to_owned()));
            }
        }
        for (which, mine, theirs) in [
            ("names", &self.names[0], &rebuilt.names[0]),
            ("group names", &self.names[1], &rebuilt.names[1]),
            ("externals", &self.externals[0], &rebuilt.externals[0]),
            ("group externals", &self.externals[1], &rebuilt.externals[1]),
            ("emails", &self.emails, &rebuilt.emails),
        ] {
            assert_eq!(mine.pairs(), theirs.pairs(), "{which}");
        }
        assert_eq!(self.ids.len(), referenced.len(), "slots in use");
    }
}

// ---------------------------------------------------------------------------
// Against a model: every read of the index equals the same read computed
// naively from the inserted JSON, filters narrowed by the indexes included.

const IDS: [&str; 9] = [
    "",
    "u1",
    "u2",
    "u3",
    "g1",
    "g2",
    "0f4ab3c2-1d2e-4f5a-9b8c-7d6e5f4a3b2c",
    "Δ-id",
    "shared",
];
const NAMES: [&str; 7] = ["ann", "Ann", "bob", "ΩMEGA", "ωmega", "Dev", "dev"];

fn pick(values: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    prop::sample::select(values)
}

fn user_json() -> impl Strategy<Value = Value> {
    let email = (
        pick(&NAMES),
        pick(&["work", "home"]),
        prop::option::of(any::<bool>()),
    );
    (
        prop::option::of(pick(&NAMES)),
        prop::option::of(pick(&["x1", "X1", "x2"])),
        prop::collection::vec(email, 0..3),
        any::<bool>(),
        0..6u8,
    )
        .prop_map(|(name, external, emails, active, odd)| {
            let mut user = json!({"schemas": [crate::scim::schema::USER_SCHEMA_URN]});
            if let Some(name) = name {
                user["userName"] = json!(name);
            }
            if let Some(external) = external {
                user["externalId"] = json!(external);
            }
            if !emails.is_empty() {
                let emails: Vec<Value> = emails
                    .into_iter()
                    .map(|(v, t, p)| match p {
                        Some(p) => json!({"value": v, "type": t, "primary": p}),
                        None => json!({"value": v, "type": t}),
                    })
                    .collect();
                user["emails"] = Value::Array(emails);
            }
            user["active"] = json!(active);
            match odd {
                0 => user["Groups"] = json!([{"value": "g1"}]),
                1 => user["emails"] = json!("ann"),
                2 => user["USERNAME"] = json!("bob"),
                3 => user["ID"] = json!("shared"),
                _ => {}
            }
            user
        })
}

fn group_json() -> impl Strategy<Value = Value> {
    let member = (
        pick(&IDS),
        prop::option::of(pick(&["User", "Group"])),
        0..12u8,
    );
    (
        pick(&NAMES),
        prop::option::of(pick(&["x1", "x2"])),
        prop::collection::vec(member, 0..5),
    )
        .prop_map(|(name, external, members)| {
            let members: Vec<Value> = members
                .into_iter()
                .map(|(id, ty, odd)| match (ty, odd) {
                    (_, 0) => json!({"display": id}),
                    (_, 1) => json!(id),
                    (_, 2) => json!({"value": id, "VALUE": "u1"}),
                    (Some(ty), _) => json!({"value": id, "type": ty}),
                    (None, _) => json!({"value": id, "display": "Someone"}),
                })
                .collect();
            let mut group =
                json!({"schemas": [crate::scim::schema::GROUP_SCHEMA_URN], "displayName": name});
            if let Some(external) = external {
                group["externalId"] = json!(external);
            }
            if !members.is_empty() {
                group["members"] = Value::Array(members);
            }
            group
        })
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Kind, &'static str, Value),
    Remove(Kind, &'static str),
    Clear(Kind),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (pick(&IDS), user_json()).prop_map(|(id, u)| Op::Insert(Kind::User, id, u)),
        3 => (pick(&IDS), group_json()).prop_map(|(id, g)| Op::Insert(Kind::Group, id, g)),
        1 => (pick(&IDS), any::<bool>()).prop_map(|(id, user)| {
            Op::Remove(if user { Kind::User } else { Kind::Group }, id)
        }),
        // Rare: most runs keep a full index.
        1 => prop_oneof![9 => Just(None), 1 => prop_oneof![Just(Kind::User), Just(Kind::Group)].prop_map(Some)]
            .prop_map(|kind| kind.map_or(Op::Remove(Kind::User, "none"), Op::Clear)),
    ]
}

/// The reference: the inserted JSON, read the obvious way.
#[derive(Default)]
struct Model(BTreeMap<(u8, String), Entry>);

impl Model {
    fn table(&self, kind: Kind) -> impl Iterator<Item = (&String, &Entry)> {
        let k = k(kind) as u8;
        self.0
            .iter()
            .filter(move |((kk, _), _)| *kk == k)
            .map(|((_, id), e)| (id, e))
    }

    fn groups_of(&self, id: &str) -> Vec<String> {
        self.table(Kind::Group)
            .filter(|(_, g)| member_ids(&g.resource).contains(id))
            .map(|(gid, _)| gid.clone())
            .collect()
    }

    fn render(&self, kind: Kind, id: &str, entry: &Entry) -> Stored {
        let mut resource = entry.resource.clone();
        let groups = self.groups_of(id);
        if kind == Kind::User && !groups.is_empty() {
            let groups: Vec<Value> = groups
                .iter()
                .map(|gid| {
                    let g = &self.0[&(1, gid.clone())].resource;
                    json!({"value": gid, "display": g.get("displayName").cloned(), "type": "direct"})
                })
                .collect();
            if let Value::Object(fields) = &mut resource {
                let meta = fields.shift_remove("meta");
                fields.insert("groups".into(), Value::Array(groups));
                if let Some(meta) = meta {
                    fields.insert("meta".into(), meta);
                }
            }
        }
        Stored {
            id: id.to_owned(),
            version: crate::store::scim_version(&entry.version, entry.generation),
            revision: entry.version.clone(),
            resource,
        }
    }

    fn list(&self, kind: Kind, filter: &Filter) -> Vec<Stored> {
        self.table(kind)
            .map(|(id, e)| self.render(kind, id, e))
            .filter(|s| matches(filter, &s.resource, kind.resource_type()))
            .collect()
    }
}

fn filters() -> Vec<(Kind, String)> {
    let mut out = Vec::new();
    for value in NAMES.iter().chain(&IDS).chain(&["x1", "X1", "nobody"]) {
        for text in [
            format!("userName eq \"{value}\""),
            format!("USERNAME eq \"{value}\""),
            format!("externalId eq \"{value}\""),
            format!("emails[value eq \"{value}\"]"),
            format!("emails.value eq \"{value}\""),
            format!("emails eq \"{value}\""),
            format!("emails[type eq \"work\" and value eq \"{value}\"]"),
            format!("id eq \"{value}\""),
            format!("ID eq \"{value}\""),
            format!("groups[value eq \"{value}\"]"),
            format!("groups.value eq \"{value}\""),
            format!("userName eq \"{value}\" and active eq true"),
            format!("userName eq \"{value}\" or externalId eq \"{value}\""),
            format!("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"{value}\""),
        ] {
            out.push((Kind::User, text));
        }
        for text in [
            format!("displayName eq \"{value}\""),
            format!("externalId eq \"{value}\""),
            format!("members[value eq \"{value}\"]"),
            format!("members.value eq \"{value}\""),
            format!("members[VALUE eq \"{value}\"]"),
            format!("members eq \"{value}\""),
            format!("id eq \"{value}\" and members[value eq \"u1\"]"),
            format!("displayName eq \"{value}\" or members[value eq \"{value}\"]"),
        ] {
            out.push((Kind::Group, text));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn reads_agree_with_the_inserted_json(ops in prop::collection::vec(op(), 1..40)) {
        let mut index = Index::default();
        let mut model = Model::default();
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Insert(kind, id, mut resource) => {
                    let version = n.to_string();
                    resource["id"] = json!(id);
                    resource["meta"] = meta(kind.name(), &version);
                    index.insert(kind, id, entry(resource.clone(), &version));
                    model.0.insert((k(kind) as u8, id.to_owned()), entry(resource, &version));
                }
                Op::Remove(kind, id) => {
                    let removed = index.remove(kind, id).map(|(e, _)| e);
                    prop_assert_eq!(removed, model.0.remove(&(k(kind) as u8, id.to_owned())));
                }
                Op::Clear(kind) => {
                    index.clear(kind);
                    model.0.retain(|(kk, _), _| *kk != k(kind) as u8);
                }
            }
            if n % 3 == 0 {
                // Reads in between keep the id order built, and in step.
                for kind in [Kind::User, Kind::Group] {
                    let ids: Vec<String> = model.table(kind).map(|(id, _)| id.clone()).collect();
                    prop_assert_eq!(index.ids(kind), ids);
                }
            }
        }
        index.assert_consistent();
        for kind in [Kind::User, Kind::Group] {
            let all: Vec<Stored> = model.table(kind).map(|(id, e)| model.render(kind, id, e)).collect();
            prop_assert_eq!(index.list(kind, None), all);
            prop_assert_eq!(index.count(kind), model.table(kind).count());
        }
        for (kind, text) in filters() {
            let filter = parse_filter(&text).expect("filter");
            prop_assert_eq!(index.list(kind, Some(&filter)), model.list(kind, &filter), "{}", text);
        }
        for id in IDS {
            prop_assert_eq!(index.groups_of(id), model.groups_of(id));
            let named = model.table(Kind::User).filter(|(_, e)| {
                e.resource.get("userName").and_then(Value::as_str).is_some_and(|n| fold(n) == fold(id))
            }).count();
            prop_assert_eq!(index.user_named(id).is_some(), named > 0);
        }
        for name in NAMES {
            let want: Vec<&String> = model.table(Kind::Group).filter(|(_, g)| {
                g.resource.get("displayName").and_then(Value::as_str).is_some_and(|d| d.eq_ignore_ascii_case(name))
            }).map(|(id, _)| id).collect();
            prop_assert_eq!(index.group_ids_named(name).collect::<Vec<_>>(), want);
        }
        for (id, g) in model.table(Kind::Group) {
            let view = index.group(id).expect("group");
            let want: Vec<(&str, Option<&str>)> = g.resource.get("members").and_then(Value::as_array)
                .into_iter().flatten()
                .filter_map(|m| Some((m.get("value")?.as_str()?, m.get("type").and_then(Value::as_str))))
                .collect();
            prop_assert_eq!(view.members().collect::<Vec<_>>(), want);
        }
        let users: BTreeSet<&str> = index.users().map(|u| u.id).collect();
        prop_assert_eq!(users.len(), index.count(Kind::User));
    }
}
