//! Scale-out: `--shard K/N` (the union of the shards is one run, byte for byte), ledgers per
//! shard, and Parquet inputs (the same plan as the CSV they were made from, the same errors).

use std::path::Path;
use std::sync::Arc;

use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

use super::Fixture;

/// The latest timestamp of the shipped example data: every shard replays up to it.
const AS_OF: &str = "2025-12-31T23:04:43Z";

fn root(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p).to_string_lossy().into_owned()
}

/// `kairos run` over the shipped dialogues and example data (`ext`: "csv" from the repository,
/// or "parquet" from the fixture folder) with `extra` arguments.
fn run_examples(f: &Fixture, inputs: [String; 3], extra: &[&str]) -> super::Output {
    let d = root("dialogues");
    let mut args = vec!["run", "-d", &d, "-t", &inputs[0], "-c", &inputs[1], "-e", &inputs[2], "--as-of", AS_OF];
    args.extend(extra);
    f.cmd(&args)
}

fn example_csvs() -> [String; 3] {
    ["transactions", "customers", "events"].map(|t| root(&format!("examples/retail/{t}.csv")))
}

/// A plan's header (CSV; none for JSONL) and its records, each with its customer id and its
/// exact bytes.
fn records(text: &str, csv: bool) -> (String, Vec<(String, String)>) {
    if !csv {
        let rows = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["customer_id"].as_str().unwrap().to_owned(), format!("{l}\n"))
            })
            .collect();
        return (String::new(), rows);
    }
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let body_start = r.position().byte() as usize;
    let header = {
        r.headers().unwrap();
        let at = r.position().byte() as usize;
        text[body_start..at].to_owned()
    };
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut start = r.position().byte() as usize;
    while r.read_record(&mut rec).unwrap() {
        let end = r.position().byte() as usize;
        rows.push((rec[1].to_owned(), text[start..end].to_owned()));
        start = end;
    }
    assert_eq!(start, text.len(), "every byte is in a record");
    (header, rows)
}

#[test]
fn the_union_of_the_shards_in_customer_order_is_one_run_byte_for_byte() {
    let f = Fixture::new();
    for (format, csv) in [("csv", true), ("jsonl", false)] {
        let whole = run_examples(&f, example_csvs(), &["--format", format]);
        assert_eq!(whole.code, 0, "{}", whole.stderr);
        let (header, all) = records(&whole.stdout, csv);
        assert!(all.len() > 4000, "the examples plan thousands of messages");
        for n in [1u32, 3, 7] {
            let mut merged: Vec<(String, String)> = Vec::new();
            let mut customers = 0;
            for k in 1..=n {
                let shard = format!("{k}/{n}");
                let out = run_examples(&f, example_csvs(), &["--format", format, "--shard", &shard]);
                assert_eq!(out.code, 0, "shard {shard}: {}", out.stderr);
                let (h, rows) = records(&out.stdout, csv);
                assert_eq!(h, header, "every shard writes the header");
                assert!(!rows.is_empty(), "shard {shard} plans messages");
                for (id, _) in &rows {
                    let hash = xxhash_rust::xxh3::xxh3_64(id.as_bytes());
                    assert_eq!(hash % u64::from(n), u64::from(k - 1), "{id} is in shard {shard}");
                }
                if n > 1 {
                    assert!(
                        out.stderr.contains(&format!("kairos: shard {shard}: only the customers")),
                        "{}",
                        out.stderr
                    );
                }
                let summary = out.stderr.lines().find(|l| l.contains(" customers (")).unwrap();
                let words: Vec<&str> = summary.split_whitespace().collect();
                let at = words.iter().position(|w| *w == "customers").unwrap();
                customers += words[at - 1].parse::<u64>().unwrap();
                merged.extend(rows);
            }
            assert_eq!(customers, 420, "each customer is counted in one shard");
            // A customer is in one shard only, so a stable sort by customer id puts the
            // shards' rows in the one run's order.
            merged.sort_by(|a, b| a.0.cmp(&b.0));
            let text: String = header.clone() + &merged.into_iter().map(|(_, r)| r).collect::<String>();
            assert!(text == whole.stdout, "{format}, {n} shards: the union differs from one run");
        }
    }
}

