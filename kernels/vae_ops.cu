// The VAE's element-wise and per-row kernels. Reductions are warp shuffles and block trees in a
// fixed order (no atomics on floats), so a run is bitwise repeatable.
#include <climits>
#include <cmath>

#include "cuda_check.cuh"
#include "curand_philox.cuh"
#include "launch.cuh"
#include "vae_ops.cuh"
#include "vaead/philox.hpp"

namespace vaead::cuda {
namespace {

// One thread per model.
__global__ void begin_epoch_kernel(StepState* state, const double* kl_weights, const int* frozen,
                                   int models, TrainingStatus* status) {
  const int m = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (m >= models) return;
  state[m].step_in_epoch = 0;
  state[m].kl_weight = kl_weights[m];
  const bool stopped = frozen != nullptr && frozen[m] != 0;
  status[m] = TrainingStatus{stopped ? kFrozenStep : -1, 0, INT_MAX};
}

// A model whose step was refused (or that is frozen) keeps its step count: its next update draws
// the noise and takes the Adam step the refused one would have, as on the CPU.
__global__ void advance_step_kernel(StepState* state, const TrainingStatus* status, int models) {
  const int m = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (m >= models) return;
  if (status[m].failed_step < 0) state[m].global_step += 1;
  state[m].step_in_epoch += 1;
}

__global__ void reset_state_kernel(StepState* state, TrainingStatus* status, int models) {
  const int m = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (m >= models) return;
  state[m] = StepState{0, 0, 0.0};
  status[m] = TrainingStatus{-1, 0, INT_MAX};
}

// One thread per (model, row, block of 4 latents): one Philox call gives the 4 normals of the
// block. Latents at and beyond the model's own size (padding) get eps = 0, so z = mu = 0 there.
__global__ void draw_eps_kernel(ModelTable table, const StepState* state, int rows,
                                int latent_stride, float* eps) {
  const int blocks_per_row = (latent_stride + 3) / 4;
  const long long index = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (index >= static_cast<long long>(table.models) * rows * blocks_per_row) return;
  const long long per_model = static_cast<long long>(rows) * blocks_per_row;
  const int m = static_cast<int>(index / per_model);
  const long long within = index % per_model;
  const int r = static_cast<int>(within / blocks_per_row);
  const int block = static_cast<int>(within % blocks_per_row);
  const int latent = table.latent[m];
  const DeviceRng rng{table.seed[m], Stream::reparameterization};
  double normals[4] = {0.0, 0.0, 0.0, 0.0};
  if (4 * block < latent)
    rng.normal4(static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(r),
                static_cast<std::uint32_t>(state[m].global_step), normals);
  float* row = eps + (static_cast<long long>(m) * rows + r) * latent_stride;
  for (int l = 4 * block; l < min(latent_stride, 4 * block + 4); ++l)
    row[l] = l < latent ? static_cast<float>(normals[l - 4 * block]) : 0.0f;
}

__global__ void reparameterize_forward_kernel(const float* mu, const float* logvar_raw,
                                              const float* eps, long long count, float low,
                                              float high, float* logvar, float* z) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= count) return;
  // As std::clamp on the CPU: NaN passes through (fminf/fmaxf would replace it).
  const float raw = logvar_raw[i];
  const float clamped = raw < low ? low : (high < raw ? high : raw);
  logvar[i] = clamped;
  z[i] = eps == nullptr ? mu[i] : mu[i] + expf(clamped / 2.0f) * eps[i];
}

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
    const double m = mu[i], lv = logvar[i];
    kl_sum += 1.0 + lv - m * m - exp(lv);
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

__global__ void reparameterize_backward_kernel(const float* grad_z, const float* mu,
                                               const float* logvar, const float* logvar_raw,
                                               const float* eps, int rows, int latent,
                                               long long count, const StepState* state, float low,
                                               float high, float* grad_mu, float* grad_logvar) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= count) return;
  const auto model = static_cast<int>(i / (static_cast<long long>(rows) * latent));
  const float kl_scale = static_cast<float>(state[model].kl_weight / rows);
  const float lv = logvar[i];
  const float sigma = expf(lv / 2.0f);
  grad_mu[i] = grad_z[i] + kl_scale * mu[i];
  const bool inside = logvar_raw[i] >= low && logvar_raw[i] <= high;
  grad_logvar[i] =
      inside ? grad_z[i] * eps[i] * sigma / 2.0f + kl_scale * (expf(lv) - 1.0f) / 2.0f : 0.0f;
}

