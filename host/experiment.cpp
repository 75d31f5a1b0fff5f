#include "vaead/experiment.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "vaead/error.hpp"

namespace vaead {

void ExperimentConfig::validate() const {
  require(!latent_dims.empty(), "at least one latent size is needed");
  for (int latent : latent_dims)
    require(latent >= 1, "latent sizes must be at least 1, got " + std::to_string(latent));
  require(seed_count >= 1, "seeds must be at least 1, got " + std::to_string(seed_count));
  std::vector<int> sorted = latent_dims;
  std::sort(sorted.begin(), sorted.end());
  require(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(),
          "latent sizes must be distinct");
  engine.validate();
  train.validate();
}

std::vector<std::uint64_t> ExperimentConfig::seeds() const {
  std::vector<std::uint64_t> out;
  for (int i = 0; i < seed_count; ++i)
    out.push_back(first_seed + static_cast<std::uint64_t>(i));
  return out;
}

namespace {

// ROC-AUC of the normal test rows against the rows of one anomaly kind (NaN when it has none).
double kind_roc_auc(const ResidentSplits& splits, std::span<const float> scores, AnomalyKind kind) {
  std::vector<float> subset_scores;
  std::vector<std::uint8_t> subset_labels;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const AnomalyKind row_kind = splits.test_kinds[i];
    if (row_kind != AnomalyKind::none && row_kind != kind) continue;
    subset_scores.push_back(scores[i]);
    subset_labels.push_back(row_kind == kind ? 1 : 0);
  }
  const auto anomalies = std::count(subset_labels.begin(), subset_labels.end(), 1);
  if (anomalies == 0 || anomalies == static_cast<std::ptrdiff_t>(subset_labels.size()))
    return std::numeric_limits<double>::quiet_NaN();
  return roc_auc(subset_scores, subset_labels);
}

}  // namespace

SyntheticConfig ExperimentConfig::data_for(std::uint64_t seed) const {
  SyntheticConfig config = data;
  config.seed = data_seed.value_or(seed);
  return config;
}

RunResult run_once(const ExperimentConfig& config, int latent_dim, std::uint64_t seed,
                   const ExperimentCallbacks& callbacks) {
  EngineConfig engine_config = config.engine;
  engine_config.architecture.input_dim = config.data.features;
  engine_config.architecture.latent_dim = latent_dim;
  engine_config.seed = seed;
  const std::unique_ptr<Engine> engine = make_engine(config.device, engine_config);
  // The data is drawn where the engine runs: on the device for CUDA, never crossing the bus.
  const ResidentSplits splits = engine->load_synthetic(config.data_for(seed));

  RunResult run;
  run.latent_dim = latent_dim;
  run.seed = seed;
  EpochCallback on_epoch;
  if (callbacks.on_epoch)
    on_epoch = [&](const EpochRecord& record) { callbacks.on_epoch(latent_dim, seed, record); };
  run.training = train_resident(*engine, config.train, on_epoch);

  const std::vector<float> test_scores = engine->score_resident(ResidentSplit::test);
  run.threshold = fit_threshold(config.threshold, engine->score_resident(ResidentSplit::validation),
                                test_scores);
  run.roc_auc = roc_auc(test_scores, splits.test_labels);
  run.pr_auc = average_precision(test_scores, splits.test_labels);
  run.at_threshold = confusion_at(test_scores, splits.test_labels, run.threshold);
  for (std::size_t k = 0; k < run.per_kind_roc_auc.size(); ++k)
    run.per_kind_roc_auc[k] = kind_roc_auc(splits, test_scores, kAnomalyKinds[k]);
  run.roc = thin(roc_curve(test_scores, splits.test_labels), kCurvePoints);
  run.pr = thin(pr_curve(test_scores, splits.test_labels), kCurvePoints);
  run.histogram_edges = log_bin_edges(test_scores, kHistogramBins);
  const AnomalyKind groups[4] = {AnomalyKind::none, kAnomalyKinds[0], kAnomalyKinds[1],
                                 kAnomalyKinds[2]};
  for (std::size_t g = 0; g < 4; ++g) {
    std::vector<float> group;
    for (std::size_t i = 0; i < test_scores.size(); ++i)
      if (splits.test_kinds[i] == groups[g]) group.push_back(test_scores[i]);
    run.histogram_counts[g] = histogram(group, run.histogram_edges).counts;
  }
  return run;
}

ExperimentResult run_experiment(const ExperimentConfig& config,
                                const ExperimentCallbacks& callbacks) {
  config.validate();
  ExperimentResult result;
  result.config = config;
  for (int latent : config.latent_dims)
    for (std::uint64_t seed : config.seeds())
      result.runs.push_back(run_once(config, latent, seed, callbacks));
  return result;
}

Spread spread(std::span<const double> values) {
  Spread s;
  if (values.empty()) return s;
  for (double v : values)
    s.mean += v;
  s.mean /= static_cast<double>(values.size());
  if (values.size() < 2) return s;
  double sum_sq = 0.0;
  for (double v : values)
    sum_sq += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(sum_sq / static_cast<double>(values.size() - 1));
  return s;
}

std::vector<double> collect(const ExperimentResult& result, int latent_dim,
                            const std::function<double(const RunResult&)>& metric) {
  std::vector<double> values;
  for (const RunResult& run : result.runs)
    if (run.latent_dim == latent_dim) values.push_back(metric(run));
  return values;
}

}  // namespace vaead
