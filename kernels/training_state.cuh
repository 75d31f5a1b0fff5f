// Device-resident counters and flags of a training run. A captured CUDA graph replays the same
// kernels with the same arguments every step; everything that changes from step to step (the batch
// offset, the noise counter, Adam's t, the KL weight) is read from here instead.
#pragma once

#include <cstdint>

#include "vaead/host_device.hpp"

namespace vaead::cuda {

struct StepState {
  long long global_step;  // Adam updates taken so far; the eps counter of the next step
  int step_in_epoch;      // index of the next step within the epoch: its batch and loss slot
  double kl_weight;       // beta_t of the current epoch (double, as the CPU engine holds it)
};

// Models trained side by side in the same kernels: model m's tensors sit at m * (its stride) in
// every buffer, and it has its own StepState and TrainingStatus (index m). What differs between
// the models, on the device:
struct ModelTable {
  int models;
  const std::uint64_t* seed;  // [models]: the eps draws
  const int* latent;          // [models]: the model's own latent size (<= the padded stride)
};

// The first non-finite value met, as the CPU engine reports it.
struct TrainingStatus {
  int failed_step;      // step_in_epoch of the first failing step; -1 while everything is finite
  int loss_non_finite;  // 1 when that step's loss was not finite
  int bad_gradient;     // smallest flat index of a non-finite gradient (INT_MAX when none)
};

// failed_step of a model frozen for the whole epoch (one that failed in an earlier epoch of a
// sweep): no step of it is recorded or updates anything.
inline constexpr int kFrozenStep = 2147483647;

}  // namespace vaead::cuda

namespace vaead::cuda {

// Where the latent padding lies in one model's slice of a padded buffer (models of different
// latent sizes trained side by side share the largest): the rows of the mu and logvar heads and
// the columns of the first decoder layer at and beyond the model's own latent size. The host fills
// it from the padded ParameterLayout (latent_padding in host/cuda/sizes.hpp).
struct LatentPadding {
  long long mu_weight = 0, mu_bias = 0, logvar_weight = 0, logvar_bias = 0, decoder_weight = 0;
  int head_inputs = 0;      // columns of a head's weight
  int decoder_outputs = 0;  // rows of the first decoder layer's weight
  int latent_stride = 0;    // the padded latent size (0: no padding)
};

// Whether flat index i of the padded layout is padding for a model of latent size `latent`.
VAEAD_HOST_DEVICE inline bool is_latent_padding(const LatentPadding& p, long long i, int latent) {
  if (latent >= p.latent_stride) return false;
  const long long head = static_cast<long long>(p.latent_stride) * p.head_inputs;
  if (i >= p.mu_weight && i < p.mu_weight + head)
    return (i - p.mu_weight) / p.head_inputs >= latent;
  if (i >= p.logvar_weight && i < p.logvar_weight + head)
    return (i - p.logvar_weight) / p.head_inputs >= latent;
  if (i >= p.mu_bias && i < p.mu_bias + p.latent_stride) return i - p.mu_bias >= latent;
  if (i >= p.logvar_bias && i < p.logvar_bias + p.latent_stride) return i - p.logvar_bias >= latent;
  const long long decoder = static_cast<long long>(p.decoder_outputs) * p.latent_stride;
  if (i >= p.decoder_weight && i < p.decoder_weight + decoder)
    return (i - p.decoder_weight) % p.latent_stride >= latent;
  return false;
}

}  // namespace vaead::cuda
