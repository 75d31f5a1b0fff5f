#include "vaead/trainer.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>

#include "vaead/error.hpp"

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
  require(epochs >= 1, "epochs must be at least 1, got " + std::to_string(epochs));
  require(beta >= 0, "beta must not be negative, got " + std::to_string(beta));
  require(kl_warmup_epochs >= 0,
          "KL warm-up epochs must not be negative, got " + std::to_string(kl_warmup_epochs));
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

TrainingReport train_resident(Engine& engine, const TrainConfig& config,
                              const EpochCallback& on_epoch) {
  config.validate();
  using Clock = std::chrono::steady_clock;
  const std::size_t rows = engine.training_rows();
  require(rows > 0, "no training rows are resident in the engine");
  TrainingReport report;
  for (int epoch = 0; epoch < config.epochs; ++epoch) {
    const auto start = Clock::now();
    stop_if_requested();
    EpochRecord record{epoch, kl_weight_at(epoch, config), {}, 0.0};
    const EpochResult result = engine.train_epoch(epoch, record.kl_weight);
    if (result.non_finite)
      throw TrainingError(stopped_message(*result.non_finite, epoch, config.epochs));
    record.mean = result.mean;
    record.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    report.seconds += record.seconds;
    report.samples += rows;
    report.epochs.push_back(record);
    if (on_epoch) on_epoch(record);
  }
  return report;
}

}  // namespace vaead
