//! Message content: templates rendered into the plan, checked like dialogues, handed over as
//! RFC 5322 files or an mbox.

use super::Fixture;

const CUSTOMERS: &str = "customer_id,name,email,phone,address,timezone
C1,emily williams,emily@example.com,+1 555 0100,\"1 Main St, Springfield\",America/Los_Angeles
C2,Zoë Okafor,,+1 555 0101,\"2 Oak Rd, Shelbyville\",Europe/London
";

const DIALOGUE: &str = r#"trigger:
  purchase: {}
reentry: never
steps:
  - id: thanks
    send: {channel: email, template: thanks}
    wait: 1d
  - id: text
    send: {channel: sms, template: thanks}
    wait: 1d
  - id: card
    send: {channel: letter, template: thanks}
    wait: 1d
  - id: call
    send: {channel: phone, template: thanks}
"#;

const TEMPLATE: &str = r#"email:
  subject: "Thanks, {{ customer.name | first_name | title }}"
  text: |
    You bought {{ event.product | replace("_", " ") }} for {{ event.amount | money("$") }} on {{ trigger.at | date }}.
    Orders so far: {{ history.orders }}.
  html: "<p>Thanks for {{ event.product }} {{ '<3' }}</p>"
sms:
  text: "Thanks {{ customer.name | first_name | title }}! {{ message_id[:8] }}"
letter:
  address: |
    {{ customer.name | title }}
    {{ customer.address }}
  body: "Dear {{ customer.name | first_name | title }}, thank you."
phone:
  script: "Call {{ customer.name }} ({{ customer.phone }}): spent {{ history.spend | money }} in {{ history.lines }} lines."
"#;

fn fixture() -> Fixture {
    let f = Fixture::new();
    f.dialogue("thanks", DIALOGUE)
        .file("templates/thanks.yaml", TEMPLATE)
        .file("customers.csv", CUSTOMERS)
        .file("kairos.yaml", "content:\n  from: \"Kairos Stores <hello@example.com>\"\n")
        .tx(&["C1,2025-03-05T18:00:00Z,o1,red_kettle,home,1110.62", "C2,2025-03-06T09:00:00Z,o2,tea,food,3.5"]);
    f
}

fn jsonl(out: &str) -> Vec<serde_json::Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn every_channel_renders_its_part() {
    let f = fixture();
    let out = f.run(&["-f", "jsonl", "--no-profile"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = jsonl(&out.stdout);
    let got: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} | {} | {}",
                r["customer_id"].as_str().unwrap(),
                r["channel"].as_str().unwrap(),
                r["subject"].as_str().unwrap_or("-"),
                r["body"].as_str().unwrap().replace('\n', "⏎")
            )
        })
        .collect();
    let id8 = |c: &str| {
        let r = rows.iter().find(|r| r["customer_id"] == c && r["channel"] == "sms").unwrap();
        r["message_id"].as_str().unwrap()[..8].to_owned()
    };
    assert_eq!(
        got,
        vec![
            "C1 email | Thanks, Emily | You bought red kettle for $1,110.62 on 5 March 2025.⏎Orders so far: 1."
                .to_owned(),
            format!("C1 sms | - | Thanks Emily! {}", id8("C1")),
            "C1 letter | - | Emily Williams⏎1 Main St, Springfield⏎⏎Dear Emily, thank you.".to_owned(),
            "C1 phone | - | Call emily williams (+1 555 0100): spent 1,110.62 in 1 lines.".to_owned(),
            "C2 email | Thanks, Zoë | You bought tea for $3.50 on 6 March 2025.⏎Orders so far: 1.".to_owned(),
            format!("C2 sms | - | Thanks Zoë! {}", id8("C2")),
            "C2 letter | - | Zoë Okafor⏎2 Oak Rd, Shelbyville⏎⏎Dear Zoë, thank you.".to_owned(),
            "C2 phone | - | Call Zoë Okafor (+1 555 0101): spent 3.50 in 1 lines.".to_owned(),
        ]
    );
    assert_eq!(rows[0]["html"], "<p>Thanks for red_kettle &lt;3</p>", "HTML parts are escaped");
    assert_eq!((rows[1]["sms_segments"].as_u64(), rows[1]["sms_encoding"].as_str()), (Some(1), Some("GSM-7")));
    assert_eq!(rows[5]["sms_encoding"], "UCS-2", "ë is not in GSM 03.38");
    // CSV carries the same two columns after the fixed ones.
    let csv = f.run(&["--no-profile"]);
    let header = csv.stdout.lines().next().unwrap();
    assert!(header.ends_with(",policy_note,subject,body"), "{header}");
    // --no-templates goes back to keys only.
    let bare = f.run(&["--no-profile", "--no-templates"]);
    assert!(bare.stdout.lines().next().unwrap().ends_with(",policy_note"));
}

