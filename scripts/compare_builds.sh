#!/usr/bin/env bash
# Proves that two builds of vaead give the same bits: the seed study's JSON (timings dropped) and
# a trained model's file, scores and evaluation, byte for byte, also with another thread count and
# with glibc's per-CPU math variants switched off (GLIBC_TUNABLES), which changes what libm's
# log/sin/exp return on this CPU but must change nothing of vaead's.
#   bash scripts/compare_builds.sh [--model-only] REFERENCE_VAEAD OTHER_VAEAD...
# --model-only: the model, its scores and its evaluation only, not the seed study (for builds too
# slow for it: x86-64 without FMA calls libm's fma for every multiply-add).
# Fails (exit 1) at the first difference, naming the builds and the file.
set -euo pipefail
files="study.json model.safetensors scores.csv evaluation.json"
if [ "${1:-}" = "--model-only" ]; then
  files="model.safetensors scores.csv evaluation.json"
  shift
fi
[ $# -ge 2 ] || { echo "usage: $0 [--model-only] REFERENCE_VAEAD OTHER_VAEAD..." >&2; exit 2; }
reference="$(realpath "$1")"
shift
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# glibc's libm without its AVX2/FMA variants (__log_fma, __sincos_fma, ...): other last bits.
no_fma_libm="glibc.cpu.hwcaps=-AVX2_Usable,-FMA_Usable,-AVX2,-FMA"

# run NAME VAEAD [ENV...]: the study, and a model trained, scored and evaluated, into $work/NAME
# (in a subshell: it changes directory).
run() (
  local name="$1" vaead="$2"
  shift 2
  local out="$work/$name" threads="${THREADS:-2}"
  mkdir -p "$out"
  cd "$out"  # relative names: the evaluation names its model file
  env "$@" "$vaead" train --data ../data/train.csv --label-column label --epochs 3 \
    --threads "$threads" --seed 11 --out model.safetensors >/dev/null 2>&1
  env "$@" "$vaead" score --model model.safetensors --data ../data/test.csv \
    --label-column label --threads "$threads" --out scores.csv >/dev/null 2>&1
  env "$@" "$vaead" evaluate --model model.safetensors --data ../data/test.csv \
    --label-column label --threads "$threads" --json evaluation.json >/dev/null 2>&1
  [[ " $files " == *" study.json "* ]] || exit 0
  env "$@" "$vaead" experiment --device cpu --threads "$threads" --json study.json >/dev/null
  python3 - study.json <<'PY'
import json, sys
path = sys.argv[1]
study = json.load(open(path))
study["config"]["training"].pop("threads")  # how it ran, not what it found
for run in study["runs"]:
    run.pop("train_seconds", None)
    run.pop("samples_per_second", None)
    for epoch in run["epochs"]:
        epoch.pop("seconds", None)
json.dump(study, open(path, "w"), indent=1, sort_keys=True)
PY
)

"$reference" generate --out "$work/data" --train-rows 3000 --val-rows 2 --test-rows 1000 \
  --seed 5 >/dev/null
run reference "$reference"
others=()
for other in "$@"; do
  name="build$((${#others[@]} + 1))"
  run "$name" "$(realpath "$other")"
  others+=("$name:$other")
done
THREADS=1 run one_thread "$reference"
others+=("one_thread:$reference --threads 1")
run no_fma_libm "$reference" GLIBC_TUNABLES="$no_fma_libm"
others+=("no_fma_libm:$reference under GLIBC_TUNABLES=$no_fma_libm")

status=0
for entry in "${others[@]}"; do
  name="${entry%%:*}"
  for file in $files; do
    if ! cmp -s "$work/reference/$file" "$work/$name/$file"; then
      echo "compare_builds: $file differs between $reference and ${entry#*:}" >&2
      diff <(head -c 2000000 "$work/reference/$file") <(head -c 2000000 "$work/$name/$file") |
        head -20 >&2 || true
      status=1
    fi
  done
done
[ "$status" -eq 0 ] && echo "compare_builds: $reference and ${others[*]#*:}: the same bits" \
  "($files)"
exit "$status"
