// The seed study's data: a linear latent-factor model with three kinds of planted anomalies.
#pragma once

#include <array>
#include <cstdint>

#include "vaead/data/dataset.hpp"

namespace vaead {

struct SyntheticConfig {
  int features = 30;              // d
  int latent_factors = 6;         // k: x = z W + e, z ~ N(0, I_k), W_ij ~ N(0, 1/k)
  double noise_std = 0.1;         // e ~ N(0, noise_std^2) per feature
  int train_rows = 20000;         // normal
  int validation_rows = 5000;     // normal, for the threshold
  int test_rows = 5000;           // normal and anomalous
  double anomaly_fraction = 0.1;  // of the test rows, split as equally as possible over 3 kinds
  int mean_shift_features = 5;    // features moved by +mean_shift_sigmas * sigma_j
  double mean_shift_sigmas = 3.0;
  double variance_explosion_sigmas = 5.0;  // extra N(0, (s * sigma_j)^2) noise on one feature
  std::uint64_t seed = 0;
};

struct SyntheticData {
  Dataset train;                  // normal rows, labels 0
  Dataset validation;             // normal rows, labels 0
  Dataset test;                   // labels and kinds set
  Matrix loadings;                // W, latent_factors x features
  std::vector<double> train_std;  // sigma_j of the raw training rows (what anomalies are scaled by)
};

// Validates `config` (InputError naming the field) and draws the three splits.
SyntheticData generate_synthetic(const SyntheticConfig& config);

// The kind of every test row: anomalous rows sit at random places (anomaly_counts of each kind).
std::vector<AnomalyKind> anomaly_layout(const SyntheticConfig& config);

// The number of test anomalies of each kind, in kAnomalyKinds order (remainders go to the first).
std::array<int, 3> anomaly_counts(const SyntheticConfig& config);

}  // namespace vaead
