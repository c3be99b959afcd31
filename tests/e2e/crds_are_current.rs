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
/// tests/e2e/helm_chart.rs checks what the template makes of them).
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
        // The `scim` category holds the namespaced kinds only: with the
        // cluster-scoped ScimTenant in it, `kubectl get scim -n <tenant>`
        // lists tenants cluster-wide, Forbidden to a namespace's readers.
        let in_scim = names
            .categories
            .as_ref()
            .is_some_and(|c| c.contains(&"scim".to_owned()));
        assert_eq!(
            in_scim,
            crd.spec.scope == "Namespaced",
            "{file}: in the scim category exactly when namespaced"
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

/// `kubectl explain <kind>.status` explains every field: each status
/// property, at any depth, has a description (printer columns read them).
#[test]
fn every_status_field_is_described() {
    fn walk(
        path: &str,
        schema: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps,
        missing: &mut Vec<String>,
        seen: &mut usize,
    ) {
        for (name, property) in schema.properties.iter().flatten() {
            *seen += 1;
            let here = format!("{path}.{name}");
            if property.description.as_deref().is_none_or(str::is_empty) {
                missing.push(here.clone());
            }
            walk(&here, property, missing, seen);
            if let Some(
                k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray::Schema(items),
            ) = &property.items
            {
                walk(&format!("{here}[]"), items, missing, seen);
            }
        }
    }
    let (mut missing, mut seen) = (Vec::new(), 0);
    for (file, crd) in scimitar::crd::all() {
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("a schema");
        let status = &schema.properties.as_ref().expect("properties")["status"];
        walk(&format!("{file}: status"), status, &mut missing, &mut seen);
    }
    // Three statuses, each with conditions of six fields, and more.
    assert!(seen > 40, "only {seen} status fields were looked at");
    assert!(
        missing.is_empty(),
        "status fields without a description: {missing:?}"
    );
}
