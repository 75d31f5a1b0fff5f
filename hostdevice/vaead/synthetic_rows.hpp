// The synthetic generator's arithmetic, element by element, for the host and the device alike:
// every value is a pure function of (seed, split, row, column), so the CPU generator and the CUDA
// generator produce the same rows, bit for bit (the normals are the project's own arithmetic).
#pragma once

#include <cmath>
#include <cstdint>

#include "vaead/anomaly_kind.hpp"
#include "vaead/philox.hpp"

namespace vaead::synthetic {

enum Split : std::uint32_t { kTrain = 0, kValidation = 1, kTest = 2 };

inline constexpr int kMaxShiftFeatures = 256;  // a local array on the device

// The generator's numbers, as plain values a kernel can take by value.
struct Params {
  std::uint64_t seed = 0;
  std::uint32_t features = 0;
  std::uint32_t factors = 0;
  double noise_std = 0.0;
  std::uint32_t shift_features = 0;
  double shift_sigmas = 0.0;
  double explosion_sigmas = 0.0;
};

// Every function draws with Rng: CounterRng on the CPU, the kernels' cuRAND-backed generator on
// the device (the same words, kernels/curand_philox.cuh).

// W[a][j] ~ N(0, 1/k).
template <class Rng = CounterRng>
VAEAD_HOST_DEVICE inline float loading(const Params& p, std::uint32_t a, std::uint32_t j) {
  const Rng rng{p.seed, RandomStream::loadings};
  return static_cast<float>(rng.normal_at(a, 0, j) / std::sqrt(static_cast<double>(p.factors)));
}

// x[row][j] = sum_a z[a] W[a][j] + e[j] for a normal row of `split`, in double.
//   w [factors][features]
template <class Rng = CounterRng>
VAEAD_HOST_DEVICE inline float normal_value(const Params& p, const float* w, std::uint32_t split,
                                            std::uint32_t row, std::uint32_t j) {
  const Rng latent{p.seed, RandomStream::latent_factors};
  const Rng noise{p.seed, RandomStream::feature_noise};
  double value = p.noise_std * noise.normal_at(row, split, j);
  for (std::uint32_t block = 0; block < p.factors; block += 4) {
    double z[4];
    latent.normal4(block / 4, row, split, z);
    for (std::uint32_t a = block; a < block + 4 && a < p.factors; ++a)
      value += z[a - block] * static_cast<double>(w[a * p.features + j]);
  }
  return static_cast<float>(value);
}

// `count` distinct features of `row`, uniform over subsets (Floyd's algorithm).
template <class Rng = CounterRng>
VAEAD_HOST_DEVICE inline void pick_features(const Params& p, std::uint32_t row, std::uint32_t count,
                                            std::uint32_t* picked) {
  const Rng rng{p.seed, RandomStream::anomaly_features};
  for (std::uint32_t n = 0, j = p.features - count; j < p.features; ++j, ++n) {
    const std::uint32_t t = rng.below(j + 1, j, row, 0);
    bool taken = false;
    for (std::uint32_t i = 0; i < n; ++i)
      taken = taken || picked[i] == t;
    picked[n] = taken ? j : t;
  }
}

// Turns test row `row` (raw units) into an anomaly of `kind`; sigma[j] is the training std.
template <class Rng = CounterRng>
VAEAD_HOST_DEVICE inline void plant_anomaly(const Params& p, AnomalyKind kind, std::uint32_t row,
                                            const double* sigma, float* x) {
  const Rng values{p.seed, RandomStream::anomaly_values};
  std::uint32_t picked[kMaxShiftFeatures];
  const std::uint32_t touched = kind == AnomalyKind::mean_shift ? p.shift_features : 1;
  pick_features<Rng>(p, row, touched, picked);
  for (std::uint32_t t = 0; t < touched; ++t) {
    const std::uint32_t j = picked[t];
    const double draw = values.normal_at(row, 0, t);
    if (kind == AnomalyKind::mean_shift)
      x[j] = static_cast<float>(x[j] + p.shift_sigmas * sigma[j]);
    else if (kind == AnomalyKind::correlation_break)  // same marginal scale, independent draw
      x[j] = static_cast<float>(sigma[j] * draw);
    else if (kind == AnomalyKind::variance_explosion)
      x[j] = static_cast<float>(x[j] + p.explosion_sigmas * sigma[j] * draw);
  }
}

}  // namespace vaead::synthetic
