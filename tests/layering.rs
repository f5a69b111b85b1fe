//! The architecture as a test: top-level modules of `src/` import each other only downwards
//! (no cycles), and only `cli` knows about clap. Counts every `crate::module` path in the source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix("src").unwrap().to_string_lossy().into_owned();
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

/// The top-level module a file belongs to (`engine/timers.rs` → `engine`).
fn module_of(rel: &str) -> String {
    rel.split(['/', '.']).next().unwrap().to_owned()
}

/// Top-level modules named after `crate::` in code (comments ignored).
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap();
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + 7..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
        // `use crate::{a, b}` style groups.
        if let Some(i) = code.find("crate::{") {
            for part in code[i + 8..].split([',', '}']) {
                let name: String = part.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    sources(Path::new("src"), &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in &files {
        let m = module_of(rel);
        if m == "lib" || m == "main" {
            continue;
        }
        let deps = g.entry(m.clone()).or_default();
        for d in imports(text) {
            if d != m {
                deps.insert(d);
            }
        }
    }
    g
}

#[test]
fn modules_form_no_import_cycle() {
    let g = graph();
    // Depth-first search for a back edge; report the cycle found.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut c = stack[i..].to_vec();
            c.push(n.to_owned());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_owned());
        for d in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, g, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for n in g.keys() {
        if let Some(c) = visit(n, &g, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}\nall imports: {g:#?}", c.join(" → "));
        }
    }
    // The leaves stay leaves.
    assert!(g["model"].iter().all(|d| d == "diag"), "model imports {:?}", g["model"]);
    assert!(g["diag"].is_empty(), "diag imports {:?}", g["diag"]);
    assert!(!g["input"].contains("config"), "input must not know the config");
}

#[test]
fn only_cli_knows_clap() {
    let mut files = Vec::new();
    sources(Path::new("src"), &mut files);
    for (rel, text) in files {
        if module_of(&rel) == "cli" || rel == "main.rs" {
            continue;
        }
        assert!(!text.contains("clap"), "{rel} mentions clap");
    }
}
