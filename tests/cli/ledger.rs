//! Nightly runs with the sent ledger: late data, skipped nights, re-runs, crashes, the lock.

use std::collections::BTreeSet;

use super::{Fixture, EV_HEADER, TX_HEADER};

const ASK: &str = "trigger:\n  purchase: {}\nreentry: always\nsteps:\n  - id: ask\n    send: {channel: email, template: ask}\n    timeout: {after: 4d, end: no_reply}\n    on:\n      - {answer: yes, goto: thanks}\n  - id: thanks\n    send: {channel: email, template: thanks}\n";

fn day(n: u32) -> String {
    let d = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap() + chrono::Duration::days(i64::from(n));
    d.format("%Y-%m-%d").to_string()
}

/// CSV lines with the day (from 2025-03-01) they happen on.
type Dated = Vec<(u32, String)>;

/// Purchases every few days per customer; answers one day after some asks.
fn history() -> (Dated, Dated) {
    let mut tx = Vec::new();
    let mut ev = Vec::new();
    for c in 0..6u32 {
        for k in 0..6u32 {
            let d = 1 + c + k * 5;
            if d > 32 {
                continue;
            }
            tx.push((d, format!("C{c},{}T10:00:00Z,o{c}_{k},p,books,1,10,web", day(d))));
            if (c + k) % 2 == 0 {
                ev.push((d + 1, format!("C{c},{}T12:00:00Z,response,ask,ask,yes,,", day(d + 1))));
            }
        }
    }
    (tx, ev)
}

fn write_known(f: &Fixture, night: u32, events_delay: u32) {
    let (tx, ev) = history();
    let mut t = TX_HEADER.to_owned();
    for (d, l) in tx.iter().filter(|(d, _)| *d <= night) {
        let _ = d;
        t.push_str(l);
        t.push('\n');
    }
    let mut e = EV_HEADER.to_owned();
    for (_, l) in ev.iter().filter(|(d, _)| *d + events_delay <= night) {
        e.push_str(l);
        e.push('\n');
    }
    f.file("tx.csv", &t).file("events.csv", &e);
}

fn ids(jsonl: &str) -> Vec<(String, String, String)> {
    jsonl
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().unwrap().to_owned();
            (s("message_id"), s("send_at"), s("status"))
        })
        .collect()
}

