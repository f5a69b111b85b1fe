#!/usr/bin/env bash
# Benchmark: generate (once) a seeded retail data set, then time the CSV floor (the cheapest
# possible read of the transactions file) and a full `kairos run` over it.
#
#   bench/run.sh                          # 1,000,000 customers, 10,000,000 rows, seed 42
#   CUSTOMERS=10000 ROWS=100000 bench/run.sh
#
# Environment: CUSTOMERS, ROWS, SEED (data set), DAYS (period length, default 730),
# KAIROS_ARGS (extra arguments for `kairos run`), KAIROS_BIN (default target/release/kairos),
# KEEP_OUTPUT=1 (keep the plan file and logs), BENCH_NO_GNU_TIME=1 (use bash `time` only).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CUSTOMERS="${CUSTOMERS:-1000000}"
ROWS="${ROWS:-10000000}"
SEED="${SEED:-42}"
DAYS="${DAYS:-730}"
KAIROS_ARGS="${KAIROS_ARGS:-}"

DATA="bench/data/${CUSTOMERS}_${ROWS}"
if [[ "$SEED" != 42 || "$DAYS" != 730 ]]; then
    DATA="${DATA}_seed${SEED}_days${DAYS}"
fi
TX="$DATA/transactions.csv"
CU="$DATA/customers.csv"
EV="$DATA/events.csv"
BIN="target/release"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/kairos-bench.XXXXXX")"
cleanup() {
    if [[ "${KEEP_OUTPUT:-0}" == 1 ]]; then
        echo "kept output and logs in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

log() { printf '==> %s\n' "$*" >&2; }

# --- build ---------------------------------------------------------------------------------
log "cargo build --release --workspace"
if ! cargo build --release --workspace; then
    log "workspace build failed; building the data generator alone (kairos will be reported as failed)"
    cargo build --release -p kairos-datagen
fi

# --- data ----------------------------------------------------------------------------------
# The generator renames each file into place only when it is complete, so present = finished.
if [[ -f "$TX" && -f "$CU" && -f "$EV" ]]; then
    log "using existing data in $DATA"
else
    log "generating $ROWS rows for $CUSTOMERS customers (seed $SEED, $DAYS days) into $DATA"
    "$BIN/kairos-datagen" --customers "$CUSTOMERS" --rows "$ROWS" --seed "$SEED" --days "$DAYS" --out "$DATA"
fi
ls -l "$DATA" >&2

# --- measurement ---------------------------------------------------------------------------
GNU_TIME=""
if [[ "${BENCH_NO_GNU_TIME:-0}" != 1 && -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
    GNU_TIME=/usr/bin/time
else
    log "/usr/bin/time -v not available or disabled (apt-get install time); peak RSS will not be reported"
fi

RESULTS=()

# measure NAME COMMAND...: runs the command, records wall time, peak RSS and exit status.
measure() {
    local name="$1"
    shift
    local out="$WORK/$name.out" err="$WORK/$name.err" tlog="$WORK/$name.time"
    local rc=0 wall="-" rss="-" rate="-" status="ok"
    log "$name: $*"
    # Wall time from bash's `time` (ms resolution); peak RSS from GNU time when available.
    local TIMEFORMAT=%3R
    if [[ -n "$GNU_TIME" ]]; then
        { time "$GNU_TIME" -v -o "$tlog" "$@" >"$out" 2>"$err"; } 2>"$WORK/$name.wall" || rc=$?
        rss="$(awk '/Maximum resident set size/ { printf "%.1f", $NF / 1024 }' "$tlog")"
    else
        { time "$@" >"$out" 2>"$err"; } 2>"$WORK/$name.wall" || rc=$?
    fi
    wall="$(tail -n 1 "$WORK/$name.wall")"
    if [[ "$rc" != 0 ]]; then
        status="FAILED (exit $rc)"
        {
            echo "    command failed with exit status $rc:"
            printf '    '
            printf '%q ' "$@"
            echo
            tail -n 20 "$err" | sed 's/^/    | /'
        } >&2
        wall="-"
        rss="-"
    else
        [[ -s "$out" ]] && sed 's/^/    /' "$out" | tail -n 5 >&2
        rate="$(awk -v r="$ROWS" -v w="$wall" 'BEGIN { if (w > 0) printf "%.0f", r / w; else print "-" }')"
    fi
    RESULTS+=("$name|$ROWS|$CUSTOMERS|$wall|$rss|$rate|$status")
}

# Read the inputs once so both measurements start from a warm page cache.
cat "$TX" "$CU" "$EV" >/dev/null

measure csvfloor "$BIN/csvfloor" "$TX"

KAIROS_BIN="${KAIROS_BIN:-$BIN/kairos}"
KAIROS_CMD=("$KAIROS_BIN" run --dialogues dialogues --transactions "$TX" --customers "$CU" --events "$EV"
    --output "$WORK/plans.csv")
# shellcheck disable=SC2206 # word splitting of KAIROS_ARGS is intended
KAIROS_CMD+=($KAIROS_ARGS)
if [[ -x "$KAIROS_BIN" ]]; then
    measure kairos "${KAIROS_CMD[@]}"
else
    {
        echo "==> kairos: $KAIROS_BIN does not exist (did the workspace build fail?); would have run:"
        printf '    '
        printf '%q ' "${KAIROS_CMD[@]}"
        echo
    } >&2
    RESULTS+=("kairos|$ROWS|$CUSTOMERS|-|-|-|FAILED (no binary)")
fi
if [[ -f "$WORK/plans.csv" ]]; then
    log "kairos wrote $(($(wc -l <"$WORK/plans.csv") - 1)) plan rows ($(du -h "$WORK/plans.csv" | cut -f1))"
elif [[ "${RESULTS[-1]}" == *"|ok" ]]; then
    log "kairos exited 0 but wrote no $WORK/plans.csv"
    IFS='|' read -r name rows customers wall rss _ _ <<<"${RESULTS[-1]}"
    RESULTS[-1]="$name|$rows|$customers|$wall|$rss|-|exit 0, but no output file"
fi

# --- summary -------------------------------------------------------------------------------
echo
printf '%-10s %12s %10s %9s %14s %12s  %s\n' step rows customers "wall s" "peak RSS MiB" "rows/s" status
for r in "${RESULTS[@]}"; do
    IFS='|' read -r name rows customers wall rss rate status <<<"$r"
    printf '%-10s %12s %10s %9s %14s %12s  %s\n' "$name" "$rows" "$customers" "$wall" "$rss" "$rate" "$status"
done
