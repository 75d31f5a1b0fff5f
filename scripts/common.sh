# Shared by the set-up scripts: install what the build needs from Debian's packages when missing,
# then configure and build into the directory given.
set -euo pipefail

vaead_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

vaead_install_dependencies() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v g++ >/dev/null || missing+=(g++)
  command -v ninja >/dev/null || missing+=(ninja-build)
  [ -f /usr/include/CLI/CLI.hpp ] || missing+=(libcli11-dev)
  [ -f /usr/include/nlohmann/json.hpp ] || missing+=(nlohmann-json3-dev)
  [ -d /usr/lib/x86_64-linux-gnu/cmake/GTest ] || [ -d /usr/lib/cmake/GTest ] ||
    [ -d /usr/lib/aarch64-linux-gnu/cmake/GTest ] || missing+=(libgtest-dev)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "vaead: installing ${missing[*]} from Debian's packages" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  # The CUDA toolkit is optional: with nvcc on PATH (or in /usr/local/cuda) the CUDA library builds.
  if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="/usr/local/cuda/bin:$PATH"
  fi
}

# vaead_build DIR [cmake options...]
vaead_build() {
  local dir="$1"
  shift
  cmake -S "$vaead_root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build "$dir" --parallel "$(nproc)"
}
