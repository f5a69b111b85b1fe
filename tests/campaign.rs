//! The bad-input campaign (issue 16): every case in `tests/campaign/cases.yaml` is a copy of
//! the project in `tests/campaign/base/` with some files replaced, added or removed, and one
//! kairos command line. For every case, whatever it expects, the run must
//!
//! - end within the time limit, with exit code 0, 1 or 2 (no abort, panic or signal);
//! - print no panic or backtrace text, no line longer than 2,000 characters (a huge bad value
//!   is cut, not echoed);
//! - leave every input byte for byte as it was (only the files the case lists under
//!   `outputs:` may appear or change) and no `.kairos-*` temp file anywhere;
//! - when it fails, print an `error:` naming something;
//!
//! and then exit with the case's `code` and print each of its `stderr:` strings (file:line,
//! field, value), and none of its `not_stderr:`. All failures are listed at the end.
//!
//! The binary is the one cargo built for the tests; `KAIROS_BIN=target/release/kairos cargo
//! test --test campaign` replays the campaign against the release build, and
//! `CAMPAIGN=name-prefix` replays only some cases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// Files written over the base project's (path relative to the project; `<<REPEAT n TEXT>>`
    /// in a body is TEXT n times).
    #[serde(default)]
    files: BTreeMap<String, String>,
    /// Base files removed.
    #[serde(default)]
    remove: Vec<String>,
    /// Folders created.
    #[serde(default)]
    dirs: Vec<String>,
    /// The arguments; default: `run` on the base project's four inputs, then `extra`.
    args: Option<Vec<String>>,
    #[serde(default)]
    extra: Vec<String>,
    /// Bytes for stdin.
    stdin: Option<String>,
    /// Run with stdout closed (`>&-`).
    #[serde(default)]
    closed_stdout: bool,
    /// Files the command may create or change.
    #[serde(default)]
    outputs: Vec<String>,
    code: i32,
    #[serde(default)]
    stderr: Vec<String>,
    #[serde(default)]
    not_stderr: Vec<String>,
    /// Strings the standard output must hold, and must not.
    #[serde(default)]
    stdout: Vec<String>,
    #[serde(default)]
    not_stdout: Vec<String>,
    /// Seconds (default 30).
    timeout: Option<u64>,
}

fn campaign_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("campaign")
}

