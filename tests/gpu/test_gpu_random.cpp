// The device's random words are the CPU's: every raw 32-bit word of Philox4x32-10 at the same
// (seed, stream, counter) is equal, for seeds with high bits set, every stream and counters at
// the edges of their words.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "gpu_support.hpp"
#include "random_bits.cuh"
#include "vaead/philox.hpp"

namespace vaead {
namespace {

TEST(GpuRandom, RawWordsAreTheCpuPhiloxWords) {
  VAEAD_REQUIRE_GPU();
  std::vector<cuda::RandomAddress> addresses;
  const std::uint64_t seeds[] = {0, 1, 42, 0xFFFFFFFFull, 0x123456789ABCDEF0ull, ~0ull};
  const std::uint32_t edges[] = {
      0, 1, 3, 4, 12345, (1u << 30) - 1, 1u << 30, 0x80000000u, 0xFFFFFFFEu, 0xFFFFFFFFu};
  for (std::uint64_t seed : seeds)
    for (std::uint32_t stream = 1; stream <= 10; ++stream)
      for (std::uint32_t a : edges)
        for (std::uint32_t b : {0u, 7u, (1u << 30) - 1, 1u << 30, 0xFFFFFFFFu})
          addresses.push_back({seed, stream, a, b, (a * 2654435761u) ^ b});
  auto device_addresses = testing::to_device(addresses);
  cuda::DeviceBuffer<std::uint32_t> words(4 * addresses.size());
  cuda::device_random_words(device_addresses.data(), static_cast<int>(addresses.size()),
                            words.data(), nullptr);
  const std::vector<std::uint32_t> got = words.to_host(nullptr);
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const cuda::RandomAddress& at = addresses[i];
    const Philox4x32 want =
        CounterRng{at.seed, static_cast<RandomStream>(at.stream)}.bits(at.a, at.b, at.c);
    for (int w = 0; w < 4; ++w)
      if (got[4 * i + static_cast<std::size_t>(w)] != want.v[w] && mismatches++ < 8)
        ADD_FAILURE() << "seed " << at.seed << ", stream " << at.stream << ", counter (" << at.a
                      << ", " << at.b << ", " << at.c << "), word " << w << ": device "
                      << got[4 * i + static_cast<std::size_t>(w)] << ", CPU " << want.v[w];
  }
  EXPECT_EQ(mismatches, 0u) << "of " << 4 * addresses.size() << " words";
}

}  // namespace
}  // namespace vaead
