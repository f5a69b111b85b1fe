//! `--presorted`: inputs sorted by customer id, read a batch of customers at a time. Whatever
//! the batch size (down to a byte at a time), the plan and the summary are the bytes of a run
//! that reads everything at once; a row out of order is an error naming both lines, and a file
//! output is then not written at all.

use std::path::Path;

use super::{read, Fixture};

const AS_OF: &str = "2025-12-31";

fn root(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p).to_string_lossy().into_owned()
}

/// `src` sorted by its first column (byte order, stable), written to `dest` in the fixture.
fn sorted_copy(f: &Fixture, src: &str, dest: &str) {
    let mut r = csv::Reader::from_path(root(src)).unwrap();
    let header = r.headers().unwrap().clone();
    let mut rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    rows.sort_by(|a, b| a[0].as_bytes().cmp(b[0].as_bytes()));
    let mut w = csv::Writer::from_path(f.path(dest)).unwrap();
    w.write_record(&header).unwrap();
    for row in rows {
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
}

/// The retail example's inputs, sorted, in the fixture.
fn retail(f: &Fixture) {
    for t in ["transactions", "customers", "events"] {
        sorted_copy(f, &format!("examples/retail/{t}.csv"), &format!("{t}.csv"));
    }
}

fn retail_run(f: &Fixture, extra: &[&str]) -> super::Output {
    let d = root("dialogues");
    let mut args =
        vec!["run", "-d", &d, "-t", "transactions.csv", "-c", "customers.csv", "-e", "events.csv", "--as-of", AS_OF];
    args.extend(extra);
    f.cmd(&args)
}

#[test]
fn a_presorted_run_writes_the_bytes_of_a_whole_run_whatever_the_batch_size() {
    let f = Fixture::new();
    retail(&f);
    for format in ["csv", "jsonl", "json"] {
        let whole = retail_run(&f, &["--format", format, "--summary", "full"]);
        assert_eq!(whole.code, 0, "{}", whole.stderr);
        assert!(whole.stdout.len() > 100_000, "{format}: a plan worth comparing");
        // One batch; a few hundred; one or two customers per batch; a byte at a time.
        for block in ["33554432", "20000", "400", "1"] {
            let streamed =
                retail_run(&f, &["--format", format, "--summary", "full", "--presorted", "--presorted-block", block]);
            assert_eq!(streamed.code, 0, "{}", streamed.stderr);
            assert!(streamed.stdout == whole.stdout, "{format}, {block}-byte batches: the plan differs");
            assert_eq!(streamed.stderr, whole.stderr, "{format}, {block}-byte batches");
        }
    }
    // The unsorted files the example ships give the same plan too.
    let b = |x: &str| root(&format!("examples/retail/{x}.csv"));
    let (t, c, e, d) = (b("transactions"), b("customers"), b("events"), root("dialogues"));
    let shipped = f.cmd(&["run", "-d", &d, "-t", &t, "-c", &c, "-e", &e, "--as-of", AS_OF]);
    assert_eq!(shipped.code, 0, "{}", shipped.stderr);
    assert!(shipped.stdout == retail_run(&f, &["--presorted"]).stdout);
}

#[test]
fn presorted_shards_of_the_bookshop_make_the_whole_run_catalogue_and_all() {
    let f = Fixture::new();
    for t in ["transactions", "customers", "events"] {
        sorted_copy(&f, &format!("examples/bookshop/{t}.csv"), &format!("{t}.csv"));
    }
    let (d, k) = (root("examples/bookshop/dialogues"), root("examples/bookshop/catalog.csv"));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "-d",
            &d,
            "-t",
            "transactions.csv",
            "-c",
            "customers.csv",
            "-e",
            "events.csv",
            "--catalog",
            &k,
            "--as-of",
            AS_OF,
            "--format",
            "jsonl",
        ];
        args.extend(extra);
        let out = f.cmd(&args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    let whole = run(&[]);
    assert!(whole.contains("\"item_id\":\""), "the bookshop announces catalogue items");
    assert!(run(&["--presorted", "--presorted-block", "700"]) == whole);
    let mut merged: Vec<String> = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        merged.extend(run(&["--presorted", "--presorted-block", "700", "--shard", &shard]).lines().map(str::to_owned));
    }
    let id =
        |l: &String| serde_json::from_str::<serde_json::Value>(l).unwrap()["customer_id"].as_str().unwrap().to_owned();
    merged.sort_by_key(id);
    assert!(merged == whole.lines().map(str::to_owned).collect::<Vec<_>>());
}

