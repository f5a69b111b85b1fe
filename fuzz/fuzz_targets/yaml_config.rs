//! The bytes (when UTF-8) as kairos.yaml. Diagnostics are fine, a panic is a finding.
#![no_main]
use kairos::config::Config;
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = common::scratch().join("kairos.yaml");
    std::fs::write(&path, text).expect("write config");
    let _ = Config::load(Some(&path), &Default::default());
});
