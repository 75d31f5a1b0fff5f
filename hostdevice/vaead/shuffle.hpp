// Seeded permutations: indices sorted by a random 32-bit key each (ties by index). A device radix
// sort of (key, index) pairs gives the very same order, so the CPU and CUDA engines see the same
// batches and the same test-row layout.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "vaead/philox.hpp"

namespace vaead {

// The sort key of element i in permutation `sub` (e.g. the epoch); Rng: CounterRng, or the
// kernels' generator of the same words.
template <class Rng>
VAEAD_HOST_DEVICE inline std::uint32_t permutation_key(const Rng& rng, std::uint32_t i,
                                                       std::uint32_t sub) {
  return rng.bits(i, sub, 0).v[0];
}

// The indices 0..n-1 (n < 2^32) ordered by key, ties by index: what std::sort of the pairs
// (key << 32 | index) gives, by a stable least-significant-digit radix sort of the key's four
// bytes (four linear passes instead of n log n comparisons: an epoch's shuffle of 20,000 rows
// took a millisecond, a twentieth of a step on two threads at batch 4096).
template <class Rng>
std::vector<std::size_t> keyed_permutation(std::size_t n, const Rng& rng, std::uint32_t sub) {
  std::vector<std::uint64_t> keyed(n), scratch(n);  // key in the high word, index in the low
  for (std::size_t i = 0; i < n; ++i)
    keyed[i] = (static_cast<std::uint64_t>(permutation_key(rng, static_cast<std::uint32_t>(i), sub))
                << 32) |
               i;
  for (int shift = 32; shift < 64; shift += 8) {
    std::size_t starts[257] = {};
    for (const std::uint64_t value : keyed)
      ++starts[((value >> shift) & 0xFF) + 1];
    for (std::size_t digit = 1; digit <= 256; ++digit)
      starts[digit] += starts[digit - 1];
    for (const std::uint64_t value : keyed)
      scratch[starts[(value >> shift) & 0xFF]++] = value;
    keyed.swap(scratch);
  }
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i)
    order[i] = static_cast<std::size_t>(keyed[i] & 0xFFFFFFFFu);
  return order;
}

}  // namespace vaead
