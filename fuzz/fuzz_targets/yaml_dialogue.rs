//! The bytes (when UTF-8) as one dialogue file in a folder, loaded as `kairos check` would
//! without input files. Diagnostics are fine, a panic is a finding.
#![no_main]
use kairos::dialogue::{self, Known, Schemas};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let dir = common::scratch().join("dialogues");
    std::fs::create_dir_all(&dir).expect("dialogues dir");
    std::fs::write(dir.join("fuzz.yaml"), text).expect("write dialogue");
    let _ = dialogue::load(&[dir], &Schemas::open(|_| vec![]), &Known::default());
});
