// The fused loss: reconstruction and KL per row with the gradient of the reconstruction, then each
// model's totals in a fixed summation tree (no atomics on floats: bitwise repeatable).
//
// Pointers (device memory the CUDA engine owns; declared in vae_ops.cuh): x, x_hat, grad_x_hat
// [models][rows][features]; mu, logvar [models][rows][latent]; reconstruction, kl [models][rows]
// (double); totals [models][totals_stride]; latent_of, state [models].
// Napkin math: ~4 FLOPs and 12 bytes per feature value, ~6 FLOPs and 8 bytes per latent value:
// batch 4096 x 30 features x 64 models = 7.9 M values, ~100 MB a step.
// CPU reference: CpuModel::loss_parts (host/cpu/cpu_model.cpp) with kl_term
// (hostdevice/vaead/vae_elements.hpp). Test: tests/gpu/test_gpu_ops.cpp,
// GpuOps.FusedLossPartsAndGradientAndTheirSums.
#include <climits>
#include <cmath>

#include "cuda_check.cuh"
#include "launch.cuh"
#include "vae_ops.cuh"
#include "vaead/vae_elements.hpp"

namespace vaead::cuda {
namespace {

// One warp per row of every model (`rows` per model, the batch the mean is over).
__global__ void loss_forward_backward_kernel(const float* x, const float* x_hat, const float* mu,
                                             const float* logvar, int models, int rows,
                                             int features, int latent, const int* latent_of,
                                             double* reconstruction, double* kl,
                                             float* grad_x_hat) {
  const long long warp = (blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x) / kWarp;
  const int lane = static_cast<int>(threadIdx.x % kWarp);
  if (warp >= static_cast<long long>(models) * rows) return;
  const float two_over_rows = static_cast<float>(2.0 / rows);
  const long long row_offset = static_cast<long long>(warp) * features;
  double squared_error = 0.0;
  for (int j = lane; j < features; j += 32) {
    const float prediction = x_hat[row_offset + j], target = x[row_offset + j];
    grad_x_hat[row_offset + j] = two_over_rows * (prediction - target);
    const double diff = static_cast<double>(target) - prediction;
    squared_error += diff * diff;
  }
  double kl_sum = 0.0;
  const int own_latent = latent_of == nullptr ? latent : latent_of[warp / rows];
  for (int l = lane; l < own_latent; l += 32) {
    const long long i = static_cast<long long>(warp) * latent + l;
    kl_sum += elements::kl_term(mu[i], logvar[i]);
  }
  squared_error = warp_sum(squared_error);
  kl_sum = warp_sum(kl_sum);
  if (lane == 0) {
    reconstruction[warp] = squared_error;
    kl[warp] = -0.5 * kl_sum;
  }
}

// One block per model.
__global__ void sum_loss_parts_kernel(const double* reconstruction, const double* kl, int rows,
                                      const StepState* state, double* totals,
                                      std::size_t totals_stride) {
  __shared__ double shared[kBlock];
  const int model = static_cast<int>(blockIdx.x);
  reconstruction += static_cast<long long>(model) * rows;
  kl += static_cast<long long>(model) * rows;
  state += model;
  totals += model * totals_stride;
  double recon_sum = 0.0, kl_sum = 0.0;
  for (int r = static_cast<int>(threadIdx.x); r < rows; r += kBlock) {
    recon_sum += reconstruction[r];
    kl_sum += kl[r];
  }
  recon_sum = block_sum(recon_sum, shared);
  kl_sum = block_sum(kl_sum, shared);
  if (threadIdx.x == 0) {
    totals[2 * state->step_in_epoch] = recon_sum;
    totals[2 * state->step_in_epoch + 1] = kl_sum;
  }
}

}  // namespace

void loss_forward_backward(const float* x, const float* x_hat, const float* mu, const float* logvar,
                           int models, int rows, int features, int latent, const int* latent_of,
                           double* reconstruction, double* kl, float* grad_x_hat,
                           cudaStream_t stream) {
  launch("loss_forward_backward", loss_forward_backward_kernel,
         blocks_for(static_cast<long long>(models) * rows * kWarp), kBlock, stream, x, x_hat, mu,
         logvar, models, rows, features, latent, latent_of, reconstruction, kl, grad_x_hat);
}

void sum_loss_parts(const double* reconstruction, const double* kl, int models, int rows,
                    const StepState* state, double* totals, std::size_t totals_stride,
                    cudaStream_t stream) {
  launch("sum_loss_parts", sum_loss_parts_kernel, static_cast<unsigned>(models), kBlock, stream,
         reconstruction, kl, rows, state, totals, totals_stride);
}

}  // namespace vaead::cuda
