// Seeded permutations drawn from the counter-based generator.
#pragma once

#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "vaead/philox.hpp"

namespace vaead {

// A uniform integer in [0, bound) from the 32-bit word at (a, b, c) (multiply-shift; the bias is
// below bound / 2^32, far under anything a detector can feel).
inline std::uint32_t uniform_below(const CounterRng& rng, std::uint32_t bound, std::uint32_t a,
                                   std::uint32_t b, std::uint32_t c) {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(rng.bits(a, b, c).v[0]) * bound) >>
                                    32);
}

// Fisher-Yates shuffle of 0..n-1; `sub` selects an independent permutation (e.g. the epoch).
inline std::vector<std::size_t> shuffled_indices(std::size_t n, const CounterRng& rng,
                                                 std::uint32_t sub) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  for (std::size_t i = n; i > 1; --i) {
    const std::uint32_t j = uniform_below(rng, static_cast<std::uint32_t>(i),
                                          static_cast<std::uint32_t>(i - 1), sub, 0);
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

}  // namespace vaead
