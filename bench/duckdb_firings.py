"""The trigger subset in DuckDB SQL, writing every firing (customer, trigger, instant) to a CSV
file as kairos writes every message, instead of printing three counts.

usage: duckdb_firings.py TRANSACTIONS.csv OUT.csv [THREADS]
Same definitions as duckdb_triggers.py (its `numbered` CTEs); prints the number of rows written.
"""
import sys
from duckdb_triggers import connect, numbered

path, out = sys.argv[1], sys.argv[2]
con = connect(sys.argv[3] if len(sys.argv) > 3 else None)
written = con.execute(f"""
COPY (
{numbered(path)}
SELECT customer_id, 'new_category' AS kind, ts, category AS detail FROM numbered
  WHERE nth_in_cat = 1 AND order_no > 1 AND coalesce(category, '') <> ''
UNION ALL SELECT DISTINCT ON (customer_id) customer_id, 'fourth_order', ts, order_id FROM numbered WHERE order_no = 4
UNION ALL SELECT customer_id, 'absence_90d', ts + INTERVAL 90 DAY, NULL FROM numbered, horizon
  WHERE coalesce(next_ts, horizon.t) - ts >= INTERVAL 90 DAY
ORDER BY customer_id, ts, kind
) TO '{out}' (HEADER, DELIMITER ',')
""")
print("rows", written.fetchone()[0])
