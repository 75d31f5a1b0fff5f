// The device's raw random words, for the tests that hold them to the CPU's
// (hostdevice/vaead/philox.hpp).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace vaead::cuda {

// The address of one block of four 32-bit words: CounterRng{seed, stream}.bits(a, b, c).
struct RandomAddress {
  std::uint64_t seed;
  std::uint32_t stream, a, b, c;
};

// words[4 i .. 4 i + 3] = the device generator's block at addresses[i].
//   addresses [count], words [4 count]: device memory
void device_random_words(const RandomAddress* addresses, int count, std::uint32_t* words,
                         cudaStream_t stream);

}  // namespace vaead::cuda
