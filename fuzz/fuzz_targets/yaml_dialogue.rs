//! The bytes (when UTF-8) as one dialogue file in a folder, loaded as `kairos check` would
//! without input files. Diagnostics are fine, a panic is a finding.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::replay("yaml_dialogue", common::scratch(), data));
