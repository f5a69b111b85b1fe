//! Replays every input saved under `fuzz/regressions/<target>/` through the same library call
//! as the cargo-fuzz target of that name (see fuzz/fuzz_targets/ and fuzz/README.md) and fails
//! naming each input that panics. An `Err` or a diagnostic is fine: only a panic is a finding.
//! `csv_agree` inputs also fail when the csv crate reads every record of the file but kairos
//! reports a field-count or unclosed-quote error, or reads a different number of rows.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The targets' own calls (fuzz/fuzz_targets/common.rs), compiled here too.
#[path = "../fuzz/fuzz_targets/common.rs"]
mod common;
use common::{replay, TARGETS};

fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("regressions")
}

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn fuzz_regressions_do_not_panic() {
    let root = regressions();
    // Every folder is a known target, so a misnamed one is not silently skipped.
    if let Ok(entries) = std::fs::read_dir(&root) {
        for e in entries {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(TARGETS.contains(&name.as_str()), "fuzz/regressions/{name} names no fuzz target");
        }
    }
    let mut replayed = 0;
    let mut failures = Vec::new();
    for target in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else { continue };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let dir = tempfile::tempdir().unwrap();
            replayed += 1;
            if let Err(e) = catch_unwind(AssertUnwindSafe(|| replay(target, dir.path(), &data))) {
                let name = file.strip_prefix(&root).unwrap_or(&file).display().to_string();
                failures.push(format!("{name}: {}", panic_message(&*e)));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {replayed} fuzz regressions panic:\n{}", failures.len(), failures.join("\n"));
}

/// Each target's call takes an ordinary input of its kind without a panic (so every call,
/// the template target's too, runs in `cargo test` even with no saved regression for it).
#[test]
fn every_target_takes_an_ordinary_input() {
    let inputs: [(&str, &str); 6] = [
        ("csv_table", "customer_id,timestamp,amount\nC1,2025-01-01T00:00:00Z,1.50\n"),
        ("csv_agree", "customer_id,timestamp,amount\nC1,2025-01-01T00:00:00Z,1.50\n"),
        ("yaml_dialogue", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n"),
        ("yaml_config", "timezone: UTC\n"),
        ("expr", "amount > 10 and customer.name == \"x\""),
        ("template", "email:\n  subject: \"Hi {{ customer.name }}\"\n  text: \"{{ event.product }}\"\n"),
    ];
    assert_eq!(inputs.map(|(t, _)| t), TARGETS);
    for (target, input) in inputs {
        let dir = tempfile::tempdir().unwrap();
        replay(target, dir.path(), input.as_bytes());
    }
}
