//! The bytes (when UTF-8) as one template file, compiled and checked as `kairos check` would,
//! then rendered for a made-up message on every part. Diagnostics and render errors (fuel,
//! output cap) are fine; a panic or a hang is a finding.
#![no_main]
use std::collections::BTreeSet;

use kairos::expr::Schema;
use kairos::input::ColType;
use kairos::model::TableKind;
use kairos::template::{self, Known, Vars};
use libfuzzer_sys::fuzz_target;
use kairos::template::Value;

mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let dir = common::scratch().join("templates");
    std::fs::create_dir_all(&dir).expect("templates dir");
    std::fs::write(dir.join("fuzz.yaml"), text).expect("write template");
    let col = |names: &[&str], kind| Schema::new(kind, names.iter().map(|n| ((*n).to_owned(), ColType::Str)).collect(), false);
    let customers = col(&["name", "email"], TableKind::Customers);
    let tx = col(&["product", "amount"], TableKind::Transactions);
    let events = col(&["type", "answer"], TableKind::Events);
    let known = Known {
        channels: ["email", "sms", "letter", "phone"].iter().map(|c| ((*c).to_owned(), None)).collect(),
        customers: &customers,
        tx: &tx,
        events: &events,
        facts: BTreeSet::from(["size".to_owned()]),
    };
    let (Some(t), _) = template::load(&dir, &known, 2) else { return };
    let vars = Vars {
        customer_id: "C1",
        dialogue: "d",
        step: "s",
        message_id: "0123456789abcdef0123456789abcdef",
        send_at: 1_700_000_000,
        customer: vec![("name", Value::from("Zoë O'Neil")), ("email", Value::from("z@example.com"))],
        event: vec![("product", Value::from("=cmd|x")), ("amount", Value::from(12.5))],
        facts: vec![("size", "M")],
        ..Vars::default()
    };
    for channel in ["email", "sms", "letter", "phone"] {
        let _ = t.render("fuzz", channel, &vars);
    }
});
