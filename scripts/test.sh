#!/usr/bin/env bash
# Build and run every test, in these builds:
#   build-test/           the ordinary build (gcc, nvcc when present), warnings as errors: every
#                         test; the GPU tests run on a GPU and skip without one
#   build-python/         the Python package built by Clang for x86-64-v3 and installed with pip
#                         into a virtual environment of its own (build-python/venv), its pytest
#                         suite run against build-test/vaead: the package's model files must be the
#                         command line's byte for byte, across compiler and target
#   build-portable/       the command line built by Clang for x86-64-v3, and build-baseline/ by GCC
#                         for plain x86-64 (no FMA, no AVX): scripts/compare_builds.sh checks that
#                         they, build-test/vaead on one thread, and build-test/vaead with glibc's
#                         per-CPU math variants switched off give the same bits (bitwise
#                         reproducibility, README)
#   build-emulated-asan/  the GPU tests with the kernels executed on the CPU by tests/emulator,
#                         under AddressSanitizer + UndefinedBehaviorSanitizer (clang), with the
#                         emulator's own tests and its must-fail mutants, and the thread pool's
#   build-emulated-tsan/  the kernel tests, the emulator's tests and its mutants, and the CPU
#                         engine's thread pool, under ThreadSanitizer
# Pass one of "ordinary", "python", "portable", "asan", "tsan" to run only that part.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
parts="${1:-ordinary python portable asan tsan}"
vaead_install_dependencies
jobs="$(nproc)"

if [[ " $parts " == *" ordinary "* ]]; then
  vaead_build "$vaead_root/build-test" -DVAEAD_WERROR=ON
  (cd "$vaead_root/build-test" && ctest --output-on-failure --parallel "$jobs")
  # The fused step's static proof: no spills, tensor-core instructions in both math modes.
  if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
    bash "$vaead_root/bench/check_tensor_cores.sh"
  fi
fi

if [[ " $parts " == *" python "* ]]; then
  vaead_install_python_dependencies
  # The tests compare the package with the command line.
  [ -x "$vaead_root/build-test/vaead" ] ||
    vaead_build "$vaead_root/build-test" -DVAEAD_WERROR=ON -- vaead
  venv="$vaead_root/build-python/venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # PyPI: scikit-build-core and nanobind to build; NumPy, scikit-learn, pandas, pytest to test.
  vaead_install_emulator_dependencies  # clang
  CXX=clang++ "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -Cbuild-dir="$vaead_root/build-python/build" -Ccmake.define.VAEAD_WERROR=ON \
    -Ccmake.define.VAEAD_MARCH=x86-64-v3 "$vaead_root[test]"
  (cd "$vaead_root/build-python" && VAEAD_CLI="$vaead_root/build-test/vaead" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$vaead_root/python/tests")
fi

if [[ " $parts " == *" portable "* ]]; then
  vaead_install_emulator_dependencies  # clang
  [ -x "$vaead_root/build-test/vaead" ] ||
    vaead_build "$vaead_root/build-test" -DVAEAD_WERROR=ON -- vaead
  other=(-DVAEAD_CUDA=OFF -DVAEAD_MPI=OFF -DVAEAD_TESTS=OFF -DVAEAD_WERROR=ON)
  vaead_build "$vaead_root/build-portable" "${other[@]}" -DCMAKE_CXX_COMPILER=clang++ \
    -DVAEAD_MARCH=x86-64-v3 -- vaead
  vaead_build "$vaead_root/build-baseline" "${other[@]}" -DVAEAD_MARCH=x86-64 -- vaead
  bash "$vaead_root/scripts/compare_builds.sh" "$vaead_root/build-test/vaead" \
    "$vaead_root/build-portable/vaead"
  # Without FMA every multiply-add is a call of libm's fma: the model only, not the study. The
  # baseline build is the reference, so its GLIBC_TUNABLES run takes glibc's software fma (what a
  # CPU without FMA runs), 40 times slower than the instruction and to be the same bits.
  bash "$vaead_root/scripts/compare_builds.sh" --model-only "$vaead_root/build-baseline/vaead" \
    "$vaead_root/build-test/vaead"
  # AVX-512 code (the 512-bit tiles) is compiled, warnings as errors, though this CPU may not run it.
  g++ -std=c++20 -O2 -march=x86-64-v4 -ffp-contract=off -fno-trapping-math -Wall -Wextra -Werror \
    -I"$vaead_root/include" -I"$vaead_root/hostdevice" -I"$vaead_root/host" \
    -c "$vaead_root/host/cpu/cpu_model.cpp" -o /dev/null
fi

if [[ " $parts " == *" asan "* || " $parts " == *" tsan "* ]]; then
  vaead_install_emulator_dependencies
  emulated=(-DCMAKE_CXX_COMPILER=clang++ -DVAEAD_CUDA_EMULATOR=ON -DVAEAD_WERROR=ON
            -DCMAKE_CXX_FLAGS=-gline-tables-only)
fi

if [[ " $parts " == *" asan "* ]]; then
  vaead_build "$vaead_root/build-emulated-asan" "${emulated[@]}" \
    -DVAEAD_SANITIZE=address,undefined -- \
    cuda_emu_tests vaead_gpu_kernel_tests vaead_gpu_engine_tests vaead_mutants vaead_thread_tests \
    vaead_math_tests
  (cd "$vaead_root/build-emulated-asan" &&
    ctest --output-on-failure --parallel "$jobs" \
      --label-regex "^(gpu-kernels|gpu-engine|emulator|mutant|threads|math)$")
fi

if [[ " $parts " == *" tsan "* ]]; then
  vaead_build "$vaead_root/build-emulated-tsan" "${emulated[@]}" -DVAEAD_SANITIZE=thread -- \
    cuda_emu_tests vaead_gpu_kernel_tests vaead_mutants vaead_thread_tests
  (cd "$vaead_root/build-emulated-tsan" &&
    ctest --output-on-failure --parallel "$jobs" --label-regex "^(gpu-kernels|emulator|mutant|threads)$")
fi
