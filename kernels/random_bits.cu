// The device generator's raw words, one block of four per thread.
//
// Pointers (device memory the caller owns): addresses [count]; words [count][4].
// Napkin math: one Philox4x32-10 block (10 rounds, ~40 integer multiplies) per address; a test
// helper, not on the training path.
// CPU reference: CounterRng (hostdevice/vaead/philox.hpp). Test: tests/gpu/test_gpu_random.cpp,
// GpuRandom.RawWordsAreTheCpuPhiloxWords.
#include "curand_philox.cuh"
#include "launch.cuh"
#include "random_bits.cuh"
#include "vaead/philox.hpp"

namespace vaead::cuda {
namespace {

__global__ void random_words_kernel(const RandomAddress* addresses, int count,
                                    std::uint32_t* words) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= count) return;
  const RandomAddress address = addresses[i];
  const Philox4x32 block = DeviceRng{address.seed, static_cast<RandomStream>(address.stream)}.bits(
      address.a, address.b, address.c);
  for (int w = 0; w < 4; ++w)
    words[4 * i + w] = block.v[w];
}

}  // namespace

void device_random_words(const RandomAddress* addresses, int count, std::uint32_t* words,
                         cudaStream_t stream) {
  check_argument(count >= 0, "device_random_words: a negative count");
  if (count == 0) return;
  launch("random_words", random_words_kernel, blocks_for(count), kBlock, stream, addresses, count,
         words);
}

}  // namespace vaead::cuda
