#!/usr/bin/env bash
# Build and run every test, in three builds:
#   build-test/           the ordinary build (gcc, nvcc when present), warnings as errors: every
#                         test; the GPU tests run on a GPU and skip without one
#   build-python/         the Python package installed with pip into a virtual environment of its
#                         own (build-python/venv), its pytest suite run against build-test/vaead
#   build-emulated-asan/  the GPU tests with the kernels executed on the CPU by tests/emulator,
#                         under AddressSanitizer + UndefinedBehaviorSanitizer (clang), with the
#                         emulator's own tests and its must-fail mutants, and the thread pool's
#   build-emulated-tsan/  the kernel tests, the emulator's tests and its mutants, and the CPU
#                         engine's thread pool, under ThreadSanitizer
# Pass one of "ordinary", "python", "asan", "tsan" to run only that part.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
parts="${1:-ordinary python asan tsan}"
vaead_install_dependencies
jobs="$(nproc)"

if [[ " $parts " == *" ordinary "* ]]; then
  vaead_build "$vaead_root/build-test" -DVAEAD_WERROR=ON
  (cd "$vaead_root/build-test" && ctest --output-on-failure --parallel "$jobs")
fi

if [[ " $parts " == *" python "* ]]; then
  vaead_install_python_dependencies
  # The tests compare the package with the command line.
  [ -x "$vaead_root/build-test/vaead" ] ||
    vaead_build "$vaead_root/build-test" -DVAEAD_WERROR=ON -- vaead
  venv="$vaead_root/build-python/venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # PyPI: scikit-build-core and nanobind to build; NumPy, scikit-learn, pandas, pytest to test.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -Cbuild-dir="$vaead_root/build-python/build" -Ccmake.define.VAEAD_WERROR=ON "$vaead_root[test]"
  (cd "$vaead_root/build-python" && VAEAD_CLI="$vaead_root/build-test/vaead" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$vaead_root/python/tests")
fi

if [[ " $parts " == *" asan "* || " $parts " == *" tsan "* ]]; then
  vaead_install_emulator_dependencies
  emulated=(-DCMAKE_CXX_COMPILER=clang++ -DVAEAD_CUDA_EMULATOR=ON -DVAEAD_WERROR=ON
            -DCMAKE_CXX_FLAGS=-gline-tables-only)
fi

if [[ " $parts " == *" asan "* ]]; then
  vaead_build "$vaead_root/build-emulated-asan" "${emulated[@]}" \
    -DVAEAD_SANITIZE=address,undefined -- \
    cuda_emu_tests vaead_gpu_kernel_tests vaead_gpu_engine_tests vaead_mutants vaead_thread_tests
  (cd "$vaead_root/build-emulated-asan" &&
    ctest --output-on-failure --parallel "$jobs" \
      --label-regex "^(gpu-kernels|gpu-engine|emulator|mutant|threads)$")
fi

if [[ " $parts " == *" tsan "* ]]; then
  vaead_build "$vaead_root/build-emulated-tsan" "${emulated[@]}" -DVAEAD_SANITIZE=thread -- \
    cuda_emu_tests vaead_gpu_kernel_tests vaead_mutants vaead_thread_tests
  (cd "$vaead_root/build-emulated-tsan" &&
    ctest --output-on-failure --parallel "$jobs" --label-regex "^(gpu-kernels|emulator|mutant|threads)$")
fi
