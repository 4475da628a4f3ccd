//! Holds the shape of `shared/src` that `src/lib.rs` describes, so it is enforced, not only
//! written down:
//!
//! - layers import one way: `domain` ← `outbound` ← `ports` ← `app` | `adapters` ← `config` |
//!   `telemetry` (a module uses only its own layer and those to its left; `app` and `adapters`
//!   never use each other);
//! - no import cycle between the crate's modules (a file is a module);
//! - the pure layers name no AWS, HTTP, Lambda, file or environment API;
//! - no file over 500 lines, no more than 12 modules at the crate root.
//!
//! It reads the sources as text: every `crate::`, `super::` and `self::` path, in `use` trees
//! and in code, resolved to the module it names. Its own unit tests below feed it small
//! made-up crates that break each rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module's layer: a module may use modules of a lower rank, or its own layer.
const LAYERS: &[(&str, u8)] =
    &[("domain", 0), ("outbound", 1), ("ports", 2), ("app", 3), ("adapters", 3), ("config", 4), ("telemetry", 4)];

/// Names a layer may not mention: I/O belongs to the adapters, the environment to config.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("domain", &["aws_", "reqwest", "lambda_", "serde_dynamo", "tokio", "std::fs", "std::env", "hyper"]),
    ("outbound", &["aws_", "reqwest", "lambda_", "serde_dynamo", "tokio", "std::fs", "std::env", "hyper"]),
    ("ports", &["aws_", "reqwest", "lambda_", "serde_dynamo", "tokio::net", "std::fs", "std::env", "hyper"]),
    ("app", &["aws_", "reqwest", "lambda_", "serde_dynamo", "tokio::net", "std::fs", "std::env", "hyper"]),
];

const MAX_FILE_LINES: usize = 500;
const MAX_ROOT_MODULES: usize = 12;

type Module = Vec<String>;

/// The module a source file is, from its path under `src/` (`a/mod.rs` and `a.rs` are `a`).
fn module_of(path: &str) -> Module {
    let path = path.trim_end_matches(".rs");
    let mut parts: Vec<String> = path.split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod") | Some("lib")) {
        parts.pop();
    }
    parts
}

