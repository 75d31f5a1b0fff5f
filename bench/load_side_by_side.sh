#!/usr/bin/env bash
# Training on a busy machine: `vaead train` with the default thread count
# against --threads 1, on an idle machine and with one busy-loop process per core running, the
# median of REPEATS runs each. The target: under load, the default takes at most 1.5x the wall
# time of --threads 1; idle, it keeps its speed. After a Release build in build/ (or set
# BUILD=dir):
#   bench/load_side_by_side.sh [EPOCHS]      default 20 epochs on 20,000 rows x 30 features
# Knobs (environment): REPEATS (3), BATCH (256).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs="${1:-20}"
build="${BUILD:-build}"
repeats="${REPEATS:-3}"
batch="${BATCH:-256}"
data="$(mktemp -d)"
busy_pids=()
stop_busy() {
  for pid in "${busy_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  busy_pids=()
}
trap 'stop_busy; rm -rf "$data"' EXIT
"$build/vaead" generate --out "$data" --train-rows 20000 --val-rows 2 --test-rows 2 --seed 0 \
  >/dev/null

# The median wall time, in seconds, of REPEATS trainings with these extra flags.
median_wall() {
  local times=()
  for _ in $(seq "$repeats"); do
    local start end
    start=$(date +%s.%N)
    "$build/vaead" train --data "$data/train.csv" --label-column label --epochs "$epochs" \
      --batch-size "$batch" --device cpu --out "$data/model.safetensors" "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

echo "cores: $(nproc); load before: $(uptime | sed 's/.*load average: //')"
"$build/vaead" train --data "$data/train.csv" --label-column label --epochs 1 --device cpu \
  --out "$data/model.safetensors" >/dev/null 2>&1  # warm-up
idle_one=$(median_wall --threads 1)
idle_default=$(median_wall)
for _ in $(seq "$(nproc)"); do
  bash -c 'while :; do :; done' &
  busy_pids+=($!)
done
sleep 1
busy_one=$(median_wall --threads 1)
busy_default=$(median_wall)
stop_busy
printf '%-32s %12s %12s %10s\n' "" "--threads 1" "default" "ratio"
for row in "idle:$idle_one:$idle_default" "one busy loop per core:$busy_one:$busy_default"; do
  IFS=: read -r name one default <<<"$row"
  printf '%-32s %11.2fs %11.2fs %9.2fx\n' "$name" "$one" "$default" \
    "$(awk -v a="$default" -v b="$one" 'BEGIN {print a / b}')"
done
echo "(ratio: default / --threads 1; the target under load is at most 1.5x)"
