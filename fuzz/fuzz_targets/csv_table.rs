//! Any bytes as a transactions CSV: an `Err` is fine, a panic is a finding.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::replay("csv_table", common::scratch(), data));
