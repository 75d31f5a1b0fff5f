// A study's models: trained side by side in one engine (spread over the CPU's threads, or in the
// same kernels on the GPU), scored on their validation and test rows and measured; a run's model
// file. One path for every engine.
#include "vaead/study/experiment.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <new>
#include <numeric>

#include "cpu/worker_pool.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

struct StudyData {
  std::vector<float> validation_scores, test_scores;
  std::vector<std::uint8_t> test_labels;
  std::vector<AnomalyKind> test_kinds;  // empty for a table
};

bool has_both_classes(std::span<const std::uint8_t> labels) {
  const auto anomalies = std::count(labels.begin(), labels.end(), 1);
  return anomalies > 0 && anomalies < static_cast<std::ptrdiff_t>(labels.size());
}

// Everything measured from the scores of a trained model; ROC-AUC and AP from `ranked` when the
// engine ranked the scores where they live.
void measure(const ExperimentConfig& config, StudyData& data, RunResult& run,
             const std::optional<Ranking>& ranked) {
  const std::vector<float>& test_scores = data.test_scores;
  run.threshold = fit_threshold(config.threshold, data.validation_scores, test_scores);
  double validation_sum = 0.0;
  for (float s : data.validation_scores)
    validation_sum += s;
  run.validation_error = validation_sum / static_cast<double>(data.validation_scores.size());
  std::sort(data.validation_scores.begin(), data.validation_scores.end());
  run.validation_scores = std::move(data.validation_scores);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  run.per_kind_roc_auc.fill(nan);
  const std::vector<std::uint8_t>& labels = data.test_labels;
  if (!has_both_classes(labels)) {
    run.roc_auc = run.pr_auc = nan;
    return;
  }
  run.labelled = true;
  if (ranked && std::isfinite(ranked->roc_auc)) {
    run.roc_auc = ranked->roc_auc;
    run.pr_auc = ranked->average_precision;
  } else {
    run.roc_auc = roc_auc(test_scores, labels);
    run.pr_auc = average_precision(test_scores, labels);
  }
  run.at_threshold = confusion_at(test_scores, labels, run.threshold);
  run.roc = thin(roc_curve(test_scores, labels), kCurvePoints);
  run.pr = thin(pr_curve(test_scores, labels), kCurvePoints);
  run.histogram_edges = log_bin_edges(test_scores, kHistogramBins);
  // Groups: normal rows, then each kind (a table's anomalies are all in the first kind's group).
  const auto group_of = [&](std::size_t i) -> std::size_t {
    if (data.test_kinds.empty()) return labels[i] != 0 ? 1 : 0;
    const AnomalyKind kind = data.test_kinds[i];
    for (std::size_t k = 0; k < std::size(kAnomalyKinds); ++k)
      if (kind == kAnomalyKinds[k]) return k + 1;
    return 0;
  };
  std::array<std::vector<float>, 4> groups;
  for (std::size_t i = 0; i < test_scores.size(); ++i)
    groups[group_of(i)].push_back(test_scores[i]);
  for (std::size_t g = 0; g < groups.size(); ++g)
    run.histogram_counts[g] = histogram(groups[g], run.histogram_edges).counts;
  if (data.test_kinds.empty()) return;
  for (std::size_t k = 0; k < std::size(kAnomalyKinds); ++k) {
    std::vector<float> subset_scores;
    std::vector<std::uint8_t> subset_labels;
    for (std::size_t i = 0; i < test_scores.size(); ++i) {
      const std::size_t g = group_of(i);
      if (g != 0 && g != k + 1) continue;
      subset_scores.push_back(test_scores[i]);
      subset_labels.push_back(g == k + 1 ? 1 : 0);
    }
    if (has_both_classes(subset_labels))
      run.per_kind_roc_auc[k] = roc_auc(subset_scores, subset_labels);
  }
}

// A run whose training stopped: its metrics are NaN; it keeps the epochs it finished.
void mark_failed(RunResult& run, std::string failure) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  run.failure = std::move(failure);
  run.roc_auc = run.pr_auc = run.validation_error = run.threshold = nan;
  run.per_kind_roc_auc.fill(nan);
}

// The engine's models: one per point, each with the data slot of its data seed (one slot per
// distinct data seed, `slot_configs` the data of each; a table is one slot).
EngineModels engine_models(const ExperimentConfig& config, const std::vector<SweepPoint>& points,
                           std::vector<SyntheticConfig>& slot_configs) {
  EngineModels models;
  models.concurrency = config.concurrency;
  std::map<std::uint64_t, int> slot_of_seed;
  for (const SweepPoint& point : points) {
    int slot = 0;
    if (!config.table) {
      const SyntheticConfig data = config.data_for(point.seed);
      const auto [it, added] =
          slot_of_seed.emplace(data.seed, static_cast<int>(slot_configs.size()));
      if (added) slot_configs.push_back(data);
      slot = it->second;
    }
    models.specs.push_back({.latent_dim = point.latent_dim, .seed = point.seed, .data_slot = slot});
  }
  models.data_slots = config.table ? 1 : static_cast<int>(slot_configs.size());
  return models;
}