/// The source without comments, string and char literals (kept as blanks, so offsets hold).
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let end = src[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            out.extend(std::iter::repeat_n(' ', src[i..end].chars().count()));
            i = end;
        } else if b[i] == b'"' || (b[i] == b'r' && i + 1 < b.len() && (b[i + 1] == b'"' || b[i + 1] == b'#')) {
            // A string (raw or not): skip to its end.
            let start = i;
            if b[i] == b'r' {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                let body = i + 2 + hashes;
                i = src[body..].find(&close).map_or(b.len(), |e| body + e + close.len());
            } else {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            let i_end = i.min(b.len());
            out.extend(std::iter::repeat_n(' ', src[start..i_end].chars().count()));
            i = i_end;
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal ('x' or '\n'), not a lifetime.
            let end = src[i + 1..].find('\'').map_or(b.len(), |e| i + 1 + e + 1);
            out.extend(std::iter::repeat_n(' ', src[i..end].chars().count()));
            i = end;
        } else {
            let c = src[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Expands a `use` tree (`a::{b, c::{self, d}}`) into its full paths.
fn expand_use_tree(tree: &str) -> Vec<String> {
    fn split_top(s: &str) -> Vec<&str> {
        let (mut depth, mut start, mut parts) = (0, 0, Vec::new());
        for (i, c) in s.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&s[start..]);
        parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
    }
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.trim();
    match tree.find('{') {
        None => {
            let path = tree.split(" as ").next().unwrap_or("").trim().trim_end_matches("::self");
            vec![path.to_string()]
        }
        Some(open) => {
            let prefix = tree[..open].trim_end_matches("::");
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            split_top(inner)
                .into_iter()
                .flat_map(expand_use_tree)
                .map(|rest| if rest == "self" { prefix.to_string() } else { format!("{prefix}::{rest}") })
                .collect()
        }
    }
}

/// The inline modules (`mod tests { .. }`) of a file, as (name, body start, body end).
fn inline_modules(code: &str) -> Vec<(String, usize, usize)> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut search = 0;
    while let Some(pos) = code[search..].find("mod ") {
        let at = search + pos;
        search = at + 4;
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue;
        }
        let rest = &code[at + 4..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let after = rest[name.len()..].trim_start();
        if name.is_empty() || !after.starts_with('{') {
            continue;
        }
        let open = at + 4 + name.len() + (rest[name.len()..].len() - after.len());
        let mut depth = 0;
        let mut end = code.len();
        for (i, c) in code[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        found.push((name, open, end));
    }
    found
}

/// Every path that starts with `crate`, `super` or `self`, with where it starts.
fn relative_paths(code: &str) -> Vec<(usize, String)> {
    let mut paths = Vec::new();
    // `use` trees first (they may hold groups), then paths in code.
    let mut use_spans = Vec::new();
    let mut search = 0;
    while let Some(pos) = code[search..].find("use ") {
        let at = search + pos;
        search = at + 4;
        let before = code[..at].chars().last().unwrap_or(' ');
        if before.is_alphanumeric() || before == '_' {
            continue;
        }
        let end = code[at..].find(';').map_or(code.len(), |e| at + e);
        for path in expand_use_tree(&code[at + 4..end]) {
            paths.push((at, path));
        }
        use_spans.push((at, end));
    }
    let bytes = code.as_bytes();
    for root in ["crate::", "super::", "self::"] {
        let mut search = 0;
        while let Some(pos) = code[search..].find(root) {
            let at = search + pos;
            search = at + root.len();
            let prev = if at > 0 { bytes[at - 1] } else { b' ' };
            if prev.is_ascii_alphanumeric() || prev == b'_' || prev == b':' {
                continue;
            }
            if use_spans.iter().any(|&(s, e)| at >= s && at < e) {
                continue;
            }
            let path: String =
                code[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            paths.push((at, path.trim_end_matches(':').to_string()));
        }
    }
    // Paths in code that start from a name (a child module, if `resolve` finds one).
    let mut search = 0;
    while let Some(pos) = code[search..].find("::") {
        let end = search + pos;
        search = end + 2;
        let start = code[..end].rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
        let before = code[..start].trim_end();
        if start == end || before.ends_with("::") || use_spans.iter().any(|&(s, e)| start >= s && start < e) {
            continue;
        }
        let name = &code[start..end];
        if !matches!(name, "crate" | "super" | "self") {
            paths.push((start, name.to_string()));
        }
    }
    paths
}

/// The known module a path names: the longest known prefix of its absolute form.
fn resolve(path: &str, here: &Module, known: &BTreeSet<Module>) -> Option<Module> {
    let mut segments = path.split("::").filter(|s| !s.is_empty());
    let mut absolute: Module = match segments.next()? {
        "crate" => Vec::new(),
        "self" => here.clone(),
        "super" => {
            let mut m = here.clone();
            m.pop();
            m
        }
        // A path from a child module of `here` (`use model::Webhook;` in `webhook/mod.rs`).
        first => {
            let mut child = here.clone();
            child.push(first.to_string());
            if !known.contains(&child) {
                return None;
            }
            child
        }
    };
    for s in segments {
        if s == "super" {
            absolute.pop();
        } else {
            absolute.push(s.to_string());
        }
    }
    (0..=absolute.len()).rev().map(|n| absolute[..n].to_vec()).find(|m| known.contains(m))
}

/// The modules each file's module uses (`file module -> used modules`), and the forbidden
/// names each mentions.
fn dependencies(files: &BTreeMap<String, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let known: BTreeSet<Module> = files.keys().map(|p| module_of(p)).collect();
    let mut graph = BTreeMap::new();
    for (path, src) in files {
        let file_module = module_of(path);
        let code = code_only(src);
        let inline = inline_modules(&code);
        let mut uses = BTreeSet::new();
        for (at, p) in relative_paths(&code) {
            // Inside `mod tests { .. }`, `super` is the file's module.
            let mut here = file_module.clone();
            for (name, start, end) in &inline {
                if at > *start && at < *end {
                    here.push(name.clone());
                }
            }
            if let Some(target) = resolve(&p, &here, &known)
                && target != file_module
            {
                uses.insert(target);
            }
        }
        graph.insert(file_module, uses);
    }
    graph
}

fn rank(layer: &str) -> Option<u8> {
    LAYERS.iter().find(|(name, _)| *name == layer).map(|(_, r)| *r)
}

/// Every import that points up or sideways between layers, as "from -> to".
fn layer_violations(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
    let mut found = Vec::new();
    for (from, targets) in graph {
        let Some(from_layer) = from.first() else { continue };
        for to in targets {
            let Some(to_layer) = to.first() else { continue };
            let allowed =
                from_layer == to_layer || matches!((rank(from_layer), rank(to_layer)), (Some(f), Some(t)) if t < f);
            if !allowed {
                found.push(format!("{} -> {}", from.join("::"), to.join("::")));
            }
        }
    }
    found
}

/// A cycle among the modules, if there is one, as the modules along it.
fn find_cycle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<String>> {
    fn visit(
        m: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, u8>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<String>> {
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for next in graph.get(m).into_iter().flatten() {
            match state.get(next).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|s| s == next).unwrap_or(0);
                    let mut cycle: Vec<String> = stack[from..].iter().map(|s| s.join("::")).collect();
                    cycle.push(next.join("::"));
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(m.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in graph.keys() {
        if state.get(m).copied().unwrap_or(0) == 0
            && let Some(c) = visit(m, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

/// Names a pure layer may not mention, as "file: name".
fn forbidden_names(files: &BTreeMap<String, String>) -> Vec<String> {
    let mut found = Vec::new();
    for (path, src) in files {
        let layer = module_of(path).first().cloned().unwrap_or_default();
        let Some((_, names)) = FORBIDDEN.iter().find(|(l, _)| *l == layer) else { continue };
        let code = code_only(src);
        for name in *names {
            let hit = code.match_indices(name).any(|(at, _)| {
                let prev = code[..at].chars().last().unwrap_or(' ');
                !(prev.is_alphanumeric() || prev == '_')
            });
            if hit {
                found.push(format!("{path}: {name}"));
            }
        }
    }
    found
}

fn read_sources(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read src").flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if path.is_dir() {
            read_sources(&path, &format!("{prefix}{name}/"), out);
        } else if name.ends_with(".rs") {
            out.insert(format!("{prefix}{name}"), std::fs::read_to_string(&path).expect("read file"));
        }
    }
}

fn shared_sources() -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    read_sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), "", &mut files);
    files
}

#[test]
fn layers_import_only_downwards() {
    let files = shared_sources();
    let graph = dependencies(&files);
    for top in graph.keys().filter_map(|m| m.first()) {
        assert!(rank(top).is_some(), "module {top} is in no layer: add it to LAYERS and lib.rs");
    }
    let violations = layer_violations(&graph);
    assert!(violations.is_empty(), "imports against the layers:\n{}", violations.join("\n"));
}

#[test]
fn no_module_imports_itself_in_a_circle() {
    let graph = dependencies(&shared_sources());
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn pure_layers_name_no_io() {
    let found = forbidden_names(&shared_sources());
    assert!(found.is_empty(), "I/O named in a pure layer:\n{}", found.join("\n"));
}

#[test]
fn files_are_small_and_the_root_is_short() {
    let files = shared_sources();
    for (path, src) in &files {
        let lines = src.lines().count();
        assert!(lines <= MAX_FILE_LINES, "{path} has {lines} lines (at most {MAX_FILE_LINES})");
    }
    let root = code_only(&files["lib.rs"]);
    let modules =
        root.lines().filter(|l| l.trim_start().starts_with("pub mod ") || l.trim_start().starts_with("mod ")).count();
    assert!(modules <= MAX_ROOT_MODULES, "lib.rs declares {modules} modules (at most {MAX_ROOT_MODULES})");
}

/// The checker itself, on made-up crates: each rule can fail.
mod checker {
    use super::*;

    fn crate_of(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files.iter().map(|(p, s)| (p.to_string(), s.to_string())).collect()
    }

    #[test]
    fn use_trees_expand_to_every_path() {
        let mut got = expand_use_tree("crate::domain::{error::DomainError, ids::{self, X}, y as z}");
        got.sort();
        assert_eq!(
            got,
            ["crate::domain::error::DomainError", "crate::domain::ids", "crate::domain::ids::X", "crate::domain::y"]
        );
    }

    #[test]
    fn an_upward_import_is_found_in_a_use_tree_and_in_code() {
        let files = crate_of(&[
            ("lib.rs", "pub mod domain; pub mod app;"),
            ("domain/mod.rs", "pub mod event;"),
            ("domain/event.rs", "use crate::{app::ingest, domain::ids};"),
            ("domain/ids.rs", "fn f() { crate::app::ingest::run(); }"),
            ("app/mod.rs", "pub mod ingest;"),
            ("app/ingest.rs", "use crate::domain::event::Event;"),
        ]);
        let v = layer_violations(&dependencies(&files));
        assert_eq!(v, ["domain::event -> app::ingest", "domain::ids -> app::ingest"]);
    }

    #[test]
    fn app_and_adapters_may_not_meet() {
        let files = crate_of(&[
            ("app/dispatch.rs", "use crate::adapters::sqs::Queue;"),
            ("adapters/sqs.rs", "use crate::ports::queue::Queue;"),
            ("ports/queue.rs", ""),
        ]);
        assert_eq!(layer_violations(&dependencies(&files)), ["app::dispatch -> adapters::sqs"]);
    }

    #[test]
    fn a_cycle_is_found_and_super_in_a_test_module_is_not_one() {
        let files = crate_of(&[
            ("domain/a.rs", "use super::b::B; #[cfg(test)] mod tests { use super::*; }"),
            ("domain/b.rs", "// use crate::domain::a;\nconst S: &str = \"crate::domain::a\";"),
        ]);
        assert_eq!(find_cycle(&dependencies(&files)), None, "comments, strings and tests' super are no edges");
        let files =
            crate_of(&[("domain/a.rs", "use super::b::B;"), ("domain/b.rs", "fn f() -> crate::domain::a::A {}")]);
        assert_eq!(
            find_cycle(&dependencies(&files)),
            Some(vec!["domain::a".into(), "domain::b".into(), "domain::a".into()])
        );
    }

    #[test]
    fn paths_from_a_child_module_count() {
        let files = crate_of(&[
            ("domain/webhook/mod.rs", "pub mod model; pub use model::Webhook;"),
            ("domain/webhook/model.rs", "pub struct Webhook(crate::domain::auth::Auth);"),
            (
                "domain/auth.rs",
                "fn f() { webhook_like::x(); } const W: Option<crate::domain::webhook::Webhook> = None;",
            ),
        ]);
        assert_eq!(
            find_cycle(&dependencies(&files)),
            Some(vec![
                "domain::auth".into(),
                "domain::webhook".into(),
                "domain::webhook::model".into(),
                "domain::auth".into()
            ])
        );
    }

    #[test]
    fn io_in_a_pure_layer_is_found() {
        let files = crate_of(&[
            ("domain/catalog.rs", "fn load(p: &str) { std::fs::read_to_string(p); }"),
            ("adapters/sqs.rs", "use aws_sdk_sqs::Client;"),
        ]);
        assert_eq!(forbidden_names(&files), ["domain/catalog.rs: std::fs"]);
    }
}
