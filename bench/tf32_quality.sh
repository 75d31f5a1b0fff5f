#!/usr/bin/env bash
# What the tensor cores' TF32 does to detection quality: the same reduced seed study (same data,
# seeds and flags) trained with --gpu-math fp32 (the tiled FP32 path), tf32 and 3xtf32 (the fused
# step), ROC-AUC and PR-AUC per latent size (mean and spread over seeds) and the paired difference
# of each run against fp32. Without a GPU, run it with an emulated build's vaead
# (VAEAD=build-emulated-release/vaead: the unchanged kernels on the CPU, mma_sync rounding operands
# to TF32 as the hardware does); on a GPU with the device build's.
#   VAEAD=path/to/vaead OUT=dir bash bench/tf32_quality.sh [extra experiment flags]
set -euo pipefail
vaead=${VAEAD:-build-emulated-release/vaead}
out=${OUT:-out/tf32_quality}
mkdir -p "$out"
flags=(--device cuda --train-rows 4000 --val-rows 1000 --test-rows 2000 --latents 2,8 --seeds 3
       --epochs 15 --kl-warmup 5 "$@")
for math in fp32 tf32 3xtf32; do
  start=$(date +%s)
  "$vaead" experiment "${flags[@]}" --gpu-math "$math" --json "$out/$math.json" >"$out/$math.log"
  echo "$math: $(( $(date +%s) - start )) s" >&2
done
python3 - "$out" "${flags[*]}" <<'PY'
import json, statistics, sys
from pathlib import Path
out, flags = Path(sys.argv[1]), sys.argv[2]
runs = {m: json.loads((out / f"{m}.json").read_text())["runs"] for m in ("fp32", "tf32", "3xtf32")}
key = lambda r: (r["latent_dim"], r["beta"], r["seed"])
base = {key(r): r for r in runs["fp32"]}
print(f"vaead experiment {flags} --gpu-math M")
print()
print("| gpu-math | latent | ROC-AUC mean ± sd | PR-AUC mean ± sd | paired ROC-AUC diff vs fp32 (mean, max abs) |")
print("|---|---|---|---|---|")
for math in ("fp32", "tf32", "3xtf32"):
    for latent in sorted({r["latent_dim"] for r in runs[math]}):
        rs = [r for r in runs[math] if r["latent_dim"] == latent]
        roc = [r["roc_auc"] for r in rs]
        pr = [r["pr_auc"] for r in rs]
        diffs = [r["roc_auc"] - base[key(r)]["roc_auc"] for r in rs]
        sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
        print(f"| {math} | {latent} | {statistics.mean(roc):.4f} ± {sd(roc):.4f} | "
              f"{statistics.mean(pr):.4f} ± {sd(pr):.4f} | "
              f"{statistics.mean(diffs):+.4f}, {max(abs(d) for d in diffs):.4f} |")
PY
