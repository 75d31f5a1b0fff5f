// The dense layer on the GPU: one tiled FP32 GEMM, templated on which operand dimension is
// contiguous in memory, with the layer's work fused into its epilogue (bias + ReLU forward; the
// ReLU mask and accumulation backward; split partial sums for the weight gradient).
//
// Napkin math, default VAE at batch 4096: the widest layer (128 x 64) is 2 * 4096 * 128 * 64 =
// 67 MFLOP forward and reads 4096 * 128 * 4 B = 2 MB: at ~60 TFLOP/s FP32 and ~4 TB/s that is
// ~1 us of math and ~0.5 us of memory, so these kernels are latency- and occupancy-bound at small
// batches; the tile sizes here favour correctness and reasonable occupancy, and bench/ measures
// them against cuBLAS.
//
// Pointers (device memory the CUDA engine owns; declared in dense.cuh): x [rows][in], gy
// [rows][out], y, gx row-major; w [out][in] (PyTorch's layout), bias [out]; gw [out][in] and gb
// [out], or the split partial sums [splits][out][in]; rows of every model together.
// CPU reference: the CPU engine's layer ops (host/cpu/dense_ops.hpp), summed in double in the test.
// Tests: tests/gpu/test_gpu_dense.cpp (GpuDense.*: forward, input gradient, weight gradient
// against the CPU ops on random shapes, and cuBLAS).
#include <algorithm>
#include <climits>
#include <string>

#include "cuda_check.cuh"
#include "dense.cuh"
#include "launch.cuh"

