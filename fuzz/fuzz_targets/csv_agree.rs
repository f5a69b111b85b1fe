//! Differential check against the csv crate (strict: every record as long as the header).
//! When the csv crate reads every record of the bytes without error, kairos must not reject
//! them with a field-count or unclosed-quote error (except a quote the end of the file leaves
//! open, which the csv crate takes as a field running to the end and kairos rejects), and when
//! kairos reads them it must find as many rows as the csv crate finds records. Either
//! disagreement panics. kairos splits the file into pieces at newlines it guesses are outside
//! quotes and parses them in parallel, so a guess that lands inside a quoted field must not
//! change how the file reads.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::replay("csv_agree", common::scratch(), data));
