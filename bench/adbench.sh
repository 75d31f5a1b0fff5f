#!/usr/bin/env bash
# vaead's defaults against PyOD's KNN, LOF, IForest, ECOD, AutoEncoder and VAE and DeepOD's
# DeepSVDD, ICL and DIF on the 28 ADBench tables: 5 split seeds, the same rows and
# standardization for every tool, ROC-AUC, PR-AUC, F1 at each tool's default threshold and training
# time, the paired differences and each table's gap to the best peer; markdown at the end.
#   bench/adbench.sh [DATA_DIR]     DATA_DIR or $VAEAD_ADBENCH: the folder of the ADBench CSVs
# After a Release build in build/ (or set BUILD=dir). Knobs (environment): OUT (results folder,
# default bench/results/adbench5; what is there is kept and not recomputed), TOOLS (default: every
# tool), SEEDS (0,1,2,3,4), TABLES (default: every CSV), THREADS (2), TIME_LIMIT (seconds a peer
# may take on one split, 1800). Peers: pip install pyod torch tqdm scikit-learn pandas (PyOD's
# AutoEncoder and VAE import tqdm without declaring it) and pip install --no-deps deepod (it pins a
# torch of 2022; its methods run on today's); vaead alone needs numpy, pandas and scikit-learn here.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${VAEAD_ADBENCH:-}}"
if [ -z "$data" ] || [ ! -d "$data" ]; then
  echo "bench/adbench.sh: give the folder of the ADBench CSVs (argument or VAEAD_ADBENCH)" >&2
  exit 2
fi
build="${BUILD:-build}"
out="${OUT:-bench/results/adbench5}"
tools="${TOOLS:-vaead,knn,lof,iforest,ecod,autoencoder,vae,deepsvdd,icl,dif}"
python3 -c 'import pyod, torch, tqdm' 2>/dev/null ||
  echo "(pyod, torch or tqdm is not installed: pip install pyod torch tqdm; the peers fail, saying so)"
python3 -c 'import deepod' 2>/dev/null ||
  echo "(deepod is not installed: pip install --no-deps deepod; its peers fail, saying so)"
uptime
args=(--data "$data" --vaead "$build/vaead" --out "$out" --tools "$tools"
      --seeds "${SEEDS:-0,1,2,3,4}" --threads "${THREADS:-2}" --time-limit "${TIME_LIMIT:-1800}")
[ -n "${TABLES:-}" ] && args+=(--tables "$TABLES")
python3 bench/adbench.py "${args[@]}"
python3 bench/adbench.py "${args[@]}" --report
