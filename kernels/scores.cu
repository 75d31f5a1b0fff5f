// The scoring kernel: the Scorer's reconstruction score of each row.
//
// Pointers (device memory the CUDA engine owns; declared in rows.cuh): x, x_hat [rows][features]
// row-major (rows of every model together); scores [rows]; per_feature [rows][features] or null.
// Napkin math: 3 FLOPs and 8 bytes read per value: 16,384 rows x 30 features a pass = 0.5 M
// values, 4 MB, ~1 us: memory- and launch-bound. bench_kernels reports its GB/s.
// CPU reference: reconstruction_score (hostdevice/vaead/scorer.hpp), the same function. Test:
// tests/gpu/test_gpu_ops.cpp, GpuOps.ReconstructionScoresAreTheScorersBits.
#include "cuda_check.cuh"
#include "launch.cuh"
#include "rows.cuh"
#include "vaead/scorer.hpp"

namespace vaead::cuda {
namespace {

// One thread per row: the Scorer's definition, as the CPU computes it.
__global__ void reconstruction_scores_kernel(const float* x, const float* x_hat, int rows,
                                             int features, float* scores, float* per_feature) {
  const long long row = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (row >= rows) return;
  const long long offset = row * features;
  scores[row] = reconstruction_score(x + offset, x_hat + offset, features,
                                     per_feature == nullptr ? nullptr : per_feature + offset);
}

}  // namespace

void reconstruction_scores(const float* x, const float* x_hat, int rows, int features,
                           float* scores, float* per_feature, cudaStream_t stream) {
  launch("reconstruction_scores", reconstruction_scores_kernel, blocks_for(rows), kBlock, stream, x,
         x_hat, rows, features, scores, per_feature);
}

}  // namespace vaead::cuda
