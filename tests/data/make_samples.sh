#!/usr/bin/env bash
# Regenerates the sample result JSONs the report tool is tested on, with a built vaead:
#   bash tests/data/make_samples.sh build/vaead
# The curves are thinned further than vaead does: these are fixtures for the figures, not
# records. sample_sweep.json is three real experiments (beta 1, 0.1, 0.01) merged into the sweep format
# the report tool reads: runs carry "beta", and "grid" holds mean and std ROC-AUC per
# (latent, beta), latent-major.
set -euo pipefail
vaead="$(realpath "${1:-build/vaead}")"
cd "$(dirname "$0")"
small="--latents 2,8 --seeds 2 --epochs 5 --train-rows 3000 --val-rows 800 --test-rows 800 --threads 2"
"$vaead" experiment $small --json sample_experiment.json >/dev/null
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for beta in 1 0.1 0.01; do
  "$vaead" experiment $small --beta "$beta" --json "$tmp/beta_$beta.json" >/dev/null
done
"$vaead" generate --out "$tmp" --train-rows 3000 --val-rows 2 --test-rows 800 --seed 1 >/dev/null
"$vaead" train --data "$tmp/train.csv" --label-column label --epochs 5 --out "$tmp/m.safetensors" >/dev/null 2>&1
"$vaead" evaluate --model "$tmp/m.safetensors" --data "$tmp/test.csv" --label-column label \
  --json sample_evaluation.json >/dev/null 2>&1
python3 - "$tmp" <<'PY'
import json, statistics, sys
tmp = sys.argv[1]
betas = [1, 0.1, 0.01]
sweep = None
for beta in betas:
    part = json.load(open(f"{tmp}/beta_{beta}.json"))
    for run in part["runs"]:
        run["beta"] = beta
    if sweep is None:
        sweep = part
        sweep["kind"] = "sweep"
        sweep["config"]["betas"] = betas
    else:
        sweep["runs"] += part["runs"]
latents = sweep["config"]["latent_dims"]
cell = lambda l, b: [r["roc_auc"] for r in sweep["runs"] if r["latent_dim"] == l and r["beta"] == b]
sweep["grid"] = {
    "latent_dims": latents, "betas": betas,
    "roc_auc_mean": [[statistics.fmean(cell(l, b)) for b in betas] for l in latents],
    "roc_auc_std": [[statistics.stdev(cell(l, b)) for b in betas] for l in latents],
}
def shrink(result):  # fixtures, not records: every 6th curve point (ends kept), compact JSON
    for holder in result.get("runs", [result]):
        for curve in ("roc_curve", "pr_curve"):
            for axis, values in holder[curve].items():
                holder[curve][axis] = values[:-1:6] + values[-1:]
    return result
json.dump(shrink(sweep), open("sample_sweep.json", "w"), separators=(",", ":"))
for name in ("sample_experiment.json", "sample_evaluation.json"):
    json.dump(shrink(json.load(open(name))), open(name, "w"), separators=(",", ":"))
PY
ls -la sample_*.json
