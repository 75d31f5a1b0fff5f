# Shared by the set-up scripts: install what the build needs from Debian's packages when missing,
# then configure and build into the directory given.
set -euo pipefail

vaead_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# apt-get install of the packages named, as root or through sudo.
vaead_apt_install() {
  echo "vaead: installing $* from Debian's packages" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

vaead_install_dependencies() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v g++ >/dev/null || missing+=(g++)
  command -v ninja >/dev/null || missing+=(ninja-build)
  [ -f /usr/include/CLI/CLI.hpp ] || missing+=(libcli11-dev)
  [ -f /usr/include/nlohmann/json.hpp ] || missing+=(nlohmann-json3-dev)
  [ -d /usr/lib/x86_64-linux-gnu/cmake/GTest ] || [ -d /usr/lib/cmake/GTest ] ||
    [ -d /usr/lib/aarch64-linux-gnu/cmake/GTest ] || missing+=(libgtest-dev)
  # MPI for sweeps over ranks (mpirun -np N vaead sweep) and their tests.
  command -v mpirun >/dev/null || missing+=(openmpi-bin)
  command -v mpicxx >/dev/null || missing+=(libopenmpi-dev)
  if [ ${#missing[@]} -gt 0 ]; then vaead_apt_install "${missing[@]}"; fi
  # The CUDA toolkit is optional: with nvcc on PATH (or in /usr/local/cuda) the CUDA library builds.
  if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="/usr/local/cuda/bin:$PATH"
  fi
}

# The Python package's build and tests: python3 with venv (and its pip) and Python's headers.
vaead_install_python_dependencies() {
  local missing=()
  command -v python3 >/dev/null || missing+=(python3)
  python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
  python3 -c "import os, sysconfig; assert os.path.exists(sysconfig.get_paths()['include'] + '/Python.h')" \
    2>/dev/null || missing+=(python3-dev)
  if [ ${#missing[@]} -gt 0 ]; then vaead_apt_install "${missing[@]}"; fi
}

# What the emulated GPU build needs besides: clang with its sanitizer runtimes and OpenMP,
# Boost.Context (the fibers) and Thrust's headers (the CUDA toolkit's CCCL, else Debian's).
vaead_install_emulator_dependencies() {
  local missing=()
  command -v clang++ >/dev/null || missing+=(clang)
  compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.asan-*.a" >/dev/null ||
    missing+=(libclang-rt-dev)
  compgen -G "/usr/lib/llvm-*/lib/libomp.so" >/dev/null || missing+=(libomp-dev)
  [ -f /usr/include/boost/context/detail/fcontext.hpp ] || missing+=(libboost-context-dev)
  [ -f /usr/local/cuda/include/cccl/thrust/version.h ] || [ -f /usr/include/thrust/version.h ] ||
    missing+=(libthrust-dev)
  if [ ${#missing[@]} -gt 0 ]; then vaead_apt_install "${missing[@]}"; fi
}

# vaead_build DIR [cmake options...] [-- targets...]
vaead_build() {
  local dir="$1"
  shift
  local options=() targets=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    options+=("$1")
    shift
  done
  [ $# -gt 0 ] && shift
  targets=("$@")
  cmake -S "$vaead_root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${options[@]}" >/dev/null
  if [ ${#targets[@]} -gt 0 ]; then
    cmake --build "$dir" --parallel "$(nproc)" --target "${targets[@]}"
  else
    cmake --build "$dir" --parallel "$(nproc)"
  fi
}
