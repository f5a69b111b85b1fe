//! The contact policy: tiers, consent, do-not-contact, caps, send windows, holdouts; and
//! properties that must hold for any customers, events and policy.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::Fixture;

/// Rows of a CSV plan as maps from column name to value.
fn rows(csv_text: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let h = r.headers().unwrap().clone();
    r.records().map(|x| h.iter().zip(x.unwrap().iter()).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()).collect()
}

fn brief_policy(csv_text: &str) -> String {
    rows(csv_text)
        .iter()
        .map(|r| {
            format!(
                "{} {} {}:{} {} {}{}\n",
                r["customer_id"],
                r["step"],
                r["channel"],
                r["template"],
                r["send_at"],
                r["status"],
                if r["policy_note"].is_empty() { String::new() } else { format!(" [{}]", r["policy_note"]) }
            )
        })
        .collect()
}

#[test]
fn a_tiered_step_calls_top_customers_and_emails_the_others() {
    let f = Fixture::new();
    f.file("kairos.yaml", "tiers:\n  measure: spend\n  within: 365d\n  levels: {top: 1000, medium: 200, low: 0}\n")
        .dialogue(
            "lapsed",
            "trigger:\n  absence: {after: 60d}\nsteps:\n  - id: reach_out\n    send:\n      channel: email\n      template: stock_winback\n      by_tier:\n        top: {channel: phone, template: rep_call}\n        medium: {channel: email, template: personal_winback}\n",
        )
        .tx(&[
            "HIGH,2025-01-01,o1,p,c,1500",
            "MID,2025-01-01,o2,p,c,300",
            "LOW,2025-01-01,o3,p,c,20",
            "ZZZ,2025-06-01,o4,p,c,1",
        ]);
    let out = f.run(&["--include-suppressed"]);
    assert_eq!(
        brief_policy(&out.stdout),
        "\
HIGH reach_out phone:rep_call 2025-03-02T00:00:00Z planned
LOW reach_out email:stock_winback 2025-03-02T00:00:00Z planned
MID reach_out email:personal_winback 2025-03-02T00:00:00Z planned
"
    );
}

#[test]
fn tiers_from_a_customer_column() {
    let f = Fixture::new();
    f.file("kairos.yaml", "tiers: {column: tier}\n")
        .dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send:\n      channel: email\n      template: stock\n      by_tier:\n        gold: {channel: phone, template: call}\n")
        .tx(&["A,2025-01-01,o1,p,c,1", "B,2025-01-01,o2,p,c,1"])
        .file("customers.csv", "customer_id,tier,email,phone\nA,gold,a@x,+1\nB,bronze,b@x,+2\n");
    let out = f.run(&[]);
    assert_eq!(
        brief_policy(&out.stdout),
        "A a phone:call 2025-01-01T00:00:00Z due\nB a email:stock 2025-01-01T00:00:00Z due\n"
    );
}

