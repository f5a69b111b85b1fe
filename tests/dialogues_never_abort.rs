//! Property: a dialogue that passes `check` never aborts a run. Random dialogues (triggers,
//! steps that loop back with tiny waits, escalations, answers, timeouts, remembered facts,
//! holdouts) are checked; each one that passes is replayed over the shipped example data.
//! A panic, or a run that does not end, fails the property.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kairos::dialogue::{self, Known, Schemas};
use kairos::engine::{Evaluator, Settings, Stats};
use kairos::input::{self, Data, InputPaths, InputSpec};
use proptest::prelude::*;

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/retail");
        let spec = InputSpec {
            paths: InputPaths {
                transactions: Some(root.join("transactions.csv")),
                customers: Some(root.join("customers.csv")),
                events: Some(root.join("events.csv")),
                catalog: None,
            },
            rename: Default::default(),
            numeric: [vec!["quantity".to_owned(), "amount".to_owned()], Vec::new(), Vec::new(), Vec::new()],
            date_format: None,
            tz: chrono_tz::Tz::UTC,
            shard: Default::default(),
        };
        input::load(&spec).expect("the example data loads")
    })
}

fn duration() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..60).prop_map(|n| format!("{n}s")),
        (1u32..48).prop_map(|n| format!("{n}h")),
        (1u32..400).prop_map(|n| format!("{n}d")),
    ]
}

fn trigger() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("purchase: {}".to_owned()),
        Just("new_category: {}".to_owned()),
        (1u32..6).prop_map(|n| format!("nth_order: {{n: {n}}}")),
        (1u32..200).prop_map(|d| format!("absence: {{after: {d}d}}")),
        Just("event: {type: complaint}".to_owned()),
        Just("address_change: {}".to_owned()),
    ]
}

/// Where a step goes: another step (possibly itself or an earlier one: loops) or an end.
fn exit(steps: usize) -> impl Strategy<Value = String> {
    prop_oneof![(0..steps).prop_map(|k| format!("goto: s{k}")), Just("end: done".to_owned())]
}

fn step(i: usize, steps: usize) -> impl Strategy<Value = String> {
    let channel = prop_oneof![Just("email"), Just("sms"), Just("letter"), Just("phone")];
    let escalate = proptest::option::of((duration(), prop_oneof![Just("email"), Just("sms")]));
    let leave = prop_oneof![
        // A plain pause, then the next step or a jump back.
        (duration(), exit(steps)).prop_map(|(d, x)| format!("    wait: {d}\n    {}\n", x.replace("goto", "next"))),
        // Wait for an answer, remembering it, with a timeout.
        (exit(steps), duration(), exit(steps), any::<bool>()).prop_map(|(a, d, t, remember)| {
            let r = if remember { ", remember: {said: event.answer}" } else { "" };
            format!("    on:\n      - {{answer: \"yes\"{r}, {a}}}\n    timeout: {{after: {d}, {t}}}\n")
        }),
        Just(String::new()),
    ];
    (channel, escalate, leave).prop_map(move |(ch, esc, leave)| {
        let mut s = format!("  - id: s{i}\n    send: {{channel: {ch}, template: t{i}}}\n");
        if let Some((after, ch2)) = esc {
            s.push_str(&format!("    escalate:\n      - {{after: {after}, channel: {ch2}, template: e{i}}}\n"));
        }
        s.push_str(&leave);
        s
    })
}

fn dialogue_text() -> impl Strategy<Value = String> {
    let when = proptest::option::of(prop_oneof![
        Just("spend(365d) > 10"),
        Just("fact.said == \"yes\""),
        Just("orders(30d, category == \"groceries\") >= 1"),
    ]);
    let reentry = prop_oneof![Just("always".to_owned()), Just("never".to_owned()), duration()];
    (trigger(), when, reentry, any::<bool>(), 1usize..5).prop_flat_map(|(t, w, re, holdout, n)| {
        let steps: Vec<_> = (0..n).map(|i| step(i, n)).collect();
        steps.prop_map(move |steps| {
            let mut d = format!("trigger:\n  {t}\nreentry: {re}\n");
            if let Some(w) = w {
                d.push_str(&format!("when: '{w}'\n"));
            }
            if holdout {
                d.push_str("holdout: 0.3\n");
            }
            d.push_str("goals:\n  - {event: purchase, outcome: bought}\nsteps:\n");
            for s in steps {
                d.push_str(&s);
            }
            d
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn dialogues_that_pass_check_never_abort_a_run(a in dialogue_text(), b in dialogue_text()) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), &a).unwrap();
        std::fs::write(dir.path().join("b.yaml"), &b).unwrap();
        let data = data();
        let schemas = Schemas::of_data(data, &Schemas::open(|_| Vec::new()));
        let (plan, diags) = dialogue::load(&[PathBuf::from(dir.path())], &schemas, &Known::default());
        prop_assume!(!diags.has_errors());
        let as_of = data.latest_timestamp().unwrap();
        let settings = Settings {
            policy: Default::default(),
            tz: chrono_tz::Tz::UTC,
            as_of,
            horizon: 365 * 86_400,
            response_type: "response".to_owned(),
            ledger: None,
        };
        let ev = Evaluator::new(data, &plan, settings);
        let mut stats = Stats::default();
        let mut scratch = Default::default();
        let mut messages = 0;
        for p in 0..data.people.len() {
            messages += ev.run_customer(p, &mut scratch, &mut stats, None).messages.len();
        }
        // Bounded: at most 1000 steps an instance, so a bounded number of messages.
        prop_assert!(messages < 50_000_000, "{messages} messages from\n{a}\n---\n{b}");
    }
}
