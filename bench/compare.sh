#!/usr/bin/env bash
# kairos beside DuckDB on one data set: the csv floor, kairos trigger-only (its plan to a file,
# and to /dev/null), the kairos full run and DuckDB's SQL for the same triggers (counting only,
# and writing every firing to a file), with wall seconds, peak RSS and ratios, and a check that
# kairos and DuckDB count the same trigger firings.
#
#   bench/compare.sh                                   # the generated 10M-row set (made once)
#   CUSTOMERS=100000 ROWS=1000000 bench/compare.sh     # a generated 1M-row set
#   bench/compare.sh path/to/transactions.csv          # your own data (customers.csv and
#                                                      # events.csv beside it are used if present)
#
# Environment: THREADS (default: all cores; kairos and DuckDB get the same), REPEAT (runs of each
# step, alternating, best wall time kept; default 1), CUSTOMERS/ROWS/SEED (generated set),
# KAIROS_BIN (default target/release/kairos), DUCKDB_VERSION (pip pin), KEEP_OUTPUT=1.
# DuckDB comes from a virtualenv the script creates (bench/.venv, git-ignored) with pip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '==> %s\n' "$*" >&2; }

THREADS="${THREADS:-$(nproc)}"
REPEAT="${REPEAT:-1}"
DUCKDB_VERSION="${DUCKDB_VERSION:-2.0.0}"
BIN="target/release"
KAIROS_BIN="${KAIROS_BIN:-$BIN/kairos}"

log "cargo build --release --workspace"
cargo build --release --workspace >&2

