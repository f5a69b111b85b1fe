//! Output formats, determinism under shuffled input and thread counts, atomic files, stdout
//! hygiene.

use super::Fixture;

/// A small deterministic pseudo-random data set exercising every trigger kind.
pub fn synthetic(f: &Fixture, customers: usize, seed: u64) -> (Vec<String>, Vec<String>) {
    let mut state = seed;
    let mut next = move |n: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let cats = ["books", "baby", "garden", "coffee", "wine", "toys"];
    let mut tx = Vec::new();
    let mut ev = Vec::new();
    for c in 0..customers {
        let mut day = next(60);
        let orders = 1 + next(12);
        for o in 0..orders {
            day += 1 + next(if c % 3 == 0 { 90 } else { 20 });
            let lines = 1 + next(3);
            let ch = if next(2) == 0 { "web" } else { "store" };
            let hour = next(24);
            for l in 0..lines {
                let cat = cats[next(cats.len() as u64) as usize];
                tx.push(format!(
                    "C{c:03},2024-{:02}-{:02}T{:02}:00:00Z,O{c}_{o},P{},{cat},{},{}.{:02},{ch}",
                    1 + (day / 28).min(11),
                    1 + day % 28,
                    hour,
                    next(20) + l,
                    1 + next(3),
                    5 + next(300),
                    next(100)
                ));
            }
        }
        if next(4) == 0 {
            ev.push(format!("C{c:03},2024-06-{:02}T12:00:00Z,complaint,,,,,late", 1 + next(28)));
        }
        if next(5) == 0 {
            ev.push(format!("C{c:03},2024-07-{:02}T12:00:00Z,address_change,,,,,", 1 + next(28)));
        }
        if next(3) == 0 {
            ev.push(format!(
                "C{c:03},2024-06-{:02}T18:00:00Z,response,care,sorry,{},,",
                1 + next(28),
                ["yes", "no"][next(2) as usize]
            ));
        }
    }
    let dialogues = [
        ("gold", "priority: 3\ntrigger:\n  threshold: {measure: spend, reaches: 1000}\nsteps:\n  - id: s\n    send: {channel: email, template: gold}\n"),
        ("cross", "trigger:\n  new_category: {}\nreentry: 30d\nquiet_while: [care]\nsteps:\n  - id: s\n    send: {channel: email, template: cross}\n    wait: 3d\n  - id: t\n    send: {channel: sms, template: cross2}\n"),
        ("parents", "trigger:\n  life_change: {categories: [baby]}\nsteps:\n  - id: s\n    send: {channel: letter, template: baby}\n"),
        ("fan", "trigger:\n  frequent_buyer: {of: category, count: 3, within: 60d}\nreentry: always\nsteps:\n  - id: s\n    send: {channel: email, template: fan}\n"),
        ("vip", "trigger:\n  vip: {of: product, count: 2}\nsteps:\n  - id: s\n    send: {channel: phone, template: vip}\n"),
        ("near", "trigger:\n  one_away: {measure: orders, target: 6}\nsteps:\n  - id: s\n    send: {channel: email, template: near}\n"),
        ("web4", "trigger:\n  nth_order: {n: [1, 2, 3, 4], where: channel == \"web\"}\nreentry: always\nsteps:\n  - id: s\n    send: {channel: email, template: web}\n"),
        ("away", "trigger:\n  absence: {after: 45d}\nreentry: always\ngoals:\n  - {event: purchase, outcome: saved}\nsteps:\n  - id: s\n    send: {channel: email, template: miss}\n    escalate:\n      - {after: 10d, channel: sms, template: miss2}\n    timeout: {after: 10d, end: lapsed}\n"),
        ("awol", "trigger:\n  absence: {usual_gap: 2.0, min_orders: 3}\nwhen: spend(365d) > 200\nsteps:\n  - id: s\n    send: {channel: phone, template: awol}\n"),
        ("moved", "trigger:\n  address_change: {}\nsteps:\n  - id: s\n    send: {channel: letter, template: moved}\n"),
        ("care", "trigger:\n  event: {type: complaint, where: detail == \"late\"}\nsteps:\n  - id: sorry\n    send: {channel: email, template: sorry}\n    on:\n      - {answer: \"yes\", end: resolved}\n      - {answer: \"no\", goto: call}\n    timeout: {after: 7d, end: no_reply}\n  - id: call\n    send: {channel: phone, template: call}\n"),
    ];
    for (id, body) in dialogues {
        f.dialogue(id, body);
    }
    (tx, ev)
}

