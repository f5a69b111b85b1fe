//! The bytes (when UTF-8) as a condition: parse, then type-check and compile it in the three
//! places a condition can stand (purchase trigger, event trigger with a history filter row,
//! absence trigger without an event). Errors are fine, a panic is a finding.
#![no_main]
use kairos::dialogue::Schemas;
use kairos::expr::{self, parse, Scopes};
use kairos::model::{RfmCuts, TableKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let Ok(node) = parse::parse(src) else { return };
    // The default config's numeric columns, as `kairos check` without inputs uses them.
    let schemas = Schemas::open(|k| {
        if k == TableKind::Transactions {
            vec!["quantity".to_owned(), "amount".to_owned()]
        } else {
            Vec::new()
        }
    });
    for place in 0..3 {
        let mut ev = match place {
            0 => Some(schemas.tx.clone()),
            1 => Some(schemas.events.clone()),
            _ => None,
        };
        let mut row = if place == 1 { Some(schemas.tx.clone()) } else { None };
        let mut cu = schemas.customers.clone();
        let mut tx = schemas.tx.clone();
        let mut scopes = Scopes {
            event: ev.as_mut(),
            row: row.as_mut(),
            customer: &mut cu,
            item: None,
            transactions: &mut tx,
            no_event_reason: "an absence trigger fires on a timer, not on an event",
            rfm: RfmCuts::default(),
            remembered: &[],
        };
        let _ = expr::compile(&node, &mut scopes);
    }
});
