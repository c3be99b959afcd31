use std::collections::BTreeMap;

use super::super::owned::Owned;
use super::*;

fn config_map(name: &str, version: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("team".into()),
            resource_version: Some(version.into()),
            labels: Some(BTreeMap::from([("a".to_owned(), "b".to_owned())])),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..ConfigMap::default()
    }
}

fn meta(config_map: &ConfigMap) -> PartialObjectMeta<ConfigMap> {
    PartialObjectMeta {
        metadata: config_map.metadata.clone(),
        ..PartialObjectMeta::default()
    }
}

#[test]
fn a_summary_holds_sizes_and_hashes_not_values() {
    let cm = config_map(
        "d",
        "5",
        &[(MANIFEST_KEY, "{\"version\":3}"), ("user.a", "{\"x\":1}")],
    );
    let summary = Summary::of(&cm);
    assert_eq!(summary.version(), Some("5"));
    assert_eq!(
        summary.bytes(),
        MANIFEST_KEY.len() + 13 + "user.a".len() + 7
    );
    assert_eq!(summary.manifest(), Some("{\"version\":3}"));
    assert_eq!(summary.len_of("user.a"), Some(7));
    assert!(summary.holds("user.a", Some("{\"x\":1}")));
    assert!(!summary.holds("user.a", Some("{\"x\":2}")));
    assert!(!summary.holds("user.a", None));
    assert!(summary.holds("user.b", None));
    // No value is kept, only its hash and length.
    assert!(!format!("{summary:?}").contains("\"x\""));

    assert!(summary.describes(&cm));
    let mut more = cm.clone();
    more.data
        .as_mut()
        .unwrap()
        .insert("user.b".into(), "{}".into());
    assert!(!summary.describes(&more), "a key more");
    let mut fewer = cm.clone();
    fewer.data.as_mut().unwrap().remove("user.a");
    assert!(!summary.describes(&fewer), "a key less");
    let mut relabelled = cm.clone();
    relabelled.metadata.labels = Some(BTreeMap::from([("a".to_owned(), "c".to_owned())]));
    assert!(!summary.describes(&relabelled), "other labels");
}

/// One watch event through the owned index, whose verdict the summaries follow.
fn feed(owned: &Owned, shards: &Shards, event: Event<PartialObjectMeta<ConfigMap>>) {
    let observed = owned.observe(&event);
    shards.observe(&event, observed.foreign);
}

fn key(name: &str) -> super::super::owned::Key {
    ("ConfigMap", Some("team".into()), name.into())
}

/// Our write of `cm` as a writer does it: in flight, answered, recorded
/// when nothing foreign was seen meanwhile.
fn write(owned: &Owned, shards: &Shards, cm: &ConfigMap, echo_first: bool) {
    let mark = shards.mark();
    owned.writing(key(cm.metadata.name.as_deref().unwrap()));
    if echo_first {
        feed(owned, shards, Event::Apply(meta(cm)));
    }
    if owned.wrote(
        key(cm.metadata.name.as_deref().unwrap()),
        cm.metadata.resource_version.clone(),
    ) {
        shards.record(cm, mark);
    } else {
        shards.forget("team", cm.metadata.name.as_deref().unwrap());
    }
}

#[test]
fn our_writes_fill_summaries_and_foreign_versions_forget_them() {
    let (owned, shards) = (Owned::default(), Shards::default());
    let ours = config_map("d", "5", &[("user.a", "1")]);
    write(&owned, &shards, &ours, false);
    assert!(shards.get("team", "d").is_some());
    // The echo of our write: kept.
    feed(&owned, &shards, Event::Apply(meta(&ours)));
    assert_eq!(shards.get("team", "d").unwrap().version(), Some("5"));
    // Someone else's version: it is read again before it is trusted, even
    // one that names no tenant (the owned index files no touch for it).
    let theirs = config_map("d", "6", &[("user.a", "2")]);
    feed(&owned, &shards, Event::Apply(meta(&theirs)));
    assert_eq!(shards.get("team", "d"), None);
}

#[test]
fn an_echo_before_its_answer_or_after_a_later_write_keeps_the_summary() {
    let (owned, shards) = (Owned::default(), Shards::default());
    write(&owned, &shards, &config_map("d", "5", &[]), false);
    // Under load the watch delivers our write before its answer comes.
    write(&owned, &shards, &config_map("d", "6", &[]), true);
    assert_eq!(shards.get("team", "d").unwrap().version(), Some("6"));
    // The next write is answered before the echo of the one before it.
    write(&owned, &shards, &config_map("d", "7", &[]), false);
    write(&owned, &shards, &config_map("d", "8", &[]), false);
    feed(
        &owned,
        &shards,
        Event::Apply(meta(&config_map("d", "7", &[]))),
    );
    feed(
        &owned,
        &shards,
        Event::Apply(meta(&config_map("d", "8", &[]))),
    );
    assert_eq!(
        shards.get("team", "d").unwrap().version(),
        Some("8"),
        "both echoes were ours"
    );
    // Someone's change lands while our write is in flight: the answer may
    // be older than theirs, and the writer must not keep it.
    owned.writing(key("d"));
    feed(
        &owned,
        &shards,
        Event::Apply(meta(&config_map("d", "9", &[]))),
    );
    assert!(!owned.wrote(key("d"), Some("10".into())));
}

#[test]
fn an_answer_older_than_a_foreign_event_is_not_kept() {
    let shards = Shards::default();
    let mark = shards.mark();
    // The watch shows someone's change to another shard while our write or
    // read is under way: its answer may predate a change the watch showed.
    let other = config_map("d-2", "7", &[]);
    shards.observe(&Event::Apply(meta(&other)), true);
    let answer = config_map("d-1", "6", &[("user.a", "1")]);
    let summary = shards.record(&answer, mark);
    assert_eq!(
        summary.version(),
        Some("6"),
        "it still describes the answer"
    );
    assert_eq!(shards.get("team", "d-1"), None);
    // A fresh mark is kept.
    shards.record(&answer, shards.mark());
    assert!(shards.get("team", "d-1").is_some());
}

#[test]
fn summaries_are_forgotten_with_their_config_maps() {
    let shards = Shards::default();
    let (a, b, c) = (
        config_map("d", "1", &[]),
        config_map("d-1", "2", &[]),
        config_map("d-2", "3", &[]),
    );
    for cm in [&a, &b, &c] {
        shards.record(cm, shards.mark());
    }
    assert_eq!(shards.len(), 3);
    // Deleted (by anyone).
    shards.observe(&Event::Delete(meta(&c)), false);
    assert_eq!(shards.len(), 2);
    // Gone from a relist (deleted while the watch was down).
    shards.observe(&Event::Init, false);
    shards.observe(&Event::InitApply(meta(&a)), false);
    shards.observe(&Event::InitDone, false);
    assert_eq!(shards.len(), 1);
    assert!(shards.get("team", "d").is_some());
    // The tenant went.
    shards.record(&b, shards.mark());
    shards.record(&config_map("other-directory", "4", &[]), shards.mark());
    shards.forget_prefixed("team", "d");
    assert_eq!(shards.len(), 1);
    assert!(shards.get("team", "other-directory").is_some());
    shards.forget("team", "other-directory");
    assert!(shards.is_empty());
}
