//! Differential check against the csv crate (strict: every record as long as the header).
//! When the csv crate reads every record of the bytes without error, kairos must not reject
//! them with a field-count or unclosed-quote error, and when kairos reads them it must find
//! as many rows as the csv crate finds records. Either disagreement panics. kairos splits the
//! file into pieces at newlines it guesses are outside quotes and parses them in parallel, so
//! a guess that lands inside a quoted field must not change how the file reads.
#![no_main]
use kairos::input::InputError;
use libfuzzer_sys::fuzz_target;

mod common;

/// The number of records after the header, if the csv crate reads every one, each as long
/// as the header, without error.
fn csv_records(data: &[u8]) -> Option<usize> {
    let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(data);
    rdr.byte_headers().ok()?;
    let mut rec = csv::ByteRecord::new();
    let mut n = 0;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => n += 1,
            Ok(false) => return Some(n),
            Err(_) => return None,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if common::verbose() {
        eprintln!("csv: {:?} records", csv_records(data));
    }
    match common::load_transactions(data) {
        Err(InputError::Csv { line, message, .. }) => {
            let count_error = message.contains("fields but the header has") || message.contains("never closed");
            if count_error && csv_records(data).is_some() {
                panic!("csv reads this file but kairos says line {line}: {message}");
            }
        }
        Ok(table) => {
            if let Some(n) = csv_records(data) {
                assert_eq!(table.len(), n, "kairos reads {} rows where csv reads {n} records", table.len());
            }
        }
        Err(_) => {}
    }
});
