#!/usr/bin/env bash
# Two binaries timed against each other on a noisy machine: A, B, A, B, ... (N rounds, PAUSE
# seconds between runs, default 1), printing each one's best wall time, best CPU time (user +
# sys) and peak RSS. Output of the runs goes to /dev/null unless ARGS say otherwise.
#
#   bench/ab.sh 4 /tmp/kairos-before target/release/kairos -- run --quiet --dialogues dialogues -t T.csv -o /dev/null
set -euo pipefail
[[ $# -ge 4 && "$4" == "--" ]] || { echo "usage: bench/ab.sh N BIN_A BIN_B -- ARGS..." >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
N="$1" A="$2" B="$3"
shift 4
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
for ((i = 1; i <= N; i++)); do
    for bin in "$A" "$B"; do
        sleep "${PAUSE:-1}"
        /usr/bin/time -f "$bin %e %U %S %M" -a -o "$LOG" "$bin" "$@" >/dev/null 2>&1 || { echo "error: $bin failed" >&2; exit 1; }
    done
done
for bin in "$A" "$B"; do
    awk -v b="$bin" '$1 == b { if (w == "" || $2 < w) w = $2; c = $3 + $4; if (cpu == "" || c < cpu) cpu = c; if ($5 > m) m = $5 }
        END { printf "%-30s best wall %.2f s  best cpu %.2f s  peak rss %d MiB\n", b, w, cpu, m / 1024 }' "$LOG"
done
