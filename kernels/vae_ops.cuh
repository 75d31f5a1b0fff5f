// Launchers of the VAE's own kernels: the step counters, the noise, the reparameterization, the
// fused reconstruction + KL loss and its gradient, Adam, and the non-finite guard.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "training_state.cuh"

namespace vaead::cuda {

// Starts an epoch (or a lone step): step_in_epoch = 0, the KL weight, a clean status.
void begin_epoch(StepState* state, double kl_weight, TrainingStatus* status, cudaStream_t stream);
// Ends a step: global_step and step_in_epoch advance by one.
void advance_step(StepState* state, cudaStream_t stream);
// Resets the whole state (new parameters): global_step = 0.
void reset_state(StepState* state, TrainingStatus* status, cudaStream_t stream);

// eps[r][l] ~ N(0, 1): Philox4x32-10 with (seed, Stream::reparameterization), counter
// (l / 4, r, state->global_step), exactly the CPU engine's draws.
void draw_eps(std::uint64_t seed, const StepState* state, int rows, int latent, float* eps,
              cudaStream_t stream);

// logvar = clamp(logvar_raw, low, high); z = mu + exp(logvar / 2) * eps, or z = mu without eps.
//   mu, logvar_raw, eps, logvar, z: [rows][latent]
void reparameterize_forward(const float* mu, const float* logvar_raw, const float* eps, int rows,
                            int latent, float low, float high, float* logvar, float* z,
                            cudaStream_t stream);

// One pass over each row: reconstruction[r] = sum_j (x - x_hat)^2 and
// kl[r] = -1/2 sum_l (1 + logvar - mu^2 - exp(logvar)) (both in double), and the gradient of the
// batch-mean loss with respect to x_hat, 2 (x_hat - x) / rows.
//   x, x_hat, grad_x_hat: [rows][features]   mu, logvar: [rows][latent]
void loss_forward_backward(const float* x, const float* x_hat, const float* mu, const float* logvar,
                           int rows, int features, int latent, double* reconstruction, double* kl,
                           float* grad_x_hat, cudaStream_t stream);

// totals[2 s] = sum_r reconstruction[r], totals[2 s + 1] = sum_r kl[r] with s =
// state->step_in_epoch; one block, a fixed summation tree.
void sum_loss_parts(const double* reconstruction, const double* kl, int rows,
                    const StepState* state, double* totals, cudaStream_t stream);

// grad_mu = grad_z + w mu / rows;
// grad_logvar = grad_z eps exp(logvar/2) / 2 + w (exp(logvar) - 1) / (2 rows), 0 where clamped;
// w = state->kl_weight.
void reparameterize_backward(const float* grad_z, const float* mu, const float* logvar,
                             const float* logvar_raw, const float* eps, int rows, int latent,
                             const StepState* state, float low, float high, float* grad_mu,
                             float* grad_logvar, cudaStream_t stream);

// Records in `status` the first step whose loss total (totals[2 s], totals[2 s + 1]) or any
// gradient is not finite; later steps of a failed run are ignored.
void check_finite(const double* totals, const float* grads, std::size_t count,
                  const StepState* state, TrainingStatus* status, cudaStream_t stream);

struct AdamHyper {
  double learning_rate, beta1, beta2, epsilon;
};

// torch.optim.Adam over the flat buffers with t = state->global_step + 1; no update at all once
// status->failed_step >= 0.
void adam_update(float* params, const float* grads, float* m, float* v, std::size_t count,
                 AdamHyper hyper, const StepState* state, const TrainingStatus* status,
                 cudaStream_t stream);

}  // namespace vaead::cuda
