#!/usr/bin/env bash
# Sweep throughput side by side: vaead's concurrent sweep, the same models as single vaead runs one
# after another, and the same models in PyTorch eager one after another; the ratios last.
#   bench/sweep_side_by_side.sh [cpu|cuda] [threads] [models]     (after a Release build in build/)
# Writes bench/results/sweep_<device>_vaead.json and sweep_<device>_torch.json.
# PyTorch: pip install torch (the peer skips, saying so, when it is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
device="${1:-cpu}" threads="${2:-$(nproc)}" models="${3:-1,8,32,128}"
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
build/vaead generate --out "$data" --train-rows 8192 --val-rows 2 --test-rows 2 --seed 0 >/dev/null
mkdir -p bench/results
build/bench/bench_sweep --device "$device" --threads "$threads" --models "$models" \
  --json "bench/results/sweep_${device}_vaead.json"
if python3 -c 'import torch' 2>/dev/null; then
  torch_device_note=""
  [ "$device" = cuda ] && torch_device_note=" (the PyTorch peer on the same GPU)"
  python3 bench/peers/torch_sweep.py --data "$data/train.csv" --device "$device" --threads "$threads" \
    --models "$models" --json "bench/results/sweep_${device}_torch.json"
  python3 - "$device" "$torch_device_note" <<'PY'
import json, sys
device, note = sys.argv[1], sys.argv[2]
vaead = {r["models"]: r for r in json.load(open(f"bench/results/sweep_{device}_vaead.json"))}
torch = {r["models"]: r for r in json.load(open(f"bench/results/sweep_{device}_torch.json"))["results"]}
print(f"\nratios, {device}{note}: sweep / one-by-one vaead, sweep / one-by-one PyTorch eager")
for m in sorted(vaead):
    v = vaead[m]
    line = f"  M = {m:4d}: {v['sweep_model_samples_per_second'] / v['sequential_model_samples_per_second']:6.2f}x"
    if m in torch:
        line += f"   {v['sweep_model_samples_per_second'] / torch[m]['model_samples_per_second']:7.2f}x"
    print(line)
PY
else
  echo "PyTorch is not installed (pip install torch): no peer ratios"
fi
