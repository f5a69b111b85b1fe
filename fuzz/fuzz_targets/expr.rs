//! The bytes (when UTF-8) as a condition: parse, then type-check and compile it in the three
//! places a condition can stand (purchase trigger, event trigger with a history filter row,
//! absence trigger without an event). Errors are fine, a panic is a finding.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::replay("expr", common::scratch(), data));