#[test]
fn a_nightly_presorted_run_records_the_same_ledger() {
    let f = Fixture::new();
    retail(&f);
    let night = |ledger: &str, extra: &[&str]| {
        let mut args = vec!["--ledger", ledger, "--format", "jsonl"];
        args.extend(extra);
        let out = retail_run(&f, &args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    let whole = night("whole.jsonl", &[]);
    let streamed = night("streamed.jsonl", &["--presorted", "--presorted-block", "5000"]);
    assert!(!whole.is_empty());
    assert!(streamed == whole);
    assert_eq!(read(&f.path("streamed.jsonl")), read(&f.path("whole.jsonl")));
    // The next night emits nothing again, either way.
    assert_eq!(night("streamed.jsonl", &["--presorted", "--presorted-block", "5000"]), "");
}

const TX: &str = "customer_id,timestamp,order_id,product,category,quantity,amount,channel
C1,2025-01-01,O1,P1,books,1,10,web
C2,2025-01-02,O2,P1,books,1,10,web
C2,2025-01-03,O3,P2,toys,1,10,web
C3,2025-01-04,O4,P1,books,1,10,web
";

fn small(f: &Fixture, tx: &str) {
    f.dialogue(
        "hello",
        "id: hello
trigger:
  new_category: {}
reentry: always
steps:
  - id: hi
    send: {channel: email, template: hi}
",
    );
    f.file("tx.csv", tx);
}

#[test]
fn a_row_out_of_order_is_an_error_naming_both_lines_and_no_file_is_written() {
    let f = Fixture::new();
    small(&f, &format!("{TX}C4,2025-01-05,O5,P1,books,1,10,web\nC2,2025-01-06,O6,P3,games,1,10,web\n"));
    f.file("plan.csv", "yesterday's plan\n");
    for block in ["40", "100000"] {
        let out = f.run(&["--as-of", AS_OF, "--presorted", "--presorted-block", block, "-o", "plan.csv"]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert_eq!(
            out.stderr,
            "error: customer `C2` comes after customer `C4` (on line 6): --presorted promises rows sorted by `customer_id`
  --> tx.csv:7
  = note: sorted means in byte order of the ids, each customer's rows together (as `ORDER BY customer_id` or `LC_ALL=C sort` give)
  = help: sort the file by customer id, or run without --presorted (which reads any order, holding all rows in memory)
",
            "{block}-byte batches"
        );
        assert_eq!(read(&f.path("plan.csv")), "yesterday's plan\n");
        let files: Vec<_> = std::fs::read_dir(f.dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(files.len(), 3, "no temporary file is left: {files:?}");
    }
    // The same file without the promise is fine.
    assert_eq!(f.run(&["--as-of", AS_OF]).code, 0);
}

#[test]
fn the_promise_holds_for_every_input_and_needs_an_as_of() {
    let f = Fixture::new();
    small(&f, TX);
    f.file("customers.csv", "customer_id,email\nC2,b@x.org\nC1,a@x.org\n");
    let out = f.run(&["--as-of", AS_OF, "--presorted"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with(
            "error: customer `C1` comes after customer `C2` (on line 2): --presorted promises rows sorted by `customer_id`\n  --> customers.csv:3\n"
        ),
        "{}",
        out.stderr
    );
    f.file("customers.csv", "customer_id,email\nC1,a@x.org\nC1,b@x.org\n");
    let out = f.run(&["--as-of", AS_OF, "--presorted"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with("error: customer `C1` is listed twice (also on line 2)\n  --> customers.csv:3\n"),
        "{}",
        out.stderr
    );
    f.file("customers.csv", "customer_id,email\nC1,a@x.org\nC2,b@x.org\n");
    f.file("events.csv", "customer_id,timestamp,type\nC3,2025-01-01,visit\nC1,2025-01-01,visit\n");
    let out = f.run(&["--as-of", AS_OF, "--presorted"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("customer `C1` comes after customer `C3` (on line 2)"), "{}", out.stderr);
    assert!(out.stderr.contains("--> events.csv:3\n"), "{}", out.stderr);
    let out = f.run(&["--presorted"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: --presorted needs --as-of: the inputs are read a batch at a time, so their latest timestamp is known only at the end, after the first messages are written\n"
    );
}

#[test]
fn a_customer_whose_rows_fill_many_batches_is_read_whole() {
    let f = Fixture::new();
    let mut tx = String::from("customer_id,timestamp,order_id,product,category,quantity,amount,channel\n");
    for i in 0..200 {
        tx.push_str(&format!("C1,2025-01-{:02},O{i},P1,cat{},1,10,web\n", i % 28 + 1, i % 7));
    }
    tx.push_str("C2,2025-02-01,O900,P1,books,1,10,web\nC2,2025-02-02,O901,P1,toys,1,10,web\n");
    small(&f, &tx);
    let whole = f.plan(&["--as-of", AS_OF]);
    assert_eq!(whole.lines().count(), 7, "{whole}");
    assert_eq!(f.plan(&["--as-of", AS_OF, "--presorted", "--presorted-block", "64"]), whole);
}

#[test]
fn profiles_and_events_past_the_last_purchase_are_read_batch_by_batch_too() {
    // The transactions stop at an early customer; the customers and events files go on (new
    // sign-ups): the batches past the transactions are driven by the next file, with the same
    // plan as a whole run.
    let f = Fixture::new();
    retail(&f);
    let tx = read(&f.path("transactions.csv"));
    let mut lines = tx.lines();
    let header = lines.next().unwrap();
    let first: Vec<&str> = lines.take(60).collect();
    let last_customer = first.last().unwrap().split(',').next().unwrap().to_owned();
    let kept: Vec<&str> = first.into_iter().filter(|l| l.split(',').next() != Some(&last_customer)).collect();
    std::fs::write(f.path("transactions.csv"), format!("{header}\n{}\n", kept.join("\n"))).unwrap();
    let customers = read(&f.path("customers.csv"));
    assert!(customers.lines().count() > 100, "profiles go on well past the purchases");
    let whole = retail_run(&f, &["--format", "jsonl", "--summary", "full"]);
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    for block in ["400", "1"] {
        let streamed =
            retail_run(&f, &["--format", "jsonl", "--summary", "full", "--presorted", "--presorted-block", block]);
        assert_eq!(streamed.code, 0, "{}", streamed.stderr);
        assert!(streamed.stdout == whole.stdout, "{block}-byte batches: the plan differs");
        assert_eq!(streamed.stderr, whole.stderr, "{block}-byte batches");
    }
}
