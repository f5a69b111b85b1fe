//! Reading the input CSVs: records as the csv crate reads the whole file however it is split
//! for parallel parsing, line numbers with any line ending, and clear errors (exit 2, no output
//! file) for duplicate columns, folders, missing files, huge cells and non-finite numbers.

use super::{Fixture, TX_HEADER};

const OK_DIALOGUE: &str = "trigger:\n  purchase: {}\nsteps:\n  - id: hi\n    send: {channel: email, template: hi}\n";

fn base() -> Fixture {
    let f = Fixture::new();
    f.dialogue("hello", OK_DIALOGUE).tx(&["A,2025-01-01,o1,p1,books,10"]);
    f
}

/// Run with `--output out.csv`; assert exit 2, no output file, and return stderr.
fn fails(f: &Fixture, extra: &[&str]) -> String {
    let mut args = vec!["--output", "out.csv"];
    args.extend(extra);
    let out = f.run(&args);
    assert_eq!(out.code, 2, "expected failure, got:\n{}", out.stderr);
    assert!(!f.path("out.csv").exists(), "a failed run must not leave an output file");
    assert_eq!(out.stdout, "");
    out.stderr
}

/// The `reason` column of a plan, per customer.
fn reasons(plan: &str) -> Vec<(String, String)> {
    let mut r = csv::Reader::from_reader(plan.as_bytes());
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let (c, why) = (col("customer_id"), col("reason"));
    r.records().map(|rec| rec.unwrap()).map(|rec| (rec[c].to_owned(), rec[why].to_owned())).collect()
}

