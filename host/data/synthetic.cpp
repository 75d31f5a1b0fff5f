#include "vaead/data/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "data/synthetic_params.hpp"
#include "vaead/data/standardizer.hpp"
#include "vaead/philox.hpp"
#include "vaead/shuffle.hpp"
#include "vaead/synthetic_rows.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/limits.hpp"

namespace vaead {
namespace {

using synthetic::Split;

void validate(const SyntheticConfig& c) {
  require_within(c.features, 1, limits::kWidth, "features");
  require_within(c.latent_factors, 1, limits::kWidth, "latent factors");
  require_within(c.train_rows, 2, limits::kSyntheticRows, "train rows");
  require_within(c.validation_rows, 2, limits::kSyntheticRows, "validation rows");
  require_within(c.test_rows, 1, limits::kSyntheticRows, "test rows");
  require_within(c.noise_std, 0.0, limits::kSigmas, "noise std");
  require(c.anomaly_fraction >= 0 && c.anomaly_fraction <= 1,
          "anomaly fraction must lie in [0, 1], got " + std::to_string(c.anomaly_fraction));
  const int most = std::min(c.features, synthetic::kMaxShiftFeatures);
  require(c.mean_shift_features >= 1 && c.mean_shift_features <= most,
          "mean-shift features must lie in [1, " + std::to_string(most) + "] (at most the " +
              std::to_string(c.features) + " features, and 256), got " +
              std::to_string(c.mean_shift_features));
  require_within(c.mean_shift_sigmas, 0.0, limits::kSigmas, "mean shift (sigmas)");
  require_within(c.variance_explosion_sigmas, 0.0, limits::kSigmas, "variance explosion (sigmas)");
}

Matrix draw_loadings(const synthetic::Params& p) {
  Matrix w(p.factors, p.features);
  for (std::uint32_t a = 0; a < p.factors; ++a)
    for (std::uint32_t j = 0; j < p.features; ++j)
      w(a, j) = synthetic::loading(p, a, j);
  return w;
}

// Row by row: the row's latent factors drawn once (synthetic::normal_value draws them again for
// every element, as a kernel's thread must), then each element the very sum normal_value makes,
// in its order: the same bits (tests/test_synthetic.cpp compares them).
Dataset normal_rows(const synthetic::Params& p, const Matrix& w, Split split, int row_count) {
  Dataset d;
  d.features = Matrix(static_cast<std::size_t>(row_count), p.features);
  const CounterRng latent{p.seed, RandomStream::latent_factors};
  const CounterRng noise{p.seed, RandomStream::feature_noise};
  const std::uint32_t blocks = (p.factors + 3) / 4, noise_blocks = (p.features + 3) / 4;
  std::vector<double> z(4 * static_cast<std::size_t>(blocks));
  std::vector<double> e(4 * static_cast<std::size_t>(noise_blocks));
  for (std::uint32_t r = 0; r < d.features.rows; ++r) {
    for (std::uint32_t block = 0; block < blocks; ++block)
      latent.normal4(block, r, split, &z[4 * block]);
    for (std::uint32_t block = 0; block < noise_blocks; ++block)
      noise.normal4(block, r, split, &e[4 * block]);
    for (std::uint32_t j = 0; j < p.features; ++j) {
      double value = p.noise_std * e[j];
      for (std::uint32_t a = 0; a < p.factors; ++a)
        value += z[a] * static_cast<double>(w.data()[a * p.features + j]);
      d.features(r, j) = static_cast<float>(value);
    }
  }
  d.labels.assign(d.features.rows, 0);
  d.kinds.assign(d.features.rows, AnomalyKind::none);
  return d;
}

}  // namespace

synthetic::Params synthetic::params_of(const SyntheticConfig& c) {
  validate(c);
  return {c.seed,
          static_cast<std::uint32_t>(c.features),
          static_cast<std::uint32_t>(c.latent_factors),
          c.noise_std,
          static_cast<std::uint32_t>(c.mean_shift_features),
          c.mean_shift_sigmas,
          c.variance_explosion_sigmas};
}

std::array<int, 3> anomaly_counts(const SyntheticConfig& c) {
  const int total = static_cast<int>(std::lround(c.anomaly_fraction * c.test_rows));
  std::array<int, 3> counts{total / 3, total / 3, total / 3};
  for (int i = 0; i < total % 3; ++i)
    ++counts[static_cast<std::size_t>(i)];
  return counts;
}

std::vector<AnomalyKind> anomaly_layout(const SyntheticConfig& c) {
  const std::vector<std::size_t> order = keyed_permutation(
      static_cast<std::size_t>(c.test_rows), CounterRng{c.seed, RandomStream::anomaly_layout}, 0);
  const std::array<int, 3> counts = anomaly_counts(c);
  std::vector<AnomalyKind> kinds(order.size(), AnomalyKind::none);
  std::size_t next = 0;
  for (std::size_t k = 0; k < counts.size(); ++k)
    for (int i = 0; i < counts[k]; ++i)
      kinds[order[next++]] = kAnomalyKinds[k];
  return kinds;
}

SyntheticData generate_synthetic(const SyntheticConfig& c) {
  const synthetic::Params p = synthetic::params_of(c);
  SyntheticData data;
  data.loadings = draw_loadings(p);
  data.train = normal_rows(p, data.loadings, synthetic::kTrain, c.train_rows);
  data.validation = normal_rows(p, data.loadings, synthetic::kValidation, c.validation_rows);
  data.test = normal_rows(p, data.loadings, synthetic::kTest, c.test_rows);
  data.train_std = column_std(data.train.features);

  // Anomalous test rows sit at random places: the test rows sorted by a random key, the first
  // counts[0] get the first kind, the next counts[1] the second, and so on.
  data.test.kinds = anomaly_layout(c);
  for (std::uint32_t row = 0; row < data.test.rows(); ++row) {
    if (data.test.kinds[row] == AnomalyKind::none) continue;
    data.test.labels[row] = 1;
    synthetic::plant_anomaly(p, data.test.kinds[row], row, data.train_std.data(),
                             data.test.features.row(row));
  }

  std::vector<std::string> names;
  for (int j = 0; j < c.features; ++j)
    names.push_back("x" + std::to_string(j));
  data.train.column_names = data.validation.column_names = data.test.column_names = names;
  return data;
}

}  // namespace vaead
