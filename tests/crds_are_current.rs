//! `crds/` must be exactly what the Rust types generate; run `make crds` after
//! changing a type.

use std::fs;

#[test]
fn checked_in_crds_match_the_code() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let mut expected_files = Vec::new();
    for (file, crd) in scimitar::crd::all() {
        expected_files.push(file.to_owned());
        let on_disk = fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("crds/{file} is missing ({e}); run `make crds`"));
        assert!(
            on_disk == scimitar::crd::to_yaml(&crd),
            "crds/{file} differs from the code; run `make crds`"
        );
    }
    let mut on_disk: Vec<String> = fs::read_dir(&dir)
        .expect("crds/ exists")
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    expected_files.sort();
    assert_eq!(
        on_disk, expected_files,
        "crds/ holds files the code does not generate"
    );
}

/// The chart renders the same CRDs (templates/crds.yaml renders
/// `charts/scimitar/files/crds/`, which `make crds` copies from `crds/`;
/// tests/helm_chart.rs checks what the template makes of them).
#[test]
fn chart_crds_are_the_checked_in_crds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let list = |dir: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{} ({e})", dir.display()))
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let top = root.join("crds");
    let chart = root.join("charts/scimitar/files/crds");
    assert_eq!(
        list(&chart),
        list(&top),
        "charts/scimitar/files/crds/ must hold exactly crds/; run `make crds`"
    );
    for file in list(&top) {
        assert!(
            fs::read(top.join(&file)).expect("crd") == fs::read(chart.join(&file)).expect("crd"),
            "charts/scimitar/files/crds/{file} differs from crds/{file}; run `make crds`"
        );
    }
    // Helm would install a chart's crds/ directory outside the release, and
    // then refuse to create the templated CRDs it already made.
    assert!(
        !root.join("charts/scimitar/crds").exists(),
        "charts/scimitar/crds/ is back: the chart renders its CRDs from files/crds/"
    );
}

#[test]
fn crds_have_status_subresource_category_and_short_names() {
    for (file, crd) in scimitar::crd::all() {
        assert_eq!(crd.spec.group, "scimitar.dev", "{file}");
        let names = &crd.spec.names;
        assert!(
            names
                .categories
                .as_ref()
                .is_some_and(|c| c.contains(&"scim".to_owned())),
            "{file}"
        );
        assert!(
            names.short_names.as_ref().is_some_and(|s| !s.is_empty()),
            "{file}"
        );
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some(),
            "{file}"
        );
    }
}
