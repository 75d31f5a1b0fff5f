// Launchers of the dense (Linear) layer kernels. Plain pointers to device memory; row-major.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace vaead::cuda {

// Several models' layers in one launch: model z's operands are these many floats further on (0:
// shared). `input`: x (forward) or gx (backward input) and x (weight gradient); `output`: y or gy;
// `params`: w, bias, gw and gb (the models' flat buffers). The batch size is every model's.
struct ModelStrides {
  int models = 1;
  long long input = 0, output = 0, params = 0;
};

// A second layer with the same input and the same width as the one a call names (the latent
// heads, mu and logvar): both are taken in the same launch, as one product of twice the width.
// Each call reads the fields that mirror its own arguments; `w` nullptr: one layer.
struct SecondHead {
  const float* w = nullptr;     // [out][in]
  const float* bias = nullptr;  // dense_forward
  float* y = nullptr;           // dense_forward: its output [rows][out]
  const float* gy = nullptr;    // backward: the gradient of its output [rows][out]
  float* gw = nullptr;          // dense_backward_params: its gradients
  float* gb = nullptr;
};

// y[r][o] = bias[o] + sum_i x[r][i] * w[o][i], then max(y, 0) when `relu` (fused in one kernel).
//   x [rows][in]  w [out][in]  bias [out]  y [rows][out]
void dense_forward(const float* x, int rows, int in, const float* w, const float* bias, int out,
                   bool relu, float* y, cudaStream_t stream, const ModelStrides& models = {},
                   const SecondHead& second = {});

// gx[r][i] (+)= sum_o gy[r][o] * w[o][i] (+ the second head's sum, in the same chain); then gx =
// 0 where relu_output[r][i] <= 0 (when given).
//   gy [rows][out]  w [out][in]  relu_output [rows][in] or nullptr  gx [rows][in]
void dense_backward_input(const float* gy, int rows, int out, const float* w, int in,
                          bool accumulate, const float* relu_output, float* gx, cudaStream_t stream,
                          const ModelStrides& models = {}, const SecondHead& second = {});

// Blocks the weight gradient aims at: two on each of the 132 SMs of an H100 SXM or an H200.
inline constexpr int kWeightGradientFillBlocks = 2 * 132;

// The chunks of rows the weight gradient of an out x in product is split into (their lengths
// differ by at most one): enough that the blocks number at least kWeightGradientFillBlocks where
// the rows allow chunks of 8 rows (half a shared-memory stage) or more; never more for fewer rows.
// A function of the shape alone (not of the device or of the models trained beside), so a
// configuration's bits are the same on every GPU and in every sweep.
int dense_weight_gradient_chunks(int rows, int in, int out);
// Blocks dense_backward_params launches for `models` models: a block a chunk of rows and output
// tile, or, when the models fill the GPU with fewer, a block a group of chunks (the chunks are
// added in fixed groups either way: the bits do not depend on the models beside).
long long dense_weight_gradient_blocks(int rows, int in, int out, int models = 1);
// Floats of device workspace dense_backward_params needs (`out`: both heads' when it takes two).
std::size_t dense_backward_params_workspace(int rows, int in, int out, int models = 1);

// gw[o][i] = sum_r gy[r][o] * x[r][i] and gb[o] = sum_r gy[r][o] (and the second head's). Rows
// are split into fixed chunks, each summed from 0; their sums are added in fixed groups of
// consecutive chunks (each group from 0, the groups in order), through partial sums in
// `workspace`: no atomics, the same bits on every run and beside any number of models.
//   gy [rows][out]  x [rows][in]  gw [out][in]  gb [out]
//   workspace: dense_backward_params_workspace(rows, in, out, models) floats (2 * out with a
//   second head)
void dense_backward_params(const float* gy, const float* x, int rows, int in, int out, float* gw,
                           float* gb, float* workspace, cudaStream_t stream,
                           const ModelStrides& models = {}, const SecondHead& second = {});

}  // namespace vaead::cuda
