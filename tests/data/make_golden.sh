#!/usr/bin/env bash
# Regenerates the golden files that Cli.SeedStudyWithItsDefaultsGivesTheSameJsonAsBefore and
# Cli.SweepsGiveTheSameMetricsAsBefore compare with, bit for bit, with a built vaead:
#   bash tests/data/make_golden.sh build-test/vaead
# Only when a change is meant to change results (say so in the commit, with the AUCs before and
# after): every build on every x86-64 machine gives these same bits (README: Reproducibility).
set -euo pipefail
vaead="$(realpath "${1:-build-test/vaead}")"
cd "$(dirname "$0")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$vaead" experiment --device cpu --json "$tmp/study.json" >/dev/null
"$vaead" generate --out "$tmp/d" --train-rows 100 --val-rows 100 --test-rows 2500 --seed 9 >/dev/null
"$vaead" sweep --device cpu --latents 2,8 --betas 1,0.01 --seeds 2 --epochs 4 --train-rows 2000 \
  --val-rows 500 --test-rows 500 --json "$tmp/synthetic.json" >/dev/null
"$vaead" sweep --device cpu --data "$tmp/d/test.csv" --label-column label --latents 3 \
  --betas 1,0.1 --seeds 2 --json "$tmp/table.json" >/dev/null
python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
compact = dict(separators=(",", ":"))
study = json.load(open(f"{tmp}/study.json"))
for run in study["runs"]:
    run.pop("train_seconds")
    run.pop("samples_per_second")
    for epoch in run["epochs"]:
        epoch.pop("seconds")
json.dump(study, open("seed_study_default.json", "w"), **compact)
for name in ("synthetic", "table"):
    sweep = json.load(open(f"{tmp}/{name}.json"))
    runs = []
    for run in sweep["runs"]:
        for key in ("train_seconds", "samples_per_second", "roc_curve", "pr_curve", "score_histogram"):
            run.pop(key, None)
        last = run["epochs"][-1]
        last.pop("seconds")
        run["epochs"] = [last]
        runs.append(run)
    made_by = ("vaead with its own transcendental functions and no floating-point contraction "
               "(the portable build, any x86-64), CPU engine; timings, curves and histograms "
               "dropped, the last epoch kept (tests/data/make_golden.sh)")
    json.dump({"made_by": made_by, "cells": sweep["cells"], "runs": runs},
              open(f"sweep_before_{name}.json", "w"), indent=1)
PY
ls -la seed_study_default.json sweep_before_*.json
