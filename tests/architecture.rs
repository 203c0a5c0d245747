//! The structure the code promises, checked: ARCHITECTURE.md names only what exists, no file
//! imports one that imports it back, the ZooKeeper client library stays inside the session's
//! implementation, and no source file grows past 450 lines. (Reads the source tree; needs no
//! server.)

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The longest a source file may be: past it, a file holds more than one concept.
const MAX_LINES: usize = 450;

/// Names ARCHITECTURE.md uses that are not ours: Flink's and Curator's (it maps them onto
/// ours), actix's, std's and tokio's.
const FOREIGN: &[&str] = &[
    // Flink and Curator.
    "ZooKeeperLeaderElectionService",
    "issuedLeaderSessionID",
    "confirmedLeaderSessionID",
    "running",
    "NodeCache",
    "ConnectionStateListener",
    // actix, std, tokio.
    "Addr",
    "Recipient",
    "Arbiter",
    "Handler",
    "Into",
    "uuid",
    "Uuid",
    // The client library the session wraps.
    "zookeeper_client",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// Every `.rs` file under `src/`, relative to the crate root, with its text.
fn sources() -> BTreeMap<String, String> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).expect("readable source");
            (path.strip_prefix(root()).expect("under the root").display().to_string(), text)
        })
        .collect()
}

/// The identifiers that something in the source defines: items, enum variants, fields,
/// macros.
fn defined_names(sources: &BTreeMap<String, String>) -> BTreeSet<String> {
    let item = regex_lite::Regex::new(
        r"(?:struct|enum|trait|type|fn|const|static|mod|macro_rules!)\s+([A-Za-z_][A-Za-z0-9_]*)",
    )
    .expect("valid regex");
    // A variant or a field: an identifier at the start of a line, followed by `,`, `{`, `(` or `:`.
    let member = regex_lite::Regex::new(r"(?m)^\s*(?:pub(?:\([a-z]+\))?\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*[,{(:]")
        .expect("valid regex");
    // A field of a variant or struct written on one line: `Leaving { awaited: u64 }`.
    let inline_field = regex_lite::Regex::new(r"[{,]\s*([a-z_][a-z0-9_]*)\s*:").expect("valid regex");
    let mut names = BTreeSet::new();
    for text in sources.values() {
        let found = item.captures_iter(text).chain(member.captures_iter(text)).chain(inline_field.captures_iter(text));
        for captures in found {
            names.insert(captures[1].to_owned());
        }
    }
    names
}

