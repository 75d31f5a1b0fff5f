#include "vaead/experiment.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "vaead/error.hpp"
#include "vaead/standardizer.hpp"

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

Matrix standardized(const Standardizer& standardizer, Matrix rows) {
  standardizer.apply(rows);
  return rows;
}

std::vector<float> scores_of(Engine& engine, const Matrix& rows) {
  std::vector<float> scores(rows.rows);
  engine.score(rows, scores, nullptr);
  return scores;
}

// ROC-AUC of the normal test rows against the rows of one anomaly kind (NaN when it has none).
double kind_roc_auc(const Dataset& test, std::span<const float> scores, AnomalyKind kind) {
  std::vector<float> subset_scores;
  std::vector<std::uint8_t> subset_labels;
  for (std::size_t i = 0; i < test.rows(); ++i) {
    if (test.kinds[i] != AnomalyKind::none && test.kinds[i] != kind) continue;
    subset_scores.push_back(scores[i]);
    subset_labels.push_back(test.kinds[i] == kind ? 1 : 0);
  }
  if (test.count_kind(kind) == 0 || test.count_kind(AnomalyKind::none) == 0)
    return std::numeric_limits<double>::quiet_NaN();
  return roc_auc(subset_scores, subset_labels);
}

}  // namespace

RunResult run_once(const ExperimentConfig& config, const SyntheticData& data, int latent_dim,
                   std::uint64_t seed, const ExperimentCallbacks& callbacks) {
  const Standardizer standardizer = Standardizer::fit(data.train.features);
  const Matrix train_rows = standardized(standardizer, data.train.features);
  const Matrix validation_rows = standardized(standardizer, data.validation.features);
  const Matrix test_rows = standardized(standardizer, data.test.features);

  EngineConfig engine_config = config.engine;
  engine_config.architecture.input_dim = static_cast<int>(train_rows.cols);
  engine_config.architecture.latent_dim = latent_dim;
  engine_config.seed = seed;
  const std::unique_ptr<Engine> engine = make_engine(config.device, engine_config);

  RunResult run;
  run.latent_dim = latent_dim;
  run.seed = seed;
  EpochCallback on_epoch;
  if (callbacks.on_epoch)
    on_epoch = [&](const EpochRecord& record) { callbacks.on_epoch(latent_dim, seed, record); };
  run.training = train(*engine, train_rows, config.train, on_epoch);

  run.threshold = fit_threshold(config.threshold, scores_of(*engine, validation_rows));
  const std::vector<float> test_scores = scores_of(*engine, test_rows);
  run.roc_auc = roc_auc(test_scores, data.test.labels);
  run.pr_auc = average_precision(test_scores, data.test.labels);
  run.at_threshold = confusion_at(test_scores, data.test.labels, run.threshold);
  for (std::size_t k = 0; k < run.per_kind_roc_auc.size(); ++k)
    run.per_kind_roc_auc[k] = kind_roc_auc(data.test, test_scores, kAnomalyKinds[k]);
  return run;
}

ExperimentResult run_experiment(const ExperimentConfig& config,
                                const ExperimentCallbacks& callbacks) {
  config.validate();
  ExperimentResult result;
  result.config = config;
  // Seeds outside, latent sizes inside: each seed's data is drawn once and shared by every size.
  std::map<std::pair<int, std::uint64_t>, RunResult> runs;
  std::optional<SyntheticData> shared_data;
  for (std::uint64_t seed : config.seeds()) {
    SyntheticConfig data_config = config.data;
    data_config.seed = config.data_seed.value_or(seed);
    if (!config.data_seed || !shared_data) shared_data = generate_synthetic(data_config);
    for (int latent : config.latent_dims)
      runs[{latent, seed}] = run_once(config, *shared_data, latent, seed, callbacks);
  }
  for (int latent : config.latent_dims)
    for (std::uint64_t seed : config.seeds())
      result.runs.push_back(runs.at({latent, seed}));
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
