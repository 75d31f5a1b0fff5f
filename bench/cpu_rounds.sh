#!/usr/bin/env bash
# The CPU engine against PyTorch eager, the FMA ceiling and itself on one thread, in interleaved
# rounds: each round measures every point of vaead (THREADS threads and 1), PyTorch on the same
# threads and the ceiling one after another, and each ratio is taken within its round. On a shared
# machine whose speed drifts for tens of seconds at a time (the development VM's does by 2x),
# side_by_side.sh, which runs all of vaead and then all of PyTorch, can compare one program's
# fast minute with the other's slow one; here both see the same minute, and the spread over the
# rounds is printed beside the median.
#   BUILD=build-test bench/cpu_rounds.sh [threads] [rounds]
# Knobs (environment): BATCHES (256,4096,16384), LATENTS (8,16), REPEATS per measurement (3),
# OUT (bench/results/rounds; every figure of every round goes to OUT/rounds.json). Needs PyTorch (pip install torch); without it the PyTorch column is
# left out.
set -uo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"
rounds="${2:-5}"
build="${BUILD:-build}"
out="${OUT:-bench/results/rounds}"
repeats="${REPEATS:-3}"
batches="${BATCHES:-256,4096,16384}"
latents="${LATENTS:-8,16}"
mkdir -p "$out"
rm -f "$out"/round_*.json
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
"$build/vaead" generate --out "$data" --val-rows 2 --test-rows 2 --seed 0 >/dev/null
have_torch=0
python3 -c 'import torch' 2>/dev/null && have_torch=1
[ $have_torch = 1 ] || echo "(PyTorch is not installed: pip install torch; no peer column)"

for round in $(seq "$rounds"); do
  echo "== round $round of $rounds ($(uptime | sed 's/.*load/load/'))"
  for batch in ${batches//,/ }; do
    for latent in ${latents//,/ }; do
      tag="${round}_${batch}_${latent}"
      "$build/bench/bench_train" --device cpu --threads "$threads" --batches "$batch" \
        --latents "$latent" --repeats "$repeats" --json "$out/round_vaead_$tag.json" >/dev/null
      "$build/bench/bench_train" --device cpu --threads 1 --batches "$batch" \
        --latents "$latent" --repeats "$repeats" --json "$out/round_one_$tag.json" >/dev/null
      if [ $have_torch = 1 ]; then
        timeout 600 python3 bench/peers/torch_train.py --data "$data/train.csv" --device cpu \
          --threads "$threads" --batches "$batch" --latents "$latent" --mode eager \
          --repeats "$repeats" --json "$out/round_torch_$tag.json" >/dev/null ||
          echo "(PyTorch failed or timed out: round $round, batch $batch, latent $latent)"
      fi
    done
  done
  "$build/bench/bench_cpu_peak" --threads "$threads" --repeats "$repeats" \
    --json "$out/round_peak_$round.json" >/dev/null
done

python3 - "$out" "$threads" <<'PY'
import glob, json, os, statistics, sys
out, threads = sys.argv[1], int(sys.argv[2])
def load(path):
    try:
        return json.load(open(path))
    except Exception:
        return None
def rate(path):
    data = load(path)
    return data["results"][0] if data and data.get("results") else None
points = {}
for path in glob.glob(f"{out}/round_vaead_*.json"):
    round_, batch, latent = os.path.basename(path)[len("round_vaead_"):-5].split("_")
    vaead, one = rate(path), rate(f"{out}/round_one_{round_}_{batch}_{latent}.json")
    torch = rate(f"{out}/round_torch_{round_}_{batch}_{latent}.json")
    peak = load(f"{out}/round_peak_{round_}.json")
    if not vaead or not peak:
        continue
    p = points.setdefault((int(latent), int(batch)), {"vaead": [], "torch": [], "share": [], "scaling": []})
    p["vaead"].append(vaead["samples_per_second"])
    p["share"].append(vaead["gflops"] / peak["gflops"])
    if one:
        p["scaling"].append(vaead["samples_per_second"] / one["samples_per_second"])
    if torch:
        p["torch"].append((torch["samples_per_second"], vaead["samples_per_second"] / torch["samples_per_second"]))
# Every measurement of every round in one file, the rounds' files removed (the shell's last step).
raw = {f"latent {latent}, batch {batch}": p for (latent, batch), p in sorted(points.items())}
json.dump({"threads": threads, "points": raw}, open(f"{out}/rounds.json", "w"), indent=1)
def spread(values, fmt):
    if not values:
        return "-"
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}-{fmt(max(values))})"
x = lambda v: f"{v:.2f}x"
pct = lambda v: f"{v:.0%}"
k = lambda v: f"{v / 1000:.0f}k"
print(f"\nmedian (min-max) over {max(len(p['vaead']) for p in points.values()) if points else 0} rounds, "
      f"{threads} threads; every ratio within its round:")
print("| latent | batch | vaead samples/s | PyTorch eager samples/s | vaead / PyTorch | "
      "share of the FMA ceiling | vaead / vaead on 1 thread |")
print("|---|---|---|---|---|---|---|")
for (latent, batch), p in sorted(points.items()):
    print(f"| {latent} | {batch} | {spread(p['vaead'], k)} | {spread([t for t, _ in p['torch']], k)} | "
          f"{spread([r for _, r in p['torch']], x)} | {spread(p['share'], pct)} | "
          f"{spread(p['scaling'], x)} |")
PY
rm -f "$out"/round_*.json
