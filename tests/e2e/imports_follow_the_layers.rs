//! The modules of `src/` import one way, from the wiring at the top down to
//! the pure types at the bottom, and no two top-level modules import each
//! other, even through others. Reads the `crate::` paths of every source
//! file (comments and string literals left out); std only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module may import modules of its own layer
/// or of a layer below; imports within a layer must not form a cycle (the
/// second test). Every top-level module of `src/` must be listed: a new one
/// has to be placed here.
const LAYERS: &[&[&str]] = &[
    // Pure types and protocol, and what every layer says about the objects
    // it writes (labels, hashed names, owner references, subject naming).
    &["crd", "scim", "meta"],
    // Small shared services with no Kubernetes storage of their own.
    &[
        "auth",
        "scimlog",
        "metrics",
        "kubeclient",
        "ready",
        "shutdown",
        "telemetry",
    ],
    // SCIM resources ⇄ custom resources.
    &["store"],
    // Desired state, apply, status; reads the store's types.
    &["controller"],
    // The edges: SCIM HTTP, the console, leader election around the controller.
    &["http", "console", "leader"],
    // Wiring and commands.
    &[
        "operator",
        "serve",
        "cli",
        "token_admin",
        "connect_admin",
        "plan_admin",
        "probe",
        "replay",
    ],
];

/// One `crate::<module>` reference: where, and which top-level module.
struct Import {
    file: String,
    line: usize,
    target: String,
}

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/store/kube/mod.rs` → `store`);
/// `None` for the crate root and the binary.
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// `text` with comments, string and char literals blanked out (newlines kept,
/// so line numbers stay right).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                    out.push_str("  ");
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    out.push_str("  ");
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
        } else if c == 'r'
            && matches!(next, Some('"') | Some('#'))
            && !chars
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // Raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some(&other) => {
                        blank(&mut out, other);
                        j += 1;
                    }
                }
            }
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if let Some(&other) = chars.get(i) {
                    blank(&mut out, other);
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\''), or a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 2..chars.len().min(i + 12)).find(|&j| chars[j] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => i = end + 1,
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The top-level modules named after `crate::` in `code`, with their line:
/// `crate::store::…` names `store`; `crate::{auth::Scope, meta}` names both.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let ident = |from: usize| -> String {
        code[from..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let skip_space = |mut at: usize| {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        at
    };
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut from = 0;
    while let Some(offset) = code[from..].find("crate::") {
        let at = from + offset;
        from = at + "crate::".len();
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue; // e.g. `$crate::` or `my_crate::`
        }
        let start = skip_space(from);
        if bytes.get(start) == Some(&b'{') {
            // A group: the first identifier of every item at depth 1.
            let mut depth = 0;
            let mut expect_item = true;
            let mut j = start;
            while j < bytes.len() {
                match bytes[j] {
                    b'{' => {
                        depth += 1;
                        if depth == 1 {
                            expect_item = true;
                        }
                    }
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => expect_item = true,
                    b if depth == 1 && expect_item && (b.is_ascii_alphabetic() || b == b'_') => {
                        found.push((line_of(j), ident(j)));
                        expect_item = false;
                    }
                    _ => {}
                }
                j += 1;
            }
        } else {
            let name = ident(start);
            if !name.is_empty() {
                found.push((line_of(at), name));
            }
        }
    }
    found
}

/// Every `crate::` import of a top-level module from another, by importer.
fn imports() -> BTreeMap<String, Vec<Import>> {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_of(f.strip_prefix(&root).expect("under src")))
        .collect();
    let mut by_module: BTreeMap<String, Vec<Import>> = BTreeMap::new();
    for path in &files {
        let relative = path.strip_prefix(&root).expect("under src");
        let Some(module) = module_of(relative) else {
            continue;
        };
        let text = std::fs::read_to_string(path).expect("read source");
        for (line, target) in crate_paths(&code_only(&text)) {
            if target != module && modules.contains(&target) {
                by_module.entry(module.clone()).or_default().push(Import {
                    file: format!("src/{}", relative.display()),
                    line,
                    target,
                });
            }
        }
    }
    by_module
}

#[test]
fn every_module_has_a_layer() {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let unplaced: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_of(f.strip_prefix(&root).expect("under src")))
        .filter(|m| rank(m).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules missing from LAYERS in {}: {unplaced:?}",
        file!()
    );
}

#[test]
fn imports_point_down_the_layers() {
    let mut wrong = Vec::new();
    for (module, imports) in imports() {
        let Some(own) = rank(&module) else { continue };
        for import in imports {
            if rank(&import.target).is_some_and(|target| target > own) {
                wrong.push(format!(
                    "{}:{}: `{module}` (layer {own}) imports `{}` (layer {}), which is above it",
                    import.file,
                    import.line,
                    import.target,
                    rank(&import.target).unwrap_or_default(),
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layer order (see LAYERS in {}):\n{}",
        file!(),
        wrong.join("\n")
    );
}

#[test]
fn no_two_modules_import_each_other() {
    let imports = imports();
    let graph: BTreeMap<&str, BTreeSet<&str>> = imports
        .iter()
        .map(|(m, list)| (m.as_str(), list.iter().map(|i| i.target.as_str()).collect()))
        .collect();
    // Depth-first search for a back edge; the path found is the cycle.
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(start) = path.iter().position(|n| *n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node);
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            let edges: Vec<String> = cycle
                .windows(2)
                .map(|pair| {
                    let import = imports[pair[0]]
                        .iter()
                        .find(|i| i.target == pair[1])
                        .expect("an edge of the graph");
                    format!(
                        "{}:{}: `{}` imports `{}`",
                        import.file, import.line, pair[0], pair[1]
                    )
                })
                .collect();
            panic!("import cycle {}:\n{}", cycle.join(" → "), edges.join("\n"));
        }
    }
}

#[test]
fn the_reader_sees_through_comments_strings_and_groups() {
    let code = code_only(
        "use crate::{auth::Scope, meta::{self, hex}};\n\
         // crate::console\n\
         let s = \"crate::http\"; let r = r#\"crate::cli\"#; let c = '\"';\n\
         /* crate::operator */ x = crate::store::Kind;\n",
    );
    let names: Vec<(usize, String)> = crate_paths(&code);
    assert_eq!(
        names,
        vec![
            (1, "auth".to_owned()),
            (1, "meta".to_owned()),
            (4, "store".to_owned())
        ]
    );
}
