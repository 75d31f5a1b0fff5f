#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UndefinedBehaviorSanitizer) and runs
# each for SECONDS (default 600), starting from the committed corpus. New inputs the fuzzer keeps
# go to build-fuzz/corpus/<target>/ (not committed); crashes are written as build-fuzz/crash-*.
#   usage: bash tests/fuzz/run_fuzzers.sh [SECONDS] [TARGET...]     targets: csv npy model
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-600}"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(csv npy model)
command -v clang++ >/dev/null || { echo "needs clang++ (apt-get install clang)" >&2; exit 1; }
build="$root/build-fuzz"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DVAEAD_CUDA=OFF -DVAEAD_TESTS=OFF -DVAEAD_FUZZ=ON >/dev/null
cmake --build "$build" --target vaead_fuzz_csv vaead_fuzz_npy vaead_fuzz_model
for target in "${targets[@]}"; do
  mkdir -p "$build/corpus/$target"
  echo "== fuzzing $target for $seconds s" >&2
  (cd "$build" && "./vaead_fuzz_$target" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=4096 -print_final_stats=1 "corpus/$target" "$root/tests/fuzz/corpus/$target" \
    2>&1 | tee "fuzz_$target.log" | grep -E "^#[0-9]+ +(DONE|INITED)|stat::|ERROR|SUMMARY|crash-" >&2)
done
