// Gathering rows: each model's training batch from its data slot in its shuffled order, and the
// chunks of rows to score.
//
// Pointers (device memory the CUDA engine owns; declared in rows.cuh): the resident rows
// [slots][rows][features] row-major, the shuffled orders [order slots][rows], the batch
// [models][batch][features].
// Napkin math: no arithmetic; each gathered value is read once and written once (8 bytes): batch
// 4096 x 30 features x 64 models = 7.9 M values, 63 MB a step, ~20 us at ~3.5 TB/s.
// CPU reference: the CPU engine's batches, taken in the same keyed order (CpuModel in
// host/cpu/cpu_model.cpp; keyed_permutation in hostdevice/vaead/shuffle.hpp). Tests:
// tests/gpu/test_gpu_engine.cpp (GpuEngine.DrawnNoiseAndWholeEpochsMatchTheCpuEngine: whole epochs,
// so every batch).
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

}  // namespace vaead::cuda
