#!/usr/bin/env bash
# Reading a large table: vaead's reader against pandas.read_csv on the same
# file, one core each, and the peak memory of `vaead score` against the CSV's size. After a
# Release build in build/ (or set BUILD=dir):
#   bench/read_side_by_side.sh [ROWS] [FEATURES]     default 1000000 x 30 (a 330 MB CSV)
# Knobs (environment): OUT (results folder, default bench/results), REPEATS (5). The peer needs
# pip install pandas; without it the peer is skipped, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-1000000}"
features="${2:-30}"
build="${BUILD:-build}"
out="${OUT:-bench/results}"
repeats="${REPEATS:-5}"
mkdir -p "$out"
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
export OMP_NUM_THREADS=1
echo "load: $(uptime)"
"$build/vaead" generate --out "$data" --features "$features" --train-rows "$rows" --val-rows 2 \
  --test-rows 2 --seed 0 >/dev/null
csv="$data/train.csv"
# A model to score with (a few rows, one epoch: only its reading and scoring are measured).
head -n 5001 "$csv" >"$data/small.csv"
"$build/vaead" train --data "$data/small.csv" --label-column label --epochs 1 \
  --out "$data/model.safetensors" >/dev/null
cut -d, -f1-"$features" "$csv" >"$data/features.csv"  # the features alone, as the model wants
csv="$data/features.csv"
megabytes=$(python3 -c "import os; print(f'{os.path.getsize(\"$csv\") / 1e6:.1f}')")
echo "== $csv: $rows rows x $features features, $megabytes MB"
echo "== vaead read_table, one core"
taskset -c 0 "$build/bench/bench_read" "$csv" --repeats "$repeats" --json "$out/read_vaead.json"
echo "== peak memory of vaead score (--threads 1)"
/usr/bin/time -v "$build/vaead" score --model "$data/model.safetensors" --data "$csv" \
  --out "$data/scores.csv" --device cpu --threads 1 2>"$data/time_vaead.txt" >/dev/null
vaead_kb=$(awk -F': ' '/Maximum resident/ {print $2}' "$data/time_vaead.txt")
awk -F': ' '/Maximum resident|Elapsed/ {print "  " $1 ": " $2}' "$data/time_vaead.txt"
echo "  = $(python3 -c "print(f'{$vaead_kb / 1e3 / $megabytes:.2f}')")x the CSV; the float data alone" \
  "is $(python3 -c "print(f'{$rows * $features * 4 / 1e6:.0f}')") MB"
if python3 -c 'import pandas' 2>/dev/null; then
  echo "== pandas.read_csv, one core"
  taskset -c 0 python3 bench/peers/pandas_read.py "$csv" --repeats "$repeats" \
    --json "$out/read_pandas.json"
  /usr/bin/time -v python3 bench/peers/pandas_read.py "$csv" --once 2>"$data/time_pandas.txt" \
    >/dev/null
  pandas_kb=$(awk -F': ' '/Maximum resident/ {print $2}' "$data/time_pandas.txt")
  echo "  peak memory of one pandas read: $((pandas_kb / 1000)) MB" \
    "($(python3 -c "print(f'{$pandas_kb / 1e3 / $megabytes:.2f}')")x the CSV)"
  python3 - "$out/read_vaead.json" "$out/read_pandas.json" <<'PY'
import json, sys
vaead, pandas = (json.load(open(p)) for p in sys.argv[1:3])
print(f"== ratio: vaead reads {vaead['megabytes_per_second']:.0f} MB/s, pandas "
      f"{pandas['megabytes_per_second']:.0f} MB/s: vaead is "
      f"{vaead['megabytes_per_second'] / pandas['megabytes_per_second']:.2f}x pandas")
PY
else
  echo "(pandas is not installed: pip install pandas; no peer)"
fi
