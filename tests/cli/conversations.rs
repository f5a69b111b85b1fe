//! Multi-step dialogues: answers, timeouts, escalation ladders, goals, follow-ons, re-entry,
//! quiet rules, and the same-instant answer/timeout tie.

use super::Fixture;

const WIN_BACK: &str = "\
trigger:
  absence: {after: 60d}
goals:
  - event: purchase
    outcome: saved
    start: special
steps:
  - id: rep_call
    send: {channel: phone, template: rep_call}
    on:
      - event: complaint
        goto: apology
    timeout: {after: 14d, end: no_contact}
  - id: apology
    send: {channel: letter, template: apology}
    escalate:
      - {after: 30d, channel: email, template: reminder}
      - {after: 30d, channel: phone, template: manager_call}
    timeout: {after: 30d, end: lost}
";

const SPECIAL: &str = "\
description: special treatment for saved customers
steps:
  - id: welcome_back
    send: {channel: email, template: vip_treatment}
";

fn airline() -> Fixture {
    let f = Fixture::new();
    f.dialogue("win_back", WIN_BACK)
        .dialogue("special", SPECIAL)
        .tx(&[
            "S,2025-01-01,o1,flight,travel,900",
            "S,2025-05-10,o2,flight,travel,700",
            "N,2025-01-01,o3,flight,travel,800",
        ])
        .events(&["S,2025-03-05,complaint"]);
    f
}

#[test]
fn airline_saved_and_never_answered_paths() {
    let f = airline();
    assert_eq!(
        f.plan(&["--as-of", "2025-06-30"]),
        "\
N win_back#1 rep_call/0 phone:rep_call 2025-03-02 planned
S win_back#1 rep_call/0 phone:rep_call 2025-03-02 planned
S win_back#1 apology/0 letter:apology 2025-03-05 planned
S win_back#1 apology/1 email:reminder 2025-04-04 planned
S win_back#1 apology/2 phone:manager_call 2025-05-04 planned
S special#1 welcome_back/0 email:vip_treatment 2025-05-10 planned
"
    );
}

