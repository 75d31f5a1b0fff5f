// The seed study: for each latent size and seed, generate data, train on normal rows, set the
// threshold on validation-normal rows, and measure detection on the test rows.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vaead/curves.hpp"
#include "vaead/engine.hpp"
#include "vaead/metrics.hpp"
#include "vaead/synthetic.hpp"
#include "vaead/threshold.hpp"
#include "vaead/trainer.hpp"

namespace vaead {

struct ExperimentConfig {
  SyntheticConfig data;  // data.seed is replaced per run (see data_seed)
  EngineConfig engine;   // engine.architecture.latent_dim and engine.seed are replaced per run
  TrainConfig train;
  ThresholdRule threshold;
  EngineKind device = EngineKind::cpu;
  std::vector<int> latent_dims{2, 4, 8, 16};
  int seed_count = 3;
  std::uint64_t first_seed = 0;  // runs use seeds first_seed .. first_seed + seed_count - 1
  // The data of every run is drawn with this seed when set; otherwise with the run's own seed (so
  // the spread over seeds covers data and model, and latent sizes are compared on the same data).
  std::optional<std::uint64_t> data_seed;

  void validate() const;
  std::vector<std::uint64_t> seeds() const;
  SyntheticConfig data_for(std::uint64_t seed) const;  // the data of the run with `seed`
};

struct RunResult {
  int latent_dim = 0;
  std::uint64_t seed = 0;
  double roc_auc = 0.0;
  double pr_auc = 0.0;  // average precision
  double threshold = 0.0;
  Confusion at_threshold;
  std::array<double, 3> per_kind_roc_auc{};  // normal vs each kind, in kAnomalyKinds order
  TrainingReport training;
  Curve roc, pr;  // of the test rows, thinned to at most kCurvePoints
  // Test scores on log-spaced bins: normal rows, then each kind (kAnomalyKinds order).
  std::vector<double> histogram_edges;
  std::array<std::vector<std::size_t>, 4> histogram_counts;
};

inline constexpr std::size_t kCurvePoints = 1000;
inline constexpr std::size_t kHistogramBins = 60;

struct ExperimentResult {
  ExperimentConfig config;
  std::vector<RunResult> runs;  // latent-major, then seed
};

struct ExperimentCallbacks {
  std::function<void(int latent_dim, std::uint64_t seed, const EpochRecord&)> on_epoch;
};

// One run of the study: draw the data of `seed` inside the engine, train, threshold, measure.
RunResult run_once(const ExperimentConfig& config, int latent_dim, std::uint64_t seed,
                   const ExperimentCallbacks& callbacks = {});

ExperimentResult run_experiment(const ExperimentConfig& config,
                                const ExperimentCallbacks& callbacks = {});

// Mean and sample standard deviation (0 for one value).
struct Spread {
  double mean = 0.0;
  double std = 0.0;
};
Spread spread(std::span<const double> values);

// A metric of every run with `latent_dim`, in seed order.
std::vector<double> collect(const ExperimentResult& result, int latent_dim,
                            const std::function<double(const RunResult&)>& metric);

}  // namespace vaead
