// The plain reference of the dense layer's three operations: short loops, one explicit std::fma a
// product, each sum over its index in order. They are written to be read, not to be fast: the
// tiled CPU ops (dense_ops.hpp) must equal them bit for bit (their sums run in the same order),
// and the GPU kernels (kernels/dense.cu) must come within float rounding of them
// (tests/test_cpu_engine.cpp, tests/gpu/test_gpu_dense.cpp).
//   x  [rows][in]    layer input            w  [out][in]   weights (PyTorch's layout)
//   y  [rows][out]   layer output           bias, gb [out]
//   gy [rows][out]   gradient of the output gx [rows][in]  gradient of the input
//   gw [out][in]     weight gradient        mask [rows][in] the input's own activation, or null
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace vaead::cpu::reference {

// y[r][o] = bias[o] + sum_i x[r][i] w[o][i], then max(0, .) when relu.
template <class T>
void linear_forward(const T* x, std::size_t rows, std::size_t in, const T* w, const T* bias,
                    std::size_t out, bool relu, T* y) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t o = 0; o < out; ++o) {
      T sum = bias[o];
      for (std::size_t i = 0; i < in; ++i)
        sum = std::fma(x[r * in + i], w[o * in + i], sum);
      y[r * out + o] = relu ? std::max(sum, T(0)) : sum;
    }
}

// gx[r][i] += sum_o gy[r][o] w[o][i], then 0 where the mask (the ReLU's output) is not positive.
template <class T>
void linear_backward_input(const T* gy, std::size_t rows, std::size_t out, const T* w,
                           std::size_t in, const T* mask, T* gx) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t i = 0; i < in; ++i) {
      T sum = gx[r * in + i];
      for (std::size_t o = 0; o < out; ++o)
        sum = std::fma(gy[r * out + o], w[o * in + i], sum);
      gx[r * in + i] = mask != nullptr && !(mask[r * in + i] > T(0)) ? T(0) : sum;
    }
}

// gw[o][i] = sum_r gy[r][o] x[r][i]; gb[o] = sum_r gy[r][o], summed in double.
template <class T>
void linear_backward_params(const T* gy, const T* x, std::size_t rows, std::size_t in,
                            std::size_t out, T* gw, T* gb) {
  for (std::size_t o = 0; o < out; ++o) {
    for (std::size_t i = 0; i < in; ++i) {
      T sum = T(0);
      for (std::size_t r = 0; r < rows; ++r)
        sum = std::fma(gy[r * out + o], x[r * in + i], sum);
      gw[o * in + i] = sum;
    }
    double bias_sum = 0.0;
    for (std::size_t r = 0; r < rows; ++r)
      bias_sum += static_cast<double>(gy[r * out + o]);
    gb[o] = static_cast<T>(bias_sum);
  }
}

}  // namespace vaead::cpu::reference
