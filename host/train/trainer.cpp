#include "vaead/train/trainer.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <utility>

#include "vaead/util/error.hpp"
#include "vaead/util/limits.hpp"

namespace vaead {
namespace {

std::atomic<bool> stop_request{false};
static_assert(std::atomic<bool>::is_always_lock_free, "request_stop must be async-signal-safe");

}  // namespace

void request_stop() noexcept {
  stop_request.store(true, std::memory_order_relaxed);
}
void clear_stop_request() noexcept {
  stop_request.store(false, std::memory_order_relaxed);
}
bool stop_requested() noexcept {
  return stop_request.load(std::memory_order_relaxed);
}
void stop_if_requested() {
  if (stop_requested()) throw Interrupted("training interrupted");
}

void TrainConfig::validate() const {
  require_within(epochs, 1, limits::kEpochs, "epochs");
  require(beta >= 0, "beta must not be negative, got " + std::to_string(beta));
  require_within(kl_warmup_epochs, 0, limits::kEpochs, "KL warm-up epochs");
}

double kl_weight_at(int epoch, const TrainConfig& config) {
  if (config.kl_warmup_epochs == 0) return config.beta;
  return config.beta * std::min(1.0, static_cast<double>(epoch) / config.kl_warmup_epochs);
}

std::string stopped_message(const NonFinite& failure, int epoch, int epochs) {
  return "training stopped: non-finite " + failure.quantity + " at epoch " +
         std::to_string(epoch + 1) + " of " + std::to_string(epochs) + ", step " +
         std::to_string(failure.step + 1) +
         " of the epoch (try a lower learning rate, a smaller beta or a narrower logvar clamp)";
}

TrainingReport train(Engine& engine, const Matrix& rows, const TrainConfig& config,
                     const EpochCallback& on_epoch) {
  engine.set_training_data(rows);
  return train_resident(engine, config, on_epoch);
}

std::vector<ModelTraining> train_models(Engine& engine, std::span<const TrainConfig> schedules,
                                        const ModelEpochCallback& on_epoch,
                                        const TrainingProgress* resume,
                                        const ProgressCallback& after_epoch) {
  const auto models = static_cast<std::size_t>(engine.models());
  require(schedules.size() == models, "one schedule per model");
  int epochs = 0;
  for (const TrainConfig& schedule : schedules) {
    schedule.validate();
    epochs = std::max(epochs, schedule.epochs);
  }
  const std::size_t rows = engine.training_rows();
  require(rows > 0, "no training rows are resident in the engine");
  using Clock = std::chrono::steady_clock;
  TrainingProgress progress{0, std::vector<ModelTraining>(models)};
  if (resume != nullptr) {
    require(resume->trained.size() == models && resume->epochs_done >= 0 &&
                resume->epochs_done <= epochs,
            "a training's progress of " + std::to_string(resume->trained.size()) +
                " models at epoch " + std::to_string(resume->epochs_done) + " for " +
                std::to_string(models) + " models of " + std::to_string(epochs) + " epochs");
    progress = *resume;
  }
  std::vector<ModelTraining>& trained = progress.trained;
  std::vector<double> kl_weights(models, 0.0);
  // Set: the model takes no step (it failed, or its schedule has ended).
  std::vector<std::uint8_t> frozen(models, 0);
  for (std::size_t m = 0; m < models; ++m)
    frozen[m] = trained[m].failure.empty() ? 0 : 1;
  for (int epoch = progress.epochs_done; epoch < epochs; ++epoch) {
    stop_if_requested();
    for (std::size_t m = 0; m < models; ++m) {
      if (epoch >= schedules[m].epochs) frozen[m] = 1;
      kl_weights[m] = kl_weight_at(epoch, schedules[m]);
    }
    const auto start = Clock::now();
    const std::vector<EpochResult> results = engine.train_epochs(epoch, kl_weights, frozen);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (std::size_t m = 0; m < models; ++m) {
      if (frozen[m] != 0) continue;
      const EpochResult& result = results[m];
      if (result.non_finite) {
        trained[m].failure = stopped_message(*result.non_finite, epoch, schedules[m].epochs);
        frozen[m] = 1;
        continue;
      }
      const EpochRecord record{epoch, kl_weights[m], result.mean,
                               result.seconds > 0 ? result.seconds : seconds};
      TrainingReport& report = trained[m].report;
      report.epochs.push_back(record);
      report.seconds += record.seconds;
      report.samples += rows;
      if (on_epoch) on_epoch(m, record);
    }
    progress.epochs_done = epoch + 1;
    if (after_epoch) after_epoch(progress);
  }
  return std::move(trained);
}

TrainingReport train_resident(Engine& engine, const TrainConfig& config,
                              const EpochCallback& on_epoch) {
  require(engine.models() == 1, "train_resident trains an engine of one model; use train_models");
  ModelEpochCallback each;
  if (on_epoch) each = [&](std::size_t, const EpochRecord& record) { on_epoch(record); };
  std::vector<ModelTraining> trained =
      train_models(engine, std::span<const TrainConfig>(&config, 1), each);
  if (!trained[0].failure.empty()) throw TrainingError(trained[0].failure);
  return std::move(trained[0].report);
}

}  // namespace vaead
