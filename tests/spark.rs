//! The Spark job (integrations/spark) in local mode equals one kairos run, row for row. Runs
//! `integrations/spark/test_spark.py` with the interpreter in `KAIROS_PYTHON` (default
//! `python3`); without pyspark it prints "skipped" and passes, unless `KAIROS_REQUIRE_SPARK=1`
//! (set by .ci/run, which installs pyspark into its own virtualenv).

use std::process::Command;

#[test]
fn the_spark_job_equals_one_run() {
    let root = env!("CARGO_MANIFEST_DIR");
    let python = std::env::var("KAIROS_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let required = std::env::var("KAIROS_REQUIRE_SPARK").is_ok_and(|v| v == "1");
    let out = Command::new(&python)
        .arg(format!("{root}/integrations/spark/test_spark.py"))
        .env("KAIROS_BIN", env!("CARGO_BIN_EXE_kairos"))
        .current_dir(root)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if !required => {
            println!("skipped: cannot start {python}: {e}");
            return;
        }
        Err(e) => panic!("cannot start {python}: {e} (KAIROS_REQUIRE_SPARK=1)"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "the Spark test failed:\n{stdout}\n{stderr}");
    if stdout.starts_with("skipped") {
        assert!(!required, "pyspark is required here: {stdout}");
        return;
    }
    assert!(stdout.contains("ok: the Spark plan equals one run, row for row"), "{stdout}\n{stderr}");
}
