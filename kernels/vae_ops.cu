// The VAE's element-wise and per-row kernels. Reductions are warp shuffles and block trees in a
// fixed order (no atomics on floats), so a run is bitwise repeatable.
#include <climits>
#include <cmath>

#include "cuda_check.cuh"
#include "vae_ops.cuh"
#include "vaead/philox.hpp"

namespace vaead::cuda {
namespace {

constexpr int kBlock = 256;

unsigned blocks_for(std::size_t count, int block = kBlock) {
  return static_cast<unsigned>((count + static_cast<std::size_t>(block) - 1) / block);
}

__global__ void begin_epoch_kernel(StepState* state, double kl_weight, TrainingStatus* status) {
  state->step_in_epoch = 0;
  state->kl_weight = kl_weight;
  *status = TrainingStatus{-1, 0, INT_MAX};
}

__global__ void advance_step_kernel(StepState* state) {
  state->global_step += 1;
  state->step_in_epoch += 1;
}

__global__ void reset_state_kernel(StepState* state, TrainingStatus* status) {
  *state = StepState{0, 0, 0.0};
  *status = TrainingStatus{-1, 0, INT_MAX};
}

// One thread per (row, block of 4 latents): one Philox call gives the 4 normals of the block.
__global__ void draw_eps_kernel(std::uint64_t seed, const StepState* state, int rows, int latent,
                                float* eps) {
  const int blocks_per_row = (latent + 3) / 4;
  const int index = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (index >= rows * blocks_per_row) return;
  const int r = index / blocks_per_row, block = index % blocks_per_row;
  const CounterRng rng{seed, Stream::reparameterization};
  double normals[4];
  rng.normal4(static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(r),
              static_cast<std::uint32_t>(state->global_step), normals);
  for (int l = 4 * block; l < min(latent, 4 * block + 4); ++l)
    eps[r * latent + l] = static_cast<float>(normals[l - 4 * block]);
}

__global__ void reparameterize_forward_kernel(const float* mu, const float* logvar_raw,
                                              const float* eps, int count, float low, float high,
                                              float* logvar, float* z) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= count) return;
  // As std::clamp on the CPU: NaN passes through (fminf/fmaxf would replace it).
  const float raw = logvar_raw[i];
  const float clamped = raw < low ? low : (high < raw ? high : raw);
  logvar[i] = clamped;
  z[i] = eps == nullptr ? mu[i] : mu[i] + expf(clamped / 2.0f) * eps[i];
}

__device__ double warp_sum(double value) {
  for (int offset = 16; offset > 0; offset /= 2)
    value += __shfl_down_sync(0xFFFFFFFFu, value, offset);
  return value;  // complete in lane 0
}

// One warp per row.
__global__ void loss_forward_backward_kernel(const float* x, const float* x_hat, const float* mu,
                                             const float* logvar, int rows, int features,
                                             int latent, double* reconstruction, double* kl,
                                             float* grad_x_hat) {
  const int warp = static_cast<int>((blockIdx.x * blockDim.x + threadIdx.x) / 32);
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (warp >= rows) return;
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
  for (int l = lane; l < latent; l += 32) {
    const double m = mu[warp * latent + l], lv = logvar[warp * latent + l];
    kl_sum += 1.0 + lv - m * m - exp(lv);
  }
  squared_error = warp_sum(squared_error);
  kl_sum = warp_sum(kl_sum);
  if (lane == 0) {
    reconstruction[warp] = squared_error;
    kl[warp] = -0.5 * kl_sum;
  }
}

__global__ void sum_loss_parts_kernel(const double* reconstruction, const double* kl, int rows,
                                      const StepState* state, double* totals) {
  __shared__ double recon_shared[kBlock], kl_shared[kBlock];
  double recon_sum = 0.0, kl_sum = 0.0;
  for (int r = static_cast<int>(threadIdx.x); r < rows; r += kBlock) {
    recon_sum += reconstruction[r];
    kl_sum += kl[r];
  }
  recon_shared[threadIdx.x] = recon_sum;
  kl_shared[threadIdx.x] = kl_sum;
  __syncthreads();
  for (int half = kBlock / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) {
      recon_shared[threadIdx.x] += recon_shared[threadIdx.x + half];
      kl_shared[threadIdx.x] += kl_shared[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    totals[2 * state->step_in_epoch] = recon_shared[0];
    totals[2 * state->step_in_epoch + 1] = kl_shared[0];
  }
}

__global__ void reparameterize_backward_kernel(const float* grad_z, const float* mu,
                                               const float* logvar, const float* logvar_raw,
                                               const float* eps, int rows, int count,
                                               const StepState* state, float low, float high,
                                               float* grad_mu, float* grad_logvar) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= count) return;
  const float kl_scale = static_cast<float>(state->kl_weight / rows);
  const float lv = logvar[i];
  const float sigma = expf(lv / 2.0f);
  grad_mu[i] = grad_z[i] + kl_scale * mu[i];
  const bool inside = logvar_raw[i] >= low && logvar_raw[i] <= high;
  grad_logvar[i] =
      inside ? grad_z[i] * eps[i] * sigma / 2.0f + kl_scale * (expf(lv) - 1.0f) / 2.0f : 0.0f;
}