// Model m = blockIdx.y; its gradients are grads[m * count, (m + 1) * count).
__global__ void check_finite_kernel(const double* totals, std::size_t totals_stride,
                                    const float* grads, std::size_t count, LatentPadding padding,
                                    const int* latent_of, const StepState* state,
                                    TrainingStatus* status) {
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
  const bool own = latent_of == nullptr ||
                   !is_latent_padding(padding, static_cast<long long>(i), latent_of[model]);
  if (i < count && own && !isfinite(grads[i])) {
    atomicMin(&status->bad_gradient, static_cast<int>(i));
    atomicCAS(&status->failed_step, -1, step);
  }
}

// Model blockIdx.y's slice of the flat buffers (count values each).
__global__ void adam_kernel(float* params, const float* grads, float* m, float* v,
                            std::size_t count, AdamHyper hyper, const StepState* state,
                            const TrainingStatus* status) {
  const int model = static_cast<int>(blockIdx.y);
  state += model;
  const std::size_t offset = model * count;
  params += offset;
  grads += offset;
  m += offset;
  v += offset;
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i >= count || status[model].failed_step >= 0) return;
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

void begin_epoch(StepState* state, const double* kl_weights, const int* frozen, int models,
                 TrainingStatus* status, cudaStream_t stream) {
  launch("begin_epoch", begin_epoch_kernel, blocks_for(models), kBlock, stream, state, kl_weights,
         frozen, models, status);
}

void advance_step(StepState* state, const TrainingStatus* status, int models, cudaStream_t stream) {
  launch("advance_step", advance_step_kernel, blocks_for(models), kBlock, stream, state, status,
         models);
}

void reset_state(StepState* state, TrainingStatus* status, int models, cudaStream_t stream) {
  launch("reset_state", reset_state_kernel, blocks_for(models), kBlock, stream, state, status,
         models);
}

void draw_eps(const ModelTable& table, const StepState* state, int rows, int latent_stride,
              float* eps, cudaStream_t stream) {
  const long long threads = static_cast<long long>(table.models) * rows * ((latent_stride + 3) / 4);
  launch("draw_eps", draw_eps_kernel, blocks_for(threads), kBlock, stream, table, state, rows,
         latent_stride, eps);
}

void reparameterize_forward(const float* mu, const float* logvar_raw, const float* eps, int rows,
                            int latent, float low, float high, float* logvar, float* z,
                            cudaStream_t stream) {
  const long long count = static_cast<long long>(rows) * latent;
  launch("reparameterize_forward", reparameterize_forward_kernel, blocks_for(count), kBlock, stream,
         mu, logvar_raw, eps, count, low, high, logvar, z);
}

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

void reparameterize_backward(const float* grad_z, const float* mu, const float* logvar,
                             const float* logvar_raw, const float* eps, int models, int rows,
                             int latent, const StepState* state, float low, float high,
                             float* grad_mu, float* grad_logvar, cudaStream_t stream) {
  const long long count = static_cast<long long>(models) * rows * latent;
  launch("reparameterize_backward", reparameterize_backward_kernel, blocks_for(count), kBlock,
         stream, grad_z, mu, logvar, logvar_raw, eps, rows, latent, count, state, low, high,
         grad_mu, grad_logvar);
}

void check_finite(const double* totals, std::size_t totals_stride, const float* grads,
                  std::size_t count, int models, const LatentPadding& padding, const int* latent_of,
                  const StepState* state, TrainingStatus* status, cudaStream_t stream) {
  launch("check_finite", check_finite_kernel,
         dim3(blocks_for(static_cast<long long>(count)), static_cast<unsigned>(models)), kBlock,
         stream, totals, totals_stride, grads, count, padding, latent_of, state, status);
}

void adam_update(float* params, const float* grads, float* m, float* v, std::size_t count,
                 int models, AdamHyper hyper, const StepState* state, const TrainingStatus* status,
                 cudaStream_t stream) {
  launch("adam_update", adam_kernel,
         dim3(blocks_for(static_cast<long long>(count)), static_cast<unsigned>(models)), kBlock,
         stream, params, grads, m, v, count, hyper, state, status);
}

}  // namespace vaead::cuda
