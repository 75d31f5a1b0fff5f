// Device-resident counters and flags of a training run. A captured CUDA graph replays the same
// kernels with the same arguments every step; everything that changes from step to step (the batch
// offset, the noise counter, Adam's t, the KL weight) is read from here instead.
#pragma once

#include <cstdint>

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

}  // namespace vaead::cuda
