#!/usr/bin/env bash
# The one call to make on a GPU lease (../shared/DEVICE.md). From the repository root:
#   echo /.deps/ >> .git/info/exclude
#   mkdir -p .deps/include && cp -r /usr/include/CLI /usr/include/nlohmann .deps/include/
#   cp -r /usr/src/googletest .deps/
#   run: bash bench/device_check.sh correctness   carry: [".deps"]   timeout_s: ~540
#   then, on the still-warm machine (the build is kept): bash bench/device_check.sh bench
#   (or `all` for both in one call, when the lease allows ~15 minutes)
# It first checks that the driver is new enough for the toolkit (else it stops and says so), then
# builds for sm_90 on every core, runs the CPU tests and the GPU test programs with
# VAEAD_REQUIRE_GPU=1 (a GPU test that would skip fails instead) and reports their run / skipped /
# failed counts from GoogleTest's own JSON, compute-sanitizer memcheck and racecheck over the GPU
# tests, the seed study on the GPU and on the CPU, the training and sweep benchmarks with the
# PyTorch sweep peer, then prints a short summary last. Logs go to $OUT. Phases go on after a
# failure, so one call reports everything.
set -u
part="${1:-all}"  # correctness | bench | all
case "$part" in correctness | bench | all) ;; *)
  echo "usage: device_check.sh [correctness|bench|all]" >&2
  exit 2
  ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-$root/out}"
mkdir -p "$out"
build="$root/build-device"
summary="$out/summary.md"
jobs="$(nproc)"
export PATH="/usr/local/cuda/bin:$PATH"
status=()  # "phase|result|seconds"

phase() {  # phase NAME LOG COMMAND...: runs COMMAND, appends its output to LOG, records the result
  local name="$1" log="$2"
  shift 2
  local start end rc
  start=$(date +%s)
  echo "== $name: $*" >>"$log"
  "$@" >>"$log" 2>&1
  rc=$?
  end=$(date +%s)
  status+=("$name|$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)")|$((end - start))")
  echo "[$name] exit $rc in $((end - start)) s" >&2
  return $rc
}

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
  nvcc --version | tail -2
  echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
} >"$out/machine.txt" 2>&1

# The driver must support the toolkit's CUDA version, or every kernel launch fails.
driver_cuda="$(nvidia-smi 2>/dev/null | grep -oE 'CUDA Version: [0-9.]+' | grep -oE '[0-9.]+$')"
toolkit_cuda="$(nvcc --version 2>/dev/null | grep -oE 'release [0-9.]+' | grep -oE '[0-9.]+$')"
if [ -z "$driver_cuda" ] || [ -z "$toolkit_cuda" ] ||
  [ "$(printf '%s\n%s\n' "$toolkit_cuda" "$driver_cuda" | sort -V | head -1)" != "$toolkit_cuda" ]; then
  echo "device check stopped: the driver supports CUDA '${driver_cuda:-none}' and the toolkit is" \
    "CUDA '${toolkit_cuda:-none}'; the driver must support at least the toolkit's version" |
    tee "$summary"
  exit 3
fi
echo "driver supports CUDA $driver_cuda, toolkit CUDA $toolkit_cuda" >>"$out/machine.txt"

deps=()
[ -d "$root/.deps" ] && deps=(-DVAEAD_DEPS_DIR="$root/.deps")
phase configure "$out/build.log" cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DVAEAD_WERROR=ON -DVAEAD_CUDA=ON "${deps[@]}"
phase build "$out/build.log" cmake --build "$build" --parallel "$jobs"

gtest_json="$(mktemp -d)"
if [ "$part" != bench ]; then
# Every GPU test must run here: a skip is a failure.
export VAEAD_REQUIRE_GPU=1
phase cpu_tests "$out/tests.log" ctest --test-dir "$build" --output-on-failure --parallel 4 \
  --timeout 300 --label-exclude "^gpu-"
for program in vaead_gpu_kernel_tests vaead_gpu_engine_tests; do
  phase "$program" "$out/tests.log" timeout 300 "$build/tests/$program" \
    --gtest_output="json:$gtest_json/$program.json"
done