#[test]
fn a_stray_quote_and_a_later_multiline_field_read_as_the_csv_crate_reads_them() {
    // Quote parity would take the `"` of `55"` for an opening quote and then the newline
    // inside `"two\nlines"` for the end of a record, and cut the file there.
    let f = base();
    let mut body = format!("{TX_HEADER}A,2025-01-01,o1,TV 55\" screen,tv,1,10,web\n");
    for i in 2..9 {
        body.push_str(&format!("B,2025-01-0{i},o{i},plain,misc,1,3,web\n"));
    }
    body.push_str("C,2025-01-09,o9,\"two\nlines, \"\"quoted\"\"\",misc,1,5,web\nD,2025-01-09,o10,after,misc,1,6,web\n");
    f.file("tx.csv", &body);
    let tricky = f.run(&["--threads", "2"]);
    assert_eq!(tricky.code, 0, "{}", tricky.stderr);
    let why = reasons(&tricky.stdout);
    assert!(
        why.contains(&("A".into(), "purchase of product `TV 55\" screen`, category `tv`, order `o1`".into())),
        "{why:?}"
    );
    assert!(
        why.contains(&("C".into(), "purchase of product `two\nlines, \"quoted\"`, category `misc`, order `o9`".into())),
        "{why:?}"
    );
    // The same plan as for the file without the quotes.
    f.file("tx.csv", &body.replace("TV 55\" screen", "tv").replace("\"two\nlines, \"\"quoted\"\"\"", "two"));
    let plain = f.run(&["--threads", "2"]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert_eq!(super::brief(&tricky.stdout), super::brief(&plain.stdout));
    assert_eq!(super::brief(&tricky.stdout).lines().count(), 4);
}

/// A timestamp out of the years kairos reads says which years those are.
#[test]
fn a_timestamp_before_the_year_1000_names_the_range() {
    let f = base();
    f.file("tx.csv", &format!("{TX_HEADER}A,0999-12-31,o1,p,c,1,2,web\n"));
    let err = fails(&f, &[]);
    assert!(
        err.starts_with("error: column `timestamp`: cannot read \"0999-12-31\" as a timestamp\n  --> tx.csv:2\n"),
        "{err}"
    );
    assert!(err.contains("in the years 1000 to 9999"), "{err}");
}

#[test]
fn crlf_files_report_the_same_lines_as_lf_files() {
    let f = base();
    for eol in ["\n", "\r\n"] {
        f.file("tx.csv", &format!("{TX_HEADER}A,someday,o1,p,c,1,2,web\n").replace('\n', eol));
        assert_eq!(
            fails(&f, &[]),
            "error: column `timestamp`: cannot read \"someday\" as a timestamp\n  --> tx.csv:2\n  = help: expected an ISO 8601 date (2025-03-01) or date-time (2025-03-01T10:00:00Z, 2025-03-01 10:00:00+02:00) in the years 1000 to 9999; set --date-format for other layouts\n",
            "{eol:?}"
        );
        // After a quoted field over two lines and a blank line.
        let rows = "A,2025-01-01,o1,\"two\nlines\",c,1,2,web\n\nA,2025-01-02,o2,p,c,1,2,web\nA,2025-01-03,o3,p,c\n";
        f.file("tx.csv", &format!("{TX_HEADER}{rows}").replace('\n', eol));
        assert_eq!(fails(&f, &[]), "error: this row has 5 fields but the header has 8\n  --> tx.csv:6\n", "{eol:?}");
    }
}

#[test]
fn a_column_named_twice_is_an_error() {
    let f = base();
    f.file("tx.csv", "customer_id,timestamp,amount,order_id,amount\nA,2025-01-01,1,o1,2\n");
    assert_eq!(
        fails(&f, &[]),
        "error: column `amount` appears twice in the header: columns 3 and 5\n  --> tx.csv:1\n  = help: rename or remove one of them (or map another header)\n"
    );
    // A mapped header that collides with a column of that name.
    f.file("tx.csv", "customer_id,timestamp,total,amount\nA,2025-01-01,1,2\n");
    assert_eq!(
        fails(&f, &["--column", "transactions.amount=total"]),
        "error: column `amount` appears twice in the header: columns 3 and 4\n  --> tx.csv:1\n  = note: column 3 is headed `total`, mapped to `amount` (--column / columns:)\n  = help: rename or remove one of them (or map another header)\n"
    );
    // In the customers file too, and `check` says the same.
    f.file("tx.csv", &format!("{TX_HEADER}A,2025-01-01,o1,p,c,1,2,web\n"));
    f.file("customers.csv", "customer_id,tier,Tier\nA,gold,gold\n");
    let err = fails(&f, &["--column", "customers.tier=Tier"]);
    let expected = "error: column `tier` appears twice in the header: columns 2 and 3\n  --> customers.csv:1\n  = note: column 3 is headed `Tier`, mapped to `tier` (--column / columns:)\n  = help: rename or remove one of them (or map another header)\n";
    assert_eq!(err, expected);
    let out = f.cmd(&[
        "check",
        "--dialogues",
        "dialogues",
        "--customers",
        "customers.csv",
        "--column",
        "customers.tier=Tier",
    ]);
    assert_eq!((out.code, out.stderr.as_str()), (2, expected));
}

#[test]
fn a_folder_or_a_missing_file_is_named_with_the_reason_once() {
    let f = base();
    std::fs::create_dir(f.path("d")).unwrap();
    for flag in ["--customers", "--events"] {
        assert_eq!(
            fails(&f, &[flag, "d"]),
            "error: cannot read d: it is a folder, not a CSV file\n  --> d\n",
            "{flag}"
        );
    }
    let out = f.cmd(&["run", "-d", "dialogues", "-t", "d", "-o", "out.csv"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr, "error: cannot read d: it is a folder, not a CSV file\n  --> d\n");
    let out = f.cmd(&["run", "-d", "dialogues", "-t", "missing.csv", "-o", "out.csv"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: cannot read missing.csv: No such file or directory (os error 2)\n  --> missing.csv\n"
    );
    assert!(!f.path("out.csv").exists());
    // Read from stdin, the transactions are loaded before the other files are opened.
    let out = assert_cmd::Command::cargo_bin("kairos")
        .unwrap()
        .current_dir(f.dir.path())
        .args(["run", "-d", "dialogues", "-t", "-", "-e", "d"])
        .write_stdin(super::read(&f.path("tx.csv")))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "error: cannot read d: it is a folder, not a CSV file\n  --> d\n");
}

#[test]
fn a_huge_bad_value_is_cut_in_the_message() {
    let f = base();
    let huge = "9".repeat(10_000_000);
    f.file("tx.csv", &format!("{TX_HEADER}A,2025-01-01,o1,p,c,1,{huge}x,web\n"));
    let err = fails(&f, &[]);
    assert_eq!(
        err,
        format!(
            "error: column `amount`: \"{}…\" (10000001 characters) is not a number\n  --> tx.csv:2\n  = help: expected a plain decimal number such as 12.50 (`.` as decimal point, no thousands separator)\n",
            "9".repeat(79)
        )
    );
    f.file("tx.csv", &format!("{TX_HEADER}A,{huge},o1,p,c,1,2,web\n"));
    let err = fails(&f, &[]);
    assert!(
        err.starts_with(&format!(
            "error: column `timestamp`: cannot read \"{}…\" (10000000 characters) as a timestamp\n  --> tx.csv:2\n",
            "9".repeat(79)
        )),
        "{}",
        &err[..err.len().min(300)]
    );
}

#[test]
fn nan_infinity_and_out_of_range_numbers_are_rejected() {
    let f = base();
    for bad in ["nan", "NaN", "inf", "-infinity", "1e400"] {
        f.file("tx.csv", &format!("{TX_HEADER}A,2025-01-01,o1,p,c,1,2,web\nA,2025-01-02,o2,p,c,1,{bad},web\n"));
        assert_eq!(
            fails(&f, &[]),
            format!("error: column `amount`: \"{bad}\" is not a number\n  --> tx.csv:3\n  = help: expected a plain decimal number such as 12.50 (`.` as decimal point, no thousands separator)\n"),
        );
    }
}

#[test]
fn without_transactions_history_is_empty_and_a_transactions_column_is_an_error() {
    let f = Fixture::new();
    f.dialogue(
        "moved",
        "trigger:\n  address_change: {}\nwhen: spend(365d) == 0 and orders() == 0\nsteps:\n  - id: hi\n    send: {channel: email, template: hi}\n",
    )
    .events(&["A,2025-01-01,address_change"]);
    assert_eq!(f.plan(&[]), "A moved#1 hi/0 email:hi 2025-01-01 due\n");
    f.dialogue(
        "big",
        "trigger:\n  threshold: {measure: tier_credits, reaches: 10, where: category == \"x\"}\nsteps:\n  - id: hi\n    send: {channel: email, template: hi}\n",
    );
    let out = f.run(&[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: `tier_credits` is a column of the transactions, but no transactions file was given"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("error: `category` is a column of the transactions, but no transactions file was given"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("help: pass --transactions FILE, or leave transactions columns out of this dialogue"));
    assert!(out.stderr.contains("dialogues/big.yaml:2:24"), "{}", out.stderr);
}

/// A customer column in a run without a customers file says so (it said "unknown field
/// `tier` in the customers data ... the customers columns are: (none)").
#[test]
fn without_customers_a_customer_column_says_no_customers_file_was_given() {
    let f = Fixture::new();
    f.dialogue(
        "gold",
        "trigger:\n  purchase: {}\nwhen: customer.tier == \"gold\"\nsteps:\n  - id: hi\n    send: {channel: email, template: hi}\n",
    )
    .tx(&["A,2025-01-01T10:00:00Z,o1,p,books,10"]);
    let out = f.run(&[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "error: `tier` is a column of the customers, but no customers file was given\n --> dialogues/gold.yaml:3:7"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("help: pass --customers FILE, or leave customers columns out of this dialogue"),
        "{}",
        out.stderr
    );
}

#[test]
fn no_loading_progress_is_drawn_when_stderr_is_a_pipe() {
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: t}\n")
        .tx(&["A,2025-01-01,o1,p,c,1"]);
    let out = f.run(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.starts_with("kairos: no kairos.yaml"), "{}", out.stderr);
    assert!(!out.stderr.contains("loading") && !out.stderr.contains('\r'), "{}", out.stderr);
}

#[test]
fn a_utf16_or_latin1_header_is_named_as_such() {
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n");
    let utf16 = |bom: bool| {
        let mut b: Vec<u8> = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        for u in "customer_id,timestamp\nC1,2025-01-01\n".encode_utf16() {
            b.extend(u.to_le_bytes());
        }
        b
    };
    for (bytes, why) in
        [(utf16(true), "it starts with a UTF-16 byte-order mark"), (utf16(false), "its header holds NUL bytes")]
    {
        std::fs::write(f.path("tx.csv"), bytes).unwrap();
        let out = f.run(&["--no-templates"]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains(&format!("this file is UTF-16 ({why}), and kairos reads UTF-8")), "{}", out.stderr);
        assert!(out.stderr.contains("tx.csv:1"), "{}", out.stderr);
        assert!(!out.stderr.contains('\0'), "no NUL bytes on the terminal");
    }
    std::fs::write(f.path("tx.csv"), b"customer_id,timestamp,canal\xe9\nC1,2025-01-01,web\n").unwrap();
    let out = f.run(&["--no-templates"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("the header's column 3 (\"canal\u{fffd}\") is not valid UTF-8"), "{}", out.stderr);
}

#[test]
fn a_misspelt_column_mapping_is_pointed_out_where_the_column_is_missing() {
    let f = Fixture::new();
    f.dialogue("hi", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n")
        .file("kairos.yaml", "columns:\n  transactions: {custmer_id: CustNo}\n")
        .file("tx.csv", "CustNo,timestamp\nC1,2025-01-01\n");
    for args in [
        &["run", "-d", "dialogues", "-t", "tx.csv", "--no-templates"][..],
        &["check", "-d", "dialogues", "-t", "tx.csv"],
    ] {
        let out = f.cmd(args);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains(
                "help: the column mapping reads header `CustNo` as `custmer_id`: did you mean `customer_id`? (`columns: {transactions: {customer_id: CustNo}}`)"
            ),
            "{}",
            out.stderr
        );
    }
}

/// A pipe (`-t <(zcat tx.csv.gz)`, a FIFO) is read once, as stdin is: the same plan as the
/// file. (Its header was read ahead and taken from the load, or the run hung on the reopen.)
/// A device that never ends a line is an error, not a run that fills memory.
#[cfg(unix)]
#[test]
fn a_pipe_is_read_once_and_an_endless_line_is_an_error() {
    let f = base();
    f.tx(&["A,2025-01-01,o1,p1,books,10", "B,2025-01-02,o2,p1,toys,10"]);
    let want = f.cmd(&["run", "--dialogues", "dialogues", "-t", "tx.csv"]);
    assert_eq!(want.code, 0, "{}", want.stderr);
    let fifo = f.path("tx.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let body = std::fs::read(f.path("tx.csv")).unwrap();
    let writer = std::thread::spawn(move || std::fs::write(fifo, body).unwrap());
    let got = f.cmd(&["run", "--dialogues", "dialogues", "-t", "tx.fifo"]);
    writer.join().unwrap();
    assert_eq!((got.code, got.stdout), (0, want.stdout), "{}", got.stderr);
    let zero = f.cmd(&["run", "--dialogues", "dialogues", "-t", "/dev/zero"]);
    assert_eq!(zero.code, 2);
    assert!(zero.stderr.contains("no line end in 256 MiB: is this a CSV file?"), "{}", zero.stderr);
}
