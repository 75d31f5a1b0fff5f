// Adam over each model's slice of the flat parameter buffer; a refused or frozen step takes none.
//
// Pointers (device memory the CUDA engine owns; declared in vae_ops.cuh): params, grads,
// first_moment, second_moment [models][count] in the padded ParameterLayout (weights [out][in],
// then bias); state, status [models]; copy.packed [models][packed_size] (the fused step's
// parameters), copy.packed_index [count]. Napkin math: per parameter ~10 FLOPs and 20 bytes (read
// p, g, m, v; write p, m, v; 4 B each): the default VAE's ~27 K parameters x 64 models = 1.7 M
// values, ~35 MB a step: memory-bound, ~10 us at ~3.5 TB/s. bench_kernels reports its GB/s. CPU
// reference: adam_element (hostdevice/vaead/vae_elements.hpp), as CpuModel::adam_update calls it.
// Test: tests/gpu/test_gpu_ops.cpp, GpuOps.AdamMatchesTorchFormulaAndStopsAfterAFailure.
#include <climits>
#include <cstdint>

#include "cuda_check.cuh"
#include "launch.cuh"
#include "vae_ops.cuh"
#include "vaead/vae_elements.hpp"

namespace vaead::cuda {
namespace {

// Model blockIdx.y's slice of the flat buffers (count values each).
__global__ void adam_kernel(float* params, const float* grads, float* first_moment,
                            float* second_moment, std::size_t count, AdamHyper hyper,
                            const StepState* state, const TrainingStatus* status, PackedCopy copy) {
  const int model = static_cast<int>(blockIdx.y);
  state += model;
  const std::size_t offset = model * count;
  params += offset;
  grads += offset;
  first_moment += offset;
  second_moment += offset;
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i >= count || status[model].failed_step >= 0) return;
  // The same constants and update as the CPU engine (vaead/vae_elements.hpp).
  const elements::AdamStep constants =
      elements::adam_step(hyper.learning_rate, hyper.beta1, hyper.beta2,
                          static_cast<std::uint64_t>(state->global_step + 1));
  elements::adam_element(
      grads[i], static_cast<float>(hyper.beta1), static_cast<float>(hyper.beta2),
      static_cast<float>(constants.step_size), static_cast<float>(constants.bias_correction2_sqrt),
      static_cast<float>(hyper.epsilon), &params[i], &first_moment[i], &second_moment[i]);
  if (copy.packed != nullptr)
    copy.packed[model * copy.packed_size + copy.packed_index[i]] = params[i];
}

}  // namespace

void adam_update(float* params, const float* grads, float* first_moment, float* second_moment,
                 std::size_t count, int models, AdamHyper hyper, const StepState* state,
                 const TrainingStatus* status, cudaStream_t stream, const PackedCopy& copy) {
  launch("adam_update", adam_kernel,
         dim3(blocks_for(static_cast<long long>(count)), static_cast<unsigned>(models)), kBlock,
         stream, params, grads, first_moment, second_moment, count, hyper, state, status, copy);
}

}  // namespace vaead::cuda
