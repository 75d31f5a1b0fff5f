// A whole study in one CUDA engine: every (latent, beta, seed) model trains in the same kernels,
// each on the data of its seed, and the AUCs of all models come from one segmented pass.
#include <chrono>
#include <cmath>
#include <map>
#include <string>

#include "cuda/cuda_engine.hpp"
#include "cuda/engine_factory.hpp"
#include "vaead/device.hpp"
#include "vaead/error.hpp"
#include "vaead/trainer.hpp"

namespace vaead {
std::vector<DeviceRun> train_on_device(const ExperimentConfig& config,
                                       const std::vector<SweepPoint>& points,
                                       const ExperimentCallbacks& callbacks) {
  const CudaStatus status = query_cuda();
  if (status.devices.empty())
    throw InputError("the cuda engine needs a CUDA device, and none answers: " + status.reason);
  EngineConfig shared = config.engine;
  shared.architecture.input_dim = config.features();

  // Data slots: one per distinct data seed (a table is one slot).
  std::map<std::uint64_t, int> slot_of_seed;
  std::vector<SyntheticConfig> slot_configs;
  std::vector<cuda::ModelSpec> specs;
  for (const SweepPoint& point : points) {
    int slot = 0;
    if (!config.table) {
      const SyntheticConfig data = config.data_for(point.seed);
      const auto [it, added] =
          slot_of_seed.emplace(data.seed, static_cast<int>(slot_configs.size()));
      if (added) slot_configs.push_back(data);
      slot = it->second;
    }
    specs.push_back({point.latent_dim, point.seed, slot});
  }
  const int slots = config.table ? 1 : static_cast<int>(slot_configs.size());
  cuda::CudaEngine engine(shared, specs, slots);
  std::vector<ResidentSplits> splits;
  if (config.table)
    engine.set_training_data(config.table->train);
  else
    splits = engine.load_synthetic_slots(slot_configs);

  std::vector<DeviceRun> runs(points.size());
  std::vector<TrainConfig> schedules(points.size(), config.train);
  for (std::size_t m = 0; m < points.size(); ++m)
    schedules[m].beta = points[m].beta;
  std::vector<double> kl_weights(points.size());
  // A model that fails is frozen (it keeps its last parameters) and reported; the others go on.
  std::vector<std::uint8_t> frozen(points.size(), 0);
  using Clock = std::chrono::steady_clock;
  for (int epoch = 0; epoch < config.train.epochs; ++epoch) {
    stop_if_requested();
    const auto start = Clock::now();
    for (std::size_t m = 0; m < points.size(); ++m)
      kl_weights[m] = kl_weight_at(epoch, schedules[m]);
    const std::vector<EpochResult> results = engine.train_epochs(epoch, kl_weights, frozen);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (std::size_t m = 0; m < points.size(); ++m) {
      if (frozen[m] != 0) continue;
      const EpochResult& result = results[m];
      const SweepPoint& point = points[m];
      if (result.non_finite) {
        runs[m].failure = stopped_message(*result.non_finite, epoch, config.train.epochs);
        frozen[m] = 1;
        continue;
      }
      const EpochRecord record{epoch, kl_weights[m], result.mean, seconds};
      TrainingReport& report = runs[m].training;
      report.epochs.push_back(record);
      report.seconds += seconds;
      report.samples += engine.training_rows();
      if (callbacks.on_epoch) callbacks.on_epoch(point, record);
    }
  }

  const bool from_table = config.table != nullptr;
  const auto validation = from_table ? engine.score_models(config.table->validation)
                                     : engine.score_resident_models(ResidentSplit::validation);
  std::vector<std::vector<float>> test;
  if (!from_table || config.table->test.rows > 0)
    test = from_table ? engine.score_models(config.table->test)
                      : engine.score_resident_models(ResidentSplit::test);
  std::vector<std::vector<std::uint8_t>> labels(points.size());
  for (std::size_t m = 0; m < points.size(); ++m)
    labels[m] = from_table ? config.table->test_labels
                           : splits[static_cast<std::size_t>(specs[m].data_slot)].test_labels;
  // The test scores were scored last; a model whose test rows lack a class gets NaN metrics.
  std::vector<cuda::RankingMetrics> metrics;
  if (!test.empty()) metrics = engine.rank_last_scores(labels);

  for (std::size_t m = 0; m < points.size(); ++m) {
    DeviceRun& run = runs[m];
    run.parameters = engine.parameters_of(static_cast<int>(m));
    run.validation_scores = validation[m];
    if (!test.empty()) run.test_scores = test[m];
    run.test_labels = std::move(labels[m]);
    if (from_table) {
      run.standardizer = config.table->standardizer;
    } else {
      const ResidentSplits& slot = splits[static_cast<std::size_t>(specs[m].data_slot)];
      run.standardizer = slot.standardizer;
      run.test_kinds = slot.test_kinds;
    }
    if (!metrics.empty() && std::isfinite(metrics[m].roc_auc)) {
      run.roc_auc = metrics[m].roc_auc;
      run.pr_auc = metrics[m].average_precision;
    }
  }
  return runs;
}

}  // namespace vaead
