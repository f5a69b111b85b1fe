//! Differential check against the csv crate (strict: every record as long as the header).
//! When the csv crate reads every record of the bytes without error, kairos must not reject
//! them with a field-count or unclosed-quote error (except a quote the end of the file leaves
//! open, which the csv crate takes as a field running to the end and kairos rejects), and when
//! kairos reads them it must find as many rows as the csv crate finds records. Either disagreement panics. kairos splits the
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

/// Does the file end inside a quoted field? (Exactly when one more `,` would be text of the
/// last field: the records and their fields stay as many.)
fn ends_inside_quotes(data: &[u8]) -> bool {
    let shape = |d: &[u8]| {
        let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(d);
        let (mut n, mut last, mut rec) = (0, 0, csv::ByteRecord::new());
        while let Ok(true) = r.read_byte_record(&mut rec) {
            n += 1;
            last = rec.len();
        }
        (n, last)
    };
    let mut more = data.to_vec();
    more.push(b',');
    shape(data).0 > 0 && shape(data) == shape(&more)
}

fuzz_target!(|data: &[u8]| {
    if common::verbose() {
        eprintln!("csv: {:?} records", csv_records(data));
    }
    match common::load_transactions(data) {
        Err(InputError::Csv { line, message, .. }) => {
            let count_error = message.contains("fields but the header has") || message.contains("never closed");
            let open_at_end = message.contains("never closed") && ends_inside_quotes(data);
            if count_error && !open_at_end && csv_records(data).is_some() {
                panic!("csv reads this file but kairos says line {line}: {message}");
            }
        }
        Ok(table) => {
            assert!(!ends_inside_quotes(data), "the file ends inside quotes and kairos read it");
            if let Some(n) = csv_records(data) {
                assert_eq!(table.len(), n, "kairos reads {} rows where csv reads {n} records", table.len());
            }
        }
        Err(_) => {}
    }
});
