// The keyed permutation on the device: each row's Philox key, then one CUB radix sort of (key,
// row); the order every epoch's batches (and the anomalies' places) are drawn in.
//
// Pointers (device memory DevicePermutation owns; permutation.cuh): keys_in, keys_out, indices_in
// and order [n], and CUB's temporary storage.
// Napkin math: one Philox block per row, then a 32-bit-key radix sort of (key, index): 20,000 rows
// are ~1 us of keys and a few us of sort, once an epoch per distinct seed.
// CPU reference: keyed_permutation (hostdevice/vaead/shuffle.hpp). Tests:
// tests/gpu/test_gpu_synthetic.cpp (GpuSynthetic.PermutationRefusesMoreRowsThanCubCounts, and the
// anomalies' layout in GpuSynthetic.DeviceRowsAreTheCpuGeneratorsRows); whole epochs in
// GpuEngine.DrawnNoiseAndWholeEpochsMatchTheCpuEngine.
#include <climits>
#include <cub/device/device_radix_sort.cuh>
#include <string>

#include "cuda_check.cuh"
#include "curand_philox.cuh"
#include "launch.cuh"
#include "permutation.cuh"
#include "vaead/shuffle.hpp"

namespace vaead::cuda {
namespace {

__global__ void permutation_keys(std::uint64_t seed, std::uint32_t stream_id, std::uint32_t sub,
                                 unsigned n, unsigned* keys, unsigned* indices) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  keys[i] = permutation_key(DeviceRng{seed, static_cast<RandomStream>(stream_id)}, i, sub);
  indices[i] = i;
}

}  // namespace

void DevicePermutation::reserve(std::size_t n) {
  // CUB's sort counts its items in an int.
  check_argument(n <= static_cast<std::size_t>(INT_MAX),
                 "a permutation of " + std::to_string(n) + " rows: at most " +
                     std::to_string(INT_MAX) + " can be sorted on the device");
  keys_in_.reserve(n);
  keys_out_.reserve(n);
  indices_in_.reserve(n);
  order_.reserve(n);
  std::size_t temp_bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in_.data(), keys_out_.data(),
                                             indices_in_.data(), order_.data(),
                                             static_cast<int>(n)));
  temp_.reserve(temp_bytes);
}

void DevicePermutation::compute(std::uint64_t seed, std::uint32_t stream_id, std::uint32_t sub,
                                std::size_t n, cudaStream_t stream) {
  reserve(n);
  const auto count = static_cast<unsigned>(n);
  launch("permutation_keys", permutation_keys, blocks_for(count), kBlock, stream, seed, stream_id,
         sub, count, keys_in_.data(), indices_in_.data());
  // Radix sort is stable and the indices enter in order: equal keys keep index order.
  std::size_t temp_bytes = temp_.size();
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp_.data(), temp_bytes, keys_in_.data(),
                                             keys_out_.data(), indices_in_.data(), order_.data(),
                                             static_cast<int>(count), 0, 32, stream));
}

}  // namespace vaead::cuda
