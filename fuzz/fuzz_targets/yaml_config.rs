//! The bytes (when UTF-8) as kairos.yaml. Diagnostics are fine, a panic is a finding.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::replay("yaml_config", common::scratch(), data));
