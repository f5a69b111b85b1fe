"""The Spark job in local mode equals one kairos run, row for row.

usage: KAIROS_BIN=target/release/kairos python integrations/spark/test_spark.py
Exit status 0 when every check holds; prints `skipped: ...` and exits 0 when pyspark or xxhash
is missing, unless KAIROS_REQUIRE_SPARK=1 (then that is a failure).
"""

import csv
import glob
import io
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
AS_OF = "2025-12-31T23:04:43Z"


def missing(what):
    if os.environ.get("KAIROS_REQUIRE_SPARK") == "1":
        print(f"error: {what} (KAIROS_REQUIRE_SPARK=1)", file=sys.stderr)
        sys.exit(1)
    print(f"skipped: {what}")
    sys.exit(0)


try:
    import pyspark  # noqa: F401
    import xxhash
except ImportError as e:
    missing(f"cannot import {e.name}; pip install pyspark xxhash")

sys.path.insert(0, HERE)
import kairos_spark  # noqa: E402


def records(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def spark_output(folder):
    """The records of a Spark CSV output folder: part files in name order, one header."""
    rows = []
    header = None
    for part in sorted(glob.glob(os.path.join(folder, "part-*.csv"))):
        with open(part, newline="", encoding="utf-8") as f:
            recs = list(csv.reader(f))
        if not recs:
            continue
        if header is None:
            header = recs[0]
        assert recs[0] == header, f"{part} has another header"
        rows.extend(recs[1:])
    return [header] + rows if header else []


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main():
    kairos = os.environ.get("KAIROS_BIN", os.path.join(ROOT, "target", "release", "kairos"))
    if not os.path.isfile(kairos):
        print(f"error: no kairos binary at {kairos} (set KAIROS_BIN)", file=sys.stderr)
        sys.exit(1)
    ex = os.path.join(ROOT, "examples", "retail")
    tx, cu, ev = (os.path.join(ex, f"{t}.csv") for t in ("transactions", "customers", "events"))
    dialogues = os.path.join(ROOT, "dialogues")

    # The shard hash in Python is kairos's (pinned values from src/input/shard.rs).
    check(xxhash.xxh3_64_intdigest(b"") == 0x2D06800538D394C2, "xxh3-64 of the empty id")
    check(kairos_spark.shard_of(" C0001 ", 7) == kairos_spark.shard_of("C0001", 7), "ids are trimmed before hashing")

    one = subprocess.run(
        [kairos, "run", "--quiet", "-d", dialogues, "-t", tx, "-c", cu, "-e", ev, "--as-of", AS_OF, "--format", "csv"],
        capture_output=True,
        check=True,
    )
    single = records(one.stdout.decode("utf-8"))
    check(len(single) > 4000, f"one run plans {len(single) - 1} messages")

    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    # The Python workers run this interpreter (the one with pyspark and xxhash).
    os.environ["PYSPARK_PYTHON"] = sys.executable

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("kairos-test")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        with tempfile.TemporaryDirectory(prefix="kairos-spark-test-") as tmp:
            out = os.path.join(tmp, "plan")
            args = ["--kairos", kairos, "--dialogues", dialogues, "--transactions", tx, "--customers", cu]
            args += ["--events", ev, "--as-of", AS_OF, "--partitions", "4", "--out", out]
            header = kairos_spark.write_plan(spark, kairos_spark.parse_args(args))
            check(header == single[0], "the plan header is one run's")
            got = spark_output(out)
            check(len(got) == len(single), f"Spark wrote {len(got) - 1} messages, one run {len(single) - 1}")
            for i, (a, b) in enumerate(zip(got, single)):
                if a != b:
                    check(False, f"record {i} differs:\n  spark {a}\n  one   {b}")
            check(True, "the Spark plan equals one run, row for row")

            # Parquet inputs (typed timestamps, as a warehouse exports them) give the same plan.
            pq = {}
            for name, path in (("transactions", tx), ("customers", cu), ("events", ev)):
                df = kairos_spark.read_table(spark, path)
                if "timestamp" in df.columns:
                    df = df.withColumn("timestamp", F.to_timestamp("timestamp"))
                pq[name] = os.path.join(tmp, f"{name}.parquet")
                df.write.parquet(pq[name])
            out2 = os.path.join(tmp, "plan2")
            args = ["--kairos", kairos, "--dialogues", dialogues, "--transactions", pq["transactions"]]
            args += ["--customers", pq["customers"], "--events", pq["events"], "--as-of", AS_OF]
            args += ["--partitions", "3", "--out", out2]
            kairos_spark.write_plan(spark, kairos_spark.parse_args(args))
            check(spark_output(out2) == single, "Parquet inputs in 3 partitions give the same plan")

            # Nightly with ledgers: one per partition (shard), emitting what one run with one
            # ledger emits; the same night again emits nothing.
            ledgers = os.path.join(tmp, "ledgers")
            os.mkdir(ledgers)
            one_ledger = subprocess.run(
                [kairos, "run", "--quiet", "-d", dialogues, "-t", tx, "-c", cu, "-e", ev, "--as-of", AS_OF]
                + ["--ledger", os.path.join(tmp, "all.jsonl")],
                capture_output=True,
                check=True,
            )
            expected = records(one_ledger.stdout.decode("utf-8"))
            args = ["--kairos", kairos, "--dialogues", dialogues, "--transactions", tx, "--customers", cu]
            args += ["--events", ev, "--as-of", AS_OF, "--partitions", "2", "--ledger-dir", ledgers]
            kairos_spark.write_plan(spark, kairos_spark.parse_args(args + ["--out", os.path.join(tmp, "n1")]))
            check(spark_output(os.path.join(tmp, "n1")) == expected, f"with ledgers: {len(expected) - 1} messages, as one run with one ledger")
            held = []
            for k in (1, 2):
                with open(os.path.join(ledgers, f"sent-{k}-of-2.jsonl"), encoding="utf-8") as f:
                    lines = f.read().splitlines()
                check(all(f'"shard":"{k}/2"' in l for l in lines), f"ledger {k} of 2 records its shard")
                held += lines
            check(len(held) == len(expected) - 1, "every emitted message is recorded once")
            kairos_spark.write_plan(spark, kairos_spark.parse_args(args + ["--out", os.path.join(tmp, "n2")]))
            check(len(spark_output(os.path.join(tmp, "n2"))) <= 1, "the same night again emits nothing")

            # Ids a spreadsheet would take for formulas (`'`-guarded in CSV plans) are still
            # ordered by the id; a Parquet plan holds the cells as they are (`--raw-csv`).
            odd = {}
            for name, path in (("transactions", tx), ("customers", cu), ("events", ev)):
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                # `*C0004` sorts before `+C0003`, and after its guarded cell `'+C0003`.
                pairs = (("C0001,", "@C0001,"), ("C0002,", "=C0002,"), ("C0003,", "+C0003,"), ("C0004,", "*C0004,"))
                for old_id, new_id in pairs:
                    text = text.replace("\n" + old_id, "\n" + new_id)
                odd[name] = os.path.join(tmp, f"odd_{name}.csv")
                with open(odd[name], "w", encoding="utf-8") as f:
                    f.write(text)
            base = [kairos, "run", "--quiet", "-d", dialogues, "-t", odd["transactions"], "-c", odd["customers"]]
            base += ["-e", odd["events"], "--as-of", AS_OF, "--format", "csv"]
            one_odd = records(subprocess.run(base, capture_output=True, check=True).stdout.decode("utf-8"))
            check(any(r[1].startswith("'@") for r in one_odd[1:]), "the odd ids have messages, guarded")
            args = ["--kairos", kairos, "--dialogues", dialogues, "--transactions", odd["transactions"]]
            args += ["--customers", odd["customers"], "--events", odd["events"], "--as-of", AS_OF, "--partitions", "3"]
            kairos_spark.write_plan(spark, kairos_spark.parse_args(args + ["--out", os.path.join(tmp, "odd")]))
            check(spark_output(os.path.join(tmp, "odd")) == one_odd, "guarded ids are ordered by the id, as one run orders them")
            raw = records(subprocess.run(base + ["--raw-csv"], capture_output=True, check=True).stdout.decode("utf-8"))
            out_pq = os.path.join(tmp, "odd_pq")
            kairos_spark.write_plan(spark, kairos_spark.parse_args(args + ["--out", out_pq, "--out-format", "parquet"]))
            got = []
            for part in sorted(glob.glob(os.path.join(out_pq, "part-*.parquet"))):
                got += [["" if v is None else v for v in r] for r in spark.read.parquet(part).collect()]
            check([raw[0]] + got == raw, "a Parquet plan is one --raw-csv run's cells, row for row")
    finally:
        spark.stop()
    print("5 passed, 0 failed")


if __name__ == "__main__":
    main()
