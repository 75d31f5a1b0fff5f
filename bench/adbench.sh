#!/usr/bin/env bash
# vaead's defaults against PyOD's KNN, LOF, IForest, ECOD, AutoEncoder and VAE on the 28 ADBench
# tables (issue 13): 3 split seeds, the same rows and standardization for every tool, ROC-AUC,
# PR-AUC, F1 at each tool's default threshold and training time; tables in markdown at the end.
#   bench/adbench.sh [DATA_DIR]     DATA_DIR or $VAEAD_ADBENCH: the folder of the ADBench CSVs
# After a Release build in build/ (or set BUILD=dir). Knobs (environment): OUT (results folder,
# default bench/results/adbench; what is there is kept and not recomputed), TOOLS (default: every
# tool), SEEDS (0,1,2), TABLES (default: every CSV), THREADS (2). Peers: pip install pyod torch
# tqdm scikit-learn pandas (PyOD's AutoEncoder and VAE import tqdm without declaring it); vaead
# alone needs numpy, pandas and scikit-learn here, for the splits and the metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${VAEAD_ADBENCH:-}}"
if [ -z "$data" ] || [ ! -d "$data" ]; then
  echo "bench/adbench.sh: give the folder of the ADBench CSVs (argument or VAEAD_ADBENCH)" >&2
  exit 2
fi
build="${BUILD:-build}"
out="${OUT:-bench/results/adbench}"
tools="${TOOLS:-vaead,knn,lof,iforest,ecod,autoencoder,vae}"
python3 -c 'import pyod, torch, tqdm' 2>/dev/null ||
  echo "(pyod, torch or tqdm is not installed: pip install pyod torch tqdm; the peers fail, saying so)"
uptime
args=(--data "$data" --vaead "$build/vaead" --out "$out" --tools "$tools"
      --seeds "${SEEDS:-0,1,2}" --threads "${THREADS:-2}")
[ -n "${TABLES:-}" ] && args+=(--tables "$TABLES")
python3 bench/adbench.py "${args[@]}"
python3 bench/adbench.py "${args[@]}" --report
