// The fused training step: one kernel takes tiles of a model's rows through the whole network,
// forward, loss and backward, with the activations in shared memory and the products on the
// tensor cores (WMMA, m16n16k8 TF32); the weight and bias gradients are summed per block into
// partials that a second kernel adds in block order (no float atomics: the same bits every run).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "rows.cuh"
#include "training_state.cuh"

namespace vaead::cuda {

// How the tensor cores multiply FP32 operands: tf32 rounds each operand to TF32 (10-bit mantissa)
// once; tf32x3 splits each into a TF32 part and a TF32 remainder and adds three products
// (big*big + big*small + small*big), which is about as accurate as FP32.
enum class TensorMath { tf32, tf32x3 };

inline constexpr int kFusedRows = 32;      // rows of a tile: two 16-row fragments
inline constexpr int kFusedThreads = 128;  // four warps
inline constexpr int kFusedMaxLayers = 12;
inline constexpr int kFusedWidthMultiple = 16;

// The network as the fused kernel walks it: dense layers in forward order, the encoder's, then
// the two latent heads as one layer of width 2 L (mu rows, then logvar rows), then the decoder's;
// every width padded to a multiple of 16 with zero weights. Weights and biases sit in one packed
// buffer per model ([out][in] row-major, then [out]), each at a 32-byte-aligned offset.
struct FusedShape {
  int layers = 0;
  int heads = 0;          // the heads' index: layers before it are the encoder's
  int features = 0;       // the true input width
  int latent = 0;         // the padded latent width L (a multiple of 16); the heads are 2 L wide
  int latent_stride = 0;  // the engine's latent width (the largest model's latent size)
  int in[kFusedMaxLayers] = {}, out[kFusedMaxLayers] = {};
  long long weight[kFusedMaxLayers] = {}, bias[kFusedMaxLayers] = {};  // packed offsets
  long long packed_size = 0;  // floats of one model's packed buffer
  // Shared memory, in floats from the block's base: the input x, each layer's output, z, eps and
  // two gradient buffers; each [kFusedRows][width + 4] (4 floats of skew against bank conflicts).
  int buffers = 0;
  int buffer_offset[kFusedMaxLayers + 5] = {}, buffer_ld[kFusedMaxLayers + 5] = {};
  std::size_t shared_bytes = 0;
};

// What one fused step reads and writes. Model m = blockIdx.y; each model's blocks_per_model
// blocks take its row tiles b, b + blocks_per_model, ... in order.
struct FusedStepArgs {
  const float* packed;  // [models][packed_size]: the parameters in the fused layout
  float* partials;      // [models][blocks_per_model][packed_size]: each block's gradient sums
  int blocks_per_model = 1;
  int rows = 0;  // the batch's rows (the loss is their mean)
  // The batch: `batch` [models][rows][features] when given; else row order[slot][step *
  // batch_size + r] of the model's data slot in `data` ([slots][rows][features]).
  const float* batch = nullptr;
  const float* data = nullptr;
  const unsigned* order = nullptr;
  DataSlots slots;
  int batch_size = 0;
  // The noise: `eps` [models][rows][latent_stride] when given; else drawn as draw_eps draws it.
  const float* eps = nullptr;
  ModelTable table;
  const StepState* state = nullptr;
  float logvar_low = 0, logvar_high = 0;
  double* reconstruction = nullptr;  // [models][rows]
  double* kl = nullptr;              // [models][rows]
};

// The blocks each model's step runs on (each keeps one set of gradient partials): a function of
// the rows only, so the summation order (hence the bits) depends neither on the GPU nor on the
// models trained beside it.
int fused_blocks_per_model(int rows);

// Raises the fused kernels' shared memory limit (once per process and shape size).
void prepare_fused_step(const FusedShape& shape, TensorMath math);

void fused_step(const FusedShape& shape, TensorMath math, const FusedStepArgs& args, int models,
                cudaStream_t stream);

// packed[m][packed_index[i]] = params[m][i] for i < count (the padding keeps its zeros).
void pack_parameters(const float* params, std::size_t count, const long long* packed_index,
                     long long packed_size, int models, float* packed, cudaStream_t stream);

// The partials are added by check_finite (vae_ops.cuh, GradientPartials), and Adam writes the
// packed parameters (PackedCopy): a step is this kernel, the loss sums, the guard, Adam and the
// counters.

}  // namespace vaead::cuda
