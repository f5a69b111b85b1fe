"""The trigger subset in DuckDB SQL, writing every firing (customer, trigger, instant) to a CSV
file as kairos writes every message, instead of printing three counts.

usage: duckdb_firings.py TRANSACTIONS.csv OUT.csv [THREADS]
Same definitions as duckdb_triggers.py; prints the number of rows written.
"""
import sys, duckdb
path, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
if len(sys.argv) > 3:
    con.execute(f"SET threads={int(sys.argv[3])}")
written = con.execute(f"""
COPY (
WITH tx AS (
  SELECT customer_id, CAST(timestamp AS TIMESTAMP) AS ts, order_id, category, amount
  FROM read_csv('{path}', header=true, auto_detect=true)
), horizon AS (SELECT max(ts) AS t FROM tx),
numbered AS (
  SELECT *, row_number() OVER (PARTITION BY customer_id, category ORDER BY ts, order_id) AS nth_in_cat,
            dense_rank() OVER (PARTITION BY customer_id ORDER BY ts, order_id) AS order_no,
            lead(ts) OVER (PARTITION BY customer_id ORDER BY ts, order_id) AS next_ts
  FROM tx)
SELECT customer_id, 'new_category' AS kind, ts, category AS detail FROM numbered
  WHERE nth_in_cat = 1 AND order_no > 1 AND coalesce(category, '') <> ''
UNION ALL SELECT DISTINCT ON (customer_id) customer_id, 'fourth_order', ts, order_id FROM numbered WHERE order_no = 4
UNION ALL SELECT customer_id, 'absence_90d', ts + INTERVAL 90 DAY, NULL FROM numbered, horizon
  WHERE coalesce(next_ts, horizon.t) - ts >= INTERVAL 90 DAY
ORDER BY customer_id, ts, kind
) TO '{out}' (HEADER, DELIMITER ',')
""")
print("rows", written.fetchone()[0])
