// The synthetic generator reproduces docs/design.md's seed study: its covariance, its anomaly
// counts, and exactly the perturbation each kind of anomaly promises.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "data/synthetic_params.hpp"
#include "vaead/data/standardizer.hpp"
#include "vaead/data/synthetic.hpp"
#include "vaead/philox.hpp"
#include "vaead/shuffle.hpp"
#include "vaead/synthetic_rows.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

// Salmon et al.'s known-answer vectors for Philox4x32-10 (Random123's kat_vectors): the CPU's
// generator, which the device's cuRAND words are held to (GpuRandom).
TEST(Philox, MatchesTheKnownAnswers) {
  const auto words = [](Philox4x32 v) {
    return std::vector<std::uint32_t>{v.v[0], v.v[1], v.v[2], v.v[3]};
  };
  EXPECT_EQ(words(philox4x32_10({{0, 0, 0, 0}}, 0, 0)),
            (std::vector<std::uint32_t>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(words(philox4x32_10({{~0u, ~0u, ~0u, ~0u}}, ~0u, ~0u)),
            (std::vector<std::uint32_t>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(words(philox4x32_10({{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822,
                                0x299f31d0)),
            (std::vector<std::uint32_t>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
  // CounterRng's block (a, b, c) of a stream is the counter (a, b, c, stream) under the seed.
  EXPECT_EQ(words(CounterRng{0x299f31d0a4093822ull, static_cast<RandomStream>(0x03707344)}.bits(
                0x243f6a88, 0x85a308d3, 0x13198a2e)),
            (std::vector<std::uint32_t>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

// The shuffle's definition: indices sorted by their keys, ties by index, as std::sort of the
// pairs (key << 32 | index) orders them (the radix sort must give the same order; the CUDA
// engine's device sort is held to it too).
TEST(Shuffle, KeyedPermutationIsTheSortOfKeyIndexPairs) {
  for (const std::size_t n : {0, 1, 2, 255, 256, 257, 20000, 70001})
    for (const std::uint32_t sub : {0u, 1u, 29u}) {
      const CounterRng rng{7, RandomStream::shuffle};
      std::vector<std::uint64_t> pairs(n);
      for (std::size_t i = 0; i < n; ++i)
        pairs[i] =
            (std::uint64_t{permutation_key(rng, static_cast<std::uint32_t>(i), sub)} << 32) | i;
      std::sort(pairs.begin(), pairs.end());
      std::vector<std::size_t> want(n);
      for (std::size_t i = 0; i < n; ++i)
        want[i] = static_cast<std::size_t>(pairs[i] & 0xFFFFFFFFu);
      EXPECT_EQ(keyed_permutation(n, rng, sub), want) << "n " << n << ", sub " << sub;
    }
}

// Equal keys keep index order: a generator whose keys take four values.
struct FewKeys {
  Philox4x32 bits(std::uint32_t i, std::uint32_t, std::uint32_t) const {
    return {{(i * 2654435761u) % 4u * 0x01010101u, 0, 0, 0}};
  }
};

TEST(Shuffle, EqualKeysKeepIndexOrder) {
  const std::size_t n = 1000;
  std::vector<std::pair<std::uint32_t, std::size_t>> want(n);
  for (std::size_t i = 0; i < n; ++i)
    want[i] = {permutation_key(FewKeys{}, static_cast<std::uint32_t>(i), 0), i};
  std::stable_sort(want.begin(), want.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const std::vector<std::size_t> got = keyed_permutation(n, FewKeys{}, 0);
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_EQ(got[i], want[i].second) << "position " << i;
}

TEST(Synthetic, SampleCovarianceIsWTransposeWPlusNoise) {
  SyntheticConfig config;
  config.train_rows = 40000;
  config.seed = 3;
  const SyntheticData data = generate_synthetic(config);
  const Matrix& x = data.train.features;
  const Matrix& w = data.loadings;
  ASSERT_EQ(w.rows, 6u);
  ASSERT_EQ(w.cols, 30u);
  double max_error = 0.0, max_mean = 0.0;
  for (std::size_t i = 0; i < 30; ++i) {
    double mean = 0.0;
    for (std::size_t r = 0; r < x.rows; ++r)
      mean += x(r, i);
    max_mean = std::max(max_mean, std::abs(mean / x.rows));
    for (std::size_t j = 0; j <= i; ++j) {
      double sample = 0.0, expected = i == j ? 0.01 : 0.0;  // noise 0.1^2
      for (std::size_t r = 0; r < x.rows; ++r)
        sample += static_cast<double>(x(r, i)) * x(r, j);
      for (std::size_t a = 0; a < 6; ++a)
        expected += static_cast<double>(w(a, i)) * w(a, j);
      max_error = std::max(max_error, std::abs(sample / x.rows - expected));
    }
  }
  // Entries are about 1; a sample covariance of 40000 rows errs by about sqrt(2 / n) = 0.007.
  EXPECT_LT(max_error, 0.04);
  EXPECT_LT(max_mean, 0.03);
  // W ~ N(0, 1/k): the mean square of its 180 entries is about 1/6.
  double w_sq = 0.0;
  for (float v : w.values)
    w_sq += v * v;
  EXPECT_NEAR(w_sq / 180.0, 1.0 / 6.0, 0.05);
}

TEST(Synthetic, SplitsHaveTheConfiguredRowsAndAnomalyCounts) {
  const SyntheticData data = generate_synthetic(SyntheticConfig{});
  EXPECT_EQ(data.train.rows(), 20000u);
  EXPECT_EQ(data.validation.rows(), 5000u);
  EXPECT_EQ(data.test.rows(), 5000u);
  EXPECT_EQ(data.train.count_label(1), 0u);
  EXPECT_EQ(data.validation.count_label(1), 0u);
  EXPECT_EQ(data.test.count_label(1), 500u);
  EXPECT_EQ(data.test.count_kind(AnomalyKind::mean_shift), 167u);
  EXPECT_EQ(data.test.count_kind(AnomalyKind::correlation_break), 167u);
  EXPECT_EQ(data.test.count_kind(AnomalyKind::variance_explosion), 166u);
  for (std::size_t i = 0; i < data.test.rows(); ++i)
    EXPECT_EQ(data.test.labels[i] != 0, data.test.kinds[i] != AnomalyKind::none);
  // Anomalies are spread through the file, not bunched at one end.
  std::size_t in_first_half = 0;
  for (std::size_t i = 0; i < 2500; ++i)
    in_first_half += data.test.labels[i];
  EXPECT_GT(in_first_half, 200u);
  EXPECT_LT(in_first_half, 300u);
}

// The same seed without anomalies gives the clean test rows (every draw is addressed by its
// counter), so each anomaly can be compared with the row it was made from.
TEST(Synthetic, EachAnomalyKindTouchesExactlyWhatItPromises) {
  SyntheticConfig config;
  config.seed = 9;
  const SyntheticData data = generate_synthetic(config);
  config.anomaly_fraction = 0.0;
  const SyntheticData clean = generate_synthetic(config);
  ASSERT_EQ(clean.test.count_label(1), 0u);
  double replaced_sq = 0.0, explosion_sq = 0.0;
  std::size_t replaced = 0, exploded = 0;
  for (std::size_t r = 0; r < data.test.rows(); ++r) {
    int changed = 0;
    for (std::size_t j = 0; j < 30; ++j) {
      const double before = clean.test.features(r, j), after = data.test.features(r, j);
      if (before == after) continue;
      ++changed;
      const double sigma = data.train_std[j];
      switch (data.test.kinds[r]) {
        case AnomalyKind::mean_shift:
          EXPECT_NEAR(after - before, 3.0 * sigma, 1e-5);
          break;
        case AnomalyKind::correlation_break:
          replaced_sq += (after / sigma) * (after / sigma);
          ++replaced;
          break;
        case AnomalyKind::variance_explosion:
          explosion_sq += ((after - before) / sigma) * ((after - before) / sigma);
          ++exploded;
          break;
        case AnomalyKind::none:
          ADD_FAILURE() << "normal row " << r << " changed";
          break;
      }
    }
    const int expected = data.test.kinds[r] == AnomalyKind::mean_shift ? 5
                         : data.test.kinds[r] == AnomalyKind::none     ? 0
                                                                       : 1;
    EXPECT_EQ(changed, expected) << "row " << r << " (" << anomaly_kind_name(data.test.kinds[r])
                                 << ")";
  }
  // Replacements are N(0, sigma^2); explosions add N(0, (5 sigma)^2): mean squares 1 and 25.
  EXPECT_NEAR(replaced_sq / replaced, 1.0, 0.3);
  EXPECT_NEAR(explosion_sq / exploded, 25.0, 7.0);
}

TEST(Synthetic, SameSeedSameBitsOtherSeedOtherData) {
  SyntheticConfig config;
  config.train_rows = 500;
  config.seed = 4;
  const SyntheticData a = generate_synthetic(config), b = generate_synthetic(config);
  EXPECT_EQ(a.train.features.values, b.train.features.values);
  EXPECT_EQ(a.test.features.values, b.test.features.values);
  EXPECT_EQ(a.test.kinds, b.test.kinds);
  config.seed = 5;
  EXPECT_NE(generate_synthetic(config).train.features.values, a.train.features.values);
}

// The CPU generator draws a row's latent factors once; each element must still be the element
// function's (the one the device's threads compute) bit for bit.
TEST(Synthetic, RowsAreTheElementFunctionsBits) {
  SyntheticConfig config;
  config.train_rows = 300;
  config.test_rows = 200;
  config.latent_factors = 7;  // a partial block of 4
  config.features = 13;
  config.seed = 8;
  const SyntheticData data = generate_synthetic(config);
  const synthetic::Params p = synthetic::params_of(config);
  for (std::uint32_t a = 0; a < p.factors; ++a)
    for (std::uint32_t j = 0; j < p.features; ++j)
      ASSERT_EQ(data.loadings(a, j), synthetic::loading(p, a, j));
  for (std::uint32_t r = 0; r < 300; ++r)
    for (std::uint32_t j = 0; j < p.features; ++j)
      ASSERT_EQ(data.train.features(r, j),
                synthetic::normal_value(p, data.loadings.data(), synthetic::kTrain, r, j))
          << r << " " << j;
  for (std::uint32_t r = 0; r < 200; ++r)
    if (data.test.kinds[r] == AnomalyKind::none) {
      for (std::uint32_t j = 0; j < p.features; ++j)
        ASSERT_EQ(data.test.features(r, j),
                  synthetic::normal_value(p, data.loadings.data(), synthetic::kTest, r, j));
    }
}

TEST(Synthetic, InvalidConfigurationsNameTheValue) {
  SyntheticConfig config;
  config.mean_shift_features = 31;
  try {
    generate_synthetic(config);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("31"), std::string::npos) << error.what();
  }
  config = SyntheticConfig{};
  config.anomaly_fraction = 1.5;
  EXPECT_THROW(generate_synthetic(config), InputError);
}

TEST(Standardizer, TrainingRowsGetMeanZeroAndUnitStd) {
  SyntheticConfig config;
  config.train_rows = 3000;
  Matrix x = generate_synthetic(config).train.features;
  for (std::size_t r = 0; r < x.rows; ++r)
    x(r, 4) = 7.0f;  // a constant column
  const Standardizer s = Standardizer::fit(x);
  ASSERT_EQ(s.constant_columns, std::vector<std::size_t>{4});
  s.apply(x);
  for (std::size_t j = 0; j < x.cols; ++j) {
    double mean = 0.0, sq = 0.0;
    for (std::size_t r = 0; r < x.rows; ++r)
      mean += x(r, j);
    mean /= x.rows;
    for (std::size_t r = 0; r < x.rows; ++r)
      sq += (x(r, j) - mean) * (x(r, j) - mean);
    EXPECT_NEAR(mean, 0.0, 1e-5) << "column " << j;
    EXPECT_NEAR(std::sqrt(sq / x.rows), j == 4 ? 0.0 : 1.0, 1e-4) << "column " << j;
  }
}

}  // namespace
}  // namespace vaead
