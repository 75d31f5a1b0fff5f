#include "vaead/synthetic.hpp"

#include <cmath>
#include <string>

#include "data/shuffle.hpp"
#include "vaead/error.hpp"
#include "vaead/philox.hpp"
#include "vaead/standardizer.hpp"

namespace vaead {
namespace {

enum Split : std::uint32_t { kTrain = 0, kValidation = 1, kTest = 2 };

void validate(const SyntheticConfig& c) {
  auto positive = [](int value, const char* name) {
    require(value >= 1, std::string(name) + " must be at least 1, got " + std::to_string(value));
  };
  positive(c.features, "features");
  positive(c.latent_factors, "latent factors");
  positive(c.test_rows, "test rows");
  require(c.train_rows >= 2, "train rows must be at least 2, got " + std::to_string(c.train_rows));
  require(c.validation_rows >= 2,
          "validation rows must be at least 2, got " + std::to_string(c.validation_rows));
  require(c.noise_std >= 0, "noise std must not be negative, got " + std::to_string(c.noise_std));
  require(c.anomaly_fraction >= 0 && c.anomaly_fraction <= 1,
          "anomaly fraction must lie in [0, 1], got " + std::to_string(c.anomaly_fraction));
  require(c.mean_shift_features >= 1 && c.mean_shift_features <= c.features,
          "mean-shift features must lie in [1, features = " + std::to_string(c.features) +
              "], got " + std::to_string(c.mean_shift_features));
  require(c.mean_shift_sigmas >= 0 && c.variance_explosion_sigmas >= 0,
          "anomaly magnitudes (in sigmas) must not be negative");
}

Matrix draw_loadings(const SyntheticConfig& c) {
  const CounterRng rng{c.seed, Stream::loadings};
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.latent_factors));  // N(0, 1/k)
  Matrix w(static_cast<std::size_t>(c.latent_factors), static_cast<std::size_t>(c.features));
  for (std::uint32_t a = 0; a < w.rows; ++a)
    for (std::uint32_t j = 0; j < w.cols; ++j)
      w(a, j) = static_cast<float>(scale * rng.normal_at(a, 0, j));
  return w;
}

// Normal rows of one split: x = z W + e, accumulated in double.
Matrix draw_normal_rows(const SyntheticConfig& c, const Matrix& w, Split split, int row_count) {
  const CounterRng latent_rng{c.seed, Stream::latent_factors};
  const CounterRng noise_rng{c.seed, Stream::feature_noise};
  Matrix x(static_cast<std::size_t>(row_count), w.cols);
  std::vector<double> z(w.rows);
  for (int r = 0; r < row_count; ++r) {
    const auto row = static_cast<std::uint32_t>(r);
    for (std::uint32_t a = 0; a < w.rows; ++a)
      z[a] = latent_rng.normal_at(row, split, a);
    for (std::uint32_t j = 0; j < w.cols; ++j) {
      double value = c.noise_std * noise_rng.normal_at(row, split, j);
      for (std::size_t a = 0; a < w.rows; ++a)
        value += z[a] * w(a, j);
      x(row, j) = static_cast<float>(value);
    }
  }
  return x;
}

Dataset normal_dataset(Matrix features) {
  Dataset d;
  d.labels.assign(features.rows, 0);
  d.kinds.assign(features.rows, AnomalyKind::none);
  d.features = std::move(features);
  return d;
}

// Applies anomaly `kind` to test row `row` in place (raw, unstandardized units).
void plant_anomaly(const SyntheticConfig& c, const std::vector<double>& sigma, AnomalyKind kind,
                   std::uint32_t row, float* x) {
  const CounterRng feature_rng{c.seed, Stream::anomaly_features};
  const CounterRng value_rng{c.seed, Stream::anomaly_values};
  const auto feature_count = static_cast<std::uint32_t>(c.features);
  // A partial Fisher-Yates over the features: the first `touched` are distinct and uniform.
  const int touched = kind == AnomalyKind::mean_shift ? c.mean_shift_features : 1;
  std::vector<std::uint32_t> features(feature_count);
  for (std::uint32_t j = 0; j < feature_count; ++j)
    features[j] = j;
  for (std::uint32_t t = 0; t < static_cast<std::uint32_t>(touched); ++t)
    std::swap(features[t], features[t + uniform_below(feature_rng, feature_count - t, t, row, 0)]);

  for (std::uint32_t t = 0; t < static_cast<std::uint32_t>(touched); ++t) {
    const std::uint32_t j = features[t];
    const double draw = value_rng.normal_at(row, 0, t);
    switch (kind) {
      case AnomalyKind::mean_shift:
        x[j] = static_cast<float>(x[j] + c.mean_shift_sigmas * sigma[j]);
        break;
      case AnomalyKind::correlation_break:  // same marginal scale, independent of the others
        x[j] = static_cast<float>(sigma[j] * draw);
        break;
      case AnomalyKind::variance_explosion:
        x[j] = static_cast<float>(x[j] + c.variance_explosion_sigmas * sigma[j] * draw);
        break;
      case AnomalyKind::none:
        break;
    }
  }
}

}  // namespace

std::array<int, 3> anomaly_counts(const SyntheticConfig& c) {
  const int total = static_cast<int>(std::lround(c.anomaly_fraction * c.test_rows));
  std::array<int, 3> counts{total / 3, total / 3, total / 3};
  for (int i = 0; i < total % 3; ++i)
    ++counts[static_cast<std::size_t>(i)];
  return counts;
}

SyntheticData generate_synthetic(const SyntheticConfig& c) {
  validate(c);
  SyntheticData data;
  data.loadings = draw_loadings(c);
  data.train = normal_dataset(draw_normal_rows(c, data.loadings, kTrain, c.train_rows));
  data.validation =
      normal_dataset(draw_normal_rows(c, data.loadings, kValidation, c.validation_rows));
  data.test = normal_dataset(draw_normal_rows(c, data.loadings, kTest, c.test_rows));
  data.train_std = column_std(data.train.features);

  // Anomalous test rows sit at random places: the first counts[0] of a shuffled order get the
  // first kind, the next counts[1] the second, and so on.
  const std::vector<std::size_t> order = shuffled_indices(
      static_cast<std::size_t>(c.test_rows), CounterRng{c.seed, Stream::anomaly_layout}, 0);
  const std::array<int, 3> counts = anomaly_counts(c);
  std::size_t next = 0;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    for (int i = 0; i < counts[k]; ++i, ++next) {
      const std::size_t row = order[next];
      data.test.labels[row] = 1;
      data.test.kinds[row] = kAnomalyKinds[k];
      plant_anomaly(c, data.train_std, kAnomalyKinds[k], static_cast<std::uint32_t>(row),
                    data.test.features.row(row));
    }
  }

  std::vector<std::string> names;
  for (int j = 0; j < c.features; ++j)
    names.push_back("x" + std::to_string(j));
  data.train.column_names = data.validation.column_names = data.test.column_names = names;
  return data;
}

}  // namespace vaead
