#!/usr/bin/env bash
# vaead and its peers side by side, ratios last. After a Release build in build/ (or set
# BUILD=dir):
#   bench/side_by_side.sh cpu [threads]    training: vaead CPU engine vs PyTorch eager on the same
#                                          threads; the machine's FMA ceiling
#   bench/side_by_side.sh cuda             training: vaead CUDA vs PyTorch eager, torch.compile and a
#                                          CUDA-graph step on the same GPU; kernels vs cuBLAS(Lt);
#                                          AUC vs a bare CUB sort and vs scikit-learn; data
#                                          generation vs a copy
# Knobs (environment): BATCHES (default 256,4096,16384 on cpu, 256,1024,4096,16384,65536 on cuda),
# LATENTS (8,16 on cpu, 2,8,16 on cuda), PEER_MODES (cuda: eager,compile,graph), OUT (results
# folder, default bench/results), REPEATS (5). Peers: pip install torch scikit-learn numpy; a
# missing one is skipped, saying so.
set -uo pipefail
cd "$(dirname "$0")/.."
device="${1:-cpu}"
threads="${2:-$(nproc)}"
build="${BUILD:-build}"
out="${OUT:-bench/results}"
repeats="${REPEATS:-5}"
if [ "$device" = cpu ]; then
  batches="${BATCHES:-256,4096,16384}" latents="${LATENTS:-8,16}" modes="eager"
else
  batches="${BATCHES:-256,1024,4096,16384,65536}" latents="${LATENTS:-2,8,16}"
  modes="${PEER_MODES:-eager,compile,graph}"
fi
mkdir -p "$out"
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
"$build/vaead" generate --out "$data" --val-rows 2 --test-rows 2 --seed 0 >/dev/null

echo "== vaead $device training"
"$build/bench/bench_train" --device "$device" --threads "$threads" --batches "$batches" \
  --latents "$latents" --repeats "$repeats" --json "$out/train_${device}_vaead.json"
have_torch=0
python3 -c 'import torch' 2>/dev/null && have_torch=1
for mode in ${modes//,/ }; do
  if [ $have_torch = 1 ]; then
    echo "== PyTorch $mode"
    timeout 600 python3 bench/peers/torch_train.py --data "$data/train.csv" --device "$device" \
      --threads "$threads" --batches "$batches" --latents "$latents" --mode "$mode" \
      --repeats "$repeats" --json "$out/train_${device}_torch_${mode}.json" ||
      echo "(PyTorch $mode failed or timed out)"
  else
    echo "(PyTorch is not installed: pip install torch; no training peer)"
  fi
done
if [ "$device" = cpu ]; then
  echo "== FMA ceiling"
  "$build/bench/bench_cpu_peak" --threads "$threads" --repeats "$repeats" \
    --json "$out/cpu_peak.json"
else
  echo "== kernels vs cuBLAS(Lt)"
  "$build/bench/bench_kernels" --json "$out/kernels_cuda.json"
  echo "== AUC vs a bare sort"
  "$build/bench/bench_auc" --json "$out/auc_cuda.json"
  if python3 -c 'import sklearn' 2>/dev/null; then
    python3 bench/peers/sklearn_auc.py --sizes 1000000,10000000 --json "$out/auc_sklearn.json"
  else
    echo "(scikit-learn is not installed: pip install scikit-learn; no metric peer)"
  fi
  echo "== data generation vs a copy"
  "$build/bench/bench_datagen" --json "$out/datagen_cuda.json"
fi

python3 - "$device" "$out" <<'PY'
import glob, json, os, sys
device, out = sys.argv[1], sys.argv[2]
def load(path):
    try:
        return json.load(open(path))
    except Exception:
        return None
vaead = load(f"{out}/train_{device}_vaead.json")
if not vaead:
    sys.exit(0)
peers = {}
for path in glob.glob(f"{out}/train_{device}_torch_*.json"):
    mode = os.path.basename(path)[len(f"train_{device}_torch_"):-5]
    data = load(path)
    if data:
        peers[mode] = {(r["batch_size"], r["latent_dim"]): r["samples_per_second"] for r in data["results"]}
print(f"\nratios (vaead samples/s / peer samples/s), {device}:")
modes = sorted(peers)
peak = load(f"{out}/cpu_peak.json") if device == "cpu" else None
share = "| vaead GFLOP/s | share of the FMA ceiling " if peak else ""
print("| latent | batch | vaead samples/s | " + " | ".join(f"PyTorch {m} samples/s | vaead / PyTorch {m}" for m in modes)
      + (" " if modes else "") + share + "|")
print("|---|---|---|" + "---|---|" * len(modes) + ("---|---|" if peak else ""))
for r in vaead["results"]:
    key = (r["batch_size"], r["latent_dim"])
    cells = [f"{peers[m][key]:.0f} | {r['samples_per_second'] / peers[m][key]:.2f}x" if key in peers[m] else "- | -"
             for m in modes]
    tail = f" | {r['gflops']:.1f} | {r['gflops'] / peak['gflops']:.0%}" if peak else ""
    print(f"| {key[1]} | {key[0]} | {r['samples_per_second']:.0f} | " + " | ".join(cells) + tail + " |")
if peak:
    print(f"\nFP32 FMA ceiling in the same run: {peak['gflops']:.1f} GFLOP/s on {peak['threads']} thread(s)")
if device == "cuda":
    kernels = load(f"{out}/kernels_cuda.json")
    if kernels:
        ceiling = kernels["ceilings"]["sgemm_gflops"]
        print(f"\nshare of the FP32 SGEMM ceiling measured in the same run ({ceiling:.0f} GFLOP/s):")
        for r in vaead["results"]:
            print(f"  latent {r['latent_dim']}, batch {r['batch_size']}: {r['gflops']:.0f} GFLOP/s = "
                  f"{r['gflops'] / ceiling:.0%}")
    auc, sk = load(f"{out}/auc_cuda.json"), load(f"{out}/auc_sklearn.json")
    if auc:
        sk_by = {r["scores"]: r["seconds"] for r in (sk or [])}
        print("\n| scores | vaead AUC+AP s | / bare CUB sort | scikit-learn s / vaead |")
        print("|---|---|---|---|")
        for r in auc:
            s = sk_by.get(r["scores"])
            print(f"| {r['scores']} | {r['vaead_seconds']:.5f} | {r['ratio']:.2f}x | "
                  f"{s / r['vaead_seconds']:.0f}x |" if s else
                  f"| {r['scores']} | {r['vaead_seconds']:.5f} | {r['ratio']:.2f}x | - |")
    gen = load(f"{out}/datagen_cuda.json")
    if gen:
        print(f"\ndata generation: {gen['generate_gb_per_s']:.0f} GB/s = {gen['ratio']:.2f}x the copy's "
              f"{gen['copy_gb_per_s']:.0f} GB/s")
PY
