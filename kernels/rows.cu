#include "cuda_check.cuh"
#include "launch.cuh"
#include "rows.cuh"

namespace vaead::cuda {
namespace {

__device__ int slot_of(const int* slots, int model) {
  return slots == nullptr ? 0 : slots[model];
}

// Model blockIdx.y's batch from its data slot, in its permutation's order.
__global__ void gather_batch_kernel(const float* rows, const unsigned* order, DataSlots slots,
                                    const StepState* state, int batch_size, int batch_rows,
                                    int features, float* batch) {
  const int model = static_cast<int>(blockIdx.y);
  const long long index = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (index >= static_cast<long long>(batch_rows) * features) return;
  rows += slot_of(slots.data, model) * slots.data_stride;
  order += slot_of(slots.order, model) * slots.order_stride;
  batch += static_cast<long long>(model) * batch_rows * features;
  const int r = static_cast<int>(index / features), j = static_cast<int>(index % features);
  const long long start = static_cast<long long>(state[model].step_in_epoch) * batch_size;
  batch[index] = rows[static_cast<long long>(order[start + r]) * features + j];
}

// chunk[m][r][j] = rows of model m's data slot [first + r][j].
__global__ void gather_chunk_kernel(const float* rows, DataSlots slots, long long first,
                                    int chunk_rows, int features, float* chunk) {
  const int model = static_cast<int>(blockIdx.y);
  const long long index = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (index >= static_cast<long long>(chunk_rows) * features) return;
  rows += slot_of(slots.data, model) * slots.data_stride + first * features;
  chunk[static_cast<long long>(model) * chunk_rows * features + index] = rows[index];
}

// One warp per row; lane sums in feature order, then a fixed shuffle tree.
__global__ void reconstruction_scores_kernel(const float* x, const float* x_hat, int rows,
                                             int features, float* scores, float* per_feature) {
  const long long row = (blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x) / kWarp;
  const int lane = static_cast<int>(threadIdx.x % kWarp);
  if (row >= rows) return;
  const long long offset = row * features;
  double sum = 0.0;
  for (int j = lane; j < features; j += 32) {
    const double diff = static_cast<double>(x[offset + j]) - x_hat[offset + j];
    sum += diff * diff;
    if (per_feature != nullptr) per_feature[offset + j] = static_cast<float>(diff * diff);
  }
  sum = warp_sum(sum);
  if (lane == 0) scores[row] = static_cast<float>(sum / features);
}

// One block per column.
__global__ void column_moments_kernel(const float* x, int rows, int cols, double* mean,
                                      double* std) {
  __shared__ double shared[kBlock];
  const int c = static_cast<int>(blockIdx.x);
  double sum = 0.0;
  for (int r = static_cast<int>(threadIdx.x); r < rows; r += kBlock)
    sum += x[static_cast<long long>(r) * cols + c];
  const double column_mean = block_sum(sum, shared) / rows;
  double squares = 0.0;
  for (int r = static_cast<int>(threadIdx.x); r < rows; r += kBlock) {
    const double deviation = x[static_cast<long long>(r) * cols + c] - column_mean;
    squares += deviation * deviation;
  }
  const double column_std = sqrt(block_sum(squares, shared) / rows);
  if (threadIdx.x == 0) {
    mean[c] = column_mean;
    std[c] = column_std;
  }
}

__global__ void standardize_kernel(float* x, long long count, int cols, const double* mean,
                                   const double* scale) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= count) return;
  const int c = static_cast<int>(i % cols);
  x[i] = static_cast<float>((x[i] - mean[c]) / scale[c]);
}

}  // namespace

void gather_batch(const float* rows, const unsigned* order, const StepState* state, int batch_size,
                  int batch_rows, int features, float* batch, cudaStream_t stream,
                  const DataSlots& slots) {
  const dim3 grid(blocks_for(static_cast<long long>(batch_rows) * features),
                  static_cast<unsigned>(slots.models));
  launch("gather_batch", gather_batch_kernel, grid, kBlock, stream, rows, order, slots, state,
         batch_size, batch_rows, features, batch);
}

void gather_chunk(const float* rows, const DataSlots& slots, std::size_t first, int chunk_rows,
                  int features, float* chunk, cudaStream_t stream) {
  const dim3 grid(blocks_for(static_cast<long long>(chunk_rows) * features),
                  static_cast<unsigned>(slots.models));
  launch("gather_chunk", gather_chunk_kernel, grid, kBlock, stream, rows, slots,
         static_cast<long long>(first), chunk_rows, features, chunk);
}

void reconstruction_scores(const float* x, const float* x_hat, int rows, int features,
                           float* scores, float* per_feature, cudaStream_t stream) {
  launch("reconstruction_scores", reconstruction_scores_kernel,
         blocks_for(static_cast<long long>(rows) * kWarp), kBlock, stream, x, x_hat, rows, features,
         scores, per_feature);
}

void column_moments(const float* x, int rows, int cols, double* mean, double* std,
                    cudaStream_t stream) {
  launch("column_moments", column_moments_kernel, static_cast<unsigned>(cols), kBlock, stream, x,
         rows, cols, mean, std);
}

void standardize(float* x, int rows, int cols, const double* mean, const double* scale,
                 cudaStream_t stream) {
  const long long count = static_cast<long long>(rows) * cols;
  launch("standardize", standardize_kernel, blocks_for(count), kBlock, stream, x, count, cols, mean,
         scale);
}

}  // namespace vaead::cuda
