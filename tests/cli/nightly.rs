//! Nightly runs: `--as-of D --due` for every day of a period emits exactly the messages of one
//! full run over that period, none twice, none missing.

use std::collections::BTreeMap;

use super::Fixture;

fn ids_and_dates(csv_text: &str) -> Vec<(String, String)> {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    r.records().map(|x| x.unwrap()).map(|x| (x[0].to_owned(), x[8].to_owned())).collect()
}

#[test]
fn daily_due_runs_add_up_to_the_full_run() {
    let f = Fixture::new();
    let (tx, ev) = super::outputs::synthetic(&f, 40, 11);
    f.file("tx.csv", &format!("{}{}\n", super::TX_HEADER, tx.join("\n")));
    f.file("events.csv", &format!("{}{}\n", super::EV_HEADER, ev.join("\n")));
    let start = chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
    let days = 60;
    let end = start + chrono::Duration::days(days - 1);
    let full = f.run(&["--as-of", &end.to_string()]);
    assert_eq!(full.code, 0, "{}", full.stderr);
    let first = format!("{start}T00:00:00Z");
    let last = format!("{end}T23:59:59Z");
    let mut expected: Vec<(String, String)> =
        ids_and_dates(&full.stdout).into_iter().filter(|(_, at)| *at >= first && *at <= last).collect();
    expected.sort();
    assert!(expected.len() > 30, "the period should hold plenty of messages");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut got = Vec::new();
    for k in 0..days {
        let day = start + chrono::Duration::days(k);
        let out = f.run(&["--as-of", &day.to_string(), "--due", "--quiet"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        for (id, at) in ids_and_dates(&out.stdout) {
            assert!(at.starts_with(&day.to_string()), "{id} at {at} emitted on {day}");
            *seen.entry(id.clone()).or_default() += 1;
            got.push((id, at));
        }
    }
    assert!(seen.values().all(|&n| n == 1), "a message was emitted twice");
    got.sort();
    assert_eq!(got, expected);
}

#[test]
fn since_selects_a_window() {
    let f = Fixture::new();
    let (tx, ev) = super::outputs::synthetic(&f, 30, 4);
    f.file("tx.csv", &format!("{}{}\n", super::TX_HEADER, tx.join("\n")));
    f.file("events.csv", &format!("{}{}\n", super::EV_HEADER, ev.join("\n")));
    let out = f.run(&["--as-of", "2024-06-30", "--since", "2024-06-23"]);
    let rows = ids_and_dates(&out.stdout);
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|(_, at)| at.as_str() >= "2024-06-24" && at.as_str() <= "2024-06-30T23:59:59Z"),
        "{rows:?}"
    );
}

#[test]
fn shipped_json_schemas_are_current() {
    let f = Fixture::new();
    for (kind, file) in [("dialogue", "dialogue.schema.json"), ("config", "kairos.schema.json")] {
        let out = f.cmd(&["schema", kind]);
        assert_eq!(out.code, 0);
        let shipped = super::read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas").join(file));
        assert!(out.stdout == shipped, "schemas/{file} is stale: run `kairos schema {kind} > schemas/{file}`");
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert!(v["properties"].is_object());
    }
}

#[test]
fn completions_and_man_page_are_generated() {
    let f = Fixture::new();
    let out = f.cmd(&["completions", "bash"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("kairos"));
    let out = f.cmd(&["man"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains(".TH kairos"), "{}", &out.stdout[..200.min(out.stdout.len())]);
}

#[test]
fn generated_text_to_a_full_disk_or_a_closed_pipe_is_an_error_or_nothing() {
    let f = Fixture::new();
    for args in [&["completions", "zsh"][..], &["man"], &["schema", "dialogue"]] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let kairos = || std::process::Command::new(assert_cmd::cargo::cargo_bin("kairos"));
        let out = kairos().current_dir(f.path(".")).args(args).stdout(full).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: ") && !stderr.contains("panicked"), "{args:?}: {stderr}");
        // A reader that leaves at once (`| head -0`): not a failure.
        let mut child = kairos()
            .current_dir(f.path("."))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn man_writes_one_page_per_command() {
    let f = Fixture::new();
    let out = f.cmd(&["man", "--out", "man1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut pages: Vec<String> = std::fs::read_dir(f.path("man1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "kairos-check.1",
            "kairos-completions.1",
            "kairos-explain.1",
            "kairos-graph.1",
            "kairos-man.1",
            "kairos-preview.1",
            "kairos-report.1",
            "kairos-run.1",
            "kairos-schema.1",
            "kairos.1"
        ]
    );
    let run = std::fs::read_to_string(f.path("man1/kairos-run.1")).unwrap();
    assert!(run.contains("include\\-suppressed") && run.contains("policy_note"), "{run}");
}

#[test]
fn help_texts_match_the_behaviour() {
    let f = Fixture::new();
    let check = f.cmd(&["check", "--help"]).stdout;
    assert!(check.contains("profile file's header") && check.contains("events file's header"), "{check}");
    let run = f.cmd(&["run", "--help"]).stdout;
    assert!(!run.contains("suppressed_reason") && run.contains("policy_note"), "{run}");
}

#[test]
fn the_config_beside_the_dialogues_is_found_from_any_working_directory() {
    let f = Fixture::new();
    f.file("kairos.yaml", "policy:\n  send_windows:\n    email: {at: \"09:00\"}\n")
        .dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n")
        .tx(&["A,2025-01-01T15:00:00Z,o1,p1,books,10"]);
    let elsewhere = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("kairos")
        .unwrap()
        .current_dir(elsewhere.path())
        .args(["run", "-d"])
        .arg(f.path("dialogues"))
        .arg("-t")
        .arg(f.path("tx.csv"))
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.starts_with(&format!("kairos: config {}\n", f.path("kairos.yaml").display())), "{stderr}");
    // The send window applied: 09:00 the next day, not 15:00 the same day.
    assert!(stdout.contains(",2025-01-02T09:00:00Z,"), "{stdout}");
}
