#!/usr/bin/env bash
# The fused step's tensor-core check: compiles kernels/fused_step.cu for sm_90 (or $ARCH) and fails
# unless every fused_step_kernel instantiation issues tensor-core instructions: HMMA in the SASS
# where cuobjdump is installed (the device machine), else wmma.mma.sync ... .tf32 in the PTX (this
# machine's toolkit has no cuobjdump). It prints ptxas's report (registers, spills, shared memory)
# and fails on a spill.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
arch=${ARCH:-90}
nvcc=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(-std=c++20 -O3 "-arch=sm_${arch}" -I"$root/include" -I"$root/hostdevice" -I"$root/kernels")
"$nvcc" "${flags[@]}" -Xptxas -v -c "$root/kernels/fused_step.cu" -o "$work/fused_step.o" \
  2> "$work/ptxas.txt"
echo "== ptxas, sm_${arch}: fused_step.cu"
grep -E "Compiling entry|registers|spill" "$work/ptxas.txt" |
  sed -E "s/'_ZN.*fused_step_kernelILNS0_10TensorMathE0E.*'/fused_step_kernel<tf32>/;
          s/'_ZN.*fused_step_kernelILNS0_10TensorMathE1E.*'/fused_step_kernel<3xtf32>/;
          s/'_ZN.*(add_partials_kernel|pack_kernel).*'/\1/"
if grep -E "[1-9][0-9]* bytes spill (stores|loads)" "$work/ptxas.txt"; then
  echo "FAIL: a fused kernel spills" >&2
  exit 1
fi
cuobjdump=$(command -v cuobjdump || true)
[[ -z "$cuobjdump" && -x "$(dirname "$nvcc")/cuobjdump" ]] && cuobjdump="$(dirname "$nvcc")/cuobjdump"
if [[ -n "$cuobjdump" ]]; then
  "$cuobjdump" -sass "$work/fused_step.o" > "$work/sass.txt"
  counts=$(awk '/Function :/{f=$3} /HMMA/{c[f]++} END{for (k in c) print c[k], k}' "$work/sass.txt")
  what="HMMA instructions in the SASS"
else
  "$nvcc" "${flags[@]}" -ptx "$root/kernels/fused_step.cu" -o "$work/fused_step.ptx"
  counts=$(awk '/^\.visible \.entry|^\.entry/{f=$NF} /wmma\.mma\.sync.*tf32|mma\.sync.*tf32/{c[f]++} END{for (k in c) print c[k], k}' "$work/fused_step.ptx")
  what="wmma.mma.sync .tf32 instructions in the PTX (no cuobjdump here)"
fi
echo "== $what, by kernel"
echo "${counts:-none}"
for math in 0 1; do
  if ! grep -q "fused_step_kernelILNS0_10TensorMathE${math}E" <<< "$counts"; then
    echo "FAIL: fused_step_kernel<TensorMath $math> has no $what" >&2
    exit 1
  fi
done
echo "tensor-core check passed"