kernel_tests="$build/tests/vaead_gpu_kernel_tests"
engine_tests="$build/tests/vaead_gpu_engine_tests"
if command -v compute-sanitizer >/dev/null; then
  sanitizer=(compute-sanitizer --error-exitcode 99 --print-limit 20)
  # memcheck over every GPU test but the slowest (50 steps x 8 shapes; a million-score sort).
  phase memcheck_kernels "$out/sanitizer.log" timeout 100 "${sanitizer[@]}" --tool memcheck \
    "$kernel_tests" --gtest_brief=1 --gtest_filter='-GpuAuc.Million*'
  phase memcheck_engine "$out/sanitizer.log" timeout 120 "${sanitizer[@]}" --tool memcheck \
    "$engine_tests" --gtest_brief=1 \
    --gtest_filter='-GpuEngine.FiftySteps*:GpuSweep.DeviceSweepAgrees*'
  # racecheck over the kernels that share memory between threads (tiles, block trees; the weight
  # gradient's blocks of one chunk and of a group of chunks, both heads in one launch).
  phase racecheck "$out/sanitizer.log" timeout 90 "${sanitizer[@]}" --tool racecheck \
    "$kernel_tests" --gtest_brief=1 \
    --gtest_filter='GpuDense.ForwardMatches*:GpuDense.BackwardParams*:GpuDense.BothHeads*:GpuDense.AModels*:GpuOps.FusedLoss*:GpuSynthetic.SameSeed*'
  # The fused step: memcheck ran above with the engine tests; racecheck over its
  # shared-memory tiles, one step on ten shapes in both math modes.
  phase racecheck_fused "$out/sanitizer.log" timeout 90 "${sanitizer[@]}" --tool racecheck \
    "$engine_tests" --gtest_brief=1 --gtest_filter='GpuFused.OneStep*'
else
  status+=("sanitizers|not run: compute-sanitizer not found|0")
fi
# The fused kernels' ptxas report and tensor-core instructions (HMMA in the SASS, cuobjdump here).
phase tensor_cores "$out/tests.log" bash "$root/bench/check_tensor_cores.sh"

# The engine, sweep and ensemble tests once more on the fused step (3xTF32), every one of them.
phase fused_path_tests "$out/tests.log" env VAEAD_TEST_GPU_MATH=3xtf32 VAEAD_REQUIRE_GPU=1 \
  timeout 120 "$engine_tests" --gtest_brief=1 --gtest_filter='GpuFused.*:GpuSweep.*:GpuEngine.*'
vaead="$build/vaead"
phase experiment_cuda "$out/experiment.log" "$vaead" experiment --device cuda \
  --json "$out/experiment_cuda.json"
phase experiment_cpu "$out/experiment.log" "$vaead" experiment --device cpu \
  --json "$out/experiment_cpu.json"
fi

if [ "$part" != correctness ]; then

bench_dir="$build/bench"
# The GPU training tables, trimmed to fit the lease: training at batch 4096 and 65536 (latent 8)
# against PyTorch eager, torch.compile and CUDA graphs; kernels vs cuBLAS(Lt); AUC vs a bare sort
# and scikit-learn; data generation vs a copy. Ratios at the end of bench.log.
phase side_by_side "$out/bench.log" env BUILD="$build" OUT="$out" BATCHES=4096,65536 LATENTS=8 \
  REPEATS=3 timeout 240 bash "$root/bench/side_by_side.sh" cuda
# The fused step against the tiled path on the same network and batches: tf32 and
# 3xtf32, one model at batch 256, 4096 and 65536 (PyTorch's figures are side_by_side's above).
for math in fp32 tf32 3xtf32; do
  phase "train_${math}" "$out/bench.log" timeout 90 "$bench_dir/bench_train" --device cuda \
    --gpu-math "$math" --batches 256,4096,65536 --latents 8 --repeats 3 \
    --json "$out/train_${math}.json"
done
# Sweep throughput: M models at once against M single runs (one repeat: lease time), then the
# same models in PyTorch eager on the same GPU (the target: 64 models >= 20x vaead one by one and
# >= 100x PyTorch eager).
phase bench_sweep "$out/bench.log" "$bench_dir/bench_sweep" --device cuda \
  --models 1,8,32,64,128 --repeats 1 --json "$out/bench_sweep_cuda.json"
sweep_data="$(mktemp -d)"
"$build/vaead" generate --out "$sweep_data" --train-rows 8192 --val-rows 2 --test-rows 2 \
  --seed 0 >/dev/null 2>&1
phase torch_sweep "$out/bench.log" timeout 150 python3 "$root/bench/peers/torch_sweep.py" \
  --data "$sweep_data/train.csv" --device cuda --models 1,8,64 --repeats 1 \
  --json "$out/torch_sweep_cuda.json"
fi

