//! Replays every input saved under `fuzz/regressions/<target>/` through the same library call
//! as the cargo-fuzz target of that name (see fuzz/fuzz_targets/ and fuzz/README.md) and fails
//! naming each input that panics. An `Err` or a diagnostic is fine: only a panic is a finding.
//! `csv_agree` inputs also fail when the csv crate reads every record of the file but kairos
//! reports a field-count or unclosed-quote error, or reads a different number of rows.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use kairos::config::Config;
use kairos::dialogue::{self, Known, Schemas};
use kairos::expr::{self, parse, Scopes};
use kairos::input::table::{self, Table, TableKind, TableSpec};
use kairos::input::InputError;
use kairos::model::RfmCuts;
use rustc_hash::FxHashMap;

const TARGETS: [&str; 5] = ["csv_table", "csv_agree", "yaml_dialogue", "yaml_config", "expr"];

fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("regressions")
}

fn load_transactions(dir: &Path, data: &[u8]) -> Result<Table, InputError> {
    let path = dir.join("transactions.csv");
    std::fs::write(&path, data).unwrap();
    let rename: FxHashMap<String, String> = FxHashMap::default();
    let numeric = vec!["quantity".to_owned(), "amount".to_owned()];
    let spec = TableSpec {
        kind: TableKind::Transactions,
        rename: &rename,
        numeric: &numeric,
        has_time: true,
        tie_first: &["order_id"],
    };
    // kairos cuts a block into 2 pieces per rayon thread: the fuzz targets use a pool of 2, so
    // the inputs are cut here as they were there, on any machine.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    pool.install(|| table::load(&path, &spec, None, chrono_tz::Tz::UTC))
}

/// The number of records after the header, if the csv crate reads every one, each as long as
/// the header, without error.
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

/// Does the file end inside a quoted field? The csv crate takes the rest of the file as that
/// field; kairos says the quote is never closed. (Open exactly when one more `,` would be
/// text of the last field: the records and their fields stay as many.)
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

fn csv_agree(dir: &Path, data: &[u8]) {
    match load_transactions(dir, data) {
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
}

fn yaml_dialogue(dir: &Path, text: &str) {
    let dialogues = dir.join("dialogues");
    std::fs::create_dir_all(&dialogues).unwrap();
    std::fs::write(dialogues.join("fuzz.yaml"), text).unwrap();
    let _ = dialogue::load(&[dialogues], &Schemas::open(|_| vec![]), &Known::default());
}

fn yaml_config(dir: &Path, text: &str) {
    let path = dir.join("kairos.yaml");
    std::fs::write(&path, text).unwrap();
    let _ = Config::load(Some(&path), &Default::default());
}

fn condition(src: &str) {
    let Ok(node) = parse::parse(src) else { return };
    let schemas = Schemas::open(|k| {
        if k == TableKind::Transactions {
            vec!["quantity".to_owned(), "amount".to_owned()]
        } else {
            Vec::new()
        }
    });
    for place in 0..3 {
        let mut ev = match place {
            0 => Some(schemas.tx.clone()),
            1 => Some(schemas.events.clone()),
            _ => None,
        };
        let mut row = if place == 1 { Some(schemas.tx.clone()) } else { None };
        let mut cu = schemas.customers.clone();
        let mut tx = schemas.tx.clone();
        let mut scopes = Scopes {
            event: ev.as_mut(),
            row: row.as_mut(),
            customer: &mut cu,
            item: None,
            transactions: &mut tx,
            no_event_reason: "an absence trigger fires on a timer, not on an event",
            rfm: RfmCuts::default(),
            remembered: &[],
        };
        let _ = expr::compile(&node, &mut scopes);
    }
}

/// One input through one target's call, as the fuzz target makes it.
fn replay(target: &str, dir: &Path, data: &[u8]) {
    match target {
        "csv_table" => {
            let _ = load_transactions(dir, data);
        }
        "csv_agree" => csv_agree(dir, data),
        // The text targets skip input that is not UTF-8, as the fuzz targets do.
        _ => {
            let Ok(text) = std::str::from_utf8(data) else { return };
            match target {
                "yaml_dialogue" => yaml_dialogue(dir, text),
                "yaml_config" => yaml_config(dir, text),
                "expr" => condition(text),
                _ => unreachable!(),
            }
        }
    }
}

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn fuzz_regressions_do_not_panic() {
    let root = regressions();
    // Every folder is a known target, so a misnamed one is not silently skipped.
    if let Ok(entries) = std::fs::read_dir(&root) {
        for e in entries {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(TARGETS.contains(&name.as_str()), "fuzz/regressions/{name} names no fuzz target");
        }
    }
    let mut replayed = 0;
    let mut failures = Vec::new();
    for target in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else { continue };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let dir = tempfile::tempdir().unwrap();
            replayed += 1;
            if let Err(e) = catch_unwind(AssertUnwindSafe(|| replay(target, dir.path(), &data))) {
                let name = file.strip_prefix(&root).unwrap_or(&file).display().to_string();
                failures.push(format!("{name}: {}", panic_message(&*e)));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {replayed} fuzz regressions panic:\n{}", failures.len(), failures.join("\n"));
}
