// The CPU reference ops of one Linear layer: plain loops, written to be read and to vectorize.
//
// Threads: every parallel loop partitions its *outputs* (rows of y, rows of gx, rows of gW), and
// each output is summed in a fixed order by one thread, so the bits never depend on the thread
// count. Inner loops run over a contiguous dimension as y[:] += a * w[:] (an axpy), which compilers
// vectorize without reassociating any sum.
#pragma once

#include <algorithm>
#include <cstddef>

namespace vaead::cpu {

template <class Body>
void parallel_for(int threads, std::size_t count, const Body& body) {
  const auto n = static_cast<std::ptrdiff_t>(count);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && n > 1)
  for (std::ptrdiff_t i = 0; i < n; ++i)
    body(static_cast<std::size_t>(i));
}

// wt[i][o] = w[o][i]: W^T, so the forward pass walks weights contiguously per input.
template <class T>
void transpose(const T* w, std::size_t out, std::size_t in, T* wt) {
  for (std::size_t o = 0; o < out; ++o)
    for (std::size_t i = 0; i < in; ++i)
      wt[i * out + o] = w[o * in + i];
}

// y[r][o] = bias[o] + sum_i x[r][i] * w[o][i], then max(y, 0) when `relu`.
//   x  [rows][in]   layer input          wt   [in][out]  W^T (see transpose)
//   y  [rows][out]  layer output         bias [out]
// Inputs that are exactly zero (half of them after a ReLU) are skipped: adding 0 * w changes
// nothing, so the result is the same and the work is halved.
template <class T>
void linear_forward(const T* x, std::size_t rows, std::size_t in, const T* wt, const T* bias,
                    std::size_t out, bool relu, T* y, int threads) {
  parallel_for(threads, rows, [&](std::size_t r) {
    const T* xr = x + r * in;
    T* yr = y + r * out;
    std::copy(bias, bias + out, yr);
    for (std::size_t i = 0; i < in; ++i) {
      const T xi = xr[i];
      if (xi == T(0)) continue;
      const T* wi = wt + i * out;
      for (std::size_t o = 0; o < out; ++o)
        yr[o] += xi * wi[o];
    }
    if (relu)
      for (std::size_t o = 0; o < out; ++o)
        yr[o] = std::max(yr[o], T(0));
  });
}

// gx[r][i] (+)= sum_o gy[r][o] * w[o][i]; when `relu_output` is given, gx is then masked by
// relu_output[r][i] > 0 (the ReLU that produced this layer's input; its derivative at 0 is 0).
//   gy [rows][out]  gradient of the layer output     w [out][in]  the weights
//   gx [rows][in]   gradient of the layer input      relu_output [rows][in] or nullptr
template <class T>
void linear_backward_input(const T* gy, std::size_t rows, std::size_t out, const T* w,
                           std::size_t in, bool accumulate, const T* relu_output, T* gx,
                           int threads) {
  parallel_for(threads, rows, [&](std::size_t r) {
    const T* gyr = gy + r * out;
    T* gxr = gx + r * in;
    if (!accumulate) std::fill(gxr, gxr + in, T(0));
    for (std::size_t o = 0; o < out; ++o) {
      const T g = gyr[o];
      if (g == T(0)) continue;
      const T* wo = w + o * in;
      for (std::size_t i = 0; i < in; ++i)
        gxr[i] += g * wo[i];
    }
    if (relu_output != nullptr) {
      const T* ar = relu_output + r * in;
      for (std::size_t i = 0; i < in; ++i)
        gxr[i] = ar[i] > T(0) ? gxr[i] : T(0);
    }
  });
}

// gw[o][i] = sum_r gy[r][o] * x[r][i] and gb[o] = sum_r gy[r][o], summed over rows in order
// (the bias in double).
//   gy [rows][out]  gradient of the layer output     x  [rows][in]  layer input
//   gw [out][in]    weight gradient (overwritten)    gb [out]       bias gradient (overwritten)
template <class T>
void linear_backward_params(const T* gy, const T* x, std::size_t rows, std::size_t in,
                            std::size_t out, T* gw, T* gb, int threads) {
  parallel_for(threads, out, [&](std::size_t o) {
    T* gwo = gw + o * in;
    std::fill(gwo, gwo + in, T(0));
    double bias_sum = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
      const T g = gy[r * out + o];
      if (g == T(0)) continue;
      bias_sum += static_cast<double>(g);
      const T* xr = x + r * in;
      for (std::size_t i = 0; i < in; ++i)
        gwo[i] += g * xr[i];
    }
    gb[o] = static_cast<T>(bias_sum);
  });
}

}  // namespace vaead::cpu
