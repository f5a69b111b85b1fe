#!/usr/bin/env bash
# The catalogue's cost: 1,000,000 customers with a favourite author and 1,000 arrivals matched
# on it, against the same run without the catalogue, and against reading the customers file
# twice with the csv floor (the bar: the catalogue part costs less than that).
#
#   bench/catalog.sh                          # CUSTOMERS=1000000 ROWS=2000000 ARRIVALS=1000
#
# Prints wall seconds and peak RSS of each step. Data is generated once into bench/data/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '==> %s\n' "$*" >&2; }

CUSTOMERS="${CUSTOMERS:-1000000}"
ROWS="${ROWS:-2000000}"
ARRIVALS="${ARRIVALS:-1000}"
AUTHORS="${AUTHORS:-500}"
BIN="target/release"
log "cargo build --release --workspace"
cargo build --release --workspace >&2

DIR="bench/data/catalog_${CUSTOMERS}_${ROWS}_${ARRIVALS}"
if [[ ! -f "$DIR/catalog.csv" ]]; then
    log "generating $ROWS rows for $CUSTOMERS customers, $ARRIVALS arrivals by $AUTHORS authors into $DIR"
    "$BIN/kairos-datagen" --customers "$CUSTOMERS" --rows "$ROWS" --seed 42 --out "$DIR"
    # A favourite author per customer, spread evenly over the authors.
    awk -v n="$AUTHORS" 'BEGIN{FS=OFS=","} NR==1{print $0, "favourite_author"; next}
        {print $0, "author_" ((NR * 7919) % n)}' "$DIR/customers.csv" >"$DIR/customers.fav.csv"
    mv "$DIR/customers.fav.csv" "$DIR/customers.csv"
    # Arrivals over the data's second year, in no particular order.
    python3 - "$ARRIVALS" "$AUTHORS" >"$DIR/catalog.csv" <<'PY'
import datetime as dt, sys
a, n = int(sys.argv[1]), int(sys.argv[2])
print("item_id,timestamp,type,title,author,price")
for i in range(a):
    day = dt.date(2025, 1, 1) + dt.timedelta(days=(i * 37) % 360)
    print(f"I{i:05d},{day}T08:00:00Z,arrival,Title {i},author_{(i * 13) % n},19.99")
PY
fi
TX="$DIR/transactions.csv"
CU="$DIR/customers.csv"
EV="$DIR/events.csv"
AS_OF="${AS_OF:-2025-12-31}"

declare -A WALL RSS
measure() {
    local name="$1"
    shift
    local t
    t="$(mktemp)"
    /usr/bin/time -f '%e %M' -o "$t" "$@" >/dev/null 2>"$DIR/$name.stderr" || { cat "$DIR/$name.stderr" >&2; exit 1; }
    read -r WALL[$name] kib <"$t"
    RSS[$name]=$((kib / 1024))
    rm -f "$t"
    log "$name: ${WALL[$name]} s, ${RSS[$name]} MiB"
}

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
measure floor_customers_twice bash -c "'$BIN/csvfloor' '$CU' && '$BIN/csvfloor' '$CU'"
measure without_catalog "$BIN/kairos" run -d bench/trigger_only -t "$TX" -c "$CU" -e "$EV" --as-of "$AS_OF" --no-templates -o "$OUT/a.csv"
measure with_catalog "$BIN/kairos" run -d bench/trigger_only -d bench/catalog -t "$TX" -c "$CU" -e "$EV" --catalog "$DIR/catalog.csv" --as-of "$AS_OF" --no-templates -o "$OUT/b.csv"
ANN="$(grep -c ',new_title,' "$OUT/b.csv" || true)"

printf '\n%-24s %9s %14s\n' step "wall s" "peak RSS MiB"
for s in floor_customers_twice without_catalog with_catalog; do
    printf '%-24s %9s %14s\n' "$s" "${WALL[$s]}" "${RSS[$s]}"
done
printf '\nannouncements: %s; catalogue part: %s s (bar: under %s s)\n' "$ANN" \
    "$(echo "${WALL[with_catalog]} - ${WALL[without_catalog]}" | bc)" "${WALL[floor_customers_twice]}"