// The engine's models trained side by side, each with its point's beta, from the checkpoint's
// state when the callbacks resume one.
std::vector<ModelTraining> train_points(Engine& engine, const ExperimentConfig& config,
                                        const std::vector<SweepPoint>& points,
                                        const ExperimentCallbacks& callbacks) {
  std::vector<TrainConfig> schedules(points.size(), config.train);
  for (std::size_t m = 0; m < points.size(); ++m)
    schedules[m].beta = points[m].beta;
  const TrainingCheckpoint* resume = callbacks.resume;
  if (resume != nullptr) {
    require(resume->states.size() == points.size(),
            "a checkpoint of " + std::to_string(resume->states.size()) + " models for " +
                std::to_string(points.size()));
    for (std::size_t m = 0; m < points.size(); ++m)
      engine.set_optimizer_state(static_cast<int>(m), resume->states[m]);
  }
  ProgressCallback after_epoch;
  if (callbacks.after_epoch)
    after_epoch = [&](const TrainingProgress& progress) {
      callbacks.after_epoch(progress, [&] {
        std::vector<OptimizerState> states;
        for (std::size_t m = 0; m < points.size(); ++m)
          states.push_back(engine.optimizer_state(static_cast<int>(m)));
        return states;
      });
    };
  return train_models(
      engine, schedules,
      [&](std::size_t m, const EpochRecord& record) {
        if (callbacks.on_epoch) callbacks.on_epoch(points[m], record);
      },
      resume != nullptr ? &resume->progress : nullptr, after_epoch);
}

// Every model's scores of the validation and test rows, and the test rows ranked by each model
// where the engine computes (when there are test rows).
struct ModelScores {
  std::vector<std::vector<float>> validation, test;
  std::optional<std::vector<Ranking>> ranked;
};

ModelScores score_points(Engine& engine, const TableSplits* table, std::size_t models) {
  ModelScores scores;
  scores.validation = table != nullptr ? engine.score_models(table->validation)
                                       : engine.score_resident_models(ResidentSplit::validation);
  scores.test.resize(models);
  if (table == nullptr) {
    scores.test = engine.score_resident_models(ResidentSplit::test);
    scores.ranked = engine.rank_last_scores({});  // the resident labels
  } else if (table->test.rows > 0) {
    scores.test = engine.score_models(table->test);
    scores.ranked = engine.rank_last_scores(table->test_labels);
  }
  return scores;
}

// Every point in one engine: the data drawn (one slot per distinct data seed) or the table's
// splits made resident, the models trained side by side, scored and measured; in points order.
std::vector<RunResult> run_points(const ExperimentConfig& config,
                                  const std::vector<SweepPoint>& points,
                                  const ExperimentCallbacks& callbacks) {
  EngineConfig shared = config.engine;
  shared.architecture.input_dim = config.features();
  std::vector<SyntheticConfig> slot_configs;
  const EngineModels models = engine_models(config, points, slot_configs);
  const std::unique_ptr<Engine> engine = make_engine(config.device, shared, models);
  // The data lives where the engine computes: drawn on the device for CUDA, never crossing the bus.
  const TableSplits* table = config.table.get();
  std::vector<ResidentSplits> splits;
  if (table != nullptr)
    engine->set_training_data(table->train);
  else
    splits = engine->load_synthetic_slots(slot_configs);
  std::vector<ModelTraining> trained = train_points(*engine, config, points, callbacks);
  ModelScores scores = score_points(*engine, table, points.size());

  std::vector<RunResult> runs(points.size());
  for (std::size_t m = 0; m < points.size(); ++m) {
    RunResult& run = runs[m];
    run.latent_dim = points[m].latent_dim;
    run.beta = points[m].beta;
    run.seed = points[m].seed;
    run.training = std::move(trained[m].report);
    run.parameters = engine->parameters_of(static_cast<int>(m));
    StudyData data;
    if (table != nullptr) {
      run.standardizer = table->standardizer;
      data.test_labels = table->test_labels;
    } else {
      const ResidentSplits& slot = splits[static_cast<std::size_t>(models.specs[m].data_slot)];
      run.standardizer = slot.standardizer;
      data.test_labels = slot.test_labels;
      data.test_kinds = slot.test_kinds;
    }
    if (!trained[m].failure.empty()) {
      mark_failed(run, std::move(trained[m].failure));
      continue;
    }
    data.validation_scores = std::move(scores.validation[m]);
    data.test_scores = std::move(scores.test[m]);
    measure(config, data, run,
            scores.ranked ? std::optional<Ranking>((*scores.ranked)[m]) : std::optional<Ranking>());
  }
  return runs;
}

}  // namespace

RunResult run_once(const ExperimentConfig& config, const SweepPoint& point,
                   const ExperimentCallbacks& callbacks) {
  return run_points(config, {point}, callbacks)[0];
}

