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

// y[r][o] = bias[o] + sum_i x[r][i] * w[o][i], then max(y, 0) when `relu` (fused in one kernel).
//   x [rows][in]  w [out][in]  bias [out]  y [rows][out]
void dense_forward(const float* x, int rows, int in, const float* w, const float* bias, int out,
                   bool relu, float* y, cudaStream_t stream, const ModelStrides& models = {});

// gx[r][i] (+)= sum_o gy[r][o] * w[o][i]; then gx = 0 where relu_output[r][i] <= 0 (when given).
//   gy [rows][out]  w [out][in]  relu_output [rows][in] or nullptr  gx [rows][in]
void dense_backward_input(const float* gy, int rows, int out, const float* w, int in,
                          bool accumulate, const float* relu_output, float* gx, cudaStream_t stream,
                          const ModelStrides& models = {});

// The chunks of rows the weight gradient is split into (a function of `rows` only, so the bits
// of a given configuration never change).
int dense_row_splits(int rows);
// Floats of device workspace dense_backward_params needs.
std::size_t dense_backward_params_workspace(int rows, int in, int out, int models = 1);

// gw[o][i] = sum_r gy[r][o] * x[r][i] and gb[o] = sum_r gy[r][o]. Rows are split into fixed
// chunks; each chunk's partial sums go to `workspace`, then are added in chunk order: no atomics,
// the same bits on every run.
//   gy [rows][out]  x [rows][in]  gw [out][in]  gb [out]
//   workspace: dense_backward_params_workspace(rows, in, out) floats
void dense_backward_params(const float* gy, const float* x, int rows, int in, int out, float* gw,
                           float* gb, float* workspace, cudaStream_t stream,
                           const ModelStrides& models = {});

}  // namespace vaead::cuda