#[test]
fn thirty_nights_with_late_events_and_a_skipped_night_emit_every_message_exactly_once() {
    let f = Fixture::new();
    f.dialogue("ask", ASK);
    let mut emitted = Vec::new();
    let mut statuses = BTreeSet::new();
    for night in 1..=30 {
        if night == 12 {
            continue; // the cron job did not run
        }
        write_known(&f, night, 3);
        let out = f.run(&["--as-of", &day(night), "--ledger", "sent.jsonl", "--format", "jsonl", "-o", "night.jsonl"]);
        assert_eq!(out.code, 0, "night {night}: {}", out.stderr);
        if night == 20 {
            std::fs::copy(f.path("night.jsonl"), f.path("night-20.jsonl")).unwrap();
        }
        for (id, send_at, status) in ids(&super::read(&f.path("night.jsonl"))) {
            assert!(send_at.as_str() <= format!("{}T23:59:59Z", day(night)).as_str(), "nothing from the future");
            statuses.insert(status);
            emitted.push((id, send_at));
        }
    }
    let unique: BTreeSet<&String> = emitted.iter().map(|(id, _)| id).collect();
    assert_eq!(unique.len(), emitted.len(), "no message emitted twice");
    assert!(statuses.contains("late") && statuses.contains("due"), "{statuses:?}");
    // Everything a full replay of what the last night knew plans up to that night.
    let full = f.run(&["--as-of", &day(30), "--format", "jsonl"]);
    let planned: BTreeSet<String> = ids(&full.stdout).into_iter().map(|(id, _, _)| id).collect();
    let got: BTreeSet<String> = emitted.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(planned.difference(&got).collect::<Vec<_>>(), Vec::<&String>::new(), "nothing lost");
    assert!(got.is_subset(&planned));
    // Re-running the last night emits nothing new.
    let again = f.run(&["--as-of", &day(30), "--ledger", "sent.jsonl", "--format", "jsonl"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, "");
    // A lost night's file can be written again, whole, recording nothing: the same rows, even
    // though the inputs have grown since (a replay up to that night finds the same messages).
    let before = super::read(&f.path("sent.jsonl"));
    let lost = super::read(&f.path("night-20.jsonl"));
    assert!(!lost.is_empty());
    let re = f.run(&["--ledger", "sent.jsonl", "--reemit", &day(20), "--format", "jsonl"]);
    assert_eq!(re.code, 0, "{}", re.stderr);
    assert_eq!(re.stdout, lost, "the night's file again, row for row");
    let n = lost.lines().count();
    assert!(
        re.stderr.contains(&format!("re-emitted {n} of the {n} messages the ledger recorded on {}", day(20))),
        "{}",
        re.stderr
    );
    assert_eq!(super::read(&f.path("sent.jsonl")), before);
    // In CSV too, with the plan's columns.
    let csv = f.run(&["--ledger", "sent.jsonl", "--reemit", &day(20), "-q"]);
    assert_eq!((csv.code, csv.stderr.as_str()), (0, ""));
    assert!(csv.stdout.starts_with("message_id,customer_id,dialogue,"), "{}", csv.stdout);
    assert_eq!(csv.stdout.lines().count(), n + 1);
    // As mail, the count says which are not in the folder (here no customer has an address).
    for t in ["ask", "thanks"] {
        f.file(&format!("templates/{t}.yaml"), "email:\n  subject: s\n  text: t\n");
    }
    let mail = f.run(&[
        "--ledger",
        "sent.jsonl",
        "--reemit",
        &day(20),
        "--format",
        "eml",
        "-o",
        "mail",
        "--mail-from",
        "a@b.example",
    ]);
    assert_eq!(mail.code, 0, "{}", mail.stderr);
    assert!(
        mail.stderr.contains(&format!(
            "re-emitted {n} of the {n} messages the ledger recorded on {} ({n} of them not email, so not in this output)",
            day(20)
        )),
        "{}",
        mail.stderr
    );
    // A night the ledger has nothing of: said, not silent.
    let none = f.run(&["--ledger", "sent.jsonl", "--reemit", "2025-01-15", "--as-of", "2025-01-15"]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(
        none.stderr.contains(&format!(
            "warning: the ledger records no message on 2025-01-15 (it holds nights {} to {}): there was nothing to re-emit, or that night never ran",
            day(1),
            day(30)
        )),
        "{}",
        none.stderr
    );
    // A night replayed as another moment is refused.
    let other = f.run(&["--ledger", "sent.jsonl", "--reemit", &day(20), "--as-of", &day(21)]);
    assert_eq!(other.code, 2);
    assert!(other.stderr.contains("replays the inputs as of that night"), "{}", other.stderr);
    // Messages the replay no longer makes (the dialogue renamed) are said to be missing.
    std::fs::remove_file(f.path("dialogues/ask.yaml")).unwrap();
    f.dialogue("ask_v2", ASK);
    let gone = f.run(&["--ledger", "sent.jsonl", "--reemit", &day(20), "-q", "--format", "jsonl"]);
    assert_eq!((gone.code, gone.stdout.as_str()), (0, ""));
    assert!(
        gone.stderr.starts_with(&format!(
            "warning: {n} of the messages the ledger recorded on {} are not produced by a replay of these inputs",
            day(20)
        )),
        "{}",
        gone.stderr
    );
}

#[test]
fn messages_older_than_max_late_are_expired_not_sent() {
    let f = Fixture::new();
    f.dialogue("ask", ASK);
    write_known(&f, 30, 0);
    // First run with a ledger ever, at night 30: the early asks are weeks old.
    let out = f.run(&["--as-of", &day(30), "--ledger", "sent.jsonl", "--format", "jsonl", "--include-suppressed"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = ids(&out.stdout);
    let expired: Vec<_> = rows.iter().filter(|(_, _, s)| s == "expired").collect();
    assert!(!expired.is_empty());
    assert!(out.stdout.contains("expired: due "), "{}", out.stdout);
    let counted = format!(", {} expired (due more than 7d before this night, not sent)", expired.len());
    assert!(out.stderr.contains(&counted), "{}", out.stderr);
    // The summary counts them whether or not they are written.
    let without = f.run(&["--as-of", &day(30), "--ledger", "other.jsonl", "--format", "jsonl"]);
    assert_eq!(without.code, 0, "{}", without.stderr);
    assert!(!without.stdout.contains("\"expired\""), "{}", without.stdout);
    assert!(without.stderr.contains(&counted), "{}", without.stderr);
    // Expired messages are not recorded: the ledger holds only what was emitted to be sent.
    let recorded = super::read(&f.path("sent.jsonl"));
    for (id, _, _) in &expired {
        assert!(!recorded.contains(id.as_str()));
    }
    // The next nights do not count (or write) again what was past --max-late before the
    // ledger's first night: from before the ledger, not lost since. A re-run of the first
    // night neither.
    for night in [30, 31, 32] {
        let next =
            f.run(&["--as-of", &day(night), "--ledger", "sent.jsonl", "--format", "jsonl", "--include-suppressed"]);
        assert_eq!(next.code, 0, "{}", next.stderr);
        assert!(!next.stdout.contains("\"expired\""), "night {night}: {}", next.stdout);
        assert!(
            next.stderr.contains(", 0 expired (due more than 7d before this night"),
            "night {night}: {}",
            next.stderr
        );
    }
}

#[test]
fn a_second_run_on_the_same_ledger_fails_at_once() {
    let f = Fixture::new();
    f.dialogue("ask", ASK);
    write_known(&f, 5, 0);
    let mut ledger = kairos::ledger::Ledger::open(&f.path("sent.jsonl")).unwrap();
    let _held = ledger.lock().unwrap();
    let out = f.run(&["--as-of", &day(5), "--ledger", "sent.jsonl", "-o", "plan.csv"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("another kairos run is using the ledger") && out.stderr.contains("nothing was emitted"),
        "{}",
        out.stderr
    );
    assert!(!f.path("plan.csv").exists());
}

/// stdout closed by its reader (`| head` quitting, a mail tool that died): a plain run ends
/// quietly with 0, as pipes expect; a ledger run recorded nothing, and says so with 2.
#[test]
fn a_closed_output_pipe_fails_a_ledger_run_and_records_nothing() {
    let f = Fixture::new();
    f.dialogue("ask", ASK);
    write_known(&f, 8, 0);
    let closed = |args: &[&str]| {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut all = vec!["run", "--dialogues", "dialogues", "-t", "tx.csv", "-e", "events.csv", "--format", "jsonl"];
        all.extend(args);
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("kairos"))
            .current_dir(f.path(""))
            .args(&all)
            .stdout(writer)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stderr).unwrap())
    };
    assert_eq!(closed(&["--as-of", &day(8)]), (Some(0), String::new()));
    let (code, stderr) = closed(&["--as-of", &day(8), "--ledger", "sent.jsonl", "-q"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "error: the output was closed before the plan was written whole; nothing was recorded in the ledger sent.jsonl (the next run emits these messages again)\n"
    );
    assert!(!f.path("sent.jsonl").exists(), "nothing recorded: the ledger the run made is gone again");
}

/// A run that fails before it records a night leaves no ledger it made (a mistyped path in a
/// cron job), and an existing one as it was.
#[test]
fn a_failed_run_leaves_no_new_ledger_behind() {
    let f = Fixture::new();
    f.dialogue("ask", ASK);
    write_known(&f, 5, 0);
    let good = std::fs::read_to_string(f.path("tx.csv")).unwrap();
    f.file("tx.csv", &format!("{good}C9,not a time,o9,p,c,1,1,web\n"));
    let out = f.run(&["--as-of", &day(5), "--ledger", "new.jsonl", "-o", "plan.csv"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("not a time"), "{}", out.stderr);
    assert!(!f.path("new.jsonl").exists(), "no empty ledger left");
    f.file("old.jsonl", "");
    let out = f.run(&["--as-of", &day(5), "--ledger", "old.jsonl", "-o", "plan.csv"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(f.path("old.jsonl").exists(), "a ledger the run did not make stays");
    // A good night with nothing to send still makes the ledger: the night is recorded.
    f.file("tx.csv", &good);
    let out = f.run(&["--as-of", "2020-01-01", "--ledger", "new.jsonl", "-o", "plan.csv"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(f.path("new.jsonl").exists());
}

#[test]
fn a_crash_after_the_output_and_before_the_ledger_emits_the_same_ids_again() {
    let f = Fixture::new();
    f.dialogue("ask", ASK);
    write_known(&f, 8, 0);
    let first = f.run(&["--as-of", &day(8), "--ledger", "sent.jsonl", "--format", "jsonl"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    // Simulate the crash: the output went out but the ledger append was lost (and a torn
    // half line was left behind).
    std::fs::write(f.path("sent.jsonl"), "{\"message_id\":\"0123").unwrap();
    let again = f.run(&["--as-of", &day(8), "--ledger", "sent.jsonl", "--format", "jsonl"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let a: Vec<String> = ids(&first.stdout).into_iter().map(|(id, _, _)| id).collect();
    let b: Vec<String> = ids(&again.stdout).into_iter().map(|(id, _, _)| id).collect();
    assert_eq!(a, b, "the same messages, with the same ids");
    // And now they are recorded: a third run emits nothing.
    let third = f.run(&["--as-of", &day(8), "--ledger", "sent.jsonl", "--format", "jsonl"]);
    assert_eq!(third.stdout, "");
}

#[test]
fn recorded_messages_the_replay_no_longer_produces_are_reported_never_resent() {
    let f = Fixture::new();
    f.dialogue("ask", ASK);
    write_known(&f, 8, 0);
    let first = f.run(&["--as-of", &day(8), "--ledger", "sent.jsonl", "--format", "jsonl"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let recorded = ids(&first.stdout).len();
    // The dialogue changes mid-flight: its first step is renamed, so its ids change.
    f.dialogue("ask", &ASK.replace("id: ask", "id: question"));
    let out = f.run(&["--as-of", &day(9), "--ledger", "sent.jsonl", "--format", "jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("recorded messages are not produced by today's replay (dialogues or data changed)"),
        "{}",
        out.stderr
    );
    assert!(recorded > 0);
    let explain = f.cmd(&[
        "explain",
        "C0",
        "-d",
        "dialogues",
        "-t",
        "tx.csv",
        "-e",
        "events.csv",
        "--as-of",
        &day(9),
        "--ledger",
        "sent.jsonl",
    ]);
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    assert!(explain.stdout.contains("\nledger:\n"), "{}", explain.stdout);
    assert!(explain.stdout.contains("not produced by today's replay"), "{}", explain.stdout);
}

#[test]
fn killed_at_any_point_a_nightly_run_loses_nothing_and_repeats_only_same_ids() {
    // A night with enough rows that a run takes a while; the process is killed (SIGKILL) at
    // several points, then the night is run again to completion.
    let f = Fixture::new();
    f.dialogue("ask", ASK);
    let mut t = TX_HEADER.to_owned();
    for c in 0..3000u32 {
        for k in 0..4u32 {
            t.push_str(&format!("C{c},{}T10:00:00Z,o{c}_{k},p,books,1,10,web\n", day(1 + (c + k * 3) % 9)));
        }
    }
    f.file("tx.csv", &t).file("events.csv", EV_HEADER);
    let args =
        ["run", "-d", "dialogues", "-t", "tx.csv", "--as-of", &day(10), "--ledger", "sent.jsonl", "--format", "jsonl"];
    let mut outputs = Vec::new();
    for (k, delay_ms) in [0u64, 2, 10, 30, 80, 200].into_iter().enumerate() {
        let out = format!("kill-{k}.jsonl");
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kairos"))
            .current_dir(f.dir.path())
            .args(args)
            .args(["-o", &out, "-q"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        if f.path(&out).exists() {
            outputs.push(super::read(&f.path(&out)));
        }
    }
    let last = f.run(&["--as-of", &day(10), "--ledger", "sent.jsonl", "--format", "jsonl"]);
    assert_eq!(last.code, 0, "{}", last.stderr);
    outputs.push(last.stdout);
    // (On Linux the plan is an unnamed O_TMPFILE until complete, so even a SIGKILL leaves no temp file.)
    // Everything the night plans went out at least once, under its own id; the ledger holds
    // each id once.
    let planned: BTreeSet<String> =
        ids(&f.run(&["--as-of", &day(10), "--format", "jsonl"]).stdout).into_iter().map(|(id, _, _)| id).collect();
    let emitted: BTreeSet<String> = outputs.iter().flat_map(|o| ids(o)).map(|(id, _, _)| id).collect();
    let due: BTreeSet<String> = ids(&f.run(&["--as-of", &day(10), "--format", "jsonl"]).stdout)
        .into_iter()
        .filter(|(_, send_at, _)| send_at.as_str() >= day(3).as_str())
        .map(|(id, _, _)| id)
        .collect();
    assert!(due.is_subset(&emitted), "nothing lost within max-late");
    assert!(emitted.is_subset(&planned));
    let ledger = super::read(&f.path("sent.jsonl"));
    let recorded: Vec<&str> = ledger.lines().collect();
    let unique: BTreeSet<&str> = recorded.iter().map(|l| &l[15..47]).collect();
    assert_eq!(unique.len(), recorded.len(), "each id recorded once");
    assert_eq!(f.run(&["--as-of", &day(10), "--ledger", "sent.jsonl", "--format", "jsonl"]).stdout, "");
}

#[test]
fn an_answer_quoting_a_recorded_message_reaches_its_dialogue_after_a_change() {
    let f = Fixture::new();
    f.dialogue("ask", ASK);
    f.file("tx.csv", &format!("{TX_HEADER}C1,{}T10:00:00Z,o1,p,books,1,10,web\n", day(1)))
        .file("events.csv", EV_HEADER);
    let first = f.run(&["--as-of", &day(1), "--ledger", "sent.jsonl", "--format", "jsonl"]);
    let (id, _, _) = ids(&first.stdout).remove(0);
    // The step is renamed (today's replay gives the message another id); the customer
    // answers the message they really got.
    f.dialogue("ask", &ASK.replace("id: ask", "id: question"));
    f.file("events.csv", &format!("{EV_HEADER}C1,{}T09:00:00Z,response,,,yes,{id},\n", day(2)));
    let out = f.run(&["--as-of", &day(2), "--ledger", "sent.jsonl", "--format", "jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("unknown message_id"), "{}", out.stderr);
    assert!(out.stdout.contains("\"step\":\"thanks\""), "the answer was taken: {}", out.stdout);
}

/// A stderr that cannot be written (`2>/dev/full`) after the plan and the ledger are
/// committed loses the summary, not the run: exit 0, the plan whole, every message recorded
/// (it panicked with exit 101, and a retry replaced the night's file with an empty plan).
/// `check` with such a stderr exits with its own code, never a panic's.
#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_stderr_after_the_commit_keeps_the_run() {
    let f = Fixture::new();
    f.dialogue("thanks", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: email, template: thanks}\n")
        .tx(&["C1,2025-01-01T10:00:00Z,o1,p,books,10", "C2,2025-01-02T10:00:00Z,o2,p,books,10"]);
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .current_dir(f.dir.path())
        .args(["run", "-d", "dialogues", "-t", "tx.csv", "--no-profile", "--no-templates", "--as-of", "2025-01-03"])
        .args(["--ledger", "sent.jsonl", "-o", "night.csv"])
        .stderr(full())
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(0));
    assert_eq!(std::fs::read_to_string(f.path("night.csv")).unwrap().lines().count(), 3, "header and two messages");
    assert_eq!(std::fs::read_to_string(f.path("sent.jsonl")).unwrap().lines().count(), 2);
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .current_dir(f.dir.path())
        .args(["check", "-d", "dialogues"])
        .stderr(full())
        .status()
        .unwrap();
    assert!(matches!(check.code(), Some(0..=2)), "{check:?}");
}

#[test]
fn a_night_before_the_ledgers_latest_is_refused() {
    let f = Fixture::new();
    f.dialogue("ask", ASK);
    write_known(&f, 30, 0);
    let run = |night: u32, extra: &[&str]| {
        let mut args = vec!["--as-of".to_owned(), day(night), "--ledger".into(), "sent.jsonl".into()];
        args.extend(["--format", "jsonl"].iter().chain(extra).map(|s| s.to_string()));
        f.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert_eq!(run(10, &[]).code, 0);
    let later = run(30, &["--include-suppressed"]);
    assert_eq!(later.code, 0, "{}", later.stderr);
    assert!(later.stdout.contains("\"expired\""), "night 30 gives up on some: {}", later.stdout);
    let recorded = super::read(&f.path("sent.jsonl"));
    // Night 20, after night 30, would send what night 30 called expired.
    let back = run(20, &["-o", "night20.jsonl"]);
    assert_eq!(back.code, 2, "{}", back.stderr);
    assert!(
        back.stderr.contains(&format!(
            "sent.jsonl: this ledger holds night {}, and this run's night is {}, before it; nothing was emitted",
            day(30),
            day(20)
        )),
        "{}",
        back.stderr
    );
    assert!(back.stderr.contains(&format!("`--reemit {}`", day(20))), "{}", back.stderr);
    assert!(!f.path("night20.jsonl").exists());
    assert_eq!(super::read(&f.path("sent.jsonl")), recorded, "nothing recorded");
    // The same night again is a re-run (nothing new), and rebuilding an earlier one is allowed.
    let again = run(30, &[]);
    assert_eq!((again.code, again.stdout.as_str()), (0, ""), "{}", again.stderr);
    let rebuilt = f.run(&["--ledger", "sent.jsonl", "--reemit", &day(10), "--as-of", &day(10), "--format", "jsonl"]);
    assert_eq!(rebuilt.code, 0, "{}", rebuilt.stderr);
    assert!(!rebuilt.stdout.is_empty());
}
