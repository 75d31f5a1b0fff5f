// The trainer: epochs, the KL warm-up schedule, the non-finite guard and progress reports.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "vaead/engine.hpp"

namespace vaead {

struct TrainConfig {
  int epochs = 30;
  double beta = 1.0;          // the KL weight after the warm-up
  int kl_warmup_epochs = 10;  // beta_t = beta * min(1, epoch / kl_warmup_epochs), epoch from 0

  void validate() const;
};

struct EpochRecord {
  int epoch = 0;
  double kl_weight = 0.0;
  LossParts mean;
  double seconds = 0.0;
};

struct TrainingReport {
  std::vector<EpochRecord> epochs;
  double seconds = 0.0;     // wall time of all epochs
  std::size_t samples = 0;  // training samples processed (rows x epochs)
  double samples_per_second() const { return seconds > 0 ? samples / seconds : 0.0; }
};

using EpochCallback = std::function<void(const EpochRecord&)>;

// The KL weight of `epoch` (counted from 0): rises linearly from 0 to beta over the warm-up.
double kl_weight_at(int epoch, const TrainConfig& config);

// "training stopped: non-finite gradient of encoder.0.weight[3] at epoch 2 of 30, step 5 of the
// epoch (...)": what a TrainingError says about `failure` in `epoch` (from 0) of `epochs`.
std::string stopped_message(const NonFinite& failure, int epoch, int epochs);

// A request to stop training, made from a signal handler (it only stores to a lock-free atomic)
// or from another thread: the engines look at it between optimizer steps (the CPU engine) or
// epochs (the CUDA engine, whose epochs are short), and training ends with Interrupted. It stays
// set until cleared: whoever asked clears it.
void request_stop() noexcept;
void clear_stop_request() noexcept;
bool stop_requested() noexcept;
// Throws Interrupted when a stop was requested.
void stop_if_requested();

// Trains `engine` on `rows` (already standardized). Throws TrainingError naming the epoch, the step
// and the quantity when a loss or gradient is not finite.
TrainingReport train(Engine& engine, const Matrix& rows, const TrainConfig& config,
                     const EpochCallback& on_epoch = {});

// The same on the rows already resident in the engine (set_training_data or load_synthetic).
TrainingReport train_resident(Engine& engine, const TrainConfig& config,
                              const EpochCallback& on_epoch = {});

}  // namespace vaead
