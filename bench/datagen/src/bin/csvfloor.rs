//! The CSV floor: the cheapest full read of a file with the `csv` crate (one reused
//! `ByteRecord`, no UTF-8 validation, no allocation per record). Anything that reads the same
//! file can be compared against this.

use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: csvfloor FILE.csv");
        return ExitCode::from(2);
    };
    let t0 = Instant::now();
    let mut reader = match csv::ReaderBuilder::new().has_headers(true).from_path(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", path.to_string_lossy());
            return ExitCode::FAILURE;
        }
    };
    let mut record = csv::ByteRecord::new();
    let mut records = 0u64;
    let mut fields = 0u64;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {
                records += 1;
                fields += record.len() as u64;
            }
            Ok(false) => break,
            Err(e) => {
                eprintln!("error: {}: {e}", path.to_string_lossy());
                return ExitCode::FAILURE;
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "records={records} fields={fields} bytes={} seconds={secs:.3} records_per_sec={:.0}",
        reader.position().byte(),
        records as f64 / secs.max(1e-9)
    );
    ExitCode::SUCCESS
}