#[test]
fn architecture_md_names_only_what_exists() {
    let doc = fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    // Diagrams are pictures, not names: only the prose and the tables are checked.
    let fences = regex_lite::Regex::new(r"(?s)```.*?```").expect("valid regex");
    let doc = fences.replace_all(&doc, "");
    let mut sources = sources();
    // Tests the document names are definitions too.
    let mut tests = Vec::new();
    rust_files(&root().join("tests"), &mut tests);
    for path in tests {
        let text = fs::read_to_string(&path).expect("readable test");
        sources.insert(path.display().to_string(), text);
    }
    let defined = defined_names(&sources);
    let code = regex_lite::Regex::new(r"`([^`]+)`").expect("valid regex");
    let ident = regex_lite::Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").expect("valid regex");
    let mut missing = Vec::new();
    for captures in code.captures_iter(&doc) {
        let span = &captures[1];
        if span.starts_with("src/") || span.starts_with("tests/") || span.ends_with(".md") {
            if !root().join(span).exists() {
                missing.push(format!("file {span}"));
            }
            continue;
        }
        // Numbers and prose inside code spans (`timeout − 13 client ticks`) name nothing.
        if span.contains(' ') && !span.contains("::") && !span.contains('{') && !span.contains('<') {
            continue;
        }
        for name in ident.find_iter(span).map(|m| m.as_str()) {
            if !FOREIGN.contains(&name) && !defined.contains(name) && !is_keyword(name) {
                missing.push(format!("{name} (in `{span}`)"));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "ARCHITECTURE.md names what the code does not have:\n  {}", missing.join("\n  "));
}

fn is_keyword(name: &str) -> bool {
    matches!(name, "true" | "false" | "self" | "Self" | "crate" | "super" | "mut" | "dyn" | "impl")
}

/// The module path of a source file: `src/session/mod.rs` → `session`, `src/latch/join.rs` →
/// `latch::join`, `src/lib.rs` → ``.
fn module_of(file: &str) -> Option<String> {
    let path = file.strip_prefix("src/")?.strip_suffix(".rs")?;
    if path.starts_with("bin/") || path == "bin" {
        return None;
    }
    let path = path.strip_suffix("/mod").unwrap_or(path);
    Some(if path == "lib" { String::new() } else { path.replace('/', "::") })
}

/// The crate modules a file refers to (`crate::a::b::…`, `super::…`), as module paths that
/// have a file of their own.
fn imports(file: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let Some(own) = module_of(file) else { return BTreeSet::new() };
    // `super` is the parent module, whether the file is `a/b.rs` or `a/b/mod.rs`.
    let base_for_super = own.rsplit_once("::").map_or(String::new(), |(parent, _)| parent.to_owned());
    let path = regex_lite::Regex::new(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)").expect("valid regex");
    // Comments (doc links among them) refer; they do not import.
    let code: String =
        text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    let mut found = BTreeSet::new();
    for captures in path.captures_iter(&code) {
        let start = if &captures[1] == "crate" { String::new() } else { base_for_super.clone() };
        let mut module = start;
        let mut deepest = None;
        for segment in captures[2].trim_start_matches("::").split("::") {
            module = if module.is_empty() { segment.to_owned() } else { format!("{module}::{segment}") };
            if modules.contains(&module) {
                deepest = Some(module.clone());
            } else {
                break;
            }
        }
        if let Some(module) = deepest.filter(|module| *module != own) {
            found.insert(module);
        }
    }
    found
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let sources = sources();
    let files: BTreeMap<String, String> =
        sources.keys().filter_map(|file| module_of(file).map(|module| (module, file.clone()))).collect();
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let graph: BTreeMap<String, BTreeSet<String>> =
        files.iter().map(|(module, file)| (module.clone(), imports(file, &sources[file], &modules))).collect();
    // A module and its own submodules are one implementation split by concept.
    let related = |a: &str, b: &str| {
        a.is_empty() || b.is_empty() || a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"))
    };
    let mut circles = Vec::new();
    for (a, uses) in &graph {
        for b in uses.iter().filter(|b| a < *b && !related(a, b)) {
            if graph.get(b).is_some_and(|back| back.contains(a)) {
                circles.push(format!("{} ⇄ {}", files[a], files[b]));
            }
        }
    }
    assert!(circles.is_empty(), "files that import each other:\n  {}", circles.join("\n  "));
}

#[test]
fn the_zookeeper_client_library_stays_inside_the_session() {
    let outside: Vec<String> = sources()
        .into_iter()
        .filter(|(file, text)| !file.starts_with("src/session/") && text.contains("zookeeper_client"))
        .map(|(file, _)| file)
        .collect();
    assert!(outside.is_empty(), "zookeeper_client named outside src/session/: {outside:?}");
}

#[test]
fn no_source_file_is_longer_than_450_lines() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.lines().count() > MAX_LINES)
        .map(|(file, text)| format!("{file}: {} lines", text.lines().count()))
        .collect();
    assert!(long.is_empty(), "split these into one concept per file: {long:?}");
}

#[test]
fn examples_are_short() {
    let mut files = Vec::new();
    rust_files(&root().join("examples"), &mut files);
    let long: Vec<String> = files
        .iter()
        .map(|path| (path, fs::read_to_string(path).expect("readable example")))
        .filter(|(_, text)| text.lines().count() > 250)
        .map(|(path, text)| format!("{}: {} lines", path.display(), text.lines().count()))
        .collect();
    assert!(long.is_empty(), "an example is for reading, at most 250 lines: {long:?}");
}
