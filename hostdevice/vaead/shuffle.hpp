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

inline std::vector<std::size_t> keyed_permutation(std::size_t n, const CounterRng& rng,
                                                  std::uint32_t sub) {
  std::vector<std::uint64_t> keyed(n);  // key in the high word, index in the low: one sort
  for (std::size_t i = 0; i < n; ++i)
    keyed[i] = (static_cast<std::uint64_t>(permutation_key(rng, static_cast<std::uint32_t>(i), sub))
                << 32) |
               i;
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i)
    order[i] = static_cast<std::size_t>(keyed[i] & 0xFFFFFFFFu);
  return order;
}

}  // namespace vaead
