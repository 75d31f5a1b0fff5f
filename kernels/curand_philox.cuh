// The kernels' random words: cuRAND's device API (curand_init + curand4 of Philox4_32_10), placed
// so that every block is the very block the CPU computes (hostdevice/vaead/philox.hpp).
//
// cuRAND's Philox4_32_10 state is the key (seed low, seed high) and a 128-bit counter holding the
// subsequence in its high 64 bits (words z, w) and offset / 4 in its low 64 bits (words x, y).
// CounterRng's block (a, b, c) of `stream` is the counter (a, b, c, stream) under the same key,
// so it is subsequence c + 2^32 stream at offset 4 (a + 2^32 b), and curand4 there returns its
// four words. offset must stay below 2^64: for b >= 2^30 the 2^32 b part is added by four
// skipahead calls of 2^30 b blocks each (no row index reaches that today).
#pragma once

#if !defined(__CUDACC__) && !defined(__CUDA_EMU__)
#error "curand_philox.cuh belongs to the kernels' files (nvcc, or the emulated build)"
#endif

#include <curand_kernel.h>

#include <cstdint>

#include "vaead/philox.hpp"

namespace vaead::cuda {

struct CurandWords {
  VAEAD_HOST_DEVICE static Philox4x32 of(std::uint64_t seed, RandomStream stream, std::uint32_t a,
                                         std::uint32_t b, std::uint32_t c) {
#if defined(__CUDA_ARCH__) || defined(__CUDA_EMU__)
    const std::uint64_t subsequence =
        c | (static_cast<std::uint64_t>(static_cast<std::uint32_t>(stream)) << 32);
    curandStatePhilox4_32_10_t state;
    if (b < (1u << 30)) {
      curand_init(seed, subsequence, 4 * (a | (static_cast<std::uint64_t>(b) << 32)), &state);
    } else {
      curand_init(seed, subsequence, 4 * static_cast<std::uint64_t>(a), &state);
      for (int quarter = 0; quarter < 4; ++quarter)
        skipahead(static_cast<std::uint64_t>(b) << 32, &state);  // + 2^30 b blocks each
    }
    const uint4 words = curand4(&state);
    return Philox4x32{{words.x, words.y, words.z, words.w}};
#else
    // nvcc's host pass compiles this body too; no host code calls it (the host draws with
    // PhiloxWords, which computes the same words).
    return PhiloxWords::of(seed, stream, a, b, c);
#endif
  }
};

// What kernels draw with: CounterRng's numbers from cuRAND's words.
using DeviceRng = CounterRngOf<CurandWords>;

}  // namespace vaead::cuda
