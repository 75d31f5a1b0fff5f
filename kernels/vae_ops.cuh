// Launchers of the VAE's own kernels: the step counters, the noise, the reparameterization, the
// fused reconstruction + KL loss and its gradient, Adam, and the non-finite guard.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "training_state.cuh"

namespace vaead::cuda {

// Every launcher handles `models` models side by side (see ModelTable): state and status are
// arrays of `models`, and each tensor is [models][...] with the model's slice contiguous.

// Starts an epoch (or a lone step) of every model: step_in_epoch = 0, the model's KL weight
// (kl_weights: device, [models]), a clean status; a model with frozen[m] != 0 (device, [models],
// or null for none) starts with status kFrozenStep instead: it computes, but never updates.
void begin_epoch(StepState* state, const double* kl_weights, const int* frozen, int models,
                 TrainingStatus* status, cudaStream_t stream);
// Ends a step: step_in_epoch advances by one, and global_step too unless the model's step was
// refused (its status has a failed step) or it is frozen.
void advance_step(StepState* state, const TrainingStatus* status, int models, cudaStream_t stream);
// Resets the whole state (new parameters): global_step = 0.
void reset_state(StepState* state, TrainingStatus* status, int models, cudaStream_t stream);

// eps[m][r][l] ~ N(0, 1) for l < table.latent[m], else 0: Philox4x32-10 with (table.seed[m],
// RandomStream::reparameterization), counter (l / 4, r, state[m].global_step): exactly the CPU
// engine's draws for that model alone.
void draw_eps(const ModelTable& table, const StepState* state, int rows, int latent_stride,
              float* eps, cudaStream_t stream);

// logvar = clamp(logvar_raw, low, high); z = mu + exp(logvar / 2) * eps, or z = mu without eps.
//   mu, logvar_raw, eps, logvar, z: [rows][latent] (rows: of every model together)
void reparameterize_forward(const float* mu, const float* logvar_raw, const float* eps, int rows,
                            int latent, float low, float high, float* logvar, float* z,
                            cudaStream_t stream);

// One pass over each row: reconstruction[r] = sum_j (x - x_hat)^2 and
// kl[r] = -1/2 sum_l (1 + logvar - mu^2 - exp(logvar)) over the model's own latents l <
// latent_of[m] (all `latent` when latent_of is null: the padding is not the model's, and with a
// clamp that excludes 0 its logvar is not 0), both in double; and the gradient of the batch-mean
// loss with respect to x_hat, 2 (x_hat - x) / rows.
//   x, x_hat, grad_x_hat: [models][rows][features]   mu, logvar: [models][rows][latent]
void loss_forward_backward(const float* x, const float* x_hat, const float* mu, const float* logvar,
                           int models, int rows, int features, int latent, const int* latent_of,
                           double* reconstruction, double* kl, float* grad_x_hat,
                           cudaStream_t stream);

// totals[m * totals_stride + 2 s] = sum_r reconstruction[m][r], and + 1 the KL, with
// s = state[m].step_in_epoch; one block per model, a fixed summation tree.
void sum_loss_parts(const double* reconstruction, const double* kl, int models, int rows,
                    const StepState* state, double* totals, std::size_t totals_stride,
                    cudaStream_t stream);

// grad_mu = grad_z + w mu / rows;
// grad_logvar = grad_z eps exp(logvar/2) / 2 + w (exp(logvar) - 1) / (2 rows), 0 where clamped;
// w = state[m].kl_weight of the row's model.
void reparameterize_backward(const float* grad_z, const float* mu, const float* logvar,
                             const float* logvar_raw, const float* eps, int models, int rows,
                             int latent, const StepState* state, float low, float high,
                             float* grad_mu, float* grad_logvar, cudaStream_t stream);

// Records in status[m] the first step whose loss total or any of model m's `count` gradients is
// not finite; later steps of a failed model are ignored. The gradient index is the smallest of the
// model's own parameters (in the padded layout): positions that `padding` marks as padding for
// latent_of[m] are not the model's and are skipped (latent_of null: no padding).
// With `partials` (the fused step's), each gradient is first summed from the blocks' partials
// in block order and written to grads: grads[m][i] = sum over b of
// partials[m][b][packed_index[i]].
struct GradientPartials {
  const float* partials = nullptr;  // [models][blocks][packed_size]
  int blocks = 0;
  long long packed_size = 0;
  const long long* packed_index = nullptr;  // [count]
};
void check_finite(const double* totals, std::size_t totals_stride, float* grads, std::size_t count,
                  int models, const LatentPadding& padding, const int* latent_of,
                  const StepState* state, TrainingStatus* status, cudaStream_t stream,
                  const GradientPartials& partials = {});

struct AdamHyper {
  double learning_rate, beta1, beta2, epsilon;
};

// torch.optim.Adam over each model's `count` flat values with t = state[m].global_step + 1; no
// update at all for a model once status[m].failed_step >= 0. A parameter whose gradient stays 0
// (padding) stays exactly where it is.
// With `packed` (the fused step's parameters), each updated value is also written to
// packed[m * packed_size + packed_index[i]].
struct PackedCopy {
  float* packed = nullptr;
  long long packed_size = 0;
  const long long* packed_index = nullptr;
};
void adam_update(float* params, const float* grads, float* first_moment, float* second_moment,
                 std::size_t count, int models, AdamHyper hyper, const StepState* state,
                 const TrainingStatus* status, cudaStream_t stream, const PackedCopy& copy = {});

}  // namespace vaead::cuda