/// An opt-out naming no declared channel would be ignored and the customer contacted: an
/// error at its row, with the channel it was probably meant for; an empty channel is every
/// channel.
#[test]
fn an_opt_out_of_an_unknown_channel_is_an_error_not_ignored() {
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n")
        .tx(&["A,2025-01-01,o1,p,c,1", "B,2025-01-02,o2,p,c,1"])
        .file("events.csv", "customer_id,timestamp,type,channel\nB,2024-12-01,opt_in,\nB,2024-12-01,opt_out,Email\nA,2024-12-01,opt_out,emial\n");
    let out = f.run(&[]);
    assert_eq!((out.code, out.stdout.as_str()), (2, ""), "{}", out.stderr);
    assert!(
        out.stderr.contains("column `channel`: opt_out names channel \"Email\", which is not a declared channel (did you mean `email`?); leave it empty for every channel"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("events.csv:3"), "the first such row: {}", out.stderr);
    f.file("events.csv", "customer_id,timestamp,type,channel\nB,2024-12-01,opt_out,\n");
    let out = f.run(&["--include-suppressed"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.lines().any(|l| l.contains(",B,") && l.contains("suppressed")), "{}", out.stdout);
}

/// With a do-not-contact column, a customer the customers file does not list cannot be
/// cleared to contact: their messages are suppressed, saying why, and counted.
#[test]
fn a_customer_without_a_profile_is_not_contacted_when_do_not_contact_is_configured() {
    let f = Fixture::new();
    f.file("kairos.yaml", "policy:\n  consent:\n    do_not_contact: dnc\n")
        .dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n")
        .tx(&["A,2025-01-01,o1,p,c,1", "B,2025-01-01,o2,p,c,1"])
        .file("customers.csv", "customer_id,dnc\nA,no\n");
    let out = f.run(&["--include-suppressed", "--summary", "full"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        brief_policy(&out.stdout),
        "\
A a email:t 2025-01-01T00:00:00Z due
B a email:t 2025-01-01T00:00:00Z suppressed [not in the customers file, so do-not-contact is unknown]
"
    );
    assert!(out.stderr.contains("suppressed 1: not in the customers file"), "{}", out.stderr);
    // Without the setting, nothing is unknown.
    f.file("kairos.yaml", "timezone: UTC\n");
    assert_eq!(rows(&f.run(&[]).stdout).len(), 2);
}

#[test]
fn consent_fallback_opt_out_events_and_do_not_contact() {
    let f = Fixture::new();
    f.file(
        "kairos.yaml",
        "policy:\n  consent:\n    do_not_contact: dnc\n    channels:\n      sms: {default: out, column: sms_ok}\n",
    )
    .dialogue(
        "hi",
        "trigger:\n  purchase: {}\nreentry: always\nsteps:\n  - id: a\n    send: {channel: [sms, email], template: t}\n",
    )
    .tx(&[
        "A,2025-01-01,o1,p,c,1",
        "B,2025-01-01,o2,p,c,1",
        "C,2025-01-01,o3,p,c,1",
        "C,2025-02-01,o4,p,c,1",
        "D,2025-01-01,o5,p,c,1",
    ])
    .file("customers.csv", "customer_id,sms_ok,dnc\nA,yes,\nB,,\nC,,\nD,yes,yes\n")
    .file("events.csv", "customer_id,timestamp,type,channel\nC,2025-01-15,opt_out,email\n");
    let out = f.run(&["--include-suppressed"]);
    assert_eq!(
        brief_policy(&out.stdout),
        "\
A a sms:t 2025-01-01T00:00:00Z planned
B a email:t 2025-01-01T00:00:00Z planned [fallback: no consent for sms]
C a email:t 2025-01-01T00:00:00Z planned [fallback: no consent for sms]
C a sms:t 2025-02-01T00:00:00Z suppressed [no consent for sms, email]
D a sms:t 2025-01-01T00:00:00Z suppressed [do not contact]
"
    );
    // Without --include-suppressed the suppressed messages are left out, and the summary says why.
    let out = f.run(&["--summary", "full"]);
    assert_eq!(rows(&out.stdout).len(), 3);
    assert!(out.stderr.contains("suppressed 1: do not contact"), "{}", out.stderr);
    assert!(out.stderr.contains("suppressed 1: no consent"), "{}", out.stderr);
}

/// An opt-out of the channel a held message waits for sends it on the next channel it lists
/// that has consent, at once (as the policy allows then); with none left it is suppressed.
/// The step after it follows it when it goes out.
#[test]
fn an_opt_out_while_a_message_is_held_falls_back_to_its_next_channel() {
    let f = Fixture::new();
    f.file("kairos.yaml", "policy:\n  send_windows:\n    sms: {days: [mon, tue, wed, thu, fri], from: \"09:00\", to: \"18:00\"}\n")
        .dialogue(
            "hi",
            "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: [sms, email], template: t}\n  - id: b\n    send: {channel: email, template: u}\n",
        )
        // 2025-01-04 is a Saturday: the sms waits for Monday 09:00.
        .tx(&["A,2025-01-04T15:00:00Z,o1,p,c,1", "B,2025-01-04T15:00:00Z,o2,p,c,1", "C,2025-01-04T15:00:00Z,o3,p,c,1"])
        .file(
            "events.csv",
            "customer_id,timestamp,type,channel\nA,2025-01-05T10:00:00Z,opt_out,sms\nB,2025-01-05T10:00:00Z,opt_out,\n",
        );
    assert_eq!(
        brief_policy(&f.run(&["--include-suppressed", "--as-of", "2025-01-31"]).stdout),
        "\
A a email:t 2025-01-05T10:00:00Z planned [fallback: no consent for sms; deferred from 2025-01-04T15:00:00Z by send window]
A b email:u 2025-01-05T10:00:00Z planned
B b email:u 2025-01-05T10:00:00Z suppressed [no consent for email]
B a sms:t 2025-01-06T09:00:00Z suppressed [no consent for sms at send time]
C a sms:t 2025-01-06T09:00:00Z planned [deferred from 2025-01-04T15:00:00Z by send window]
C b email:u 2025-01-06T09:00:00Z planned
"
    );
}

#[test]
fn caps_let_the_higher_priority_dialogue_win_and_defer_or_drop_the_other() {
    let f = Fixture::new();
    f.file("kairos.yaml", "policy:\n  caps:\n    - {max: 1, per: 1d}\n")
        .dialogue(
            "a_promo",
            "priority: 1\ntrigger:\n  purchase: {}\nsteps:\n  - id: p\n    send: {channel: email, template: promo}\n",
        )
        .dialogue(
            "b_thanks",
            "priority: 9\ntrigger:\n  purchase: {}\nsteps:\n  - id: t\n    send: {channel: email, template: thanks}\n",
        )
        .tx(&["A,2025-01-01T10:00:00Z,o1,p,c,1", "Z,2025-01-10,o9,p,c,1"]);
    assert_eq!(
        brief_policy(&f.run(&["--as-of", "2025-01-05"]).stdout),
        "\
A t email:thanks 2025-01-01T10:00:00Z planned
A p email:promo 2025-01-02T10:00:00Z planned [deferred from 2025-01-01T10:00:00Z by cap 1 per 1d]
"
    );
    f.file("kairos.yaml", "policy:\n  caps:\n    - {max: 1, per: 1d}\n  on_cap: drop\n");
    assert_eq!(
        brief_policy(&f.run(&["--include-suppressed", "--as-of", "2025-01-05"]).stdout),
        "\
A p email:promo 2025-01-01T10:00:00Z suppressed [dropped: cap 1 per 1d]
A t email:thanks 2025-01-01T10:00:00Z planned
"
    );
}

#[test]
fn send_windows_use_the_customers_time_zone() {
    let f = Fixture::new();
    f.file(
        "kairos.yaml",
        "policy:\n  timezone_column: timezone\n  send_windows:\n    phone: {days: [mon, tue, wed, thu, fri], from: \"09:00\", to: \"18:00\"}\n    email: {at: \"09:00\"}\n",
    )
    .dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: call\n    send: {channel: phone, template: c}\n  - id: mail\n    send: {channel: email, template: m}\n")
    // 2025-01-04 is a Saturday. The call waits for Monday's window; the mail, the next step,
    // follows the call when it goes out (at 09:00 local, so inside the email window), never
    // before it.
    .tx(&["NY,2025-01-04T15:00:00Z,o1,p,c,1", "UTC,2025-01-04T15:00:00Z,o2,p,c,1"])
    .file("customers.csv", "customer_id,timezone\nNY,America/New_York\nUTC,\n");
    assert_eq!(
        brief_policy(&f.run(&["--as-of", "2025-01-31"]).stdout),
        "\
NY call phone:c 2025-01-06T14:00:00Z planned [deferred from 2025-01-04T15:00:00Z by send window]
NY mail email:m 2025-01-06T14:00:00Z planned
UTC call phone:c 2025-01-06T09:00:00Z planned [deferred from 2025-01-04T15:00:00Z by send window]
UTC mail email:m 2025-01-06T09:00:00Z planned
"
    );
}

/// A `profile_update` of a column the policy reads changes it from its instant on: the time
/// zone moves send windows, the weekly maximum the personal cap. Consent and do-not-contact
/// change only by opt-in/opt-out events: an update of theirs is a warning, not a change.
#[test]
fn profile_updates_move_time_zones_and_weekly_maxima() {
    let f = Fixture::new();
    f.file(
        "kairos.yaml",
        "policy:\n  timezone_column: tz\n  preferences:\n    max_per_week_column: weekly\n  consent:\n    do_not_contact: dnc\n  send_windows:\n    email: {at: \"09:00\"}\n",
    )
    .dialogue("hi", "trigger:\n  purchase: {}\nreentry: always\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n")
    .tx(&[
        "A,2025-01-01T12:00:00Z,o1,p,c,1",
        "A,2025-01-03T12:00:00Z,o2,p,c,1",
        "A,2025-01-05T12:00:00Z,o3,p,c,1",
        "B,2025-01-01T12:00:00Z,o4,p,c,1",
        "B,2025-01-03T12:00:00Z,o5,p,c,1",
    ])
    .file("customers.csv", "customer_id,tz,weekly,dnc\nA,America/New_York,,\nB,,,\n")
    .file(
        "events.csv",
        "\
customer_id,timestamp,type,column,value
A,2025-01-02T00:00:00Z,profile_update,tz,Asia/Tokyo
A,2025-01-04T00:00:00Z,profile_update,tz,Mars/Olympus
B,2025-01-02T00:00:00Z,profile_update,weekly,0
B,2025-01-02T00:00:00Z,profile_update,dnc,yes
B,2025-01-02T00:00:00Z,profile_update,customer_id,Z
",
    );
    let out = f.run(&["--include-suppressed", "--as-of", "2025-01-31"]);

    assert_eq!(
        brief_policy(&out.stdout),
        "\
A a email:t 2025-01-01T14:00:00Z planned [deferred from 2025-01-01T12:00:00Z by send window]
A a email:t 2025-01-04T00:00:00Z planned [deferred from 2025-01-03T12:00:00Z by send window]
A a email:t 2025-01-06T00:00:00Z planned [deferred from 2025-01-05T12:00:00Z by send window]
B a email:t 2025-01-02T09:00:00Z planned [deferred from 2025-01-01T12:00:00Z by send window]
B a email:t 2025-01-03T12:00:00Z suppressed [dropped: cap 0 per 7d]
"
    );
    assert!(
        out.stderr.contains("events.csv:3: profile_update: time zone `Mars/Olympus` is not an IANA name (such as Europe/London); the contact policy keeps the zone it had"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("events.csv:5: profile_update: column `dnc` holds consent or do-not-contact, which change only by `opt_in`/`opt_out` events"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("events.csv:6: profile_update: `customer_id` is the key of the customers file and cannot change; update ignored"),
        "{}",
        out.stderr
    );
}

#[test]
fn holdouts_are_stable_and_reported() {
    let f = Fixture::new();
    f.dialogue(
        "hi",
        "trigger:\n  purchase: {}\nholdout: 0.5\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n",
    );
    let tx: Vec<String> = (0..40).map(|i| format!("C{i:02},2025-01-01,o{i},p,c,1")).collect();
    f.tx(&tx.iter().map(String::as_str).collect::<Vec<_>>());
    let all = rows(&f.run(&["--include-suppressed"]).stdout);
    let held: Vec<&String> = all.iter().filter(|r| r["policy_note"] == "holdout").map(|r| &r["customer_id"]).collect();
    assert_eq!(all.len(), 40);
    assert!((10..=30).contains(&held.len()), "{} held out", held.len());
    let again = rows(&f.run(&["--include-suppressed"]).stdout);
    assert_eq!(all, again);
    assert_eq!(rows(&f.run(&[]).stdout).len(), 40 - held.len());
}

// ---- properties ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Case {
    tx: Vec<String>,
    events: Vec<String>,
    profiles: Vec<String>,
    cap_day: u32,
    cap_week: u32,
    sms_default_in: bool,
}

fn case() -> impl Strategy<Value = Case> {
    let customers = 1..6usize;
    customers
        .prop_flat_map(|n| {
            (
                prop::collection::vec((0..n, 0..60u32, 0..24u32, 1..400u32), 1..30),
                prop::collection::vec((0..n, 0..60u32, 0..3u8, 0..3u8), 0..10),
                prop::collection::vec((any::<bool>(), any::<bool>()), n..=n),
                1..3u32,
                1..5u32,
                any::<bool>(),
            )
        })
        .prop_map(|(tx, ev, prof, cap_day, cap_week, sms_default_in)| Case {
            tx: tx
                .iter()
                .enumerate()
                .map(|(i, (c, d, h, a))| {
                    format!("C{c},2025-01-01T00:00:00Z,o{i},p{},c{},1,{a},web", i % 3, d % 4)
                        .replace("2025-01-01T00", &stamp(*d, *h))
                })
                .collect(),
            events: ev
                .iter()
                .map(|(c, d, kind, ch)| {
                    let kind = ["opt_out", "opt_in", "complaint"][*kind as usize];
                    let ch = ["email", "sms", ""][*ch as usize];
                    format!("C{c},{}:00:00Z,{kind},{ch}", stamp(*d, 12))
                })
                .collect(),
            profiles: prof
                .iter()
                .enumerate()
                .map(|(i, (dnc, sms))| {
                    format!("C{i},{},{}", if *dnc { "yes" } else { "" }, if *sms { "yes" } else { "no" })
                })
                .collect(),
            cap_day,
            cap_week,
            sms_default_in,
        })
}

fn stamp(day: u32, hour: u32) -> String {
    let d = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + chrono::Duration::days(i64::from(day));
    format!("{d}T{hour:02}")
}

fn write_case(f: &Fixture, c: &Case, policy: bool) {
    write_case_with(f, c, policy, "defer");
}

/// `on_cap`: what a message over a cap does (`defer` or `drop`).
fn write_case_with(f: &Fixture, c: &Case, policy: bool, on_cap: &str) {
    f.file("tx.csv", &format!("{}{}\n", super::TX_HEADER, c.tx.join("\n")));
    f.file("events.csv", &format!("customer_id,timestamp,type,channel\n{}\n", c.events.join("\n")));
    f.file("customers.csv", &format!("customer_id,dnc,sms_ok\n{}\n", c.profiles.join("\n")));
    let config = if policy {
        format!(
            "policy:\n  on_cap: {on_cap}\n  caps:\n    - {{max: {}, per: 1d}}\n    - {{max: {}, per: 7d}}\n  consent:\n    do_not_contact: dnc\n    channels:\n      sms: {{default: {}, column: sms_ok}}\n",
            c.cap_day,
            c.cap_week,
            if c.sms_default_in { "in" } else { "out" }
        )
    } else {
        String::new()
    };
    f.file("kairos.yaml", &config);
}

fn dialogues(f: &Fixture) {
    f.dialogue("buy", "priority: 2\ntrigger:\n  purchase: {}\nreentry: always\nsteps:\n  - id: a\n    send: {channel: [sms, email], template: t}\n  - id: b\n    send: {channel: email, template: u, delay: 1d}\n");
    f.dialogue("care", "priority: 5\ntrigger:\n  event: {type: complaint}\nreentry: always\nsteps:\n  - id: s\n    send: {channel: [email, sms], template: sorry}\n    escalate:\n      - {after: 2d, channel: sms, template: again}\n    timeout: {after: 3d, end: done}\n");
    f.dialogue("away", "trigger:\n  absence: {after: 10d}\nreentry: always\nsteps:\n  - id: m\n    send: {channel: email, template: miss}\n");
}

/// Consent for (customer, channel) at instant `at`, computed independently of kairos.
fn consent_at(c: &Case, customer: &str, channel: &str, at: &str) -> bool {
    let prof = c.profiles.iter().find(|p| p.split(',').next() == Some(customer)).unwrap();
    let f: Vec<&str> = prof.split(',').collect();
    if f[1] == "yes" {
        return false;
    }
    let mut ok = match channel {
        "sms" if f[2] == "yes" => true,
        "sms" if f[2] == "no" => false,
        "sms" => c.sms_default_in,
        _ => true,
    };
    let mut evs: Vec<(String, String, String)> = c
        .events
        .iter()
        .map(|e| e.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter(|g| g[0] == customer)
        .map(|g| (g[1].clone(), g[2].clone(), g[3].clone()))
        .collect();
    evs.sort();
    for (ts, kind, ch) in evs {
        if ts.as_str() > at {
            break;
        }
        if (kind == "opt_out" || kind == "opt_in") && (ch.is_empty() || ch == channel) {
            ok = kind == "opt_in";
        }
    }
    ok
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn policy_properties(c in case()) {
        let f = Fixture::new();
        dialogues(&f);
        write_case(&f, &c, true);
        let out = f.run(&["--include-suppressed", "--as-of", "2025-04-30"]);
        prop_assert_eq!(out.code, 0, "{}", out.stderr);
        let planned = rows(&out.stdout);

        // No message is planned on a channel without consent at its send time.
        for r in planned.iter().filter(|r| r["status"] != "suppressed") {
            prop_assert!(consent_at(&c, &r["customer_id"], &r["channel"], &r["send_at"]), "no consent: {:?}", r);
        }
        // Every suppressed message says why.
        for r in planned.iter().filter(|r| r["status"] == "suppressed") {
            prop_assert!(!r["policy_note"].is_empty());
        }
        // No cap is ever exceeded.
        let mut by_customer: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for r in planned.iter().filter(|r| r["status"] != "suppressed") {
            let t = chrono::DateTime::parse_from_rfc3339(&r["send_at"]).unwrap().timestamp();
            by_customer.entry(&r["customer_id"]).or_default().push(t);
        }
        for times in by_customer.values_mut() {
            times.sort_unstable();
            for (i, &t) in times.iter().enumerate() {
                let day = times[..=i].iter().filter(|&&x| x > t - 86_400).count();
                let week = times[..=i].iter().filter(|&&x| x > t - 7 * 86_400).count();
                prop_assert!(day <= c.cap_day as usize && week <= c.cap_week as usize, "cap exceeded: {:?}", times);
            }
        }
        // Every message the dialogues want is either planned or suppressed with a reason: the
        // same messages as a run without any policy. (Compared with caps that drop: a deferred
        // message moves the rest of its conversation later, as a reminder counts from the real
        // send, and a longer conversation can keep a later trigger from starting a new run.)
        write_case_with(&f, &c, true, "drop");
        let dropped = rows(&f.run(&["--include-suppressed", "--as-of", "2025-04-30"]).stdout);
        write_case(&f, &c, false);
        let free = rows(&f.run(&["--include-suppressed", "--as-of", "2025-04-30"]).stdout);
        let key = |r: &BTreeMap<String, String>| r["message_id"].clone();
        let a: BTreeSet<String> = dropped.iter().map(key).collect();
        let b: BTreeSet<String> = free.iter().map(key).collect();
        prop_assert_eq!(a, b);

        // The result does not depend on input order.
        write_case(&f, &c, true);
        let mut rev = c.clone();
        rev.tx.reverse();
        rev.events.reverse();
        rev.profiles.reverse();
        write_case(&f, &rev, true);
        let again = f.run(&["--include-suppressed", "--as-of", "2025-04-30"]);
        prop_assert_eq!(again.stdout, out.stdout);
    }
}

#[test]
fn rfm_scores_in_conditions() {
    let f = Fixture::new();
    f.file(
        "kairos.yaml",
        "rfm:\n  recency_days: [7, 30, 90, 180]\n  frequency: [2, 3, 4, 5]\n  monetary: [50, 100, 200, 400]\n",
    )
    .dialogue(
        "best",
        "trigger:\n  purchase: {}\nwhen: rfm() >= 530\nsteps:\n  - id: a\n    send: {channel: email, template: best}\n",
    )
    .tx(&[
        // A: weekly orders; at the 3rd, R=5 (bought today), F=3 (3 orders), M=2 (90 spent):
        // 532. At the 2nd, F is only 2. B's second order is too late for R and F.
        "A,2025-01-01,o1,p,c,30",
        "A,2025-01-08,o2,p,c,30",
        "A,2025-01-15,o3,p,c,30",
        "A,2025-01-22,o4,p,c,30",
        "B,2025-01-01,o5,p,c,30",
        "B,2025-06-01,o6,p,c,30",
    ]);
    assert_eq!(brief_policy(&f.run(&[]).stdout), "A a email:best 2025-01-15T00:00:00Z planned\n");
}

#[test]
fn preferred_channels_and_personal_weekly_maximum() {
    let f = Fixture::new();
    f.file("kairos.yaml", "policy:\n  preferences:\n    channels_column: preferred\n    max_per_week_column: max_week\n  on_cap: drop\n")
        .dialogue("hi", "trigger:\n  purchase: {}\nreentry: always\nsteps:\n  - id: a\n    send: {channel: [email, sms], template: t}\n")
        .tx(&["A,2025-01-01,o1,p,c,1", "A,2025-01-02,o2,p,c,1", "B,2025-01-01,o3,p,c,1", "B,2025-01-02,o4,p,c,1"])
        .file("customers.csv", "customer_id,preferred,max_week\nA,sms,1\nB,,\n");
    assert_eq!(
        brief_policy(&f.run(&["--include-suppressed"]).stdout),
        "\
A a sms:t 2025-01-01T00:00:00Z planned
A a sms:t 2025-01-02T00:00:00Z suppressed [dropped: cap 1 per 7d]
B a email:t 2025-01-01T00:00:00Z planned
B a email:t 2025-01-02T00:00:00Z due
"
    );
}

#[test]
fn a_deferral_longer_than_max_defer_drops_the_message() {
    let f = Fixture::new();
    f.file("kairos.yaml", "policy:\n  caps:\n    - {max: 1, per: 7d}\n  max_defer: 3d\n")
        .dialogue(
            "a",
            "priority: 2\ntrigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: a}\n",
        )
        .dialogue(
            "b",
            "priority: 1\ntrigger:\n  purchase: {}\nsteps:\n  - id: b\n    send: {channel: email, template: b}\n",
        )
        .tx(&["A,2025-01-01,o1,p,c,1"]);
    assert_eq!(
        brief_policy(&f.run(&["--include-suppressed"]).stdout),
        "\
A a email:a 2025-01-01T00:00:00Z due
A b email:b 2025-01-01T00:00:00Z suppressed [dropped: cap 1 per 7d, it would wait past max_defer 3d]
"
    );
}

#[test]
fn unreadable_profile_settings_are_warnings_with_their_line_not_silent_defaults() {
    let f = Fixture::new();
    f.file("kairos.yaml", "policy:\n  timezone_column: timezone\n  preferences:\n    max_per_week_column: max_week\n")
        .dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n")
        .tx(&["A,2025-01-01,o1,p,c,1", "B,2025-01-01,o2,p,c,1"])
        .file("customers.csv", "customer_id,timezone,max_week\nA,Mars/Olympus,two\nB,Europe/Paris,2\n");
    let out = f.run(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(
        warnings,
        [
            "warning: customers.csv:2: column `max_week`: weekly maximum `two` is not a whole number of 0 or more; no personal cap applies",
            "warning: customers.csv:2: column `timezone`: time zone `Mars/Olympus` is not an IANA name (such as Europe/London); using UTC",
        ]
    );
}

#[test]
fn timestamps_outside_years_1000_to_9999_are_input_errors() {
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n")
        .tx(&["A,0000-01-01,o1,p,c,1"]);
    let out = f.run(&[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("tx.csv:2") && out.stderr.contains("0000-01-01"), "{}", out.stderr);
    assert_eq!(out.stdout, "");
}

#[test]
fn every_column_and_channel_the_config_names_is_checked() {
    let f = Fixture::new();
    f.file(
        "kairos.yaml",
        "channels:\n  fax: {contact: fax_number}\npolicy:\n  consent:\n    channels:\n      emial: {default: out}\n  send_windows:\n    phnoe: {at: \"09:00\"}\n",
    )
    .dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: [sms, emial], template: t}\n")
    .tx(&["A,2025-01-01,o1,p,c,1"])
    .file("customers.csv", "customer_id,dnc,phone\nA,yes,+1555\n");
    let errors = |out: &super::Output| -> Vec<String> {
        out.stderr
            .lines()
            .filter(|l| l.starts_with("error:") || l.starts_with(" -->") || l.contains("help:"))
            .map(str::to_owned)
            .collect()
    };
    // The config first: channels the policy names must be declared.
    let out = f.run(&["-o", "plan.csv"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(!f.path("plan.csv").exists());
    assert_eq!(
        errors(&out),
        [
            "error: consent: unknown channel `emial`",
            " --> kairos.yaml:6:7",
            "  = help: did you mean `email`?",
            "error: send_windows: unknown channel `phnoe`",
            " --> kairos.yaml:8:5",
            "  = help: did you mean `phone`?",
        ],
        "{}",
        out.stderr
    );
    // Then the dialogues (a message on an undeclared channel) with the columns the config
    // names, all at once.
    f.file("kairos.yaml", "channels:\n  fax: {contact: fax_number}\n");
    let out = f.run(&[]);
    assert_eq!(
        errors(&out),
        [
            "error: unknown channel `emial`",
            " --> dialogues/hi.yaml:5:27",
            "  = help: did you mean `email`?",
            "error: channels.fax.contact: the customers file has no column `fax_number`",
            " --> kairos.yaml:2:18",
            "  = help: the customers columns are: customer_id, dnc, phone"
        ],
        "{}",
        out.stderr
    );
    // Then the columns the config names, against the headers.
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: [fax, email], template: t}\n");
    let out = f.run(&[]);
    assert_eq!(
        errors(&out),
        [
            "error: channels.fax.contact: the customers file has no column `fax_number`",
            " --> kairos.yaml:2:18",
            "  = help: the customers columns are: customer_id, dnc, phone",
        ],
        "{}",
        out.stderr
    );
}

#[test]
fn policy_columns_missing_from_the_customers_file_are_errors_in_check_and_run() {
    let f = Fixture::new();
    f.file("kairos.yaml", "policy:\n  consent:\n    do_not_contact: DNC\n  timezone_column: tz\n")
        .dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n")
        .tx(&["A,2025-01-01,o1,p,c,1"])
        .file("customers.csv", "customer_id,dnc,timezone\nA,yes,UTC\n");
    let out = f.run(&[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error:") || l.contains("help:")).collect();
    assert_eq!(
        errors,
        [
            "error: policy.consent.do_not_contact: the customers file has no column `DNC`",
            "  = help: did you mean `dnc`?",
            "error: policy.timezone_column: the customers file has no column `tz`",
            "  = help: the customers columns are: customer_id, dnc, timezone",
        ],
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("kairos.yaml:3:21"), "{}", out.stderr);
    let check = f.cmd(&["check", "-d", "dialogues", "-c", "customers.csv"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(check.stderr.contains("the customers file has no column `DNC`"), "{}", check.stderr);
    // Without a customers file, `run` cannot honour do-not-contact: an error, not a default.
    let out = f.cmd(&["run", "-d", "dialogues", "-t", "tx.csv"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("names column `DNC` of the customers file, but no customers file was given"),
        "{}",
        out.stderr
    );
}

/// Spend with no `amount` column is 0 for everyone: spend tiers and a template's
/// `history.spend` say so, at their place, instead of sending everyone the lowest tier.
#[test]
fn spend_tiers_and_history_spend_need_an_amount_column() {
    let f = Fixture::new();
    f.file("kairos.yaml", "tiers: {measure: spend, levels: {top: 5, low: 0}}\n")
        .dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n")
        .file("tx.csv", "customer_id,timestamp,Amount\nA,2025-01-01T10:00:00Z,10.50\n");
    let out = f.run(&[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(
            "error: tiers.measure `spend` sums column `amount`: the transactions file has no column `amount`"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("kairos.yaml:1:18") && out.stderr.contains("did you mean `Amount`?"), "{}", out.stderr);
    f.file("kairos.yaml", "")
        .file("templates/t.yaml", "email: {subject: \"s\", text: \"spent {{ history.spend }}\"}\n");
    let out = f.run(&[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("`history.spend` sums an `amount` column, which the transactions file lacks, in `t/email.text`"),
        "{}",
        out.stderr
    );
    // With the column mapped, both run.
    f.file(
        "kairos.yaml",
        "columns:\n  transactions: {amount: Amount}\ntiers: {measure: spend, levels: {top: 5, low: 0}}\n",
    );
    let out = f.run(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}