__global__ void check_finite_kernel(const double* totals, const float* grads, std::size_t count,
                                    const StepState* state, TrainingStatus* status) {
  const int step = state->step_in_epoch;
  const int failed = status->failed_step;
  if (failed >= 0 && failed != step) return;  // an earlier step failed: that is the report
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i == 0 && !(isfinite(totals[2 * step]) && isfinite(totals[2 * step + 1]))) {
    status->loss_non_finite = 1;
    atomicCAS(&status->failed_step, -1, step);
  }
  if (i < count && !isfinite(grads[i])) {
    atomicMin(&status->bad_gradient, static_cast<int>(i));
    atomicCAS(&status->failed_step, -1, step);
  }
}

__global__ void adam_kernel(float* params, const float* grads, float* m, float* v,
                            std::size_t count, AdamHyper hyper, const StepState* state,
                            const TrainingStatus* status) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i >= count || status->failed_step >= 0) return;
  // The same constants as the CPU engine: computed in double, then rounded to float.
  const double t = static_cast<double>(state->global_step + 1);
  const float step_size = static_cast<float>(hyper.learning_rate / (1.0 - pow(hyper.beta1, t)));
  const float bias_correction2_sqrt = static_cast<float>(sqrt(1.0 - pow(hyper.beta2, t)));
  const float beta1 = static_cast<float>(hyper.beta1), beta2 = static_cast<float>(hyper.beta2);
  const float g = grads[i];
  const float m_new = beta1 * m[i] + (1.0f - beta1) * g;
  const float v_new = beta2 * v[i] + (1.0f - beta2) * g * g;
  m[i] = m_new;
  v[i] = v_new;
  params[i] -= step_size * m_new /
               (sqrtf(v_new) / bias_correction2_sqrt + static_cast<float>(hyper.epsilon));
}

}  // namespace

void begin_epoch(StepState* state, double kl_weight, TrainingStatus* status, cudaStream_t stream) {
  begin_epoch_kernel<<<1, 1, 0, stream>>>(state, kl_weight, status);
  CUDA_CHECK_LAUNCH("begin_epoch");
}

void advance_step(StepState* state, cudaStream_t stream) {
  advance_step_kernel<<<1, 1, 0, stream>>>(state);
  CUDA_CHECK_LAUNCH("advance_step");
}

void reset_state(StepState* state, TrainingStatus* status, cudaStream_t stream) {
  reset_state_kernel<<<1, 1, 0, stream>>>(state, status);
  CUDA_CHECK_LAUNCH("reset_state");
}

void draw_eps(std::uint64_t seed, const StepState* state, int rows, int latent, float* eps,
              cudaStream_t stream) {
  const std::size_t threads = static_cast<std::size_t>(rows) * ((latent + 3) / 4);
  draw_eps_kernel<<<blocks_for(threads), kBlock, 0, stream>>>(seed, state, rows, latent, eps);
  CUDA_CHECK_LAUNCH("draw_eps");
}

void reparameterize_forward(const float* mu, const float* logvar_raw, const float* eps, int rows,
                            int latent, float low, float high, float* logvar, float* z,
                            cudaStream_t stream) {
  const int count = rows * latent;
  reparameterize_forward_kernel<<<blocks_for(static_cast<std::size_t>(count)), kBlock, 0, stream>>>(
      mu, logvar_raw, eps, count, low, high, logvar, z);
  CUDA_CHECK_LAUNCH("reparameterize_forward");
}

void loss_forward_backward(const float* x, const float* x_hat, const float* mu, const float* logvar,
                           int rows, int features, int latent, double* reconstruction, double* kl,
                           float* grad_x_hat, cudaStream_t stream) {
  loss_forward_backward_kernel<<<blocks_for(static_cast<std::size_t>(rows) * 32), kBlock, 0,
                                 stream>>>(x, x_hat, mu, logvar, rows, features, latent,
                                           reconstruction, kl, grad_x_hat);
  CUDA_CHECK_LAUNCH("loss_forward_backward");
}

void sum_loss_parts(const double* reconstruction, const double* kl, int rows,
                    const StepState* state, double* totals, cudaStream_t stream) {
  sum_loss_parts_kernel<<<1, kBlock, 0, stream>>>(reconstruction, kl, rows, state, totals);
  CUDA_CHECK_LAUNCH("sum_loss_parts");
}

void reparameterize_backward(const float* grad_z, const float* mu, const float* logvar,
                             const float* logvar_raw, const float* eps, int rows, int latent,
                             const StepState* state, float low, float high, float* grad_mu,
                             float* grad_logvar, cudaStream_t stream) {
  const int count = rows * latent;
  reparameterize_backward_kernel<<<blocks_for(static_cast<std::size_t>(count)), kBlock, 0,
                                   stream>>>(grad_z, mu, logvar, logvar_raw, eps, rows, count,
                                             state, low, high, grad_mu, grad_logvar);
  CUDA_CHECK_LAUNCH("reparameterize_backward");
}

void check_finite(const double* totals, const float* grads, std::size_t count,
                  const StepState* state, TrainingStatus* status, cudaStream_t stream) {
  check_finite_kernel<<<blocks_for(count), kBlock, 0, stream>>>(totals, grads, count, state,
                                                                status);
  CUDA_CHECK_LAUNCH("check_finite");
}

void adam_update(float* params, const float* grads, float* m, float* v, std::size_t count,
                 AdamHyper hyper, const StepState* state, const TrainingStatus* status,
                 cudaStream_t stream) {
  adam_kernel<<<blocks_for(count), kBlock, 0, stream>>>(params, grads, m, v, count, hyper, state,
                                                        status);
  CUDA_CHECK_LAUNCH("adam_update");
}

}  // namespace vaead::cuda
