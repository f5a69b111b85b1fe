"""Run kairos on Spark: partition the inputs by the customer hash kairos uses for `--shard`,
run the kairos binary once per partition, and write the message plan as CSV or Parquet.

Partition K (1-based) of N holds exactly the customers of `kairos run --shard K/N`: those whose
xxh3-64 hash of the customer id (UTF-8 bytes, surrounding whitespace trimmed), mod N, is K-1.
Everything kairos computes is per customer, so the union of the partitions' plans is the plan of
one run over all the data, row for row.

usage (see README.md beside this file for spark-submit on a cluster):

    spark-submit kairos_spark.py --kairos target/release/kairos --dialogues dialogues \
        --transactions tx.csv [--customers c.csv] [--events e.csv] --as-of 2025-12-31 \
        --partitions 64 --out plan/ [--out-format csv|parquet] [--kairos-arg=--config=kairos.yaml]

Inputs ending in `.parquet` (a file or a folder of part files) are read as Parquet, anything
else as CSV with a header. Every value reaches kairos as text: timestamps as ISO 8601 in UTC
(`2025-03-01T10:00:00Z`), other values as Spark casts them to strings.
"""

import argparse
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile

import xxhash

# A message body can be up to 1 MiB (kairos's limit per template part): far past the csv
# module's default field limit of 128 KiB.
csv.field_size_limit(2**31 - 1)

# What Rust's `str::trim` removes (Unicode White_Space), which kairos does to every cell.
RUST_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"


def shard_of(customer_id, n):
    """0-based shard of a customer id out of n: kairos's `Shard::index_of`."""
    return xxhash.xxh3_64_intdigest((customer_id or "").strip(RUST_WHITESPACE).encode("utf-8")) % n


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kairos", default="kairos", help="the kairos binary: a path, or the name of a file shipped with --files")
    p.add_argument("--dialogues", required=True, help="dialogues folder or file as the executors see it (ship with --archives)")
    p.add_argument("--transactions", required=True)
    p.add_argument("--customers")
    p.add_argument("--events")
    p.add_argument("--as-of", required=True, help="every partition replays up to this date or date-time")
    p.add_argument("--partitions", type=int, default=8, help="N: partitions, each one kairos run (1 to 65536)")
    p.add_argument("--customer-column", default="customer_id", help="the customer id header in every input")
    p.add_argument("--out", required=True, help="folder to write the plan into (Spark part files)")
    p.add_argument("--out-format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--ledger-dir", help="a folder every executor sees (shared storage): partition K of N uses the ledger sent-K-of-N.jsonl there")
    p.add_argument("--kairos-arg", action="append", default=[], help="another argument for `kairos run` (repeat), e.g. --kairos-arg=--config=kairos.yaml")
    a = p.parse_args(argv)
    if not 1 <= a.partitions <= 65536:
        p.error("--partitions must be from 1 to 65536")
    return a


