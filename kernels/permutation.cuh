// A seeded permutation on the device: indices sorted by a random 32-bit key each (ties by index),
// the very order the CPU's keyed_permutation gives.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "device_buffer.cuh"

namespace vaead::cuda {

class DevicePermutation {
 public:
  // order[0..n) = indices sorted by permutation_key(CounterRng{seed, stream}, i, sub).
  void compute(std::uint64_t seed, std::uint32_t stream_id, std::uint32_t sub, std::size_t n,
               cudaStream_t stream);
  const unsigned* order() const { return order_.data(); }
  // Allocates everything compute(n) needs, so that it can run while a graph is being captured.
  // std::invalid_argument beyond INT_MAX rows (CUB's item count), before any allocation.
  void reserve(std::size_t n);

 private:
  DeviceBuffer<unsigned> keys_in_, keys_out_, indices_in_, order_;
  DeviceBuffer<unsigned char> temp_;
};

}  // namespace vaead::cuda
