//! Bad input gets a clear error naming file, line, column and value; a non-zero exit; and no
//! output file.

use super::Fixture;

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
    let leftovers: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".kairos-"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left behind");
    out.stderr
}

#[test]
fn missing_file() {
    let f = base();
    let err = fails(&f, &["--customers", "nope.csv"]);
    assert!(err.starts_with("error: cannot read nope.csv: "), "{err}");
}

/// A `*.yaml` link to nothing in the dialogues folder is read and fails, never skipped.
#[cfg(unix)]
#[test]
fn a_dangling_dialogue_link_is_an_error_not_skipped() {
    let f = base();
    std::os::unix::fs::symlink("missing.yaml", f.path("dialogues/vip.yaml")).unwrap();
    let err = fails(&f, &[]);
    assert!(err.contains("cannot read: No such file or directory"), "{err}");
    assert!(err.contains("vip.yaml"), "{err}");
    let out = f.cmd(&["check", "-d", "dialogues"]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("vip.yaml"), "{}", out.stderr);
}

/// A `fields:` type for a column the file does not have (a misspelt name) is a warning at it.
#[test]
fn a_field_type_for_a_column_the_file_lacks_is_a_warning() {
    let f = base();
    f.file("kairos.yaml", "fields:\n  transactions: {amout: number}\n");
    let out = f.cmd(&["check", "-d", "dialogues", "-t", "tx.csv"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("warning: fields.transactions.amout: the transactions file has no column `amout`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("kairos.yaml:2:"), "{}", out.stderr);
}

#[test]
fn missing_column_lists_the_columns_found() {
    let f = base();
    f.file("tx.csv", "cust,timestamp,amount\nA,2025-01-01,3\n");
    let err = fails(&f, &[]);
    assert_eq!(
        err,
        "error: the transactions file has no `customer_id` column\n  --> tx.csv\n  = note: found columns: cust, timestamp, amount\n  = help: name a header with `--column transactions.customer_id=HEADER` or under `columns:` in kairos.yaml\n"
    );
}

#[test]
fn column_mapping_and_date_format_make_it_work() {
    let f = base();
    f.file("tx.csv", "CustNo,Date,amount\nA,20250101,3\n");
    let out = f.run(&[
        "--column",
        "transactions.customer_id=CustNo",
        "--column",
        "transactions.timestamp=Date",
        "--date-format",
        "%Y%m%d",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(super::brief(&out.stdout), "A hello#1 hi/0 email:hi 2025-01-01 due\n");
    // The same through kairos.yaml.
    f.file(
        "kairos.yaml",
        "date_format: \"%Y%m%d\"\ncolumns:\n  transactions:\n    customer_id: CustNo\n    timestamp: Date\n",
    );
    let out = f.run(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn unparseable_date_names_file_line_column_value() {
    let f = base();
    f.file("tx.csv", &format!("{}A,2025-01-01,o1,p,c,1,2,web\nA,01/02/2025,o2,p,c,1,2,web\n", super::TX_HEADER));
    let err = fails(&f, &[]);
    assert_eq!(
        err,
        "error: column `timestamp`: cannot read \"01/02/2025\" as a timestamp\n  --> tx.csv:3\n  = help: expected an ISO 8601 date (2025-03-01) or date-time (2025-03-01T10:00:00Z, 2025-03-01 10:00:00+02:00) in the years 1000 to 9999; set --date-format for other layouts\n"
    );
}

#[test]
fn unparseable_number_names_file_line_column_value() {
    let f = base();
    f.file("tx.csv", &format!("{}A,2025-01-01,o1,p,c,1,\"12,50\",web\n", super::TX_HEADER));
    let err = fails(&f, &[]);
    assert_eq!(
        err,
        "error: column `amount`: \"12,50\" is not a number\n  --> tx.csv:2\n  = help: expected a plain decimal number such as 12.50 (`.` as decimal point, no thousands separator)\n"
    );
}

#[test]
fn ragged_rows_are_reported_with_their_line() {
    let f = base();
    f.file("tx.csv", &format!("{}A,2025-01-01,o1\n", super::TX_HEADER));
    let err = fails(&f, &[]);
    assert_eq!(err, "error: this row has 3 fields but the header has 8\n  --> tx.csv:2\n");
}

#[test]
fn bad_yaml_points_at_line_and_column() {
    let f = base();
    f.dialogue("broken", "trigger:\n  purchase: {}\nsteps:\n  - id: hi\n    send: {channel: email, template: hi\n");
    let err = fails(&f, &[]);
    insta::assert_snapshot!("bad_yaml", err);
}

#[test]
fn unknown_trigger_and_field_and_type_errors_are_all_reported_at_once() {
    let f = base();
    f.file("customers.csv", "customer_id,tier\nA,gold\n");
    f.dialogue(
        "typo_trigger",
        "trigger:\n  absense: {after: 30d}\nsteps:\n  - id: hi\n    send: {channel: email, template: hi}\n",
    );
    f.dialogue(
        "bad_when",
        "trigger:\n  purchase: {}\nwhen: customer.teir == \"gold\"\nsteps:\n  - id: hi\n    send: {channel: email, template: hi}\n",
    );
    f.dialogue(
        "bad_type",
        "trigger:\n  purchase: {where: \"category > 3\"}\nsteps:\n  - id: hi\n    send: {channel: email, template: hi}\n    next: bye\n",
    );
    let err = fails(&f, &[]);
    insta::assert_snapshot!("many_errors", err);
}

#[test]
fn duplicate_dialogue_ids() {
    let f = base();
    f.dialogue("other", &format!("id: hello\n{OK_DIALOGUE}"));
    let err = fails(&f, &[]);
    assert!(err.contains("error: duplicate dialogue id `hello`"), "{err}");
    assert!(err.contains("dialogues/other.yaml:1:5"), "{err}");
    assert!(err.contains("is already defined in dialogues/hello.yaml"), "{err}");
}

#[test]
fn check_reports_problems_with_exit_1_and_clean_with_0() {
    let f = base();
    let out = f.cmd(&["check", "--dialogues", "dialogues"]);
    assert_eq!((out.code, out.stderr.as_str()), (0, "checked 1 dialogue: 0 errors, 0 warnings\n"));
    f.dialogue(
        "bad",
        "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: a}\n    next: nowhere\n",
    );
    f.dialogue("odd", "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send: {channel: email, template: a}\n    end: done\n  - id: orphan\n    send: {channel: email, template: b}\n");
    f.dialogue("lonely", "steps:\n  - id: a\n    send: {channel: email, template: a}\n");
    let out = f.cmd(&["check", "--dialogues", "dialogues"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("check_problems", out.stderr);
}

#[test]
fn usage_errors_exit_2() {
    let f = base();
    let out = f.run(&["--due"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr, "error: --due needs --as-of: the day whose messages to emit\n");
    let out = f.run(&["--as-of", "soon"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--as-of \"soon\""), "{}", out.stderr);
}

#[test]
fn check_warns_about_undefined_templates_and_unknown_tiers() {
    let f = base();
    f.file("kairos.yaml", "templates: [hi, welcome]\ntiers:\n  measure: spend\n  levels: {gold: 100, other: 0}\n");
    f.dialogue(
        "tiered",
        "trigger:\n  purchase: {}\nsteps:\n  - id: a\n    send:\n      channel: email\n      template: welcom\n      by_tier:\n        gld: {channel: phone, template: hi}\n",
    );
    let out = f.cmd(&["check", "--dialogues", "dialogues"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("check_templates_tiers", out.stderr);
}

#[test]
fn bad_scalar_values_say_what_was_written_and_what_was_expected() {
    let step = "steps:\n  - id: s\n    send: {channel: email, template: t}\n";
    let cases = [
        ("priority: high\n", "`high` is not a whole number (or is too large)", "d.yaml:1:11"),
        (
            "trigger:\n  nth_order: {n: 99999999999999999999}\n",
            "`99999999999999999999` is not a whole number or a list of whole numbers",
            "d.yaml:2:18",
        ),
        (
            "trigger:\n  threshold: {measure: spend, reaches: 1e400}\n",
            "`1e400` is not a number (or is out of range)",
            "d.yaml:2:40",
        ),
        (
            "trigger:\n  threshold: {measure: spend, reaches: .nan}\n",
            "`reaches` must be a number above 0 (a measure starts at 0), not NaN",
            "d.yaml:2:40",
        ),
        (
            "trigger:\n  one_away: {measure: spend, target: 100, away: .nan}\n",
            "`away` must be more than 0 and less than the target (100)",
            "d.yaml:2:49",
        ),
    ];
    for (head, message, at) in cases {
        let f = Fixture::new();
        f.dialogue("d", &format!("{head}{step}"));
        let out = f.cmd(&["check", "-d", "dialogues"]);
        assert_eq!(out.code, 1, "{head}: {}", out.stderr);
        assert!(out.stderr.starts_with(&format!("error: {message}\n")), "{head}: {}", out.stderr);
        assert!(out.stderr.contains(&format!("dialogues/{at}")), "{head}: {}", out.stderr);
    }
}

#[test]
fn config_values_that_would_silently_do_nothing_are_errors() {
    let f = Fixture::new();
    f.dialogue("d", "trigger:\n  purchase: {}\nsteps:\n  - id: s\n    send: {channel: email, template: t}\n")
        .file("kairos.yaml", "tiers:\n  measure: spend\n  levels: {gold: .nan, basic: 0}\npolicy:\n  send_windows:\n    email: {days: [], at: \"09:00\"}\n");
    let out = f.cmd(&["check", "-d", "dialogues"]);
    assert_eq!(out.code, 1, "check found problems: {}", out.stderr);
    f.tx(&["A,2025-01-01,o1,p,c,1"]);
    let run = f.run(&[]);
    assert_eq!(run.code, 2, "run cannot do its job");
    assert!(run.stderr.contains("`days: []` never opens"), "{}", run.stderr);
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        errors,
        [
            "error: tiers: level `gold` needs a number, not NaN",
            "error: send window for `email`: `days: []` never opens"
        ],
        "{}",
        out.stderr
    );
}

#[test]
fn check_reports_every_unknown_key_of_every_file_at_once() {
    let f = base();
    f.dialogue(
        "typos",
        "trigger:\n  purchase: {wher: \"amount > 5\"}\nwhn: customer.tier == \"a\"\nsteps:\n  - id: hi\n    send: {channel: email, template: hi, dealy: 2d}\n",
    );
    f.file("kairos.yaml", "timezone: UTC\npolicy:\n  consent:\n    do_not_contat: dnc\n");
    f.file("templates/hi.yaml", "email:\n  subjet: Hello\n  text: Hi\n  htm: <p>Hi</p>\n");
    let out = f.cmd(&["check", "--dialogues", "dialogues"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    insta::assert_snapshot!("every_unknown_key", out.stderr);
    // With kairos.yaml fixed, the same five in the dialogue and the template, and `run` agrees.
    f.file("kairos.yaml", "timezone: UTC\n");
    let out = f.cmd(&["check", "--dialogues", "dialogues"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    for key in ["wher", "whn", "dealy", "subjet", "htm"] {
        assert!(out.stderr.contains(&format!("error: unknown field `{key}`")), "{key}: {}", out.stderr);
    }
    assert!(out.stderr.ends_with("5 errors, 0 warnings\n"), "{}", out.stderr);
    let err = fails(&f, &[]);
    for key in ["wher", "whn", "dealy"] {
        assert!(err.contains(&format!("error: unknown field `{key}`")), "{key}: {err}");
    }
}
