// Adam over each model's slice of the flat parameter buffer; a refused or frozen step takes none.
#include <climits>
#include <cmath>

#include "cuda_check.cuh"
#include "launch.cuh"
#include "vae_ops.cuh"

namespace vaead::cuda {
namespace {

// Model blockIdx.y's slice of the flat buffers (count values each).
__global__ void adam_kernel(float* params, const float* grads, float* first_moment,
                            float* second_moment, std::size_t count, AdamHyper hyper,
                            const StepState* state, const TrainingStatus* status) {
  const int model = static_cast<int>(blockIdx.y);
  state += model;
  const std::size_t offset = model * count;
  params += offset;
  grads += offset;
  first_moment += offset;
  second_moment += offset;
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i >= count || status[model].failed_step >= 0) return;
  // The same constants as the CPU engine: computed in double, then rounded to float.
  const double t = static_cast<double>(state->global_step + 1);
  const float step_size = static_cast<float>(hyper.learning_rate / (1.0 - pow(hyper.beta1, t)));
  const float bias_correction2_sqrt = static_cast<float>(sqrt(1.0 - pow(hyper.beta2, t)));
  const float beta1 = static_cast<float>(hyper.beta1), beta2 = static_cast<float>(hyper.beta2);
  const float g = grads[i];
  const float m_new = beta1 * first_moment[i] + (1.0f - beta1) * g;
  const float v_new = beta2 * second_moment[i] + (1.0f - beta2) * g * g;
  first_moment[i] = m_new;
  second_moment[i] = v_new;
  params[i] -= step_size * m_new /
               (sqrtf(v_new) / bias_correction2_sqrt + static_cast<float>(hyper.epsilon));
}

}  // namespace

void adam_update(float* params, const float* grads, float* first_moment, float* second_moment,
                 std::size_t count, int models, AdamHyper hyper, const StepState* state,
                 const TrainingStatus* status, cudaStream_t stream) {
  launch("adam_update", adam_kernel,
         dim3(blocks_for(static_cast<long long>(count)), static_cast<unsigned>(models)), kBlock,
         stream, params, grads, first_moment, second_moment, count, hyper, state, status);
}

}  // namespace vaead::cuda
