// The step counters of every model: an epoch begun, a step ended (or refused), a state reset.
//
// Pointers (device memory the CUDA engine owns; declared in vae_ops.cuh): state, status,
// kl_weights, frozen [models].
// Napkin math: a few integer operations per model: launch-bound (one thread per model).
// CPU reference: the trainer's counters (host/train/trainer.cpp: the step, the epoch, Adam's t).
// Tests: tests/gpu/test_gpu_engine.cpp, GpuEngine.AfterARefusedStepTheCountersMatchTheCpuEngine.
#include <climits>
#include <cmath>

#include "cuda_check.cuh"
#include "launch.cuh"
#include "vae_ops.cuh"

namespace vaead::cuda {
namespace {

// One thread per model.
__global__ void begin_epoch_kernel(StepState* state, const double* kl_weights, const int* frozen,
                                   int models, TrainingStatus* status) {
  const int model = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (model >= models) return;
  state[model].step_in_epoch = 0;
  state[model].kl_weight = kl_weights[model];
  const bool stopped = frozen != nullptr && frozen[model] != 0;
  status[model] = TrainingStatus{stopped ? kFrozenStep : -1, 0, INT_MAX};
}

// A model whose step was refused (or that is frozen) keeps its step count: its next update draws
// the noise and takes the Adam step the refused one would have, as on the CPU.
__global__ void advance_step_kernel(StepState* state, const TrainingStatus* status, int models) {
  const int model = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (model >= models) return;
  if (status[model].failed_step < 0) state[model].global_step += 1;
  state[model].step_in_epoch += 1;
}

__global__ void reset_state_kernel(StepState* state, TrainingStatus* status, int models) {
  const int model = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (model >= models) return;
  state[model] = StepState{0, 0, 0.0};
  status[model] = TrainingStatus{-1, 0, INT_MAX};
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

}  // namespace vaead::cuda