{
  echo "# device check"
  echo
  sed 's/^/    /' "$out/machine.txt"
  echo
  echo "| phase | result | seconds |"
  echo "|---|---|---|"
  for row in "${status[@]}"; do echo "| ${row//|/ | } |"; done
  echo
  echo "part: $part"
  [ -f "$out/tests.log" ] &&
    echo "CPU tests (ctest): $(grep -E 'tests passed|tests failed' "$out/tests.log" | tail -1)"
  python3 - "$gtest_json" <<'PY'
import json, pathlib, sys
# GoogleTest's own counts of each GPU test program (VAEAD_REQUIRE_GPU=1: a skip would be a failure).
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    report = json.load(open(path))
    tests = [t for suite in report["testsuites"] for t in suite["testsuite"]]
    skipped = sum(t.get("result") == "SKIPPED" for t in tests)
    failed = sum(bool(t.get("failures")) for t in tests)
    print(f"GPU tests ({path.stem}, GoogleTest): {len(tests) - skipped} run, {skipped} skipped, "
          f"{failed} failed")
    for t in tests:
        if t.get("failures"):
            print(f"    failed: {t['classname']}.{t['name']}")
PY
  [ -f "$out/sanitizer.log" ] && grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$out/sanitizer.log" | sed 's/^/    /'
  echo
  python3 - "$out/experiment_cuda.json" "$out/experiment_cpu.json" <<'PY'
import json, sys, statistics as st
def load(path):
    try:
        return json.load(open(path))
    except Exception as error:
        print(f"(no {path}: {error})")
        return None
gpu, cpu = load(sys.argv[1]), load(sys.argv[2])
if gpu and cpu:
    print("| latent | ROC-AUC cuda | ROC-AUC cpu | difference | PR-AUC cuda | PR-AUC cpu | train s cuda | train s cpu | samples/s cuda |")
    print("|---|---|---|---|---|---|---|---|---|")
    for latent in gpu["config"]["latent_dims"]:
        g = [r for r in gpu["runs"] if r["latent_dim"] == latent]
        c = [r for r in cpu["runs"] if r["latent_dim"] == latent]
        mean = lambda rows, key: st.mean(r[key] for r in rows)
        diff = mean(g, "roc_auc") - mean(c, "roc_auc")
        print(f"| {latent} | {mean(g,'roc_auc'):.4f} | {mean(c,'roc_auc'):.4f} | {diff:+.4f}"
              f"{' (over 0.02!)' if abs(diff) > 0.02 else ''} | {mean(g,'pr_auc'):.4f} | "
              f"{mean(c,'pr_auc'):.4f} | {mean(g,'train_seconds'):.2f} | "
              f"{mean(c,'train_seconds'):.2f} | {mean(g,'samples_per_second'):.0f} |")
PY
  echo
  [ -f "$out/bench.log" ] && sed -n '/^ratios (vaead/,$p' "$out/bench.log" | grep -v "^==" | head -40
  echo
  python3 - "$out/bench_sweep_cuda.json" "$out/torch_sweep_cuda.json" <<'PY'
import json, sys
try:
    vaead = {r["models"]: r for r in json.load(open(sys.argv[1]))}
except Exception as error:
    vaead = {}
    print(f"(no sweep bench: {error})")
try:
    torch = {r["models"]: r for r in json.load(open(sys.argv[2]))["results"]}
except Exception:
    torch = {}
if vaead:
    print("| models | sweep model-samples/s | one-by-one vaead | ratio | PyTorch eager one-by-one | ratio |")
    print("|---|---|---|---|---|---|")
    for m, v in sorted(vaead.items()):
        s, q = v["sweep_model_samples_per_second"], v["sequential_model_samples_per_second"]
        t = torch.get(m, {}).get("model_samples_per_second")
        print(f"| {m} | {s:.0f} | {q:.0f} | {s / q:.1f}x | {t and f'{t:.0f}' or '-'} | "
              f"{t and f'{s / t:.1f}x' or '-'} |")
PY
  echo
  echo "failed tests:"
  [ -f "$out/tests.log" ] && grep -E "^\s+[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Subprocess aborted)\)" "$out/tests.log" | head -20
  if ls "$out"/train_*.json >/dev/null 2>&1; then
    echo
    echo "Training one model (samples/s; fp32 = tiled path, tf32 / 3xtf32 = fused step):"
    python3 - "$out" <<'PY'
import json, pathlib, sys
rows = {}
for math in ("fp32", "tf32", "3xtf32"):
    path = pathlib.Path(sys.argv[1]) / f"train_{math}.json"
    if path.exists():
        for point in json.loads(path.read_text())["results"]:
            rows.setdefault(point["batch_size"], {})[math] = point["samples_per_second"]
print("| batch | fp32 tiled | tf32 fused | 3xtf32 fused | tf32 / fp32 |")
print("|---|---|---|---|---|")
for batch, by in sorted(rows.items()):
    cells = [f"{by[m] / 1e6:.2f} M" if m in by else "-" for m in ("fp32", "tf32", "3xtf32")]
    ratio = f"{by['tf32'] / by['fp32']:.2f}x" if "tf32" in by and "fp32" in by else "-"
    print(f"| {batch} | " + " | ".join(cells) + f" | {ratio} |")
PY
  fi
} >"$summary" 2>&1
cat "$summary"