# --- data ----------------------------------------------------------------------------------
if [[ $# -ge 1 ]]; then
    TX="$1"
    DIR="$(dirname "$TX")"
    CU="$DIR/customers.csv"
    EV="$DIR/events.csv"
    [[ -f "$TX" ]] || { echo "error: $TX does not exist" >&2; exit 2; }
else
    CUSTOMERS="${CUSTOMERS:-1000000}"
    ROWS="${ROWS:-10000000}"
    SEED="${SEED:-42}"
    DIR="bench/data/${CUSTOMERS}_${ROWS}"
    [[ "$SEED" == 42 ]] || DIR="${DIR}_seed${SEED}"
    TX="$DIR/transactions.csv"
    CU="$DIR/customers.csv"
    EV="$DIR/events.csv"
    if [[ -f "$TX" && -f "$CU" && -f "$EV" ]]; then
        log "using existing data in $DIR"
    else
        log "generating $ROWS rows for $CUSTOMERS customers (seed $SEED) into $DIR"
        "$BIN/kairos-datagen" --customers "$CUSTOMERS" --rows "$ROWS" --seed "$SEED" --out "$DIR"
    fi
fi
FULL_INPUTS=(-t "$TX")
[[ -f "$CU" ]] && FULL_INPUTS+=(-c "$CU")
[[ -f "$EV" ]] && FULL_INPUTS+=(-e "$EV")
ROWS_IN_TX="$(($(wc -l <"$TX") - 1))"

# --- DuckDB in a virtualenv ----------------------------------------------------------------
VENV="bench/.venv"
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import duckdb" 2>/dev/null; then
    log "pip install duckdb==$DUCKDB_VERSION into $VENV"
    "$VENV/bin/pip" install -q "duckdb==$DUCKDB_VERSION" >&2
fi
PY="$VENV/bin/python"

# --- measurement ---------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kairos-compare.XXXXXX")"
if [[ "${KEEP_OUTPUT:-0}" == 1 ]]; then
    trap 'echo "kept output and logs in $WORK" >&2' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi
[[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

declare -A WALL RSS
FAILED=0
# measure NAME COMMAND...: one timed run; keeps the best wall time and the largest peak RSS.
measure() {
    local name="$1"
    shift
    log "$name: $*"
    local start end rc=0
    start="$(date +%s.%N)"
    /usr/bin/time -f '%M' -o "$WORK/$name.rss" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    end="$(date +%s.%N)"
    if [[ "$rc" != 0 ]]; then
        echo "    $name failed with exit status $rc:" >&2
        tail -n 20 "$WORK/$name.err" | sed 's/^/    | /' >&2
        FAILED=1
        return
    fi
    local wall rss
    wall="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')"
    rss="$(awk '{ printf "%.0f", $1 / 1024 }' "$WORK/$name.rss" | tail -n 1)"
    if [[ -z "${WALL[$name]:-}" ]] || awk -v a="$wall" -v b="${WALL[$name]}" 'BEGIN { exit !(a < b) }'; then
        WALL[$name]="$wall"
    fi
    if [[ -z "${RSS[$name]:-}" || "$rss" -gt "${RSS[$name]}" ]]; then
        RSS[$name]="$rss"
    fi
}

cat "$TX" >/dev/null
[[ -f "$CU" ]] && cat "$CU" >/dev/null
[[ -f "$EV" ]] && cat "$EV" >/dev/null
for ((i = 1; i <= REPEAT; i++)); do
    measure floor "$BIN/csvfloor" "$TX"
    measure duckdb "$PY" bench/duckdb_triggers.py "$TX" "$THREADS"
    measure duckdb_write "$PY" bench/duckdb_firings.py "$TX" "$WORK/duckdb_firings.csv" "$THREADS"
    measure trigger_only "$KAIROS_BIN" run --quiet --threads "$THREADS" --dialogues bench/trigger_only -t "$TX" \
        --no-profile -o "$WORK/trigger_only.csv"
    measure trigger_null "$KAIROS_BIN" run --quiet --threads "$THREADS" --dialogues bench/trigger_only -t "$TX" \
        --no-profile -o /dev/null
    measure full "$KAIROS_BIN" run --quiet --threads "$THREADS" --dialogues dialogues "${FULL_INPUTS[@]}" \
        -o "$WORK/full.csv"
done

# --- the counts must agree -----------------------------------------------------------------
COUNTS_OK="not checked"
if [[ -f "$WORK/trigger_only.csv" && -s "$WORK/duckdb.out" ]]; then
    "$PY" - "$WORK/trigger_only.csv" "$WORK/duckdb.out" >"$WORK/counts" <<'EOF'
import collections, csv, sys
kairos = collections.Counter(row["dialogue"] for row in csv.DictReader(open(sys.argv[1], newline="")))
duck = {k: int(n) for k, n in (l.split() for l in open(sys.argv[2]) if l.strip())}
ok = True
for kind in sorted(set(kairos) | set(duck)):
    same = kairos.get(kind, 0) == duck.get(kind, 0)
    ok &= same
    print(f"  {kind:<14} kairos {kairos.get(kind, 0):>10}  duckdb {duck.get(kind, 0):>10}  {'same' if same else 'DIFFERENT'}")
print("OK" if ok else "MISMATCH")
EOF
    sed '$d' "$WORK/counts" >&2
    COUNTS_OK="$(tail -n 1 "$WORK/counts")"
fi

# --- table ---------------------------------------------------------------------------------
ratio() { awk -v a="${WALL[$1]:-}" -v b="${WALL[$2]:-}" 'BEGIN { if (a != "" && b > 0) printf "%.2fx", a / b; else print "-" }'; }
echo
echo "data: $TX ($ROWS_IN_TX rows), threads: $THREADS, best of $REPEAT"
printf '%-14s %9s %14s %12s %12s\n' step "wall s" "peak RSS MiB" "/ floor" "/ duckdb"
for s in floor duckdb duckdb_write trigger_only trigger_null full; do
    printf '%-14s %9s %14s %12s %12s\n' "$s" "${WALL[$s]:--}" "${RSS[$s]:--}" "$(ratio "$s" floor)" "$(ratio "$s" duckdb)"
done
echo "trigger counts kairos = duckdb: $COUNTS_OK"
echo "(duckdb: three counts printed; duckdb_write: every firing written to a CSV file, as kairos writes every message;"
echo " trigger_null: trigger_only with the plan rendered but sent to /dev/null, so without the cost of writing a file)"
[[ "$FAILED" == 0 && "$COUNTS_OK" == OK ]]