ExperimentResult run_experiment(const ExperimentConfig& config,
                                const ExperimentCallbacks& callbacks) {
  config.validate();
  ExperimentResult result;
  result.config = config;
  // On the GPU, in waves that fit its free memory (one wave where every model fits).
  std::vector<std::size_t> every(config.points().size());
  std::iota(every.begin(), every.end(), std::size_t{0});
  // A training that resumes keeps its models in one wave.
  const bool resumable = callbacks.resume != nullptr || callbacks.after_epoch;
  result.runs = run_waves(
      config, every, config.device == EngineKind::cuda && !resumable ? models_at_once(config) : 0,
      callbacks);
  return result;
}

std::vector<RunResult> run_waves(const ExperimentConfig& config,
                                 std::span<const std::size_t> indices, std::size_t wave,
                                 const ExperimentCallbacks& callbacks) {
  config.validate();
  const std::vector<SweepPoint> points = config.points();
  for (std::size_t i : indices)
    require(i < points.size(), "point " + std::to_string(i) + " lies outside the grid");
  if (wave == 0) wave = std::max<std::size_t>(indices.size(), 1);
  // Waves of models that share their data (synthetic: a data seed each), so that a wave draws
  // as few data sets as it can; in grid order within a data set (the same latent size side by
  // side: equal work).
  std::vector<std::size_t> order(indices.begin(), indices.end());
  if (!config.table) {
    std::map<std::size_t, std::uint64_t> data_seed;  // by point
    for (std::size_t i : indices)
      data_seed.emplace(i, config.data_for(points[i].seed).seed);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return data_seed.at(a) < data_seed.at(b);
    });
  }
  std::map<std::size_t, RunResult> by_index;
  for (std::size_t start = 0; start < order.size();) {
    const std::span<const std::size_t> these(order.data() + start,
                                             std::min(wave, order.size() - start));
    std::vector<SweepPoint> group;
    for (std::size_t i : these)
      group.push_back(points[i]);
    std::vector<RunResult> done;
    try {
      done = run_points(config, group, callbacks);
    } catch (const std::bad_alloc&) {  // the wave does not fit after all: half of it, again
      if (group.size() == 1) throw;
      wave = group.size() / 2;
      continue;
    }
    if (callbacks.on_wave) callbacks.on_wave(these, done);
    for (std::size_t k = 0; k < these.size(); ++k)
      by_index.insert_or_assign(these[k], std::move(done[k]));
    start += these.size();
  }
  std::vector<RunResult> runs;
  runs.reserve(indices.size());
  for (std::size_t i : indices)
    runs.push_back(std::move(by_index.at(i)));  // the indices are distinct points
  return runs;
}

DataShape data_shape(const ExperimentConfig& config) {
  if (config.table)
    return {config.table->train.rows, config.table->validation.rows, config.table->test.rows,
            config.features()};
  return {static_cast<std::size_t>(config.data.train_rows),
          static_cast<std::size_t>(config.data.validation_rows),
          static_cast<std::size_t>(config.data.test_rows), config.features()};
}

std::size_t models_at_once(const ExperimentConfig& config) {
  const std::size_t count = config.points().size();
  if (config.device == EngineKind::cuda) {
    EngineConfig widest = config.engine;
    widest.architecture.input_dim = config.features();
    widest.architecture.latent_dim = 1;
    for (const SweepPoint& point : config.points())
      widest.architecture.latent_dim = std::max(widest.architecture.latent_dim, point.latent_dim);
    return models_that_fit(EngineKind::cuda, widest, data_shape(config), count);
  }
  if (config.concurrency > 0) return static_cast<std::size_t>(config.concurrency);
  return static_cast<std::size_t>(config.engine.threads > 0 ? config.engine.threads
                                                            : cpu::available_cores());
}

ModelFile model_of_run(const ExperimentConfig& config, const RunResult& run) {
  ModelFile model;
  model.engine = config.engine;
  model.engine.architecture.input_dim = config.features();
  model.engine.architecture.latent_dim = run.latent_dim;
  model.engine.seed = run.seed;
  model.train = config.train;
  model.train.beta = run.beta;
  model.standardizer = run.standardizer;
  if (config.table) {
    model.feature_names = config.table->feature_names;
    model.training_rows = config.table->train.rows;
  } else {
    for (int j = 0; j < config.data.features; ++j)
      model.feature_names.push_back("x" + std::to_string(j));
    model.training_rows = static_cast<std::size_t>(config.data.train_rows);
  }
  model.holdout_scores = run.validation_scores;
  model.holdout_rows = run.validation_scores.size();
  model.holdout_fraction = static_cast<double>(model.holdout_rows) /
                           static_cast<double>(model.holdout_rows + model.training_rows);
  model.threshold_rule = config.threshold;
  model.threshold = config.threshold.kind == ThresholdRule::Kind::contamination
                        ? 0.0
                        : fit_threshold(config.threshold, model.holdout_scores);
  model.parameters = run.parameters;
  return model;
}

}  // namespace vaead