def read_table(spark, path):
    """An input as a DataFrame of strings, timestamps in ISO 8601 UTC."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

    if path.rstrip("/").lower().endswith(".parquet"):
        df = spark.read.parquet(path)
    else:
        # RFC 4180 CSV: quotes doubled inside quoted fields, fields may span lines, all text.
        df = (
            spark.read.option("header", True)
            .option("multiLine", True)
            .option("escape", '"')
            .option("inferSchema", False)
            .option("mode", "FAILFAST")
            .csv(path)
        )
    cols = []
    for f in df.schema.fields:
        c = F.col(f"`{f.name}`")
        if isinstance(f.dataType, TimestampType):
            c = F.date_format(c, "yyyy-MM-dd'T'HH:mm:ss'Z'")
        elif isinstance(f.dataType, TimestampNTZType):
            c = F.date_format(c, "yyyy-MM-dd'T'HH:mm:ss")
        elif isinstance(f.dataType, DateType):
            c = F.date_format(c, "yyyy-MM-dd")
        cols.append(c.cast("string").alias(f.name))
    return df.select(cols)


def resolve_binary(name):
    if os.path.isfile(name):
        return os.path.abspath(name)
    try:
        from pyspark import SparkFiles

        shipped = SparkFiles.get(os.path.basename(name))
        if os.path.isfile(shipped):
            return shipped
    except Exception:
        pass
    found = shutil.which(name)
    if found:
        return found
    raise RuntimeError(f"kairos binary {name!r} not found on this executor (ship it with spark-submit --files)")


def run_partition(index, rows, conf):
    """Write this partition's rows as CSV files, run kairos on them, yield the plan's records."""
    headers = conf["headers"]
    n = conf["partitions"]
    with tempfile.TemporaryDirectory(prefix="kairos-spark-") as tmp:
        files = {}
        writers = {}
        for t in headers:
            files[t] = open(os.path.join(tmp, f"{t}.csv"), "w", newline="", encoding="utf-8")
            writers[t] = csv.writer(files[t], lineterminator="\n")
            writers[t].writerow(headers[t])
        count = 0
        for _, (table, values) in rows:
            writers[table].writerow(["" if v is None else v for v in values])
            count += 1
        for f in files.values():
            f.close()
        if count == 0:
            return
        shard = f"{index + 1}/{n}"
        cmd = [resolve_binary(conf["kairos"]), "run", "--quiet", "--dialogues", conf["dialogues"]]
        cmd += ["--transactions", os.path.join(tmp, "transactions.csv")]
        for t in ("customers", "events"):
            if t in headers:
                cmd += [f"--{t}", os.path.join(tmp, f"{t}.csv")]
        cmd += ["--as-of", conf["as_of"], "--format", "csv"]
        if conf["ledger_dir"]:
            # The partition holds shard K of N exactly; saying so records the shard in its
            # ledger, which then refuses any other split.
            cmd += ["--shard", shard, "--ledger", os.path.join(conf["ledger_dir"], f"sent-{index + 1}-of-{n}.jsonl")]
        if conf["raw"]:
            cmd += ["--raw-csv"]
        cmd += conf["kairos_args"]
        done = subprocess.run(cmd, capture_output=True, cwd=conf["cwd"])
        if done.returncode != 0:
            raise RuntimeError(f"kairos failed on partition {shard} (exit {done.returncode}):\n{done.stderr.decode(errors='replace')}")
        reader = csv.reader(io.StringIO(done.stdout.decode("utf-8"), newline=""))
        header = next(reader, None)
        for seq, rec in enumerate(reader):
            yield (index, seq, header, rec)


def plan_rows(spark, a):
    """The inputs' headers, and the plan as an RDD of (partition, seq, header, record): every
    partition one kairos run."""
    paths = {"transactions": a.transactions, "customers": a.customers, "events": a.events}
    n = a.partitions
    key = a.customer_column
    headers = {}
    keyed = None
    for table, path in paths.items():
        if not path:
            continue
        df = read_table(spark, path)
        headers[table] = df.columns
        if key not in df.columns:
            raise SystemExit(f"error: {path} has no `{key}` column (found: {', '.join(df.columns)}); set --customer-column")
        at = df.columns.index(key)
        rdd = df.rdd.map(lambda r, t=table, at=at: (shard_of(r[at], n), (t, tuple(r))))
        keyed = rdd if keyed is None else keyed.union(rdd)
    conf = {
        "headers": headers,
        "partitions": n,
        "kairos": a.kairos,
        "dialogues": a.dialogues,
        "as_of": a.as_of,
        "ledger_dir": a.ledger_dir,
        "kairos_args": a.kairos_arg,
        # Parquet is no spreadsheet: its cells are written as they are, not guarded against
        # formulas with a leading `'` (a phone number `+1 555…` stays one).
        "raw": a.out_format == "parquet",
        "cwd": os.getcwd() if spark.sparkContext.master.startswith("local") else None,
    }
    # partitionBy with the identity: partition K-1 holds shard K of N exactly.
    parted = keyed.partitionBy(n, lambda s: s)
    return headers, parted.mapPartitionsWithIndex(lambda i, rows: run_partition(i, rows, conf))


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.appName("kairos")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    write_plan(spark, a)
    spark.stop()


def plan_header(a, headers):
    """The plan's header: kairos run on the driver over inputs with headers only (this also
    checks the dialogues and config before any executor starts)."""
    with tempfile.TemporaryDirectory(prefix="kairos-spark-") as tmp:
        cmd = [resolve_binary(a.kairos), "run", "--quiet", "--dialogues", a.dialogues]
        for t, h in headers.items():
            p = os.path.join(tmp, f"{t}.csv")
            with open(p, "w", newline="", encoding="utf-8") as f:
                csv.writer(f, lineterminator="\n").writerow(h)
            cmd += [f"--{t}", p]
        cmd += ["--as-of", a.as_of, "--format", "csv"] + a.kairos_arg
        done = subprocess.run(cmd, capture_output=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr.decode(errors="replace").rstrip())
        return next(csv.reader(io.StringIO(done.stdout.decode("utf-8"), newline="")))


def customer_key(cell):
    """The customer id a plan cell holds: CSV plans guard a cell starting with =, +, -, @, tab
    or CR against spreadsheet formulas with a leading `'`, and customers are ordered by the id."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in "=+-@\t\r":
        return cell[1:]
    return cell


def write_plan(spark, a):
    """Run kairos over the partitions and write the plan to a.out, in customer order."""
    from pyspark import StorageLevel
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    # The executors' Python workers import this module to run the partitions.
    spark.sparkContext.addPyFile(os.path.abspath(__file__))
    headers, rows = plan_rows(spark, a)
    header = plan_header(a, headers)
    # Every partition runs kairos once: keep the results (sorting samples them first).
    rows = rows.persist(StorageLevel.DISK_ONLY)
    rows.count()
    schema = StructType(
        [StructField("_partition", LongType()), StructField("_seq", LongType())]
        + [StructField(h, StringType()) for h in header]
    )
    schema = StructType([StructField("_customer", StringType())] + schema.fields)
    at = header.index("customer_id")
    df = spark.createDataFrame(rows.map(lambda r: (customer_key(r[3][at]), r[0], r[1], *r[3])), schema)
    # One run writes customers in id order and a customer's messages in kairos's order.
    ordered = df.orderBy("_customer", "_partition", "_seq").drop("_customer", "_partition", "_seq")
    writer = ordered.write.mode("overwrite")
    if a.out_format == "parquet":
        writer.parquet(a.out)
    else:
        writer.option("header", True).option("escape", '"').option("emptyValue", "").csv(a.out)
    rows.unpersist()
    return header


if __name__ == "__main__":
    sys.exit(main())