/// A case's file body: `<<REPEAT n TEXT>>` is TEXT n times (`\\n` in TEXT a line break),
/// `<<HEX ff fe>>` those bytes (for input that is not UTF-8).
fn expand(body: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("<<") {
        let after = &rest[i + 2..];
        let (Some(end), true) = (after.find(">>"), after.starts_with("REPEAT ") || after.starts_with("HEX ")) else {
            out.extend_from_slice(&rest.as_bytes()[..i + 2]);
            rest = after;
            continue;
        };
        out.extend_from_slice(&rest.as_bytes()[..i]);
        let inner = &after[..end];
        if let Some(hex) = inner.strip_prefix("HEX ") {
            out.extend(hex.split_whitespace().map(|h| u8::from_str_radix(h, 16).expect("<<HEX xx>>")));
        } else {
            let (n, text) = inner["REPEAT ".len()..].split_once(' ').expect("<<REPEAT n TEXT>>");
            let text = text.replace("\\n", "\n");
            out.extend_from_slice(text.repeat(n.parse().expect("REPEAT count")).as_bytes());
        }
        rest = &after[end + 2..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir` (relative path) with a hash of its bytes.
fn snapshot(dir: &Path, rel: &Path, out: &mut BTreeMap<PathBuf, u64>) {
    let Ok(entries) = std::fs::read_dir(dir.join(rel)) else { return };
    for e in entries.flatten() {
        let r = rel.join(e.file_name());
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            snapshot(dir, &r, out);
        } else if ft.is_file() {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            out.insert(r, xxhash_rust::xxh3::xxh3_64(&bytes));
        }
    }
}

fn default_args() -> Vec<String> {
    ["run", "-d", "dialogues", "-t", "tx.csv", "-c", "customers.csv", "-e", "events.csv"].map(String::from).to_vec()
}

/// Runs one case; the list of what went wrong.
fn replay(bin: &Path, case: &Case) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    copy_dir(&campaign_dir().join("base"), &dir);
    for r in &case.remove {
        let p = dir.join(r);
        let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir_all(&p));
    }
    for d in &case.dirs {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    for (name, body) in &case.files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, expand(body)).unwrap();
    }
    let mut before = BTreeMap::new();
    snapshot(&dir, Path::new(""), &mut before);
    let mut args = case.args.clone().unwrap_or_else(default_args);
    args.extend(case.extra.iter().cloned());
    let mut cmd = if case.closed_stdout {
        let mut c = Command::new("sh");
        c.arg("-c").arg("exec \"$0\" \"$@\" >&-").arg(bin).args(&args);
        c
    } else {
        let mut c = Command::new(bin);
        c.args(&args);
        c
    };
    cmd.current_dir(&dir).stderr(Stdio::piped()).env_remove("RUST_BACKTRACE");
    if !case.closed_stdout {
        cmd.stdout(Stdio::piped());
    }
    cmd.stdin(if case.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = &case.stdin {
        use std::io::Write;
        let mut sin = child.stdin.take().unwrap();
        let input = expand(input);
        std::thread::spawn(move || {
            let _ = sin.write_all(&input);
        });
    }
    // Read both pipes while waiting, so a big output cannot block the child.
    let mut so = child.stdout.take();
    let mut se = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(s) = so.as_mut() {
            let _ = std::io::Read::read_to_end(s, &mut b);
        }
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut b);
        b
    });
    let limit = Duration::from_secs(case.timeout.unwrap_or(30));
    let start = Instant::now();
    let mut problems = Vec::new();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            problems.push(format!("still running after {}s (killed)", limit.as_secs()));
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap()).into_owned();
    if let Some(status) = status {
        match status.code() {
            None => problems.push(format!("killed by a signal: {status}")),
            Some(c) if !(0..=2).contains(&c) => problems.push(format!("exit code {c} (an abort or panic)")),
            Some(c) if c != case.code => problems.push(format!("exit code {c}, expected {}", case.code)),
            Some(_) => {}
        }
    }
    for bad in ["panicked", "RUST_BACKTRACE", "stack overflow", "internal error", "unreachable"] {
        if stderr.contains(bad) {
            problems.push(format!("stderr has `{bad}`"));
        }
    }
    if let Some(l) = stderr.lines().find(|l| l.chars().count() > 2000) {
        problems.push(format!("a stderr line of {} characters (a value echoed whole?)", l.chars().count()));
    }
    if case.code != 0 && !stderr.contains("error") {
        problems.push("failed without an `error`".to_owned());
    }
    for want in &case.stderr {
        if !stderr.contains(want.as_str()) {
            problems.push(format!("stderr lacks {want:?}"));
        }
    }
    for unwanted in &case.not_stderr {
        if stderr.contains(unwanted.as_str()) {
            problems.push(format!("stderr has {unwanted:?}"));
        }
    }
    for want in &case.stdout {
        if !stdout.contains(want.as_str()) {
            problems.push(format!("stdout lacks {want:?}"));
        }
    }
    for unwanted in &case.not_stdout {
        if stdout.contains(unwanted.as_str()) {
            problems.push(format!("stdout has {unwanted:?}"));
        }
    }
    let mut after = BTreeMap::new();
    snapshot(&dir, Path::new(""), &mut after);
    let allowed = |p: &Path| case.outputs.iter().any(|o| p.starts_with(o));
    for (p, h) in &before {
        match after.get(p) {
            None if !allowed(p) => problems.push(format!("input {} was removed", p.display())),
            Some(h2) if h2 != h && !allowed(p) => problems.push(format!("input {} was changed", p.display())),
            _ => {}
        }
    }
    for p in after.keys() {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with(".kairos-") {
            problems.push(format!("temp file {} left behind", p.display()));
        } else if !before.contains_key(p) && !allowed(p) {
            problems.push(format!("unexpected new file {}", p.display()));
        }
    }
    if !problems.is_empty() {
        let cut: String = stderr.chars().take(3000).collect();
        problems.push(format!("--- args: {args:?}\n--- stderr:\n{cut}"));
    }
    problems
}

#[test]
fn the_bad_input_campaign() {
    // Cases run in their own temporary folders: a relative KAIROS_BIN (the README's
    // `target/release/kairos`) is taken from where cargo runs the test, the package root.
    let bin = std::env::var_os("KAIROS_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_kairos")),
        |b| std::fs::canonicalize(&b).unwrap_or_else(|e| panic!("KAIROS_BIN={}: {e}", PathBuf::from(&b).display())),
    );
    let text = std::fs::read_to_string(campaign_dir().join("cases.yaml")).unwrap();
    let cases: Vec<Case> = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("cases.yaml: {e}"));
    let mut names = std::collections::HashSet::new();
    for c in &cases {
        assert!(names.insert(c.name.as_str()), "two cases named {}", c.name);
    }
    let only = std::env::var("CAMPAIGN").ok();
    let selected: Vec<&Case> = cases.iter().filter(|c| only.as_deref().is_none_or(|o| c.name.starts_with(o))).collect();
    assert!(only.is_some() || selected.len() >= 150, "the campaign has only {} cases", selected.len());
    // Two at a time: the machine is shared.
    let failures: Vec<(String, Vec<String>)> = std::thread::scope(|s| {
        let chunks: Vec<Vec<&Case>> = {
            let mut v = vec![Vec::new(), Vec::new()];
            for (i, c) in selected.iter().enumerate() {
                v[i % 2].push(*c);
            }
            v
        };
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let bin = &bin;
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|c| (c.name.clone(), replay(bin, c)))
                        .filter(|(_, p)| !p.is_empty())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let report: String = failures.iter().map(|(n, p)| format!("\n== {n}\n  {}\n", p.join("\n  "))).collect();
    assert!(failures.is_empty(), "{} of {} cases failed:{report}", failures.len(), selected.len());
}
