// A sweep's results summarized: per configuration (latent size x beta) the mean and spread over
// seeds of each metric, and the configuration a label-free rule (and the labels) would pick.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "vaead/study/experiment.hpp"

namespace vaead {

// Mean and sample standard deviation (0 for one value, NaN for none).
struct Spread {
  double mean = 0.0;
  double std = 0.0;
};
Spread spread_of(std::span<const double> values);

// A metric of every run with `latent_dim` (and `beta` when given) that finished training, in seed
// order.
std::vector<double> metric_over_seeds(const ExperimentResult& result, int latent_dim,
                                      const std::function<double(const RunResult&)>& metric,
                                      std::optional<double> beta = std::nullopt);

// One configuration of a sweep: mean and spread over its seeds.
struct SweepCell {
  int latent_dim = 0;
  double beta = 0.0;
  std::size_t runs = 0;    // that finished training (the spreads are over these)
  std::size_t failed = 0;  // that stopped on a non-finite value
  Spread roc_auc, pr_auc, precision, recall, f1, validation_error;
};

// Latent-major, then beta.
std::vector<SweepCell> summarize_sweep(const ExperimentResult& result);

// The configuration a label-free rule picks (lowest mean validation error; ties: the first) and,
// when labels gave AUCs, the one with the highest mean ROC-AUC, among those with a run that
// finished; TrainingError when no run finished. Indices into the cells.
struct SweepChoice {
  std::size_t label_free = 0;
  std::optional<std::size_t> best_roc_auc;
};
SweepChoice choose_configuration(std::span<const SweepCell> cells);

}  // namespace vaead
