// The trainer: epochs, the KL warm-up schedule, the non-finite guard and progress reports.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "vaead/train/engine.hpp"

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
// Model m finished an epoch (called on the trainer's thread, one call at a time).
using ModelEpochCallback = std::function<void(std::size_t model, const EpochRecord&)>;

// What training did to one model of an engine.
struct ModelTraining {
  TrainingReport report;  // the epochs it finished
  std::string failure;    // why it stopped (stopped_message), empty when it finished
};

// How far a training of several models has come: the epochs every model has had, and what each
// model's training did so far. A training resumes from it (with the models' optimizer states).
struct TrainingProgress {
  int epochs_done = 0;
  std::vector<ModelTraining> trained;
};
// Called after each epoch of every model, on the trainer's thread.
using ProgressCallback = std::function<void(const TrainingProgress&)>;

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

// The one epoch loop: every model of `engine` on its resident rows, model m on schedules[m] (one
// schedule per model). A model whose loss or gradient turns non-finite is frozen (it keeps its
// last parameters) and its failure said; the others go on. A model's epoch seconds are its own
// where the engine measures them, else the wall time of the epoch of every model. With `resume`
// (whose models' optimizer states the caller set in the engine) training goes on from its epoch;
// after_epoch sees the progress after each epoch.
std::vector<ModelTraining> train_models(Engine& engine, std::span<const TrainConfig> schedules,
                                        const ModelEpochCallback& on_epoch = {},
                                        const TrainingProgress* resume = nullptr,
                                        const ProgressCallback& after_epoch = {});

// Trains `engine` (of one model) on `rows` (already standardized). Throws TrainingError naming the
// epoch, the step and the quantity when a loss or gradient is not finite.
TrainingReport train(Engine& engine, const Matrix& rows, const TrainConfig& config,
                     const EpochCallback& on_epoch = {});

// The same on the rows already resident in the engine (set_training_data or load_synthetic).
TrainingReport train_resident(Engine& engine, const TrainConfig& config,
                              const EpochCallback& on_epoch = {});

}  // namespace vaead
