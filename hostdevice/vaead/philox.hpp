// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator. Every random number in vaead is a pure function of (seed, stream,
// counter), so any element can be drawn on its own, in any order, on the CPU or on the GPU, and a
// re-run with the same seed gives the same bits. No generator state is ever shared.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vaead/host_device.hpp"
#include "vaead/portable_math.hpp"

namespace vaead {

struct Philox4x32 {
  std::uint32_t v[4];
};

VAEAD_HOST_DEVICE inline Philox4x32 philox4x32_10(Philox4x32 counter, std::uint32_t key0,
                                                  std::uint32_t key1) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kMul0) * counter.v[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kMul1) * counter.v[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    counter = Philox4x32{{hi1 ^ counter.v[1] ^ key0, lo1, hi0 ^ counter.v[3] ^ key1, lo0}};
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return counter;
}

// What a draw is for; part of the counter, so streams never overlap.
enum class RandomStream : std::uint32_t {
  loadings = 1,            // W of the synthetic generator
  latent_factors = 2,      // z of the synthetic generator (sub-counter: split)
  feature_noise = 3,       // e of the synthetic generator (sub-counter: split)
  anomaly_layout = 4,      // which test rows are anomalous
  anomaly_features = 5,    // which features an anomaly touches
  anomaly_values = 6,      // the replacement / extra noise values
  initialization = 7,      // initial parameters
  shuffle = 8,             // the order of training rows in each epoch
  reparameterization = 9,  // eps of z = mu + sigma * eps
  holdout = 10,            // which normal rows are held out for the threshold
};

// The raw words of block (a, b, c) of (seed, stream): Philox4x32-10 with the counter
// (a, b, c, stream) and the key (low, high word of the seed). The CPU's own computation; the
// kernels draw the same words through cuRAND (kernels/curand_philox.cuh).
struct PhiloxWords {
  VAEAD_HOST_DEVICE static Philox4x32 of(std::uint64_t seed, RandomStream stream, std::uint32_t a,
                                         std::uint32_t b, std::uint32_t c) {
    return philox4x32_10(Philox4x32{{a, b, c, static_cast<std::uint32_t>(stream)}},
                         static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  }
};

// Two independent N(0, 1) draws from two random words (Box-Muller), in the project's own
// arithmetic (portable_math.hpp): the same bits on every CPU and on the GPU.
//   radius = sqrt(-2 log u), u = (radius_word + 1) / 2^32 in (0, 1], so log is finite;
//   first = radius cos(2 pi angle_word / 2^32), second = radius sin(...).
// Branch-free: a loop of it over arrays vectorizes (cpu_model.cpp draws eps so).
VAEAD_HOST_DEVICE inline void box_muller(std::uint32_t radius_word, std::uint32_t angle_word,
                                         double* first, double* second) {
  const double u = portable::exact_double(std::uint64_t{radius_word} + 1) * 0x1p-32;
  const double radius = portable::square_root(-2.0 * portable::log(u));
  double sine, cosine;
  portable::sincos_turn(angle_word, &sine, &cosine);
  *first = radius * cosine;
  *second = radius * sine;
}

// box_muller for n pairs of words at once (the CPU's loops): compilers vectorize this loop, each
// lane computing box_muller's very operations.
inline void box_muller_many(const std::uint32_t* __restrict radius_words,
                            const std::uint32_t* __restrict angle_words, std::size_t n,
                            double* __restrict first, double* __restrict second) {
  for (std::size_t i = 0; i < n; ++i)
    box_muller(radius_words[i], angle_words[i], &first[i], &second[i]);
}

// Draws for one (seed, stream); the three 32-bit words (a, b, c) address one block of 4 numbers.
// `Words` computes a block's raw words: PhiloxWords on the CPU, cuRAND in kernels; everything
// made of them (uniforms, normals, bounded integers) is this one code.
template <class Words>
struct CounterRngOf {
  std::uint64_t seed = 0;
  RandomStream stream = RandomStream::loadings;

  VAEAD_HOST_DEVICE Philox4x32 bits(std::uint32_t a, std::uint32_t b, std::uint32_t c) const {
    return Words::of(seed, stream, a, b, c);
  }

  // Uniform on [0, 1) with 32 random bits.
  VAEAD_HOST_DEVICE double uniform(std::uint32_t a, std::uint32_t b, std::uint32_t c) const {
    return bits(a, b, c).v[0] * 0x1p-32;
  }

  // Four independent N(0, 1) draws (Box-Muller on two pairs of 32-bit words).
  VAEAD_HOST_DEVICE void normal4(std::uint32_t a, std::uint32_t b, std::uint32_t c,
                                 double out[4]) const {
    const Philox4x32 r = bits(a, b, c);
    box_muller(r.v[0], r.v[1], &out[0], &out[1]);
    box_muller(r.v[2], r.v[3], &out[2], &out[3]);
  }

  // A uniform integer in [0, bound) (multiply-shift; the bias is below bound / 2^32).
  VAEAD_HOST_DEVICE std::uint32_t below(std::uint32_t bound, std::uint32_t a, std::uint32_t b,
                                        std::uint32_t c) const {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(bits(a, b, c).v[0]) * bound) >>
                                      32);
  }

  // Element i of a row of normal draws addressed by (row, sub): blocks of 4 per counter.
  VAEAD_HOST_DEVICE double normal_at(std::uint32_t row, std::uint32_t sub, std::uint32_t i) const {
    double block[4];
    normal4(i / 4, row, sub, block);
    return block[i % 4];
  }
};

using CounterRng = CounterRngOf<PhiloxWords>;

}  // namespace vaead
