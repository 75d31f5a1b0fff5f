// A study's models: each trained alone (run_once) or all at once (run_experiment, over the CPU's
// threads or in one CUDA engine), measured on its validation and test rows; a run's model file.
#include "vaead/experiment.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "cpu/worker_pool.hpp"
#include "cuda/engine_factory.hpp"
#include "vaead/error.hpp"

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

// Everything measured from the scores of a trained model; ROC-AUC and AP from `device` when the
// device computed them.
void measure(const ExperimentConfig& config, StudyData& data, RunResult& run,
             const DeviceRun* device = nullptr) {
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
  if (device != nullptr && device->roc_auc && device->pr_auc) {
    run.roc_auc = *device->roc_auc;
    run.pr_auc = *device->pr_auc;
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

std::vector<float> scores_of(Engine& engine, const Matrix& rows) {
  std::vector<float> scores(rows.rows);
  engine.score(rows, scores, nullptr);
  return scores;
}

}  // namespace

RunResult run_once(const ExperimentConfig& config, const SweepPoint& point,
                   const ExperimentCallbacks& callbacks) {
  EngineConfig engine_config = config.engine;
  engine_config.architecture.input_dim = config.features();
  engine_config.architecture.latent_dim = point.latent_dim;
  engine_config.seed = point.seed;
  TrainConfig train_config = config.train;
  train_config.beta = point.beta;
  const std::unique_ptr<Engine> engine = make_engine(config.device, engine_config);

  RunResult run;
  run.latent_dim = point.latent_dim;
  run.beta = point.beta;
  run.seed = point.seed;
  StudyData data;
  if (config.table) {
    run.standardizer = config.table->standardizer;
    engine->set_training_data(config.table->train);
  } else {
    // The data is drawn where the engine runs: on the device for CUDA, never crossing the bus.
    ResidentSplits splits = engine->load_synthetic(config.data_for(point.seed));
    run.standardizer = std::move(splits.standardizer);
    data.test_labels = std::move(splits.test_labels);
    data.test_kinds = std::move(splits.test_kinds);
  }
  TrainingReport finished;  // the epochs completed, kept if a later one fails
  const EpochCallback on_epoch = [&](const EpochRecord& record) {
    finished.epochs.push_back(record);
    finished.seconds += record.seconds;
    finished.samples += engine->training_rows();
    if (callbacks.on_epoch) callbacks.on_epoch(point, record);
  };
  try {
    run.training = train_resident(*engine, train_config, on_epoch);
  } catch (const TrainingError& error) {
    run.training = std::move(finished);
    mark_failed(run, error.what());
    run.parameters = engine->parameters();
    return run;
  }

  if (config.table) {
    data.validation_scores = scores_of(*engine, config.table->validation);
    data.test_scores = scores_of(*engine, config.table->test);
    data.test_labels = config.table->test_labels;
  } else {
    data.validation_scores = engine->score_resident(ResidentSplit::validation);
    data.test_scores = engine->score_resident(ResidentSplit::test);
  }
  measure(config, data, run);
  run.parameters = engine->parameters();
  return run;
}

namespace {

// The CPU's way: models spread over worker threads, each engine with its share of the threads.
std::vector<RunResult> run_concurrently(const ExperimentConfig& config,
                                        const std::vector<SweepPoint>& points,
                                        const ExperimentCallbacks& callbacks) {
  const int cores = config.engine.threads > 0 ? config.engine.threads : cpu::available_cores();
  const int wanted = config.concurrency > 0 ? config.concurrency : cores;
  const int workers = std::clamp(wanted, 1, static_cast<int>(points.size()));
  ExperimentConfig worker_config = config;
  worker_config.engine.threads = std::max(1, cores / workers);

  std::mutex callback_mutex;
  ExperimentCallbacks serialized;
  if (callbacks.on_epoch)
    serialized.on_epoch = [&](const SweepPoint& point, const EpochRecord& record) {
      const std::lock_guard lock(callback_mutex);
      callbacks.on_epoch(point, record);
    };
  std::vector<RunResult> runs(points.size());
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  const auto work = [&] {
    for (std::size_t i = next++; i < points.size() && !failed; i = next++) {
      try {
        runs[i] = run_once(worker_config, points[i], serialized);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    }
  };
  if (workers == 1) {
    work();
  } else {
    std::vector<std::jthread> threads;
    for (int w = 0; w < workers; ++w)
      threads.emplace_back(work);
  }
  if (first_error) std::rethrow_exception(first_error);
  return runs;
}

}  // namespace

ExperimentResult run_experiment(const ExperimentConfig& config,
                                const ExperimentCallbacks& callbacks) {
  config.validate();
  ExperimentResult result;
  result.config = config;
  const std::vector<SweepPoint> points = config.points();
  if (config.device == EngineKind::cuda) {
    std::vector<DeviceRun> device_runs = train_on_device(config, points, callbacks);
    for (std::size_t i = 0; i < points.size(); ++i) {
      DeviceRun& device = device_runs[i];
      RunResult run;
      run.latent_dim = points[i].latent_dim;
      run.beta = points[i].beta;
      run.seed = points[i].seed;
      run.training = std::move(device.training);
      run.parameters = std::move(device.parameters);
      run.standardizer = std::move(device.standardizer);
      if (!device.failure.empty()) {
        mark_failed(run, std::move(device.failure));
        result.runs.push_back(std::move(run));
        continue;
      }
      StudyData data{std::move(device.validation_scores), std::move(device.test_scores),
                     std::move(device.test_labels), std::move(device.test_kinds)};
      measure(config, data, run, &device);
      result.runs.push_back(std::move(run));
    }
  } else {
    result.runs = run_concurrently(config, points, callbacks);
  }
  return result;
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
