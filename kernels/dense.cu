// The dense layer on the GPU: one tiled FP32 GEMM, templated on which operand dimension is
// contiguous in memory, with the layer's work fused into its epilogue (bias + ReLU forward; the
// ReLU mask and accumulation backward; split partial sums for the weight gradient).
//
// Napkin math, default VAE at batch 4096: the widest layer (128 x 64) is 2 * 4096 * 128 * 64 =
// 67 MFLOP forward and reads 4096 * 128 * 4 B = 2 MB: at ~60 TFLOP/s FP32 and ~4 TB/s that is
// ~1 us of math and ~0.5 us of memory, so these kernels are latency- and occupancy-bound at small
// batches; the tile sizes here favour correctness and reasonable occupancy, and bench/ measures
// them against cuBLAS. The weight gradient's rows are cut into chunks so that a layer has 264
// blocks (two an SM) at batch 4096: e.g. 128 -> 64, 2 tiles x 132 chunks of 31-32 rows, each block
// writing a 16 KB partial (4.3 MB in all, read once by the reduce: ~2 us at 4 TB/s) where one chunk
// of 512 rows a block left 16 blocks walking 32 stages in series. A sweep fills the GPU with its
// models: there a block takes a group of chunks (8 groups a layer), writing an eighth of the
// partials or less with the same bits. The latent heads (mu, logvar) are one product of twice the
// width in each pass: 4 launches a step fewer.
//
// Pointers (device memory the CUDA engine owns; declared in dense.cuh): x [rows][in], gy
// [rows][out], y, gx row-major; w [out][in] (PyTorch's layout), bias [out]; gw [out][in] and gb
// [out], or the partial sums [units (chunks or groups)][out][in]; rows of every model together.
// CPU reference: the CPU engine's layer ops (host/cpu/dense_ops.hpp), summed in double in the test.
// Tests: tests/gpu/test_gpu_dense.cpp (GpuDense.*: forward, input gradient, weight gradient
// against the CPU ops on random shapes, both heads in one launch, the chunks, a model's bits alone
// and in a sweep, and cuBLAS).
#include <algorithm>
#include <climits>
#include <string>
#include <utility>

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
// The shortest chunk of rows the weight gradient is split into: half a stage. At batch 4096 a
// layer of one tile then takes 264 chunks of 15 or 16 rows (one stage each).
constexpr int kMinChunkRows = kDepth / 2;
// The weight gradient's chunks are added in up to this many groups, and a sweep's blocks take a
// group each (as many partial sums a model as 512-row chunks once made at batch 4096).
constexpr int kGroups = 8;

// A(m, k) = a[m * stride_m + k * stride_k]; B(k, n) = b[k * stride_k + n * stride_n]; model z's
// operand starts stride_model further on (0: shared by every model). Two tensors side by side (the
// latent heads): from index `split` on along the outer dimension (or along k), `second` holds the
// values, indexed from `split`.
struct Operand {
  const float* data;
  long long stride_outer;  // along m (for A) or n (for B)
  long long stride_k;
  long long stride_model;
  const float* second = nullptr;
  int split = INT_MAX;
  bool split_along_k = false;

  __device__ Operand of_model(int model) const {
    Operand moved = *this;
    moved.data += model * stride_model;
    if (second != nullptr) moved.second += model * stride_model;
    return moved;
  }
  // kTwoHeads: a kernel of its own, so that one layer's loads carry no test (and no registers).
  template <bool kTwoHeads>
  __device__ float at(int outer, int k) const {
    const float* base = data;
    if (kTwoHeads && (split_along_k ? k >= split : outer >= split)) {
      base = second;
      (split_along_k ? k : outer) -= split;
    }
    return base[outer * stride_outer + static_cast<long long>(k) * stride_k];
  }
};

// C[m][n] = sum over k of A(m, k) * B(k, n), handed to `epilogue(m, n, value, unit, model)`;
// blockIdx.x = unit * (column tiles) + column tile, blockIdx.z = model. Each output is summed by
// one thread in increasing k: deterministic. With kWeightGradient the k range is cut into `chunks`
// consecutive chunks whose lengths differ by at most one, each summed from 0, and a block (a unit)
// takes `per_unit` consecutive chunks and hands on the sum of their sums, added in chunk order from
// 0. add_partials then adds, from 0, the units' sums in groups of the same chunks: the same
// additions in the same order whether a unit is one chunk or a group (0 + s is s for a sum s that
// started from 0, which is never -0), so the bits never depend on per_unit. The blocks of each
// unit's first column of tiles also sum each row of A over the unit's chunks likewise, from the
// tiles already in shared memory, and hand it to
// `epilogue.row_sum(m, sum, unit, model)`: the bias gradient without a launch. kTwoHeads: the
// operands have a second part (Operand::second).
template <bool kAContiguousInK, bool kBContiguousInN, class Epilogue, bool kWeightGradient,
          bool kTwoHeads>