fn write_data(f: &Fixture, tx: &[String], ev: &[String]) {
    f.file("tx.csv", &format!("{}{}\n", super::TX_HEADER, tx.join("\n")));
    f.file("events.csv", &format!("{}{}\n", super::EV_HEADER, ev.join("\n")));
    let mut cust = "customer_id,name,email,phone,tier\n".to_owned();
    for c in 0..60 {
        cust.push_str(&format!(
            "C{c:03},Name {c},c{c}@example.com,+1555{c:04},{}\n",
            ["gold", "silver", "bronze"][c % 3]
        ));
    }
    f.file("customers.csv", &cust);
}

fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut s = seed;
    for i in (1..v.len()).rev() {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
        let j = ((s >> 33) as usize) % (i + 1);
        v.swap(i, j);
    }
}

#[test]
fn output_is_identical_for_shuffled_rows_and_any_thread_count() {
    let f = Fixture::new();
    let (mut tx, mut ev) = synthetic(&f, 60, 7);
    write_data(&f, &tx, &ev);
    let mut baseline = Vec::new();
    for format in ["csv", "json", "jsonl"] {
        let out = f.run(&["--format", format, "--threads", "1"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        baseline.push(out.stdout);
    }
    assert!(baseline[0].lines().count() > 100, "the fixture should plan plenty of messages");
    // Every dialogue fires somewhere in this data set.
    for d in ["gold", "cross", "parents", "fan", "vip", "near", "web4", "away", "awol", "moved", "care"] {
        assert!(baseline[0].contains(&format!(",{d},")), "{d} never fired");
    }
    for seed in [1, 2] {
        shuffle(&mut tx, seed);
        shuffle(&mut ev, seed + 10);
        write_data(&f, &tx, &ev);
        for (k, format) in ["csv", "json", "jsonl"].iter().enumerate() {
            for threads in ["1", "2", "3"] {
                let out = f.run(&["--format", format, "--threads", threads]);
                assert!(out.stdout == baseline[k], "{format} output changed with shuffled rows / {threads} threads");
            }
        }
    }
}

#[test]
fn golden_whole_run() {
    let f = Fixture::new();
    let (tx, ev) = synthetic(&f, 12, 3);
    write_data(&f, &tx, &ev);
    let out = f.run(&["--as-of", "2024-12-31"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("golden_run_csv", out.stdout);
    let out = f.run(&["--as-of", "2024-12-31", "--format", "jsonl"]);
    insta::assert_snapshot!("golden_run_jsonl", out.stdout);
}

/// CSV rows are written field by field for speed, JSONL through serde: both must agree.
#[test]
fn csv_and_jsonl_carry_the_same_fields() {
    let f = Fixture::new();
    let (tx, ev) = synthetic(&f, 15, 9);
    write_data(&f, &tx, &ev);
    let csv_out = f.run(&["--include-suppressed"]).stdout;
    let jsonl = f.run(&["--include-suppressed", "--format", "jsonl"]).stdout;
    let mut r = csv::Reader::from_reader(csv_out.as_bytes());
    let header = r.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let lines: Vec<&str> = jsonl.lines().collect();
    assert_eq!(rows.len(), lines.len());
    assert!(rows.len() > 50);
    for (row, line) in rows.iter().zip(lines) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v.as_object().unwrap().len(), header.len(), "the same fields, profile included");
        for (name, cell) in header.iter().zip(row.iter()) {
            let json = match &v[name] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            // CSV text that a spreadsheet would take for a formula carries a leading `'`.
            let json = if kairos::output::row::looks_like_formula(&json) { format!("'{json}") } else { json };
            assert_eq!(cell, json, "column {name}");
        }
    }
}

#[test]
fn output_file_is_written_whole_and_stdout_stays_empty() {
    let f = Fixture::new();
    let (tx, ev) = synthetic(&f, 20, 5);
    write_data(&f, &tx, &ev);
    let to_stdout = f.run(&[]);
    let to_file = f.run(&["--output", "plan.csv"]);
    assert_eq!(to_file.code, 0);
    assert_eq!(to_file.stdout, "");
    assert_eq!(super::read(&f.path("plan.csv")), to_stdout.stdout);
    // The summary goes to stderr, and --quiet silences it.
    assert!(
        to_stdout.stderr.starts_with(
            "kairos: no kairos.yaml beside the dialogues folder or here; using defaults\nkairos: read 20 customers"
        ),
        "{}",
        to_stdout.stderr
    );
    assert_eq!(f.run(&["--quiet"]).stderr, "");
    // `--summary none` keeps only the config used and warnings (there are none here).
    assert_eq!(
        f.run(&["--summary", "none"]).stderr,
        "kairos: no kairos.yaml beside the dialogues folder or here; using defaults\n"
    );
}

#[test]
fn contact_comes_from_the_profile_field_for_the_channel() {
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: a}\n  - id: b\n    send: {channel: sms, template: b}\n  - id: c\n    send: {channel: letter, template: c}\n  - id: d\n    send: {channel: pigeon, template: d}\n")
        .tx(&["A,2025-01-01,o1,p,c,1"])
        .file("customers.csv", "customer_id,email,phone,address\nA,a@x.com,+1555,\"1 Main St, Town\"\n")
        // A declared channel without a contact column.
        .file("kairos.yaml", "channels:\n  pigeon: {}\n");
    let out = f.run(&["--format", "jsonl"]);
    let contacts: Vec<String> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["contact"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(contacts, ["a@x.com", "+1555", "1 Main St, Town", ""]);
}

#[test]
fn message_ids_are_stable_across_runs_and_as_of() {
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: a}\n")
        .tx(&["A,2025-01-01,o1,p,c,1"]);
    let out = f.run(&["--format", "jsonl"]);
    let v: serde_json::Value = serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    // Pinned: ids must never change between versions.
    assert_eq!(v["message_id"], "76246290e85990b0302cb8166f8febc7");
    let later = f.run(&["--format", "jsonl", "--as-of", "2026-01-01"]);
    let w: serde_json::Value = serde_json::from_str(later.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(v["message_id"], w["message_id"]);
    assert_eq!(w["status"], "planned");
}

/// The shipped dialogues over the shipped example data: clean check, every dialogue fires,
/// and the whole-run summary and a story are golden.
#[test]
fn shipped_examples() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let f = Fixture::new();
    let abs = |p: &str| root.join(p).to_string_lossy().into_owned();
    let (d, t, c, e) = (
        abs("dialogues"),
        abs("examples/retail/transactions.csv"),
        abs("examples/retail/customers.csv"),
        abs("examples/retail/events.csv"),
    );
    let inputs = ["-d", &d, "-t", &t, "-c", &c, "-e", &e];
    let mut args = vec!["check"];
    args.extend(inputs);
    let out = f.cmd(&args);
    assert_eq!((out.code, out.stderr.as_str()), (0, "checked 16 dialogues: 0 errors, 0 warnings\n"));
    let mut args = vec!["run"];
    args.extend(inputs);
    let out = f.cmd(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let mut full_args = args.clone();
    full_args.extend(["--summary", "full"]);
    let full = f.cmd(&full_args);
    assert_eq!(full.stdout, out.stdout, "the summary changes stderr only");
    assert!(full.stderr.starts_with(out.stderr.lines().take(19).collect::<Vec<_>>().join("\n").as_str()));
    let fired: Vec<&str> = full.stderr.lines().filter(|l| l.starts_with("  ") && l.contains(": entered ")).collect();
    assert_eq!(fired.len(), 16, "{}", full.stderr);
    for line in fired {
        let n: u64 = line.split(": entered ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
        assert!(n > 0, "a shipped dialogue never fires: {line}");
    }
    let root_text = format!("{}/", root.display());
    insta::assert_snapshot!("shipped_examples_summary", out.stderr.replace(&root_text, "<root>/"));
    insta::assert_snapshot!("shipped_examples_summary_full", full.stderr.replace(&root_text, "<root>/"));
    let digest = xxhash_rust::xxh3::xxh3_64(out.stdout.as_bytes());
    insta::assert_snapshot!(
        "shipped_examples_plan_digest",
        format!("{} lines, xxh3 {digest:016x}", out.stdout.lines().count())
    );
    let mut args = vec!["explain", "C0007"];
    args.extend(inputs);
    let out = f.cmd(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("shipped_examples_explain_airline_saved", out.stdout);
}

#[test]
fn csv_neutralises_formulas_and_keeps_headers_unique() {
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n")
        .tx(&["C1,2025-01-01,o1,p1,books,10"])
        .file("customers.csv", "customer_id,name,email,status\nC1,=HYPERLINK(\"http://x\"),c1@example.com,vip\n");
    let out = f.run(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut r = csv::Reader::from_reader(out.stdout.as_bytes());
    let h = r.headers().unwrap().clone();
    assert_eq!(&h.iter().skip(15).collect::<Vec<_>>(), &["name", "email", "profile_status"]);
    let row = r.records().next().unwrap().unwrap();
    assert_eq!(&row[15], "'=HYPERLINK(\"http://x\")");
    assert_eq!(&row[9], "due", "the fixed status column is kairos's");
    assert_eq!(&row[17], "vip");
    let raw = f.run(&["--raw-csv"]);
    let row = csv::Reader::from_reader(raw.stdout.as_bytes()).records().next().unwrap().unwrap();
    assert_eq!(&row[15], "=HYPERLINK(\"http://x\")");
    // A column name from the customers file is guarded as its cells are.
    f.file("customers.csv", "customer_id,email,@SUM(A1),=cmd\nC1,c1@example.com,1,2\n");
    let out = f.run(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("message_id,") && out.stdout.lines().next().unwrap().ends_with(",email,'@SUM(A1),'=cmd"),
        "{}",
        out.stdout
    );
    let raw = f.run(&["--raw-csv"]);
    assert!(raw.stdout.lines().next().unwrap().ends_with(",email,@SUM(A1),=cmd"), "{}", raw.stdout);
    f.file("customers.csv", "customer_id,name,email,status\nC1,=HYPERLINK(\"http://x\"),c1@example.com,vip\n");
    // JSON stays raw.
    let json = f.run(&["--format", "json"]);
    assert!(json.stdout.contains("\"name\":\"=HYPERLINK(\\\"http://x\\\")\""), "{}", json.stdout);
    // Content fields are kairos's too: a profile `subject` or `html` is prefixed.
    f.file("customers.csv", "customer_id,name,email,subject,html,profile_subject\nC1,Ann,c1@example.com,s,h,p\n")
        .file("templates/t.yaml", "email:\n  subject: Hi\n  text: Hello\n  html: <p>Hello</p>\n");
    let out = f.run(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let h = csv::Reader::from_reader(out.stdout.as_bytes()).headers().unwrap().clone();
    let names: Vec<&str> = h.iter().skip(15).collect();
    assert_eq!(
        names,
        ["subject", "body", "name", "email", "profile_subject", "profile_html", "profile_profile_subject"]
    );
    let json = f.run(&["--format", "jsonl"]);
    let v: serde_json::Value = serde_json::from_str(json.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        (v["html"].as_str(), v["profile_html"].as_str(), v["profile_subject"].as_str()),
        (Some("<p>Hello</p>"), Some("h"), Some("s"))
    );
}

#[test]
fn no_profile_leaves_the_profile_columns_out_of_csv_and_jsonl() {
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n")
        .tx(&["C1,2025-01-01,o1,p1,books,10"])
        .file("customers.csv", "customer_id,name,email\nC1,Ann,c1@example.com\n");
    let csv_out = f.run(&["--no-profile"]).stdout;
    assert_eq!(csv_out.lines().next().unwrap(), kairos::output::COLUMNS.join(","));
    assert!(csv_out.contains(",c1@example.com,"), "the contact column stays: {csv_out}");
    let jsonl = f.run(&["--no-profile", "--format", "jsonl"]).stdout;
    let v: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(v.as_object().unwrap().len(), kairos::output::COLUMNS.len());
    let with = f.run(&["--format", "jsonl"]).stdout;
    let v: serde_json::Value = serde_json::from_str(with.lines().next().unwrap()).unwrap();
    assert_eq!(v["name"], "Ann");
}

#[cfg(target_os = "linux")]
#[test]
fn a_run_killed_with_sigkill_leaves_no_temp_file() {
    use std::io::Write as _;
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kairos"))
        .current_dir(f.dir.path())
        .args(["run", "-d", "dialogues", "-t", "-", "-o", "plan.csv", "-q"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The output is opened first; then kairos waits for the rest of stdin.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{}C1,2025-01-01T00:00:00Z,o1,p,books,1,10,web\n", super::TX_HEADER).as_bytes()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let names = || -> Vec<String> {
        std::fs::read_dir(f.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    // The plan being written has no name yet (O_TMPFILE): there is nothing a kill could leave.
    assert!(!names().iter().any(|n| n.starts_with(".kairos-")), "{:?}", names());
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);
    let left = names();
    assert!(!left.iter().any(|n| n.starts_with(".kairos-") || n == "plan.csv"), "{left:?}");
}

/// The stage names of `--timings` output, the times taken out (they differ run to run).
fn timing_stages(stderr: &str) -> Vec<String> {
    let from = stderr.find("kairos: timings (wall clock)\n").expect("a timings block");
    stderr[from..]
        .lines()
        .skip(1)
        .map(|l| {
            let (name, rest) = l.trim_start().split_once("  ").expect("a stage and its time");
            let parts = rest.split_once(" s").map_or("", |(_, p)| p.trim());
            let parts: String = parts.split(' ').filter(|w| w.parse::<f64>().is_err()).collect::<Vec<_>>().join(" ");
            format!("{name}: {parts}").trim_end_matches(": ").to_owned()
        })
        .collect()
}

#[test]
fn timings_go_to_stderr_and_leave_the_plan_alone() {
    let f = Fixture::new();
    let (tx, ev) = synthetic(&f, 20, 5);
    write_data(&f, &tx, &ev);
    let plain = f.run(&[]);
    let timed = f.run(&["--timings"]);
    assert_eq!(timed.code, 0, "{}", timed.stderr);
    assert_eq!(timed.stdout, plain.stdout);
    // After the summary, one line per stage: each file read, with its stages.
    assert!(timed.stderr.starts_with(&plain.stderr), "{}", timed.stderr);
    assert_eq!(
        timing_stages(&timed.stderr),
        [
            "read transactions: (parse s, group by customer s, order s)",
            "read events: (parse s, group by customer s, order s)",
            "read customers: (parse s, group by customer s, order s)",
            "check dialogues and inputs",
            "replay and write",
            "total",
        ]
    );
    // Asked for, they are printed under --quiet too, alone.
    let quiet = f.run(&["--timings", "--quiet"]);
    assert!(quiet.stderr.starts_with("kairos: timings (wall clock)\n"), "{}", quiet.stderr);
    assert_eq!(quiet.stdout, plain.stdout);
    // With --presorted the rows are read while the replay runs; with a ledger, its time too.
    let sorted = f.run(&["--timings", "--quiet", "--presorted", "--as-of", "2030-01-01", "--ledger", "sent.jsonl"]);
    assert_eq!(sorted.code, 0, "{}", sorted.stderr);
    assert_eq!(
        timing_stages(&sorted.stderr),
        ["open inputs, check dialogues", "read, replay and write: (batch by batch)", "record in the ledger", "total"]
    );
}

/// `-o` through a symbolic link writes where the link leads and leaves the link a link: a
/// link to a file gets the plan in that file; a link through a descriptor (`/dev/stdout`,
/// `/proc/self/fd/1`, as cron jobs write) streams into whatever the descriptor is, instead of
/// replacing the link with a regular file (which replaced the system's `/dev/stdout`); a link
/// to a folder is filled with `--format eml`.
#[cfg(unix)]
#[test]
fn output_through_a_symbolic_link_writes_where_it_leads() {
    let f = Fixture::new();
    f.dialogue("thanks", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: email, template: thanks}\n")
        .tx(&["C1,2025-01-01T10:00:00Z,o1,p,books,10"]);
    let plain = f.run(&["--no-profile", "--no-templates", "--quiet"]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    f.file("t.csv", "old\n");
    std::os::unix::fs::symlink("t.csv", f.path("link.csv")).unwrap();
    let out = f.run(&["--no-profile", "--no-templates", "--quiet", "-o", "link.csv"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(std::fs::symlink_metadata(f.path("link.csv")).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(f.path("t.csv")).unwrap(), plain.stdout);
    // Through the descriptor of standard output, redirected to a file.
    std::os::unix::fs::symlink("/proc/self/fd/1", f.path("myout")).unwrap();
    let redirect = std::fs::File::create(f.path("redirect.csv")).unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .current_dir(f.dir.path())
        .args(["run", "-d", "dialogues", "-t", "tx.csv", "--no-profile", "--no-templates", "--quiet", "-o", "myout"])
        .stdout(redirect)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(std::fs::symlink_metadata(f.path("myout")).unwrap().file_type().is_symlink(), "the link stays");
    assert_eq!(std::fs::read_to_string(f.path("redirect.csv")).unwrap(), plain.stdout);
    // No temp file beside either.
    let stray: Vec<String> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".kairos-"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

/// A new plan file gets the mode a shell redirection would give it under the run's umask: a
/// cron job's `umask 077` keeps a plan of addresses private (it was always 0644).
#[cfg(unix)]
#[test]
fn a_new_plan_file_honours_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    f.dialogue("thanks", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: email, template: thanks}\n")
        .tx(&["C1,2025-01-01T10:00:00Z,o1,p,books,10"]);
    for (umask, mode, name) in
        [("077", 0o600, "private.csv"), ("022", 0o644, "shared.csv"), ("027", 0o640, "group.csv")]
    {
        let status = std::process::Command::new("sh")
            .current_dir(f.dir.path())
            .arg("-c")
            .arg(format!(
                "umask {umask}; exec \"$0\" run -d dialogues -t tx.csv --no-profile --no-templates --quiet -o {name}"
            ))
            .arg(env!("CARGO_BIN_EXE_kairos"))
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(std::fs::metadata(f.path(name)).unwrap().permissions().mode() & 0o777, mode, "umask {umask}");
    }
}

#[test]
fn profile_numbers_are_written_as_the_file_holds_them() {
    let f = Fixture::new();
    f.dialogue(
        "hi",
        "trigger:\n  purchase: {}\nwhen: customer.ltv > 7\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n",
    )
    .file("kairos.yaml", "fields:\n  customers: {ltv: number, big: number}\n")
    .tx(&["C1,2025-01-01,o1,p1,books,10", "C2,2025-01-01,o2,p1,books,10"])
    .file("customers.csv", "customer_id,email,ltv,big\nC1,c1@x.com,007.50,12345678901234567891\nC2,c2@x.com,6,\n");
    let out = f.run(&["--no-templates"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The condition reads the numbers (C2's 6 is not over 7); the plan holds their text.
    let mut r = csv::Reader::from_reader(out.stdout.as_bytes());
    let h = r.headers().unwrap().clone();
    assert_eq!(&h.iter().skip(15).collect::<Vec<_>>(), &["email", "ltv", "big"]);
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{}", out.stdout);
    assert_eq!((&rows[0][1], &rows[0][16], &rows[0][17]), ("C1", "007.50", "12345678901234567891"));
    for format in ["json", "jsonl"] {
        let out = f.run(&["--no-templates", "--format", format]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains(r#""ltv":"007.50","big":"12345678901234567891""#), "{format}: {}", out.stdout);
    }
    // Read a batch at a time, the same.
    let whole = f.run(&["--no-templates", "--as-of", "2025-02-01"]);
    let presorted = f.run(&["--no-templates", "--as-of", "2025-02-01", "--presorted"]);
    assert_eq!(presorted.code, 0, "{}", presorted.stderr);
    assert!(presorted.stdout.contains(",007.50,12345678901234567891\n"), "{}", presorted.stdout);
    assert_eq!(presorted.stdout, whole.stdout);
}

#[test]
fn a_profile_update_of_the_address_changes_where_later_messages_go() {
    let f = Fixture::new();
    f.dialogue(
        "hi",
        "trigger:\n  purchase: {}\nreentry: always\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n",
    )
    .file("customers.csv", "customer_id,email\nC1,old@x.example\n")
    .file(
        "events.csv",
        "customer_id,timestamp,type,column,value\nC1,2025-03-03T00:00:00Z,profile_update,email,new@x.example\n",
    )
    .tx(&["C1,2025-03-01T10:00:00Z,o1,p1,books,10", "C1,2025-03-07T10:00:00Z,o2,p1,books,10"]);
    let out = f.run(&["--no-templates", "--no-profile", "--format", "jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let contacts: Vec<String> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["contact"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(contacts, ["old@x.example", "new@x.example"]);
}

/// A flag that would change nothing in this output is an error that says why, not ignored.
#[test]
fn flags_that_do_nothing_here_are_refused() {
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n")
        .tx(&["A,2025-01-01,o1,p,c,1"]);
    for (args, said) in [
        (&["--format", "json", "--raw-csv"][..], "--raw-csv is about CSV cells, and --format json writes none"),
        (
            &["--mail-from", "a@b.com"][..],
            "--mail-from is the sender of eml and mbox messages, and --format csv writes none",
        ),
        (&["--max-late", "3d"][..], "--max-late goes with a ledger"),
    ] {
        let out = f.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(said), "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "");
    }
}
