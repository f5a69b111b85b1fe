//! The bytes (when UTF-8) as one template file, compiled and checked as `kairos check` would,
//! then rendered for a made-up message on every part. Diagnostics and render errors (fuel,
//! output cap) are fine; a panic or a hang is a finding.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::replay("template", common::scratch(), data));