__global__ void __launch_bounds__(kThreads)
    tiled_gemm(int m_size, int n_size, int k_size, int chunks, int per_unit, Operand a, Operand b,
               Epilogue epilogue) {
  __shared__ float a_tile[kDepth][kTile + 1];  // +1: no bank conflicts on transposed stores
  __shared__ float b_tile[kDepth][kTile + 1];
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % kSide, ty = tid / kSide;
  const int column_tiles = kWeightGradient ? (n_size + kTile - 1) / kTile : INT_MAX;
  const int column_tile =
      kWeightGradient ? static_cast<int>(blockIdx.x) % column_tiles : static_cast<int>(blockIdx.x);
  const int unit = kWeightGradient ? static_cast<int>(blockIdx.x) / column_tiles : 0;
  const int m0 = static_cast<int>(blockIdx.y) * kTile;
  const int n0 = column_tile * kTile;
  const int model = static_cast<int>(blockIdx.z);
  a = a.of_model(model);
  b = b.of_model(model);
  const bool sums_rows = kWeightGradient && column_tile == 0 && tid < kTile;

  // acc += the products over k in [k_begin, k_end); row_sum += A's row m0 + tid over them.
  const auto accumulate = [&](int k_begin, int k_end, float(&acc)[kPerThread][kPerThread],
                              float& row_sum) {
    for (int k0 = k_begin; k0 < k_end; k0 += kDepth) {
      for (int e = tid; e < kTile * kDepth; e += kThreads) {
        const int mm = kAContiguousInK ? e / kDepth : e % kTile;
        const int kk = kAContiguousInK ? e % kDepth : e / kTile;
        const int m = m0 + mm, k = k0 + kk;
        const bool inside = m < m_size && k < k_end;
        a_tile[kk][mm] = inside ? a.template at<kTwoHeads>(m, k) : 0.0f;  // zeros pad the edges
      }
      for (int e = tid; e < kTile * kDepth; e += kThreads) {
        const int nn = kBContiguousInN ? e % kTile : e / kDepth;
        const int kk = kBContiguousInN ? e / kTile : e % kDepth;
        const int n = n0 + nn, k = k0 + kk;
        const bool inside = n < n_size && k < k_end;
        b_tile[kk][nn] = inside ? b.template at<kTwoHeads>(n, k) : 0.0f;
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
  };

  float sum[kPerThread][kPerThread] = {};
  float row_sum = 0.0f;
  if constexpr (kWeightGradient) {
    // k_size = chunks * per_chunk + longer: the first `longer` chunks take one more.
    const int per_chunk = k_size / chunks, longer = k_size % chunks;
    const int last = min(chunks, (unit + 1) * per_unit);
    for (int chunk = unit * per_unit; chunk < last; ++chunk) {
      const int k_begin = chunk * per_chunk + min(chunk, longer);
      float acc[kPerThread][kPerThread] = {};
      float chunk_row_sum = 0.0f;
      accumulate(k_begin, k_begin + per_chunk + (chunk < longer ? 1 : 0), acc, chunk_row_sum);
#pragma unroll
      for (int i = 0; i < kPerThread; ++i)
#pragma unroll
        for (int j = 0; j < kPerThread; ++j)
          sum[i][j] += acc[i][j];
      row_sum += chunk_row_sum;
    }
  } else {
    accumulate(0, k_size, sum, row_sum);
  }
#pragma unroll
  for (int i = 0; i < kPerThread; ++i)
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      const int m = m0 + ty + kSide * i, n = n0 + tx + kSide * j;
      if (m < m_size && n < n_size) epilogue(m, n, sum[i][j], unit, model);
    }
  if constexpr (kWeightGradient)
    if (sums_rows && m0 + tid < m_size) epilogue.row_sum(m0 + tid, row_sum, unit, model);
}

struct BiasReluEpilogue {
  float* y;
  const float* bias;
  int width;  // of y: columns from `width` on are the second head's
  bool relu;
  long long y_stride, bias_stride;  // between models
  float* second_y = nullptr;
  const float* second_bias = nullptr;
  __device__ void operator()(int m, int n, float value, int, int model) const {
    float* out = y;
    const float* b = bias;
    if (n >= width) {
      n -= width;
      out = second_y;
      b = second_bias;
    }
    value += b[model * bias_stride + n];
    // As std::max(value, 0) on the CPU: NaN passes through (fmaxf would turn it into 0 and hide
    // it from the non-finite guard).
    out[model * y_stride + static_cast<long long>(m) * width + n] =
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
  float* partial;       // [model][unit][m_size][n_size]
  float* partial_bias;  // [model][unit][m_size]: the sums of gy over the unit's rows
  int m_size, n_size, units;
  __device__ void operator()(int m, int n, float value, int unit, int model) const {
    partial[((static_cast<long long>(model) * units + unit) * m_size + m) * n_size + n] = value;
  }
  __device__ void row_sum(int m, float sum, int unit, int model) const {
    partial_bias[(static_cast<long long>(model) * units + unit) * m_size + m] = sum;
  }
};

// Where the reduced gradients go: output rows from `split` on are the second head's.
struct GradientTargets {
  float* gw;
  float* gb;
  float* second_gw;
  float* second_gb;
  int split;
};

// The sum of `units` partial sums `stride` apart: from 0, in groups of `group` (each group's own
// sum from 0, in order), the groups in order.
__device__ float sum_in_groups(const float* partial, int units, int group, long long stride) {
  float total = 0.0f;
  for (int g = 0; g < units; g += group) {
    float sum = 0.0f;
    for (int u = g; u < min(units, g + group); ++u)
      sum += partial[u * stride];
    total += sum;
  }
  return total;
}

// gw and gb from the units' partial sums (sum_in_groups). Model blockIdx.y's partials follow the
// previous model's; its gradients are `grad_stride` further on.
__global__ void add_partials(const float* partial_w, const float* partial_b, int units, int group,
                             int in, int out, GradientTargets to, long long grad_stride) {
  const int index = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const long long model = blockIdx.y;
  const int weight_count = out * in;
  partial_w += model * units * weight_count;
  partial_b += model * units * out;
  if (index < weight_count) {
    const float sum = sum_in_groups(partial_w + index, units, group, weight_count);
    const bool second = index / in >= to.split;
    (second ? to.second_gw : to.gw)[model * grad_stride + index - (second ? to.split * in : 0)] =
        sum;
  } else if (index < weight_count + out) {
    const int o = index - weight_count;
    const float sum = sum_in_groups(partial_b + o, units, group, out);
    const bool second = o >= to.split;
    (second ? to.second_gb : to.gb)[model * grad_stride + o - (second ? to.split : 0)] = sum;
  }
}

int tiles(int size) {
  return (size + kTile - 1) / kTile;
}

// Column tiles times `units` along x, row tiles along y, models along z.
dim3 tile_grid(int m_size, int n_size, int models, int units = 1) {
  return dim3(static_cast<unsigned>(tiles(n_size) * units), static_cast<unsigned>(tiles(m_size)),
              static_cast<unsigned>(models));
}

// How the weight gradient of `models` models is cut: `chunks` (a function of the shape alone),
// added in groups of `group` chunks (likewise), and the chunks a block takes (1, or a group when
// the models' groups alone fill the GPU: fewer partial sums to write and read, the same bits).
struct WeightGradientCut {
  int chunks, group, per_unit;
  int units() const { return (chunks + per_unit - 1) / per_unit; }
};

WeightGradientCut weight_gradient_cut(int rows, int in, int out, int models) {
  WeightGradientCut cut{dense_weight_gradient_chunks(rows, in, out), 1, 1};
  cut.group = (cut.chunks + kGroups - 1) / kGroups;
  const long long group_blocks = static_cast<long long>(models) * tiles(out) * tiles(in) *
                                 ((cut.chunks + cut.group - 1) / cut.group);
  if (cut.group > 1 && group_blocks >= kWeightGradientFillBlocks) cut.per_unit = cut.group;
  return cut;
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

// tiled_gemm's instantiation for one layer or for two heads, launched with `args`.
template <bool kAContiguousInK, bool kBContiguousInN, class Epilogue, bool kWeightGradient = false,
          class... Args>
void launch_gemm(const char* name, bool two_heads, dim3 grid, cudaStream_t stream, Args&&... args) {
  if (two_heads)
    launch(name, tiled_gemm<kAContiguousInK, kBContiguousInN, Epilogue, kWeightGradient, true>,
           grid, kThreads, stream, std::forward<Args>(args)...);
  else
    launch(name, tiled_gemm<kAContiguousInK, kBContiguousInN, Epilogue, kWeightGradient, false>,
           grid, kThreads, stream, std::forward<Args>(args)...);
}

// The sizes a call with `second` multiplies: the heads' outputs side by side.
int outputs(int out, const SecondHead& second) {
  return second.w != nullptr ? 2 * out : out;
}

// Where an operand's second part (the second head's) starts: at index `out`, or nowhere.
int second_from(int out, const SecondHead& second) {
  return second.w != nullptr ? out : INT_MAX;
}

}  // namespace

void dense_forward(const float* x, int rows, int in, const float* w, const float* bias, int out,
                   bool relu, float* y, cudaStream_t stream, const ModelStrides& models,
                   const SecondHead& second) {
  const int width = outputs(out, second);
  check_sizes(rows, in, width, "dense_forward", models.models);
  // C[rows][out]: A(m, k) = x[m][k] (contiguous in k), B(k, n) = w[n][k] (contiguous in k); the
  // second head's w from column `out` on.
  launch_gemm<true, false, BiasReluEpilogue>(
      "dense_forward", second.w != nullptr, tile_grid(rows, width, models.models), stream, rows,
      width, in, 1, 1, Operand{x, in, 1, models.input},
      Operand{w, in, 1, models.params, second.w, second_from(out, second)},
      BiasReluEpilogue{y, bias, out, relu, models.output, models.params, second.y, second.bias});
}

void dense_backward_input(const float* gy, int rows, int out, const float* w, int in,
                          bool accumulate, const float* relu_output, float* gx, cudaStream_t stream,
                          const ModelStrides& models, const SecondHead& second) {
  const int depth = outputs(out, second);
  check_sizes(rows, in, depth, "dense_backward_input", models.models);
  // C[rows][in]: A(m, k) = gy[m][k] (contiguous in k), B(k, n) = w[k][n] (contiguous in n); the
  // second head's gy and w from k = out on.
  const int split = second_from(out, second);
  launch_gemm<true, true, InputGradientEpilogue>(
      "dense_backward_input", second.w != nullptr, tile_grid(rows, in, models.models), stream, rows,
      in, depth, 1, 1, Operand{gy, out, 1, models.output, second.gy, split, true},
      Operand{w, 1, in, models.params, second.w, split, true},
      InputGradientEpilogue{gx, relu_output, in, accumulate, models.input});
}

int dense_weight_gradient_chunks(int rows, int in, int out) {
  const long long blocks = static_cast<long long>(tiles(out)) * tiles(in);
  const long long wanted = (kWeightGradientFillBlocks + blocks - 1) / blocks;
  return static_cast<int>(std::clamp<long long>(rows / kMinChunkRows, 1, wanted));
}

long long dense_weight_gradient_blocks(int rows, int in, int out, int models) {
  return static_cast<long long>(models) * tiles(out) * tiles(in) *
         weight_gradient_cut(rows, in, out, models).units();
}

std::size_t dense_backward_params_workspace(int rows, int in, int out, int models) {
  const auto chunks = static_cast<std::size_t>(dense_weight_gradient_chunks(rows, in, out));
  return static_cast<std::size_t>(models) * chunks * static_cast<std::size_t>(out) *
         static_cast<std::size_t>(in + 1);
}

void dense_backward_params(const float* gy, const float* x, int rows, int in, int out, float* gw,
                           float* gb, float* workspace, cudaStream_t stream,
                           const ModelStrides& models, const SecondHead& second) {
  const int width = outputs(out, second);
  check_sizes(rows, in, width, "dense_backward_params", models.models);
  const int count = models.models;
  const WeightGradientCut cut = weight_gradient_cut(rows, in, width, count);
  const int units = cut.units();
  float* partial_w = workspace;
  float* partial_b = workspace + static_cast<std::size_t>(count) * units * width * in;
  // C[out][in] per unit of rows: A(m, k) = gy[k][m] (contiguous in m; the second head's gy from m
  // = out on), B(k, n) = x[k][n]; the bias partials are A's row sums, taken from the same
  // shared-memory tiles.
  launch_gemm<false, true, PartialSumEpilogue, true>(
      "dense_backward_params (weights and bias)", second.w != nullptr,
      tile_grid(width, in, count, units), stream, width, in, rows, cut.chunks, cut.per_unit,
      Operand{gy, 1, out, models.output, second.gy, second_from(out, second)},
      Operand{x, 1, in, models.input}, PartialSumEpilogue{partial_w, partial_b, width, in, units});
  const int total = width * in + width;
  launch("dense_backward_params (reduce)", add_partials,
         dim3(blocks_for(total), static_cast<unsigned>(count)), kBlock, stream, partial_w,
         partial_b, units, cut.per_unit == 1 ? cut.group : 1, in, width,
         GradientTargets{gw, gb, second.gw, second.gb, out}, models.params);
}

}  // namespace vaead::cuda
