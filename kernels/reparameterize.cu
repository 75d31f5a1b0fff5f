// The reparameterization: the noise eps drawn as the CPU draws it, z = mu + exp(logvar / 2) eps,
// and its gradient with the KL term's.
//
// Pointers (device memory the CUDA engine owns; declared in vae_ops.cuh): mu, logvar_raw, logvar,
// eps, z, grad_z, grad_mu, grad_logvar [models][rows][latent] row-major; table.seed, table.latent
// and state [models].
// Napkin math: per latent value one Philox block per 4 draws, one exp and ~10 FLOPs, ~20 bytes
// forward and ~28 backward: batch 4096 x latent 16 x 64 models = 4.2 M values, ~200 MB a step.
// CPU reference: CpuModel::draw_eps, reparameterize and reparameterize_backward
// (host/cpu/cpu_model.cpp) with exp_of and kl_term (hostdevice/vaead/vae_elements.hpp). Tests:
// tests/gpu/test_gpu_ops.cpp, GpuOps.EpsAreTheCpuEnginesDraws and
// GpuOps.ReparameterizationForwardAndBackward.
#include <climits>

#include "cuda_check.cuh"
#include "curand_philox.cuh"
#include "launch.cuh"
#include "vae_ops.cuh"
#include "vaead/philox.hpp"
#include "vaead/vae_elements.hpp"

namespace vaead::cuda {
namespace {

// One thread per (model, row, block of 4 latents): one Philox call gives the 4 normals of the
// block. Latents at and beyond the model's own size (padding) get eps = 0, so z = mu = 0 there.
__global__ void draw_eps_kernel(ModelTable table, const StepState* state, int rows,
                                int latent_stride, float* eps) {
  const int blocks_per_row = (latent_stride + 3) / 4;
  const long long index = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (index >= static_cast<long long>(table.models) * rows * blocks_per_row) return;
  const long long per_model = static_cast<long long>(rows) * blocks_per_row;
  const int model = static_cast<int>(index / per_model);
  const long long within = index % per_model;
  const int r = static_cast<int>(within / blocks_per_row);
  const int block = static_cast<int>(within % blocks_per_row);
  const int latent = table.latent[model];
  const DeviceRng rng{table.seed[model], RandomStream::reparameterization};
  double normals[4] = {0.0, 0.0, 0.0, 0.0};
  if (4 * block < latent)
    rng.normal4(static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(r),
                static_cast<std::uint32_t>(state[model].global_step), normals);
  float* row = eps + (static_cast<long long>(model) * rows + r) * latent_stride;
  for (int l = 4 * block; l < min(latent_stride, 4 * block + 4); ++l)
    row[l] = l < latent ? static_cast<float>(normals[l - 4 * block]) : 0.0f;
}

__global__ void reparameterize_forward_kernel(const float* mu, const float* logvar_raw,
                                              const float* eps, long long count, float low,
                                              float high, float* logvar, float* z) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= count) return;
  // As the CPU engine: NaN passes through the clamp (fminf/fmaxf would replace it).
  const float clamped = elements::clamp_logvar(logvar_raw[i], low, high);
  logvar[i] = clamped;
  z[i] = eps == nullptr ? mu[i] : elements::reparameterized(mu[i], clamped, eps[i]);
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
  grad_mu[i] = grad_z[i] + kl_scale * mu[i];
  const bool inside = logvar_raw[i] >= low && logvar_raw[i] <= high;
  grad_logvar[i] = elements::logvar_gradient(grad_z[i], eps[i], logvar[i], kl_scale, inside);
}

}  // namespace

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

void reparameterize_backward(const float* grad_z, const float* mu, const float* logvar,
                             const float* logvar_raw, const float* eps, int models, int rows,
                             int latent, const StepState* state, float low, float high,
                             float* grad_mu, float* grad_logvar, cudaStream_t stream) {
  const long long count = static_cast<long long>(models) * rows * latent;
  launch("reparameterize_backward", reparameterize_backward_kernel, blocks_for(count), kBlock,
         stream, grad_z, mu, logvar, logvar_raw, eps, rows, latent, count, state, low, high,
         grad_mu, grad_logvar);
}

}  // namespace vaead::cuda