#[test]
fn eml_files_parse_back_with_to_subject_and_message_id() {
    let f = fixture();
    let out = f.run(&["-f", "eml", "-o", "mail"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("  1 email messages written as .eml files in mail\n"), "{}", out.stderr);
    assert!(
        out.stderr.contains("  7 messages are not email (another channel, or no valid email address)"),
        "{}",
        out.stderr
    );
    let files: Vec<_> = std::fs::read_dir(f.path("mail")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "C2 has no email address");
    let bytes = std::fs::read(&files[0]).unwrap();
    let m = mail_parser::MessageParser::default().parse(&bytes).unwrap();
    let id = files[0].file_stem().unwrap().to_string_lossy().into_owned();
    assert_eq!(m.message_id(), Some(format!("{id}@example.com").as_str()));
    assert_eq!(m.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("emily@example.com"));
    assert_eq!(m.subject(), Some("Thanks, Emily"));
    assert_eq!(m.from().and_then(|a| a.first()).and_then(|a| a.address()), Some("hello@example.com"));
    assert!(m.body_text(0).is_some_and(|b| b.contains("$1,110.62")));
    assert!(m.body_html(0).is_some_and(|b| b.contains("&lt;3")));
    // The folder must be new or empty; nothing is left beside it.
    let again = f.run(&["-f", "eml", "-o", "mail"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("cannot write to mail: the folder is not empty"), "{}", again.stderr);
    let stray: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".kairos-"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn eml_needs_a_folder_and_a_sender() {
    let f = fixture();
    let out = f.run(&["-f", "eml"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "error: --format eml writes one file per message: give a new or empty folder with --output DIR\n")
    );
    f.file("kairos.yaml", "content: {}\n");
    let out = f.run(&["-f", "mbox"]);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "error: --format mbox needs a sender: set content.from in kairos.yaml or pass --mail-from ADDRESS\n")
    );
    let out = f.run(&["-f", "mbox", "--mail-from", "Kairos Stores"]);
    assert!(out.stderr.contains("--mail-from: \"Kairos Stores\" is not an email address"), "{}", out.stderr);
    let out = f.run(&["-f", "mbox", "--mail-from", "news@example.org"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().filter(|l| l.starts_with("From news@example.org ")).count(), 1);
    assert!(out.stdout.contains("Subject: Thanks, Emily\n"), "{}", out.stdout);
}

#[test]
fn check_reports_unknown_variables_and_syntax_errors_in_place() {
    let f = fixture();
    f.file(
        "templates/thanks.yaml",
        "email:\n  subject: \"Hi {{ customer.nmae }}\"\n  text: |\n    Hello\n    {% if event.product %}no end\n",
    );
    let out = f.cmd(&["check", "-d", "dialogues", "-c", "customers.csv"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    insta::assert_snapshot!("check_template_errors", out.stderr);
}

#[test]
fn mail_never_holds_a_suppressed_message() {
    let f = fixture();
    for format in ["eml", "mbox"] {
        let out = f.run(&["-f", format, "-o", "mail", "--include-suppressed"]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                2,
                &*format!(
                    "error: --include-suppressed cannot go with --format {format}: mail is sent as it is written, and a \
                     suppressed or expired message must not be; write the suppressed ones as CSV or JSON to look at them\n"
                )
            )
        );
        assert!(!f.path("mail").exists());
    }
}

#[test]
fn a_dialogue_naming_a_template_that_does_not_exist_is_an_error() {
    let f = fixture();
    f.dialogue("other", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: sms, template: thank}\n");
    let out = f.cmd(&["check", "-d", "dialogues"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("dialogue `other` step `s`: template `thank` has no file in templates"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("did you mean `thanks`?"), "{}", out.stderr);
    let run = f.run(&[]);
    assert_eq!(run.code, 2, "run refuses what check reports");
}

#[test]
fn a_template_that_runs_forever_stops_the_run_naming_it() {
    let f = fixture();
    f.file(
        "templates/thanks.yaml",
        &TEMPLATE.replace(
            "text: \"Thanks {{ customer.name | first_name | title }}! {{ message_id[:8] }}\"",
            "text: \"{% for i in range(100000) %}{% for j in range(100000) %}.{% endfor %}{% endfor %}\"",
        ),
    );
    let out = f.run(&["-o", "plan.csv"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("templates/thanks.yaml:8: rendering `thanks/sms.text` for customer C1"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("out of fuel"), "{}", out.stderr);
    assert!(!f.path("plan.csv").exists(), "no half-written plan");
}

/// The temp files a run left in the fixture's folder (none, ever).
fn temp_files(f: &Fixture) -> Vec<String> {
    std::fs::read_dir(f.path("."))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".kairos-"))
        .collect()
}

#[test]
fn a_template_that_doubles_a_string_stops_at_its_memory_budget() {
    // Forty doublings would ask for a terabyte in a few hundred instructions, far under the
    // fuel limit: the run stops at the render's memory budget, naming the render.
    let doubling = "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}";
    // A 100 MB string (minijinja's own cap on `*`) made and dropped over and over: under the
    // memory held at once, stopped by what it allocates in all (about 40 of them).
    // (`- i`: a constant `'x' * 100000000` is folded once when the template is compiled.)
    let repeating = "{% for i in range(1000) %}{% set s = 'x' * (100000000 - i) %}{% endfor %}done";
    let at_once = "it took more than 256 MiB of memory (a string doubled or repeated in a loop?)";
    let in_all = "it allocated more than 4 GiB in all (a loop that builds big strings over and over?)";
    for (body, why) in [(doubling, at_once), (repeating, in_all)] {
        let f = fixture();
        f.file(
            "templates/thanks.yaml",
            &TEMPLATE.replace(
                "text: \"Thanks {{ customer.name | first_name | title }}! {{ message_id[:8] }}\"",
                &format!("text: \"{body}\""),
            ),
        );
        let out = f.run(&["-o", "plan.csv"]);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                2,
                &*format!(
                    "error: templates/thanks.yaml: rendering `thanks/sms.text` for customer C1 (thanks step text) \
                     stopped: {why}\n"
                )
            ),
            "{body}"
        );
        assert!(!f.path("plan.csv").exists(), "no half-written plan");
        assert_eq!(temp_files(&f), Vec::<String>::new());
    }
}

#[test]
fn a_template_may_build_a_list_by_appending_item_by_item() {
    // Quadratic in what it allocates (each step copies the string so far), but linear in what
    // it holds: under both budgets.
    let f = fixture();
    f.file(
        "templates/thanks.yaml",
        &TEMPLATE.replace(
            "text: \"Thanks {{ customer.name | first_name | title }}! {{ message_id[:8] }}\"",
            "text: \"{% set ns = namespace(s='') %}{% for i in range(10000) %}{% set ns.s = ns.s ~ i ~ ',' %}{% endfor %}{{ ns.s | length }}\"",
        ),
    );
    let out = f.run(&["-f", "jsonl", "--no-profile"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sms: Vec<_> = jsonl(&out.stdout).into_iter().filter(|r| r["channel"] == "sms").collect();
    assert_eq!(sms[0]["body"], "48890");
}

#[test]
fn preview_shows_a_customers_messages() {
    let f = fixture();
    let preview = |step: &str| {
        let base = ["preview", "C1", "-d", "dialogues", "-t", "tx.csv", "-c", "customers.csv", "--dialogue", "thanks"];
        f.cmd(&[&base[..], &["--step", step]].concat())
    };
    let out = preview("card");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = out.stdout.lines().filter(|l| !l.contains("message ")).collect::<Vec<_>>().join("\n");
    assert_eq!(
        text,
        "── 2025-03-07T18:00:00Z · letter → 1 Main St, Springfield · thanks #1 step card · scheduled

   Emily Williams
   1 Main St, Springfield

   Dear Emily, thank you.
"
    );
    let out = preview("crd");
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "error: dialogue `thanks` has no step `crd`; did you mean `card`?\n")
    );
}

#[test]
fn a_profile_update_changes_the_tier_from_its_instant_and_templates_see_facts() {
    let f = Fixture::new();
    f.file("kairos.yaml", "tiers: {column: tier}\n")
        .dialogue(
            "hi",
            "trigger:\n  purchase: {}\nreentry: always\nsteps:\n  - id: a\n    send:\n      channel: email\n      template: stock\n      by_tier:\n        gold: {channel: email, template: gold}\n",
        )
        .dialogue(
            "ask",
            "trigger:\n  nth_order: {n: 1}\nsteps:\n  - id: size\n    send: {channel: email, template: ask}\n    on:\n      - {answer: given, remember: {size: event.detail}, end: told}\n    timeout: {after: 30d, end: no_reply}\n",
        )
        .file("templates/stock.yaml", "email:\n  subject: \"Hello {{ customer.tier }}\"\n  text: \"Size {{ fact.size | default('not given') }}\"\n")
        .file("templates/gold.yaml", "email:\n  subject: \"Gold {{ customer.tier }}\"\n  text: \"Size {{ fact.size | default('not given') }}\"\n")
        .file("templates/ask.yaml", "email:\n  subject: \"Your size?\"\n  text: \"Reply with your size\"\n")
        .file("customers.csv", "customer_id,tier,email\nA,silver,a@example.com\n")
        .file(
            "events.csv",
            "customer_id,timestamp,type,dialogue,step,answer,detail,column,value\n\
A,2025-01-02,response,ask,size,given,M,,\n\
A,2025-01-05,profile_update,,,,,tier,gold\n\
A,2025-01-06,profile_update,,,,,tiers,x\n",
        )
        .tx(&["A,2025-01-01,o1,p,c,1", "A,2025-01-03,o2,p,c,1", "A,2025-01-08,o3,p,c,1"]);
    let out = f.run(&["-f", "jsonl", "--no-profile"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let got: Vec<String> = jsonl(&out.stdout)
        .iter()
        .map(|r| {
            format!("{} {} {} | {}", &r["send_at"].as_str().unwrap()[..10], r["template"], r["subject"], r["body"])
        })
        .collect();
    assert_eq!(
        got,
        [
            r#"2025-01-01 "ask" "Your size?" | "Reply with your size""#,
            r#"2025-01-01 "stock" "Hello silver" | "Size not given""#,
            r#"2025-01-03 "stock" "Hello silver" | "Size M""#,
            r#"2025-01-08 "gold" "Gold gold" | "Size M""#,
        ]
    );
    assert!(
        out.stderr.contains("events.csv:4: profile_update: the customers file has no column \"tiers\"; did you mean `tier`?; update ignored"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unknown_fact_is_a_check_error() {
    let f = fixture();
    f.dialogue("x", "trigger:\n  purchase: {}\nwhen: 'fact.sise == \"M\"'\nsteps:\n  - id: s\n    send: {channel: email, template: thanks}\n");
    f.dialogue("y", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    remember: {size: customer.name}\n    send: {channel: email, template: thanks}\n");
    let out = f.cmd(&["check", "-d", "dialogues"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("error: no dialogue remembers `sise`"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `fact.size`?"), "{}", out.stderr);
}

#[test]
fn sms_longer_than_the_configured_segments_are_reported() {
    let f = fixture();
    f.file("kairos.yaml", "content:\n  from: \"Kairos Stores <hello@example.com>\"\n  sms_max_segments: 1\n");
    f.file(
        "templates/thanks.yaml",
        &TEMPLATE.replace(
            "text: \"Thanks {{ customer.name | first_name | title }}! {{ message_id[:8] }}\"",
            "text: \"{{ 'x' * 200 }}\"",
        ),
    );
    let out = f.run(&["-f", "jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "warning: 2 SMS messages of template `thanks` are longer than 1 segments (the longest has 2); shorten the text or raise content.sms_max_segments"
        ),
        "{}",
        out.stderr
    );
    let bad = f.file("kairos.yaml", "content:\n  sms_max_segments: 0\n").run(&[]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("content.sms_max_segments must be at least 1"), "{}", bad.stderr);
}

#[test]
fn templates_are_found_beside_the_dialogues_folder_not_in_the_working_directory() {
    let f = fixture();
    // Another project's dialogues, run from this folder: this folder's templates are not theirs.
    f.file(
        "bench/trigger_only/hi.yaml",
        "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: email, template: not_here}\n",
    );
    let out = f.cmd(&["run", "-d", "bench/trigger_only", "-t", "tx.csv", "--no-profile"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.lines().next().unwrap().ends_with(",policy_note"), "no content columns: {}", out.stdout);
    // Beside them, they are.
    f.file("bench/templates/not_here.yaml", "email:\n  subject: \"S\"\n  text: \"T\"\n");
    let out = f.cmd(&["run", "-d", "bench/trigger_only", "-t", "tx.csv", "--no-profile", "-f", "jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(jsonl(&out.stdout)[0]["subject"], "S");
    // `content.templates` in kairos.yaml names a folder relative to kairos.yaml itself.
    f.file("conf/kairos.yaml", "content:\n  templates: ../elsewhere\n")
        .file("elsewhere/not_here.yaml", "email:\n  subject: \"E\"\n  text: \"T\"\n");
    let args = ["run", "-d", "bench/trigger_only", "-t", "tx.csv", "-f", "jsonl", "--config", "conf/kairos.yaml"];
    let out = f.cmd(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(jsonl(&out.stdout)[0]["subject"], "E");
    f.file("conf/kairos.yaml", "content:\n  templates: ../missing\n");
    let out = f.cmd(&args);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("the templates folder does not exist"), "{}", out.stderr);
    assert!(out.stderr.contains("missing"), "names the folder: {}", out.stderr);
}

#[test]
fn a_profile_update_reaches_history_filters_that_read_the_profile() {
    // `spend(…, category == customer.fav)` is summed ahead once per customer; a profile update
    // mid-history must not leave it reading the old favourite.
    let f = Fixture::new();
    f.dialogue(
        "fan",
        "trigger:\n  purchase: {}\nreentry: always\nwhen: 'spend(3650d, category == customer.fav) >= 20'\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n",
    )
    .file("customers.csv", "customer_id,fav,email\nA,books,a@example.com\n")
    .file(
        "events.csv",
        "customer_id,timestamp,type,dialogue,step,answer,detail,column,value\nA,2025-01-02T12:00:00Z,profile_update,,,,,fav,toys\n",
    )
    .tx(&[
        "A,2025-01-01,o1,p,books,10",
        "A,2025-01-01T01:00:00Z,o2,p,toys,10",
        "A,2025-01-03,o3,p,toys,10",
        "A,2025-01-04,o4,p,books,10",
    ]);
    // Before the update books add up to 10 (no message); after it toys are the favourite:
    // 20 by 01-03. Books reach 20 on 01-04, but books are no longer the favourite.
    assert_eq!(
        f.plan(&["--no-templates"]),
        "A fan#1 s/0 email:t 2025-01-03 planned\nA fan#2 s/0 email:t 2025-01-04 due\n"
    );
}

/// SIGTERM while the message folder is being filled: the run ends as the signal says (143),
/// the half-filled folder is removed whole (no `.kairos-*` entry, no `mail`), and the writers
/// failing on the removed folder print nothing: the run did not fail, it was stopped.
#[cfg(unix)]
#[test]
fn a_signal_while_writing_eml_files_leaves_nothing_and_prints_no_failure() {
    let f = Fixture::new();
    let n = 40_000;
    let mut customers = String::from("customer_id,name,email\n");
    let mut tx = super::TX_HEADER.to_owned();
    for i in 0..n {
        customers.push_str(&format!("C{i:05},Ann {i},c{i}@example.com\n"));
        tx.push_str(&format!("C{i:05},2025-03-05T18:00:00Z,o{i},kettle,home,1,12.50,web\n"));
    }
    f.dialogue(
        "thanks",
        "trigger:\n  purchase: {}\nsteps:\n  - id: thanks\n    send: {channel: email, template: thanks}\n",
    )
    .file(
        "templates/thanks.yaml",
        "email:\n  subject: \"Thanks, {{ customer.name }}\"\n  text: \"You bought {{ event.product }}.\"\n",
    )
    .file("customers.csv", &customers)
    .file("tx.csv", &tx)
    .file("kairos.yaml", "content:\n  from: \"Kairos Stores <hello@example.com>\"\n");
    let temp_entries = || -> Vec<String> {
        std::fs::read_dir(f.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".kairos-") || n == "mail")
            .collect()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .current_dir(f.dir.path())
        .args(["run", "-d", "dialogues", "-t", "tx.csv", "-c", "customers.csv", "-f", "eml", "-o", "mail"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the folder is well filled, the signal: removing thousands of files gives the
    // writers time to fail on the removed folder before the process ends.
    let started = std::time::Instant::now();
    let filling = loop {
        let temp = temp_entries().into_iter().find(|n| n.starts_with(".kairos-"));
        if let Some(t) = temp.filter(|t| std::fs::read_dir(f.path(t)).is_ok_and(|d| d.count() >= 15_000)) {
            break t;
        }
        assert!(child.try_wait().unwrap().is_none(), "the run ended before its folder was seen filling");
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "no temp folder appeared");
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    // SAFETY: sends a signal to the child, whose pid is still ours (it has not been waited on).
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(128 + libc::SIGTERM), "{stderr}");
    assert!(!stderr.contains("cannot write"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert_eq!(temp_entries(), Vec::<String>::new(), "{filling} was being filled");
}

/// `--format eml -o LINK` with a link to an empty folder fills the folder and leaves the link
/// (it ran the whole replay, then failed with "Not a directory").
#[cfg(unix)]
#[test]
fn eml_through_a_link_to_a_folder_fills_the_folder() {
    let f = fixture();
    std::fs::create_dir(f.path("real")).unwrap();
    std::os::unix::fs::symlink("real", f.path("ld")).unwrap();
    let out = f.run(&["-f", "eml", "-o", "ld"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(std::fs::symlink_metadata(f.path("ld")).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_dir(f.path("real")).unwrap().count(), 1, "C1's one email");
}

#[test]
fn a_render_error_in_a_folded_or_quoted_field_names_its_own_line() {
    // Line 8 opens the sms text; the failing expression is on line 10 of the file, whatever
    // the scalar's style (the value's own lines are folded into one in the quoted and `>` forms).
    for text in [
        "\"Thanks\n    {{ customer.name }},\n    {{ 10 // (customer.name | length - 14) }}\"",
        "'Thanks\n    {{ customer.name }},\n    {{ 10 // (customer.name | length - 14) }}'",
        ">\n    Thanks {{ customer.name }},\n    {{ 10 // (customer.name | length - 14) }}",
        "Thanks\n    {{ customer.name }},\n    {{ 10 // (customer.name | length - 14) }}",
    ] {
        let f = fixture();
        let template = TEMPLATE.replace(
            "text: \"Thanks {{ customer.name | first_name | title }}! {{ message_id[:8] }}\"",
            &format!("text: {text}"),
        );
        f.file("templates/thanks.yaml", &template);
        let out = f.run(&["-o", "plan.csv"]);
        assert_eq!(out.code, 2, "{text}: {}", out.stderr);
        assert!(
            out.stderr.contains("templates/thanks.yaml:10: rendering `thanks/sms.text` for customer C1"),
            "{text}: {}",
            out.stderr
        );
    }
}

#[test]
fn whole_numbers_from_the_inputs_show_without_a_decimal_point() {
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n")
        .file("customers.csv", "customer_id,email\nC1,c1@x.com\nC2,c2@x.com\n")
        .file("tx.csv", "customer_id,timestamp,amount,quantity\nC1,2025-01-01T10:00:00Z,-1000,1\nC2,2025-01-01T10:00:00Z,12.50,+7\n");
    // The same text through the fast path (plain `{{ }}`) and through minijinja (`{% if %}`
    // with an operator leaves the field to it).
    for text in [
        "{{ event.quantity }} x {{ event.amount }} = {{ history.spend }}",
        "{% if 1 + 1 == 2 %}{{ event.quantity }} x {{ event.amount }} = {{ history.spend }}{% endif %}",
    ] {
        f.file("templates/t.yaml", &format!("email:\n  subject: s\n  text: \"{text}\"\n"));
        let out = f.run(&["--format", "jsonl"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let bodies: Vec<String> = jsonl(&out.stdout).iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect();
        assert_eq!(bodies, ["1 x -1000 = -1000", "7 x 12.5 = 12.5"], "{text}");
    }
}

#[test]
fn a_render_error_names_the_rows_the_template_read() {
    let f = Fixture::new();
    f.dialogue("x", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: hi}\n")
        .file("templates/hi.yaml", "email:\n  subject: \"Hi {{ customer.birthday | date }}\"\n  text: sent\n")
        .file("customers.csv", "customer_id,email,birthday\nC1,a@x.com,1990-01-01\nC2,b@x.com,n/a\n")
        .file("tx.csv", "customer_id,timestamp\nC1,2025-01-01\nC2,2025-01-01\n");
    let out = f.run(&["-o", "plan.csv"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "for customer C2 (x step a) stopped: invalid operation: date: \"n/a\" is not a date\n  = note: it read the profile at customers.csv:3 and the event at tx.csv:3"
        ),
        "{}",
        out.stderr
    );
    assert!(!f.path("plan.csv").exists());
}
