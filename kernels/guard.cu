// The non-finite guard: the first step whose loss or any of a model's own gradients is not finite.
//
// Pointers (device memory the CUDA engine owns; declared in vae_ops.cuh): totals [models][2 x
// steps] (reconstruction, KL); grads [models][count], padded layout; state, status [models];
// latent_of [models]; with the fused step, partials [models][blocks][packed_size] and packed_index
// [count].
// Napkin math: one compare per gradient (4 bytes read; with partials, blocks x 4 bytes read and 4
// written): the default VAE x 64 models = 1.7 M values, ~7 MB (tiled path), a few us.
// CPU reference: CpuModel::first_non_finite_gradient and the trainer's loss check
// (host/train/trainer.cpp). Tests: tests/gpu/test_gpu_ops.cpp,
// GpuOps.NonFiniteGuardNamesTheFirstStepAndTheSmallestIndex,
// GpuOps.NonFiniteGuardSkipsTheLatentPaddingOfASmallerModel; tests/gpu/test_gpu_engine.cpp,
// GpuEngine.NonFiniteLossIsReportedAtTheCpuEnginesStep.
#include <climits>
#include <cmath>

#include "cuda_check.cuh"
#include "launch.cuh"
#include "vae_ops.cuh"

namespace vaead::cuda {
namespace {

// Model m = blockIdx.y; its gradients are grads[m * count, (m + 1) * count).
__global__ void check_finite_kernel(const double* totals, std::size_t totals_stride, float* grads,
                                    std::size_t count, LatentPadding padding, const int* latent_of,
                                    const StepState* state, TrainingStatus* status,
                                    GradientPartials partials) {
  const int model = static_cast<int>(blockIdx.y);
  state += model;
  status += model;
  totals += model * totals_stride;
  grads += model * count;
  const int step = state->step_in_epoch;
  // Other blocks may be recording this step's failure right now: read it atomically, once a block.
  __shared__ int failed_before;
  if (threadIdx.x == 0) failed_before = atomicAdd(&status->failed_step, 0);
  __syncthreads();
  const int failed = failed_before;
  if (failed >= 0 && failed != step) return;  // an earlier step failed: that is the report
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i == 0 && !(isfinite(totals[2 * step]) && isfinite(totals[2 * step + 1]))) {
    status->loss_non_finite = 1;
    atomicCAS(&status->failed_step, -1, step);
  }
  if (i >= count) return;
  if (partials.partials != nullptr) {
    const float* first = partials.partials +
                         static_cast<long long>(model) * partials.blocks * partials.packed_size +
                         partials.packed_index[i];
    float sum = 0.0f;
    for (int b = 0; b < partials.blocks; ++b)
      sum += first[b * partials.packed_size];
    grads[i] = sum;
  }
  const bool own = latent_of == nullptr ||
                   !is_latent_padding(padding, static_cast<long long>(i), latent_of[model]);
  if (own && !isfinite(grads[i])) {
    atomicMin(&status->bad_gradient, static_cast<int>(i));
    atomicCAS(&status->failed_step, -1, step);
  }
}

}  // namespace

void check_finite(const double* totals, std::size_t totals_stride, float* grads, std::size_t count,
                  int models, const LatentPadding& padding, const int* latent_of,
                  const StepState* state, TrainingStatus* status, cudaStream_t stream,
                  const GradientPartials& partials) {
  launch("check_finite", check_finite_kernel,
         dim3(blocks_for(static_cast<long long>(count)), static_cast<unsigned>(models)), kBlock,
         stream, totals, totals_stride, grads, count, padding, latent_of, state, status, partials);
}

}  // namespace vaead::cuda
