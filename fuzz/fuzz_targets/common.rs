//! The library calls every fuzz target makes, shared with the regression replay
//! (tests/fuzz_regressions.rs at the root includes this file), so a saved input goes through
//! exactly the call that found it and the targets are compiled by `cargo test` (they cannot
//! fall behind the library unnoticed).
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kairos::config::Config;
use kairos::dialogue::{self, Known, Schemas};
use kairos::expr::{self, parse, Schema, Scopes};
use kairos::input::table::{self, Table, TableKind, TableSpec};
use kairos::input::{ColType, InputError};
use kairos::model::RfmCuts;
use kairos::template::{self, Value, Vars};
use rustc_hash::FxHashMap;

/// Every target, by name (the folders of fuzz/regressions are named after them).
pub const TARGETS: [&str; 6] = ["csv_table", "csv_agree", "yaml_dialogue", "yaml_config", "expr", "template"];

/// One input through one target's call. `dir` is a scratch folder the call writes its file in.
pub fn replay(target: &str, dir: &Path, data: &[u8]) {
    match target {
        "csv_table" => {
            let _ = load_transactions(dir, data);
        }
        "csv_agree" => csv_agree(dir, data),
        // The text targets skip input that is not UTF-8.
        _ => {
            let Ok(text) = std::str::from_utf8(data) else { return };
            match target {
                "yaml_dialogue" => yaml_dialogue(dir, text),
                "yaml_config" => yaml_config(dir, text),
                "expr" => condition(text),
                "template" => template(dir, text),
                _ => panic!("no fuzz target is named {target}"),
            }
        }
    }
}

/// A folder of this process's own under the temp dir, made once, removed never (it is tiny and
/// overwritten on every input).
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("kairos-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch dir");
        d
    })
}

/// `KAIROS_FUZZ_VERBOSE=1` prints what kairos made of each input (for replaying one file).
pub fn verbose() -> bool {
    static V: OnceLock<bool> = OnceLock::new();
    *V.get_or_init(|| std::env::var_os("KAIROS_FUZZ_VERBOSE").is_some())
}

fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("thread pool"))
}

/// The bytes as a transactions CSV, loaded as `kairos run -t` would (default config columns).
pub fn load_transactions(dir: &Path, data: &[u8]) -> Result<Table, InputError> {
    let path = dir.join("transactions.csv");
    std::fs::write(&path, data).expect("write csv");
    let rename: FxHashMap<String, String> = FxHashMap::default();
    let numeric = vec!["quantity".to_owned(), "amount".to_owned()];
    let spec = TableSpec {
        kind: TableKind::Transactions,
        rename: &rename,
        numeric: &numeric,
        has_time: true,
        tie_first: &["order_id"],
    };
    // kairos cuts a block into 2 pieces per rayon thread: a fixed pool of 2 makes the cuts, and
    // so the findings, the same on any machine.
    let res = pool().install(|| table::load(&path, &spec, None, chrono_tz::Tz::UTC));
    if verbose() {
        match &res {
            Ok(t) => eprintln!("kairos: Ok, {} rows", t.len()),
            Err(e) => eprintln!("kairos: Err: {e}"),
        }
    }
    res
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

/// Differential check against the csv crate (strict: every record as long as the header).
/// When the csv crate reads every record without error, kairos must not reject the file with
/// a field-count or unclosed-quote error (except a quote the end of the file leaves open), and
/// when kairos reads it, it must find as many rows as the csv crate finds records.
fn csv_agree(dir: &Path, data: &[u8]) {
    if verbose() {
        eprintln!("csv: {:?} records", csv_records(data));
    }
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

/// The text as one dialogue file in a folder, loaded as `kairos check` would without inputs.
fn yaml_dialogue(dir: &Path, text: &str) {
    let dialogues = dir.join("dialogues");
    std::fs::create_dir_all(&dialogues).expect("dialogues dir");
    std::fs::write(dialogues.join("fuzz.yaml"), text).expect("write dialogue");
    let _ = dialogue::load(&[dialogues], &Schemas::open(|_| vec![]), &Known::default());
}

/// The text as kairos.yaml.
fn yaml_config(dir: &Path, text: &str) {
    let path = dir.join("kairos.yaml");
    std::fs::write(&path, text).expect("write config");
    let _ = Config::load(Some(&path), &Default::default());
}

/// The text as a condition: parsed, then type-checked and compiled in the three places a
/// condition can stand (purchase trigger, event trigger with a history filter row, absence
/// trigger without an event), with the default config's numeric columns.
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

/// The text as one template file, compiled and checked as `kairos check` would, then rendered
/// for a made-up message on every part. Diagnostics and render errors (fuel, output cap) are
/// fine; a panic or a hang is a finding.
fn template(dir: &Path, text: &str) {
    let dir = dir.join("templates");
    std::fs::create_dir_all(&dir).expect("templates dir");
    std::fs::write(dir.join("fuzz.yaml"), text).expect("write template");
    let col = |names: &[&str], kind| {
        Schema::new(kind, names.iter().map(|n| ((*n).to_owned(), ColType::Str)).collect(), false)
    };
    let customers = col(&["name", "email"], TableKind::Customers);
    let tx = col(&["product", "amount"], TableKind::Transactions);
    let events = col(&["type", "answer"], TableKind::Events);
    let catalog = col(&["item_id", "type", "title"], TableKind::Catalog);
    let known = template::Known {
        channels: ["email", "sms", "letter", "phone"].iter().map(|c| ((*c).to_owned(), None)).collect(),
        customers: &customers,
        tx: &tx,
        events: &events,
        catalog: &catalog,
        facts: BTreeSet::from(["size".to_owned()]),
    };
    let (Some(t), _) = template::load(&dir, &known, 2) else { return };
    let vars = Vars {
        customer_id: "C1",
        dialogue: "d",
        step: "s",
        message_id: "0123456789abcdef0123456789abcdef",
        send_at: 1_700_000_000,
        customer: vec![("name", Value::from("Zoë O'Neil")), ("email", Value::from("z@example.com"))],
        event: vec![("product", Value::from("=cmd|x")), ("amount", Value::from(12.5))],
        facts: vec![("size", "M")],
        ..Vars::default()
    };
    for channel in ["email", "sms", "letter", "phone"] {
        let _ = t.render("fuzz", channel, &vars);
    }
}