#[test]
fn airline_json_shows_instances_and_outcomes() {
    let f = airline();
    let out = f.run(&["--as-of", "2025-06-30", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("airline_json", out.stdout);
}

#[test]
fn airline_summary_reports_steps_branches_and_outcomes() {
    let f = airline();
    let out = f.run(&["--as-of", "2025-06-30", "--summary", "full"]);
    insta::assert_snapshot!("airline_summary", out.stderr);
}

const TRUNK: &str = "\
trigger:
  event: {type: invite}
goals:
  - event: purchase
    outcome: converted
steps:
  - id: invite
    send: {channel: postcard, template: invite}
    on:
      - {answer: \"yes\", goto: sizes}
      - {answer: \"no\", end: declined}
    escalate:
      - {after: 7d, channel: email, template: reminder}
      - {after: 7d, channel: phone, template: call}
    timeout: {after: 7d, end: no_reply}
  - id: sizes
    send: {channel: email, template: sizes}
    on:
      - {answer: \"yes\", end: samples}
      - {answer: \"no\", end: attending}
    timeout: {after: 10d, end: attending}
";

fn trunk() -> Fixture {
    let f = Fixture::new();
    let mut tx = Vec::new();
    for c in ["G", "NO", "T", "U", "Y"] {
        tx.push(format!("{c},2025-01-01,o{c},dress,apparel,100"));
    }
    tx.push("G,2025-03-10,oG2,dress,apparel,100".to_owned());
    let tx: Vec<&str> = tx.iter().map(String::as_str).collect();
    f.dialogue("trunk", TRUNK).tx(&tx).events(&[
        "Y,2025-03-01,invite",
        "Y,2025-03-03,response,trunk,invite,YES",
        "Y,2025-03-05,response,trunk,sizes,yes",
        "NO,2025-03-01,invite",
        "NO,2025-03-02,response,trunk,,no",
        "U,2025-03-01,invite",
        "G,2025-03-01,invite",
        "T,2025-03-01,invite",
        "T,2025-03-22T00:00:00Z,response,trunk,invite,yes",
    ]);
    f
}

#[test]
fn answers_branch_reminders_escalate_goals_cancel_and_answers_win_ties() {
    let f = trunk();
    assert_eq!(
        f.plan(&["--as-of", "2025-04-30"]),
        "\
G trunk#1 invite/0 postcard:invite 2025-03-01 planned
G trunk#1 invite/1 email:reminder 2025-03-08 planned
NO trunk#1 invite/0 postcard:invite 2025-03-01 planned
T trunk#1 invite/0 postcard:invite 2025-03-01 planned
T trunk#1 invite/1 email:reminder 2025-03-08 planned
T trunk#1 invite/2 phone:call 2025-03-15 planned
T trunk#1 sizes/0 email:sizes 2025-03-22 planned
U trunk#1 invite/0 postcard:invite 2025-03-01 planned
U trunk#1 invite/1 email:reminder 2025-03-08 planned
U trunk#1 invite/2 phone:call 2025-03-15 planned
Y trunk#1 invite/0 postcard:invite 2025-03-01 planned
Y trunk#1 sizes/0 email:sizes 2025-03-03 planned
"
    );
    let out = f.run(&["--as-of", "2025-04-30", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let outcomes: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["customer_id"].as_str().unwrap().to_owned(), c["instances"][0]["outcome"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected = [("G", "converted"), ("NO", "declined"), ("T", "attending"), ("U", "no_reply"), ("Y", "samples")];
    assert_eq!(outcomes, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
}

#[test]
fn live_conversations_are_projected_as_scheduled() {
    let f = trunk();
    let plan = f.plan(&["--as-of", "2025-03-09"]);
    assert!(plan.contains("U trunk#1 invite/1 email:reminder 2025-03-08 planned\n"), "{plan}");
    assert!(plan.contains("U trunk#1 invite/2 phone:call 2025-03-15 scheduled\n"), "{plan}");
    // G's purchase on 03-10 is after as-of, so its call is still planned.
    assert!(plan.contains("G trunk#1 invite/2 phone:call 2025-03-15 scheduled\n"), "{plan}");
}

#[test]
fn responses_naming_unknown_things_are_warnings_with_lines() {
    let f = trunk();
    f.events(&[
        "Y,2025-03-01,invite",
        "Y,2025-03-02,response,nope,invite,yes",
        "Y,2025-03-02,response,trunk,nostep,yes",
        "Y,2025-03-02,response,,,yes,deadbeef",
        "Y,2025-03-04,response,trunk,sizes,yes",
    ]);
    let out = f.run(&["--as-of", "2025-04-30"]);
    assert_eq!(out.code, 0);
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("warning")).collect();
    assert_eq!(
        warnings,
        [
            "warning: events.csv:3: response names unknown dialogue `nope`",
            "warning: events.csv:4: response names unknown step `nostep` of dialogue `trunk`",
            "warning: events.csv:5: response quotes unknown message_id `deadbeef`",
        ]
    );
    // An answer for a step the dialogue is not in is counted, not applied.
    assert!(out.stderr.contains("1 responses matched no open question"), "{}", out.stderr);
}

#[test]
fn responses_can_quote_the_message_id() {
    let f = trunk();
    f.events(&["Y,2025-03-01,invite"]);
    let first = f.run(&["--as-of", "2025-03-01"]);
    let id = first.stdout.lines().nth(1).unwrap().split(',').next().unwrap().to_owned();
    f.events(&["Y,2025-03-01,invite", &format!("Y,2025-03-02,response,,,no,{id}")]);
    assert_eq!(f.plan(&["--as-of", "2025-04-30"]), "Y trunk#1 invite/0 postcard:invite 2025-03-01 planned\n");
}

#[test]
fn reentry_applies_after_the_instance_ends_and_quiet_while_blocks() {
    let f = Fixture::new();
    f.dialogue(
        "care",
        "trigger:\n  event: {type: complaint}\nreentry: 30d\nsteps:\n  - id: sorry\n    send: {channel: email, template: sorry}\n    timeout: {after: 10d, end: closed}\n    on:\n      - {answer: ok, end: resolved}\n",
    )
    .dialogue(
        "promo",
        "trigger:\n  purchase: {}\nreentry: always\nquiet_while: [care]\nsteps:\n  - id: offer\n    send: {channel: email, template: offer}\n",
    )
    .tx(&["A,2025-01-05,o1,p,books,10", "A,2025-01-20,o2,p,books,10", "A,2025-03-01,o3,p,books,10"])
    .events(&[
        "A,2025-01-01,complaint",
        "A,2025-01-08,complaint",
        "A,2025-02-05,complaint",
        "A,2025-02-20,complaint",
        "A,2025-02-21,response,care,sorry,ok",
    ]);
    // care#1 runs 01-01..01-11 (timeout); 01-08 is while live; 02-05 is 25 days after the end
    // (blocked), 02-20 is 40 days after: care#2, answered 02-21. promo is quiet during care#1
    // (01-05) but not on 01-20 or 03-01.
    assert_eq!(
        f.plan(&[]),
        "\
A care#1 sorry/0 email:sorry 2025-01-01 planned
A promo#1 offer/0 email:offer 2025-01-20 planned
A care#2 sorry/0 email:sorry 2025-02-20 planned
A promo#2 offer/0 email:offer 2025-03-01 due
"
    );
}

#[test]
fn explain_tells_the_story() {
    let f = airline();
    let out = f.cmd(&[
        "explain",
        "S",
        "--dialogues",
        "dialogues",
        "--transactions",
        "tx.csv",
        "--events",
        "events.csv",
        "--as-of",
        "2025-06-30",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("explain_airline_saved", out.stdout);
}

#[test]
fn graph_draws_steps_branches_timeouts_goals_and_follow_ons() {
    let f = airline();
    let out = f.cmd(&["graph", "win_back", "--dialogues", "dialogues"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("graph_mermaid", out.stdout);
    let out = f.cmd(&["graph", "win_back", "--dialogues", "dialogues", "--format", "dot"]);
    insta::assert_snapshot!("graph_dot", out.stdout);
    let out = f.cmd(&["graph", "win_bak", "--dialogues", "dialogues"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr, "error: unknown dialogue `win_bak`\n  = help: did you mean `win_back`?\n");
}

#[test]
fn stdin_input_and_explain_json() {
    let f = airline();
    let tx = super::read(&f.path("tx.csv"));
    let out = assert_cmd::Command::cargo_bin("kairos")
        .unwrap()
        .current_dir(f.dir.path())
        .args(["run", "-d", "dialogues", "-t", "-", "-e", "events.csv", "--as-of", "2025-06-30"])
        .write_stdin(tx)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), f.run(&["--as-of", "2025-06-30"]).stdout);
    let out = f.cmd(&[
        "explain",
        "N",
        "-d",
        "dialogues",
        "-t",
        "tx.csv",
        "-e",
        "events.csv",
        "--as-of",
        "2025-06-30",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["instances"][0]["outcome"], "no_contact");
    let kinds: Vec<&str> = v["timeline"].as_array().unwrap().iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["purchase", "trigger", "start", "message", "timeout", "end"]);
}

#[test]
fn the_order_that_starts_a_dialogue_is_not_its_next_purchase() {
    let f = Fixture::new();
    f.dialogue(
        "g",
        "trigger:\n  nth_order: {n: [1]}\ngoals:\n  - {event: purchase, outcome: ordered_again}\nsteps:\n  - id: offer\n    send: {channel: email, template: t}\n    timeout: {after: 14d, end: expired}\n",
    )
    .tx(&["A,2025-01-01T10:00:00Z,O1,p1,c,1", "A,2025-01-01T10:00:00Z,O1,p2,c,1", "A,2025-01-05,O2,p1,c,1"]);
    let out = f.run(&["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v[0]["instances"][0]["outcome"], "ordered_again");
    assert_eq!(v[0]["instances"][0]["ended_at"], "2025-01-05T00:00:00Z");
}

#[test]
fn graph_start_node_shows_the_trigger_parameters_and_when() {
    let f = Fixture::new();
    f.dialogue(
        "gold",
        "trigger:\n  threshold: {measure: spend, reaches: 1000, within: 365d}\nwhen: orders() >= 2\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n",
    );
    let out = f.cmd(&["graph", "gold", "-d", "dialogues"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // (`>` is written `#gt;`: Mermaid reads `<...>` in a label as HTML.)
    assert!(
        out.stdout
            .contains("start([\"trigger: threshold: spend reaches 1000 within 365d<br/>when orders() #gt;= 2\"])"),
        "{}",
        out.stdout
    );
}

#[test]
fn several_dialogue_paths_combine_and_a_library_dialogue_can_be_tried_alone() {
    let f = Fixture::new();
    f.file(
        "library/promo.yaml",
        "trigger:\n  purchase: {}\nquiet_while: [care]\nsteps:\n  - id: s\n    send: {channel: email, template: promo}\n",
    )
    .file("library/care.yaml", "trigger:\n  event: {type: complaint}\nsteps:\n  - id: s\n    send: {channel: email, template: sorry}\n")
    .tx(&["A,2025-01-01,o1,p1,books,10"]);
    // Alone: runs, with a note about the name it refers to that is not loaded.
    let out = f.cmd(&["run", "-d", "library/promo.yaml", "-t", "tx.csv"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("warning: quiet_while names `care`, which is not among the loaded dialogues; it is ignored"),
        "{}",
        out.stderr
    );
    assert_eq!(super::brief(&out.stdout), "A promo#1 s/0 email:promo 2025-01-01 due\n");
    // Together (a file and a folder holding it: read once), no warning.
    let out = f.cmd(&["run", "-d", "library/promo.yaml", "-d", "library", "-t", "tx.csv"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    assert!(!out.stderr.contains("duplicate"), "{}", out.stderr);
}

#[test]
fn a_revisited_step_sends_messages_with_their_own_ids() {
    let f = Fixture::new();
    f.dialogue(
        "ask",
        "trigger:\n  purchase: {}\nsteps:\n  - id: ask\n    send: {channel: email, template: ask}\n    timeout: {after: 3d, goto: nudge}\n    on:\n      - {answer: yes, end: agreed}\n  - id: nudge\n    send: {channel: sms, template: nudge}\n    wait: 2d\n    next: again\n  - id: again\n    timeout: {after: 1d, goto: ask}\n    on:\n      - {answer: yes, end: agreed}\n",
    )
    .tx(&["A,2025-01-01,o1,p1,books,10"]);
    let out = f.run(&["--as-of", "2025-01-15", "--format", "jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows: Vec<serde_json::Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let asks: Vec<&str> =
        rows.iter().filter(|r| r["step"] == "ask").map(|r| r["message_id"].as_str().unwrap()).collect();
    assert!(asks.len() >= 2, "{}", out.stdout);
    let mut unique = asks.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), asks.len(), "every visit of `ask` has its own id: {asks:?}");
    // An answer quoting the second visit's id is taken by that visit.
    f.file("events.csv", &format!("{}A,2025-01-08T12:00:00Z,response,,,yes,{},\n", super::EV_HEADER, asks[1]));
    let out = f.run(&["--as-of", "2025-01-15", "--format", "json"]);
    assert!(out.stdout.contains("\"outcome\":\"agreed\""), "{}", out.stdout);
}

/// The bank story as one dialogue: an address change, a reminder for everyone and, for
/// premier customers only, a phone call after it; a premier customer's yes books a call.
const BANK: &str = r#"
trigger:
  address_change: {}
steps:
  - id: offer
    send: {channel: email, template: address_offer}
    escalate:
      - {after: 7d, channel: email, template: address_reminder}
      - {after: 3d, channel: phone, template: premier_call, when: 'customer.segment == "premier"'}
    timeout: {after: 14d, end: no_answer}
    on:
      - {answer: yes, when: 'customer.segment == "premier"', goto: book_call}
      - {answer: yes, end: accepted}
  - id: book_call
    send: {channel: phone, template: adviser_call}
"#;

fn bank() -> Fixture {
    let f = Fixture::new();
    // Events only: a bank passes no transactions.
    f.dialogue("bank", BANK)
        .file(
            "customers.csv",
            "customer_id,segment,email,phone\nP,premier,p@x,+1\nS,standard,s@x,+2\nQ,premier,q@x,+3\n",
        )
        .events(&[
            "P,2025-01-01,address_change",
            "S,2025-01-01,address_change",
            "Q,2025-01-01,address_change",
            "Q,2025-01-04,response,bank,offer,yes",
        ]);
    f
}

#[test]
fn bank_a_rung_and_a_branch_with_when_tell_one_conversation() {
    let f = bank();
    assert_eq!(
        f.plan(&["--as-of", "2025-03-01"]),
        "\
P bank#1 offer/0 email:address_offer 2025-01-01 planned
P bank#1 offer/1 email:address_reminder 2025-01-08 planned
P bank#1 offer/2 phone:premier_call 2025-01-11 planned
Q bank#1 offer/0 email:address_offer 2025-01-01 planned
Q bank#1 book_call/0 phone:adviser_call 2025-01-04 planned
S bank#1 offer/0 email:address_offer 2025-01-01 planned
S bank#1 offer/1 email:address_reminder 2025-01-08 planned
"
    );
    let out =
        f.cmd(&["explain", "S", "-d", "dialogues", "-e", "events.csv", "-c", "customers.csv", "--as-of", "2025-03-01"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("bank#1 step offer attempt 2: not sent, `when: customer.segment == \"premier\"` is false"),
        "{}",
        out.stdout
    );
    let out = f.cmd(&["explain", "Q", "-d", "dialogues", "-e", "events.csv", "-c", "customers.csv"]);
    assert!(
        out.stdout.contains("bank#1: answer yes (when customer.segment == \"premier\") at offer"),
        "{}",
        out.stdout
    );
    let out = f.cmd(&["graph", "bank", "--dialogues", "dialogues"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("graph_bank_when", out.stdout);
}

#[test]
fn a_reminder_comes_exactly_7d_after_the_deferred_send() {
    // Email goes out at 09:00 only: the 15:00 message is deferred to the next morning, and
    // its reminder comes 7 days after that real send (not 6d18h after it).
    let f = Fixture::new();
    f.file("kairos.yaml", "policy:\n  send_windows:\n    email: {at: \"09:00\"}\n")
        .dialogue(
            "r",
            "trigger:\n  purchase: {}\nsteps:\n  - id: ask\n    send: {channel: email, template: ask}\n    escalate:\n      - {after: 7d, channel: sms, template: nudge}\n    timeout: {after: 1d, end: no_answer}\n    on:\n      - {answer: yes, end: agreed}\n",
        )
        .tx(&["A,2025-01-01T15:00:00Z,o1,p,c,1"]);
    assert_eq!(
        f.plan(&["--as-of", "2025-02-01"]),
        "\
A r#1 ask/0 email:ask 2025-01-02T09:00:00Z planned
A r#1 ask/1 sms:nudge 2025-01-09T09:00:00Z planned
"
    );
}

#[test]
fn next_with_when_sends_premier_customers_on_to_a_call() {
    let f = Fixture::new();
    f.dialogue(
        "bank",
        r#"
trigger:
  address_change: {}
steps:
  - id: offer
    send: {channel: email, template: address_offer}
    wait: 7d
    next:
      - {when: 'customer.segment == "premier"', goto: call}
      - {end: emailed}
  - id: call
    send: {channel: phone, template: premier_call}
"#,
    )
    .file("customers.csv", "customer_id,segment\nP,premier\nS,standard\n")
    .events(&["P,2025-01-01,address_change", "S,2025-01-01,address_change"]);
    assert_eq!(
        f.plan(&["--as-of", "2025-03-01"]),
        "\
P bank#1 offer/0 email:address_offer 2025-01-01 planned
P bank#1 call/0 phone:premier_call 2025-01-08 planned
S bank#1 offer/0 email:address_offer 2025-01-01 planned
"
    );
    let out = f.cmd(&["explain", "P", "-d", "dialogues", "-e", "events.csv", "-c", "customers.csv"]);
    assert!(out.stdout.contains("bank#1: next if customer.segment == \"premier\" at offer"), "{}", out.stdout);
    let out = f.cmd(&["graph", "bank", "--dialogues", "dialogues"]);
    insta::assert_snapshot!("graph_bank_next_when", out.stdout);
}

/// History at the end of the calendar: a wait that would end after 9999-12-31T23:59:59Z never
/// ends, so no message is planned at a time the output cannot write.
#[test]
fn waits_past_the_last_instant_never_end() {
    let f = Fixture::new();
    f.dialogue(
        "hello",
        "trigger:\n  purchase: {}\nsteps:\n  - id: hi\n    send: {channel: email, template: hi}\n    escalate:\n      - {after: 1d, channel: email, template: hi}\n    timeout: {after: 30d, end: lapsed}\n",
    )
    .tx(&["A,9999-12-31,o1,p1,books,10", "B,9999-12-30,o2,p1,books,10"]);
    let out = f.run(&["--include-suppressed"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("0000-00-00"), "{}", out.stdout);
    assert_eq!(
        super::brief(&out.stdout),
        "\
A hello#1 hi/0 email:hi 9999-12-31 due
B hello#1 hi/0 email:hi 9999-12-30 planned
B hello#1 hi/1 email:hi 9999-12-31 due
"
    );
}

/// A step entered again asks its question again, with a new id: an answer quoting the first
/// visit's message reaches nothing (that question is over); one quoting the second moves on.
#[test]
fn an_answer_to_an_earlier_visit_of_a_step_does_not_answer_the_current_one() {
    let f = Fixture::new();
    f.dialogue(
        "ask",
        "trigger:\n  event: {type: signup}\nsteps:\n  - id: q\n    send: {channel: email, template: t_q}\n    escalate:\n      - {after: 2d, channel: email, template: t_r}\n    on:\n      - {answer: \"yes\", goto: thanks}\n      - {event: visit, goto: q}\n    timeout: {after: 3d, end: no_reply}\n  - id: thanks\n    send: {channel: email, template: t_thx}\n",
    );
    f.events(&["A,2025-01-01T10:00:00Z,signup", "A,2025-01-02T10:00:00Z,visit"]);
    let first = f.run(&["--as-of", "2025-01-20", "--format", "jsonl"]);
    let ids: Vec<String> = first
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["step"] == "q" && v["attempt"] == 0)
        .map(|v| v["message_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "{}", first.stdout);
    let with_answer = |id: &str| {
        f.events(&[
            "A,2025-01-01T10:00:00Z,signup",
            "A,2025-01-02T10:00:00Z,visit",
            &format!("A,2025-01-03T10:00:00Z,response,,,yes,{id}"),
        ]);
        f.plan(&["--as-of", "2025-01-20"])
    };
    assert_eq!(
        with_answer(&ids[0]),
        "\
A ask#1 q/0 email:t_q 2025-01-01T10:00:00Z planned
A ask#1 q/0 email:t_q 2025-01-02T10:00:00Z planned
A ask#1 q/1 email:t_r 2025-01-04T10:00:00Z planned
"
    );
    assert_eq!(
        with_answer(&ids[1]),
        "\
A ask#1 q/0 email:t_q 2025-01-01T10:00:00Z planned
A ask#1 q/0 email:t_q 2025-01-02T10:00:00Z planned
A ask#1 thanks/0 email:t_thx 2025-01-03T10:00:00Z planned
"
    );
}