namespace vaead::cuda {
namespace {

constexpr int kTile = 64;      // output tile: kTile x kTile
constexpr int kDepth = 16;     // k per shared-memory stage
constexpr int kThreads = 256;  // 16 x 16 threads, each 4 x 4 outputs
constexpr int kSide = 16;
constexpr int kPerThread = kTile / kSide;

// A(m, k) = a[m * stride_m + k * stride_k]; B(k, n) = b[k * stride_k + n * stride_n]; model z's
// operand starts stride_model further on (0: shared by every model).
struct Operand {
  const float* data;
  long long stride_outer;  // along m (for A) or n (for B)
  long long stride_k;
  long long stride_model;
};

// C[m][n] = sum over k in this block's chunk of A(m, k) * B(k, n), handed to `epilogue(m, n, value,
// chunk, model)`; blockIdx.z = model * chunks + chunk. kAContiguousInK / kBContiguousInN choose the
// load order so that neighbouring threads read neighbouring addresses. Each output is summed by one
// thread in increasing k: deterministic. With kRowSums, the blocks of the first column of tiles
// also sum each row of A over the chunk from the tile already in shared memory (in increasing k)
// and hand it to `epilogue.row_sum(m, sum, chunk, model)`: the bias gradient without a launch.
template <bool kAContiguousInK, bool kBContiguousInN, class Epilogue, bool kRowSums = false>
__global__ void __launch_bounds__(kThreads)
    tiled_gemm(int m_size, int n_size, int k_size, int k_chunk, int chunks, Operand a, Operand b,
               Epilogue epilogue) {
  __shared__ float a_tile[kDepth][kTile + 1];  // +1: no bank conflicts on transposed stores
  __shared__ float b_tile[kDepth][kTile + 1];
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % kSide, ty = tid / kSide;
  const int m0 = static_cast<int>(blockIdx.y) * kTile;
  const int n0 = static_cast<int>(blockIdx.x) * kTile;
  const int model = static_cast<int>(blockIdx.z) / chunks;
  const int chunk = static_cast<int>(blockIdx.z) % chunks;
  a.data += model * a.stride_model;
  b.data += model * b.stride_model;
  const int k_begin = chunk * k_chunk;
  const int k_end = min(k_size, k_begin + k_chunk);

  float acc[kPerThread][kPerThread] = {};
  const bool sums_rows = kRowSums && blockIdx.x == 0 && tid < kTile;
  float row_sum = 0.0f;  // of A's row m0 + tid
  for (int k0 = k_begin; k0 < k_end; k0 += kDepth) {
    for (int e = tid; e < kTile * kDepth; e += kThreads) {
      const int mm = kAContiguousInK ? e / kDepth : e % kTile;
      const int kk = kAContiguousInK ? e % kDepth : e / kTile;
      const int m = m0 + mm, k = k0 + kk;
      const bool inside = m < m_size && k < k_end;
      const long long at = m * a.stride_outer + static_cast<long long>(k) * a.stride_k;
      a_tile[kk][mm] = inside ? a.data[at] : 0.0f;  // zeros pad the edge tiles
    }
    for (int e = tid; e < kTile * kDepth; e += kThreads) {
      const int nn = kBContiguousInN ? e % kTile : e / kDepth;
      const int kk = kBContiguousInN ? e / kTile : e % kDepth;
      const int n = n0 + nn, k = k0 + kk;
      const bool inside = n < n_size && k < k_end;
      const long long at = n * b.stride_outer + static_cast<long long>(k) * b.stride_k;
      b_tile[kk][nn] = inside ? b.data[at] : 0.0f;
    }
    __syncthreads();
    if (sums_rows)
      for (int kk = 0; kk < kDepth; ++kk)
        row_sum += a_tile[kk][tid];  // zeros beyond the chunk: the sum is unchanged
#pragma unroll
    for (int kk = 0; kk < kDepth; ++kk) {
      float a_values[kPerThread], b_values[kPerThread];
#pragma unroll
      for (int i = 0; i < kPerThread; ++i)
        a_values[i] = a_tile[kk][ty + kSide * i];
#pragma unroll
      for (int j = 0; j < kPerThread; ++j)
        b_values[j] = b_tile[kk][tx + kSide * j];
#pragma unroll
      for (int i = 0; i < kPerThread; ++i)
#pragma unroll
        for (int j = 0; j < kPerThread; ++j)
          acc[i][j] = fmaf(a_values[i], b_values[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < kPerThread; ++i)
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      const int m = m0 + ty + kSide * i, n = n0 + tx + kSide * j;
      if (m < m_size && n < n_size) epilogue(m, n, acc[i][j], chunk, model);
    }
  if constexpr (kRowSums)
    if (sums_rows && m0 + tid < m_size) epilogue.row_sum(m0 + tid, row_sum, chunk, model);
}

struct BiasReluEpilogue {
  float* y;
  const float* bias;
  int width;
  bool relu;
  long long y_stride, bias_stride;  // between models
  __device__ void operator()(int m, int n, float value, int, int model) const {
    value += bias[model * bias_stride + n];
    // As std::max(value, 0) on the CPU: NaN passes through (fmaxf would turn it into 0 and hide
    // it from the non-finite guard).
    y[model * y_stride + static_cast<long long>(m) * width + n] =
        relu && value < 0.0f ? 0.0f : value;
  }
};

struct InputGradientEpilogue {
  float* gx;
  const float* relu_output;
  int width;
  bool accumulate;
  long long stride;  // of gx and relu_output, between models
  __device__ void operator()(int m, int n, float value, int, int model) const {
    const long long index = model * stride + static_cast<long long>(m) * width + n;
    if (accumulate) value += gx[index];
    if (relu_output != nullptr && !(relu_output[index] > 0.0f)) value = 0.0f;
    gx[index] = value;
  }
};

struct PartialSumEpilogue {
  float* partial;       // [model][chunk][m_size][n_size]
  float* partial_bias;  // [model][chunk][m_size]: the sums of gy over the chunk's rows
  int m_size, n_size, chunks;
  __device__ void operator()(int m, int n, float value, int chunk, int model) const {
    partial[((static_cast<long long>(model) * chunks + chunk) * m_size + m) * n_size + n] = value;
  }
  __device__ void row_sum(int m, float sum, int chunk, int model) const {
    partial_bias[(static_cast<long long>(model) * chunks + chunk) * m_size + m] = sum;
  }
};

// gw = sum over chunks of the weight partials, gb likewise; chunks added in order. Model
// blockIdx.y's partials and gradients are `partial_stride` and `grad_stride` further on.
__global__ void add_partials(const float* partial_w, const float* partial_b, int chunks,
                             int weight_count, int out, float* gw, float* gb,
                             long long grad_stride) {
  const int index = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const long long model = blockIdx.y;
  partial_w += model * chunks * weight_count;
  partial_b += model * chunks * out;
  gw += model * grad_stride;
  gb += model * grad_stride;
  if (index < weight_count) {
    float sum = 0.0f;
    for (int c = 0; c < chunks; ++c)
      sum += partial_w[static_cast<long long>(c) * weight_count + index];
    gw[index] = sum;
  } else if (index < weight_count + out) {
    const int o = index - weight_count;
    float sum = 0.0f;
    for (int c = 0; c < chunks; ++c)
      sum += partial_b[static_cast<long long>(c) * out + o];
    gb[o] = sum;
  }
}

dim3 tile_grid(int m_size, int n_size, int depth) {
  return dim3(static_cast<unsigned>((n_size + kTile - 1) / kTile),
              static_cast<unsigned>((m_size + kTile - 1) / kTile), static_cast<unsigned>(depth));
}

void check_sizes(int rows, int in, int out, const char* name, int models = 1) {
  check_argument(models >= 1 && models <= 65535,
                 std::string(name) + ": 1 to 65535 models, got " + std::to_string(models));
  const std::string sizes = " (rows " + std::to_string(rows) + ", in " + std::to_string(in) +
                            ", out " + std::to_string(out) + ")";
  check_argument(rows >= 1 && in >= 1 && out >= 1,
                 std::string(name) + ": sizes must be positive" + sizes);
  // Tiles along rows (or outputs) run on grid.y, which holds at most 65535 blocks.
  constexpr int kMaxTiled = 65535 * kTile;
  check_argument(rows <= kMaxTiled && out <= kMaxTiled,
                 std::string(name) + ": more than " + std::to_string(kMaxTiled) + " rows" + sizes);
  // A layer's weights are indexed with int (add_partials): in * out + out must fit.
  check_argument(static_cast<long long>(in) * out + out <= INT_MAX,
                 std::string(name) + ": more than 2^31 - 1 weights" + sizes);
}

int chunk_rows_for(int rows) {
  const int splits = dense_row_splits(rows);
  const int per_chunk = (rows + splits - 1) / splits;
  return (per_chunk + kDepth - 1) / kDepth * kDepth;
}

}  // namespace

void dense_forward(const float* x, int rows, int in, const float* w, const float* bias, int out,
                   bool relu, float* y, cudaStream_t stream, const ModelStrides& models) {
  check_sizes(rows, in, out, "dense_forward", models.models);
  // C[rows][out]: A(m, k) = x[m][k] (contiguous in k), B(k, n) = w[n][k] (contiguous in k).
  launch("dense_forward", tiled_gemm<true, false, BiasReluEpilogue>,
         tile_grid(rows, out, models.models), kThreads, stream, rows, out, in, in, 1,
         Operand{x, in, 1, models.input}, Operand{w, in, 1, models.params},
         BiasReluEpilogue{y, bias, out, relu, models.output, models.params});
}

void dense_backward_input(const float* gy, int rows, int out, const float* w, int in,
                          bool accumulate, const float* relu_output, float* gx, cudaStream_t stream,
                          const ModelStrides& models) {
  check_sizes(rows, in, out, "dense_backward_input", models.models);
  // C[rows][in]: A(m, k) = gy[m][k] (contiguous in k), B(k, n) = w[k][n] (contiguous in n).
  launch("dense_backward_input", tiled_gemm<true, true, InputGradientEpilogue>,
         tile_grid(rows, in, models.models), kThreads, stream, rows, in, out, out, 1,
         Operand{gy, out, 1, models.output}, Operand{w, 1, in, models.params},
         InputGradientEpilogue{gx, relu_output, in, accumulate, models.input});
}

int dense_row_splits(int rows) {
  return std::clamp((rows + 511) / 512, 1, 64);
}

std::size_t dense_backward_params_workspace(int rows, int in, int out, int models) {
  const auto splits = static_cast<std::size_t>(dense_row_splits(rows));
  return static_cast<std::size_t>(models) * splits * static_cast<std::size_t>(out) *
         static_cast<std::size_t>(in + 1);
}

void dense_backward_params(const float* gy, const float* x, int rows, int in, int out, float* gw,
                           float* gb, float* workspace, cudaStream_t stream,
                           const ModelStrides& models) {
  check_sizes(rows, in, out, "dense_backward_params", models.models);
  const int chunk_rows = chunk_rows_for(rows);
  const int chunks = (rows + chunk_rows - 1) / chunk_rows;
  const int count = models.models;
  check_argument(static_cast<long long>(count) * chunks <= 65535,
                 "dense_backward_params: models x row chunks exceeds 65535");
  float* partial_w = workspace;
  float* partial_b = workspace + static_cast<std::size_t>(count) * chunks * out * in;
  // C[out][in] per chunk of rows: A(m, k) = gy[k][m] (contiguous in m), B(k, n) = x[k][n]; the
  // bias partials are A's row sums, taken from the same shared-memory tiles.
  launch("dense_backward_params (weights and bias)",
         tiled_gemm<false, true, PartialSumEpilogue, true>, tile_grid(out, in, count * chunks),
         kThreads, stream, out, in, rows, chunk_rows, chunks, Operand{gy, 1, out, models.output},
         Operand{x, 1, in, models.input},
         PartialSumEpilogue{partial_w, partial_b, out, in, chunks});
  const int total = out * in + out;
  launch("dense_backward_params (reduce)", add_partials,
         dim3(blocks_for(total), static_cast<unsigned>(count)), kBlock, stream, partial_w,
         partial_b, chunks, out * in, out, gw, gb, models.params);
}

}  // namespace vaead::cuda