#[test]
fn a_bad_shard_is_refused_before_any_work() {
    let f = Fixture::new();
    for (shard, message) in [
        ("0/4", "--shard \"0/4\": K must be from 1 to N (4), not 0"),
        ("5/4", "--shard \"5/4\": K must be from 1 to N (4), not 5"),
        ("1/0", "--shard \"1/0\": N must be from 1 to 65536, not 0"),
        ("1/65537", "--shard \"1/65537\": N must be from 1 to 65536, not 65537"),
        ("2", "--shard \"2\": expected K/N, e.g. 3/8 (shard 3 of 8)"),
        ("x/2", "--shard \"x/2\": K must be a whole number from 1 to 65536, not \"x\""),
    ] {
        let out = run_examples(&f, example_csvs(), &["--shard", shard]);
        assert_eq!((out.code, out.stdout.as_str()), (2, ""), "{shard}");
        assert_eq!(out.stderr, format!("error: {message}\n"), "{shard}");
    }
    let d = root("dialogues");
    let t = root("examples/retail/transactions.csv");
    let out = f.cmd(&["run", "-d", &d, "-t", &t, "--shard", "1/2"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with("error: --shard 1/2 needs --as-of: a shard sees only its customers"),
        "{}",
        out.stderr
    );
    // 65536 shards are allowed; most are empty.
    let out = run_examples(&f, example_csvs(), &["--shard", "65536/65536"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn every_shard_has_its_own_ledger_and_a_ledger_of_another_split_is_refused() {
    let f = Fixture::new();
    let ledger = ["--format", "jsonl", "--ledger", "sent-{shard}.jsonl"];
    let mut first = Vec::new();
    for k in 1..=2 {
        let shard = format!("{k}/2");
        let mut args = ledger.to_vec();
        args.extend(["--shard", &shard]);
        let out = run_examples(&f, example_csvs(), &args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let held = std::fs::read_to_string(f.path(&format!("sent-{k}-of-2.jsonl"))).unwrap();
        assert_eq!(held.lines().count(), out.stdout.lines().count(), "every emitted message is recorded");
        assert!(held.lines().all(|l| l.ends_with(&format!(",\"shard\":\"{shard}\"}}"))), "{held}");
        first.push(out.stdout);
    }
    // The same night again: nothing new.
    let out =
        run_examples(&f, example_csvs(), &["--format", "jsonl", "--ledger", "sent-{shard}.jsonl", "--shard", "1/2"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{}", out.stderr);
    // Another shard's, another split's or an unsharded run's ledger is refused, and nothing is
    // emitted or recorded.
    let before = std::fs::read_to_string(f.path("sent-1-of-2.jsonl")).unwrap();
    for (args, by) in [
        (vec!["--shard", "2/2"], "this run is shard 2/2"),
        (vec!["--shard", "1/3"], "this run is shard 1/3"),
        (vec![], "this run is an unsharded run"),
    ] {
        let mut a = vec!["--ledger", "sent-1-of-2.jsonl"];
        a.extend(args);
        let out = run_examples(&f, example_csvs(), &a);
        assert_eq!((out.code, out.stdout.as_str()), (2, ""));
        assert!(
            out.stderr.starts_with(&format!(
                "error: sent-1-of-2.jsonl:1: this ledger holds messages recorded by shard 1/2, and {by}; nothing was emitted"
            )),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("give every shard its own ledger"), "{}", out.stderr);
    }
    assert_eq!(std::fs::read_to_string(f.path("sent-1-of-2.jsonl")).unwrap(), before);
    // A sharded run refuses an unsharded run's ledger too.
    let out = run_examples(&f, example_csvs(), &["--ledger", "all.jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run_examples(&f, example_csvs(), &["--ledger", "all.jsonl", "--shard", "1/2"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("recorded by an unsharded run, and this run is shard 1/2"), "{}", out.stderr);
}

/// Column types for Parquet copies of the example CSVs.
#[derive(Clone, Copy)]
enum Ty {
    /// UTF-8 text; empty cells become nulls.
    Text,
    /// TIMESTAMP(MICROS, UTC).
    Time,
    Double,
    Int,
    /// The `null` type (every cell null), as pyarrow writes a column of nothing but nulls.
    Null,
}

/// Write `csv_text` as a Parquet file with these column types (by header; others text), in
/// row groups of `group` rows.
fn csv_to_parquet(csv_text: &str, out: &Path, types: &[(&str, Ty)], group: usize) {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let ty = |h: &str| types.iter().find(|(n, _)| *n == h).map_or(Ty::Text, |(_, t)| *t);
    // Built, not parsed from a message type: a name may hold spaces, as exports' names do.
    use parquet::basic::{LogicalType, Repetition, TimeUnit, Type as Physical};
    use parquet::schema::types::Type;
    let fields = headers
        .iter()
        .map(|h| {
            let (physical, logical, repetition) = match ty(h) {
                Ty::Text => (Physical::BYTE_ARRAY, Some(LogicalType::String), Repetition::OPTIONAL),
                Ty::Time => {
                    (Physical::INT64, Some(LogicalType::timestamp(true, TimeUnit::MICROS)), Repetition::REQUIRED)
                }
                Ty::Double => (Physical::DOUBLE, None, Repetition::OPTIONAL),
                Ty::Int => (Physical::INT64, None, Repetition::OPTIONAL),
                Ty::Null => (Physical::INT32, Some(LogicalType::Unknown), Repetition::OPTIONAL),
            };
            let t = Type::primitive_type_builder(h, physical).with_repetition(repetition).with_logical_type(logical);
            Arc::new(t.build().unwrap())
        })
        .collect();
    let schema = Type::group_type_builder("m").with_fields(fields).build().unwrap();
    let props = WriterProperties::builder().set_compression(parquet::basic::Compression::SNAPPY).build();
    let file = std::fs::File::create(out).unwrap();
    let mut w = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props)).unwrap();
    for chunk in rows.chunks(group) {
        let mut rg = w.next_row_group().unwrap();
        let mut i = 0;
        while let Some(mut col) = rg.next_column().unwrap() {
            let cells: Vec<&str> = chunk.iter().map(|r| &r[i]).collect();
            let defs: Vec<i16> = cells.iter().map(|c| i16::from(!c.is_empty())).collect();
            let present = cells.iter().filter(|c| !c.is_empty());
            match ty(&headers[i]) {
                Ty::Text => {
                    let v: Vec<ByteArray> = present.map(|c| ByteArray::from(*c)).collect();
                    col.typed::<ByteArrayType>().write_batch(&v, Some(&defs), None).unwrap();
                }
                Ty::Time => {
                    let v: Vec<i64> = cells
                        .iter()
                        .map(|c| chrono::DateTime::parse_from_rfc3339(c).unwrap().timestamp_micros())
                        .collect();
                    col.typed::<Int64Type>().write_batch(&v, None, None).unwrap();
                }
                Ty::Double => {
                    let v: Vec<f64> = present.map(|c| c.parse().unwrap()).collect();
                    col.typed::<DoubleType>().write_batch(&v, Some(&defs), None).unwrap();
                }
                Ty::Int => {
                    let v: Vec<i64> = present.map(|c| c.parse().unwrap()).collect();
                    col.typed::<Int64Type>().write_batch(&v, Some(&defs), None).unwrap();
                }
                Ty::Null => {
                    assert!(present.count() == 0, "a null column holds nothing");
                    col.typed::<parquet::data_type::Int32Type>().write_batch(&[], Some(&defs), None).unwrap();
                }
            }
            col.close().unwrap();
            i += 1;
        }
        rg.close().unwrap();
    }
    w.close().unwrap();
}

/// The example data as typed Parquet files in the fixture: timestamps, amounts and quantities
/// typed, text with nulls for empty cells, several row groups.
fn example_parquets(f: &Fixture) -> [String; 3] {
    let typed = [("timestamp", Ty::Time), ("amount", Ty::Double), ("quantity", Ty::Int)];
    ["transactions", "customers", "events"].map(|t| {
        let csv_text = std::fs::read_to_string(root(&format!("examples/retail/{t}.csv"))).unwrap();
        let out = f.path(&format!("{t}.parquet"));
        csv_to_parquet(&csv_text, &out, &typed, 1000);
        out.to_string_lossy().into_owned()
    })
}

#[test]
fn parquet_inputs_give_the_plan_of_the_csvs_they_were_made_from() {
    let f = Fixture::new();
    let parquets = example_parquets(&f);
    for format in ["csv", "jsonl"] {
        let from_csv = run_examples(&f, example_csvs(), &["--format", format]);
        let from_parquet = run_examples(&f, parquets.clone(), &["--format", format]);
        assert_eq!(from_parquet.code, 0, "{}", from_parquet.stderr);
        assert!(from_parquet.stdout.lines().count() > 4000);
        assert!(from_parquet.stdout == from_csv.stdout, "{format}: the Parquet plan differs from the CSV plan");
        // The summary too, but for the file names.
        let summary = |s: &str| s.lines().filter(|l| !l.starts_with("kairos: config")).collect::<Vec<_>>().join("\n");
        assert_eq!(summary(&from_parquet.stderr), summary(&from_csv.stderr));
    }
    // Typed timestamps are read as they are, whatever layout --date-format gives text ones.
    let from_csv = run_examples(&f, example_csvs(), &[]);
    let with_format = run_examples(&f, parquets.clone(), &["--date-format", "%d/%m/%Y %H:%M"]);
    assert_eq!(with_format.code, 0, "{}", with_format.stderr);
    assert!(with_format.stdout == from_csv.stdout, "typed timestamps do not take the date format");
    // Also when the column's name has spaces around it (the header reader trims names).
    let tx = std::fs::read_to_string(root("examples/retail/transactions.csv")).unwrap();
    let spaced = tx.replacen("timestamp", " timestamp ", 1);
    csv_to_parquet(&spaced, &f.path("spaced.parquet"), &[(" timestamp ", Ty::Time), ("amount", Ty::Double)], 1000);
    let inputs = [f.path("spaced.parquet").to_string_lossy().into_owned(), parquets[1].clone(), parquets[2].clone()];
    let spaced = run_examples(&f, inputs, &["--date-format", "%d/%m/%Y %H:%M"]);
    assert_eq!(spaced.code, 0, "{}", spaced.stderr);
    assert!(spaced.stdout == from_csv.stdout, "a spaced typed timestamp column does not take the date format");
    // Shards of Parquet inputs are shards of the CSV run.
    let a = run_examples(&f, example_csvs(), &["--shard", "2/3"]);
    let b = run_examples(&f, parquets, &["--shard", "2/3"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(a.stdout == b.stdout);
}

#[test]
fn parquet_errors_name_the_file_row_column_and_value() {
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: a}\n");
    let run = |body: &str, types: &[(&str, Ty)]| {
        csv_to_parquet(body, &f.path("tx.parquet"), types, 2);
        f.cmd(&["run", "-d", "dialogues", "-t", "tx.parquet", "--as-of", "2025-02-01"])
    };
    let header = "customer_id,timestamp,order_id,product,category,quantity,amount,channel\n";
    // Text timestamps and amounts are read by the CSV rules; a value with a newline does not
    // shift the row numbers.
    let body = format!(
        "{header}A,2025-01-01,o1,\"two\nlines\",c,1,10,web\nB,2025-01-02,o2,p,c,1,12;50,web\nC,2025-01-03,o3,p,c,1,3,web\n"
    );
    let out = run(&body, &[]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: row 2: column `amount`: \"12;50\" is not a number\n  --> tx.parquet\n  = help: expected a plain decimal number such as 12.50 (`.` as decimal point, no thousands separator)\n"
    );
    // Nor does a value with lone `\r`s, which the CSV reader counts as line ends too.
    let body = format!(
        "{header}A,2025-01-01,o1,\"a\rb\rc\",c,1,10,web\nB,2025-01-02,o2,p,c,1,2,web\nC,2025-01-03,o3,p,c,1,bad,web\n"
    );
    let out = run(&body, &[]);
    assert!(out.stderr.starts_with("error: row 3: column `amount`: \"bad\" is not a number\n"), "{}", out.stderr);
    let body = format!("{header}A,2025-01-01,o1,p,c,1,10,web\nB,2025-01-02,o2,p,c,1,2,web\nC,someday,o3,p,c,1,3,web\n");
    let out = run(&body, &[]);
    assert!(
        out.stderr.starts_with(
            "error: row 3: column `timestamp`: cannot read \"someday\" as a timestamp\n  --> tx.parquet\n"
        ),
        "{}",
        out.stderr
    );
    // Out of order under --presorted, after a value with newlines: rows, not text lines.
    let body = format!(
        "{header}A,2025-01-01,o1,\"two\nmore\nlines\",c,1,10,web\nC,2025-01-02,o2,p,c,1,2,web\nB,2025-01-03,o3,p,c,1,3,web\n"
    );
    csv_to_parquet(&body, &f.path("tx.parquet"), &[], 2);
    let out = f.cmd(&["run", "-d", "dialogues", "-t", "tx.parquet", "--as-of", "2025-02-01", "--presorted"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.starts_with("error: row 3: customer `B` comes after customer `C` (on row 2)"), "{}", out.stderr);
    // A missing column lists the columns found, as for a CSV.
    let out = run("customer_id,when,amount\nA,2025-01-01,1\n", &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with("error: the transactions file has no `timestamp` column\n  --> tx.parquet\n  = note: found columns: customer_id, when, amount\n"),
        "{}",
        out.stderr
    );
    // Mapped with --column like a CSV header.
    let out = f.cmd(&[
        "run",
        "-d",
        "dialogues",
        "-t",
        "tx.parquet",
        "--as-of",
        "2025-02-01",
        "--column",
        "transactions.timestamp=when",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 2);
    // An empty customer id (a null).
    let out = run(&format!("{header}A,2025-01-01,o1,p,c,1,10,web\n,2025-01-02,o2,p,c,1,2,web\n"), &[]);
    assert!(out.stderr.starts_with("error: row 2: `customer_id` is empty\n  --> tx.parquet\n"), "{}", out.stderr);
    // Not a Parquet file at all.
    f.file("bad.parquet", "customer_id,timestamp\n");
    let out = f.cmd(&["run", "-d", "dialogues", "-t", "bad.parquet", "--as-of", "2025-02-01"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with("error: cannot read bad.parquet: not a Parquet file kairos can read ("),
        "{}",
        out.stderr
    );
}

#[test]
fn a_customer_listed_twice_in_a_parquet_profile_file_names_both_rows() {
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: a}\n")
        .tx(&["A,2025-01-01,o1,p,c,1"]);
    csv_to_parquet("customer_id,name\nA,Ann\nB,Bo\nA,Al\n", &f.path("customers.parquet"), &[], 10);
    let out = f.cmd(&["run", "-d", "dialogues", "-t", "tx.csv", "-c", "customers.parquet"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with("error: row 3: customer `A` is listed twice (also on row 1)\n  --> customers.parquet\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_parquet_column_of_nulls_only_reads_as_an_empty_csv_column() {
    let f = Fixture::new();
    let parquets = example_parquets(&f);
    let customers = std::fs::read_to_string(root("examples/retail/customers.csv")).unwrap();
    let mut with_notes = String::new();
    for (i, line) in customers.lines().enumerate() {
        with_notes.push_str(line);
        with_notes.push_str(if i == 0 { ",notes\n" } else { ",\n" });
    }
    std::fs::write(f.path("customers-notes.csv"), &with_notes).unwrap();
    csv_to_parquet(&with_notes, &f.path("customers-notes.parquet"), &[("notes", Ty::Null)], 1000);
    let csvs = example_csvs();
    let from_csv = run_examples(
        &f,
        [csvs[0].clone(), f.path("customers-notes.csv").to_string_lossy().into_owned(), csvs[2].clone()],
        &[],
    );
    assert_eq!(from_csv.code, 0, "{}", from_csv.stderr);
    let inputs =
        [parquets[0].clone(), f.path("customers-notes.parquet").to_string_lossy().into_owned(), parquets[2].clone()];
    let from_parquet = run_examples(&f, inputs, &[]);
    assert_eq!(from_parquet.code, 0, "{}", from_parquet.stderr);
    assert!(from_csv.stdout.lines().next().unwrap().ends_with(",notes"));
    assert!(from_parquet.stdout == from_csv.stdout, "the null column differs from the empty one");
}
