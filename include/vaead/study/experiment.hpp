// The seed study and the sweeps: for each latent size, beta and seed, take the data (generated, or
// a user's table split into train / validation / test), train on normal rows, set the threshold on
// validation-normal rows, and measure detection on the test rows. The models of a study train
// concurrently: spread over threads on the CPU, in the same kernels on the GPU.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vaead/data/synthetic.hpp"
#include "vaead/eval/curves.hpp"
#include "vaead/eval/metrics.hpp"
#include "vaead/eval/threshold.hpp"
#include "vaead/io/model_file.hpp"
#include "vaead/study/table_splits.hpp"
#include "vaead/train/engine.hpp"
#include "vaead/train/trainer.hpp"

namespace vaead {
// One model of a study.
struct SweepPoint {
  int latent_dim = 0;
  double beta = 1.0;
  std::uint64_t seed = 0;
};

struct ExperimentConfig {
  SyntheticConfig data;  // data.seed is replaced per run (see data_seed)
  EngineConfig engine;   // engine.architecture.latent_dim and engine.seed are replaced per run
  TrainConfig train;     // train.beta is replaced per run when `betas` is set
  ThresholdRule threshold;
  EngineKind device = EngineKind::cpu;
  std::vector<int> latent_dims{2, 4, 8, 16};
  std::vector<double> betas;  // empty: train.beta alone
  int seed_count = 3;
  std::uint64_t first_seed = 0;  // runs use seeds first_seed .. first_seed + seed_count - 1
  // The data of every run is drawn with this seed when set; otherwise with the run's own seed (so
  // the spread over seeds covers data and model, and latent sizes are compared on the same data).
  std::optional<std::uint64_t> data_seed;
  // A user's table instead of the generator (`data` is then unused).
  std::shared_ptr<const TableSplits> table;
  // Set: exactly these models, instead of the grid of latent_dims x betas x seeds (an ensemble's
  // members, each with its own beta and seed).
  std::vector<SweepPoint> models;
  // CPU: models trained at once (0: one per core, each with the remaining cores' share of threads;
  // 1: one after another, each with every thread). The results do not depend on it.
  int concurrency = 0;

  void validate() const;
  std::vector<std::uint64_t> seeds() const;
  std::vector<double> beta_values() const;  // betas, or {train.beta}
  // Every model of the study: `models` when set, else latent-major, then beta, then seed.
  std::vector<SweepPoint> points() const;
  SyntheticConfig data_for(std::uint64_t seed) const;  // the data of the run with `seed`
  int features() const;                                // of the table or the generator
};

struct RunResult {
  int latent_dim = 0;
  double beta = 1.0;
  std::uint64_t seed = 0;
  // Why training stopped (a non-finite loss or gradient), empty when it finished. A failed run
  // keeps the epochs it completed; its metrics are NaN.
  std::string failure;
  double roc_auc = 0.0;  // NaN without labels
  double pr_auc = 0.0;   // average precision
  // Mean score of the validation rows (all normal): the label-free measure of a configuration.
  double validation_error = 0.0;
  double threshold = 0.0;
  // The test rows held both classes: the AUCs and at_threshold were measured (n/a otherwise).
  bool labelled = false;
  Confusion at_threshold;
  std::array<double, 3> per_kind_roc_auc{};  // normal vs each kind, in kAnomalyKinds order
  TrainingReport training;
  Curve roc, pr;  // of the test rows, thinned to at most kCurvePoints
  // Test scores on log-spaced bins: normal rows, then each kind (kAnomalyKinds order).
  std::vector<double> histogram_edges;
  std::array<std::vector<std::size_t>, 4> histogram_counts;
  // What a model file of this run needs.
  std::vector<float> parameters;
  std::vector<float> validation_scores;  // ascending
  Standardizer standardizer;
};

inline constexpr std::size_t kCurvePoints = 1000;
inline constexpr std::size_t kHistogramBins = 60;

struct ExperimentResult {
  ExperimentConfig config;
  std::vector<RunResult> runs;  // latent-major, then seed
};

// Where a training of several models stands between two epochs: enough to go on from there.
struct TrainingCheckpoint {
  TrainingProgress progress;
  std::vector<OptimizerState> states;  // by model
};

struct ExperimentCallbacks {
  // Called from the thread that trains the model, one call at a time.
  std::function<void(const SweepPoint&, const EpochRecord&)> on_epoch;
  // run_waves: a wave has finished; its runs, and their indices into config.points().
  std::function<void(std::span<const std::size_t>, std::span<const RunResult>)> on_wave;
  // A training that can resume (train's checkpoints), its models in one wave: it starts from
  // `resume` (each model's optimizer state, by point), and after_epoch sees the progress between
  // epochs, with a function that reads every model's optimizer state from the engine.
  const TrainingCheckpoint* resume = nullptr;
  std::function<void(const TrainingProgress&,
                     const std::function<std::vector<OptimizerState>()>& states)>
      after_epoch;
};

// One model alone: draw the data of its seed inside the engine (or take the table's splits),
// train, threshold, measure. When training stops on a non-finite value, the run says so in
// `failure` instead of throwing.
RunResult run_once(const ExperimentConfig& config, const SweepPoint& point,
                   const ExperimentCallbacks& callbacks = {});

// Every point of the study, trained concurrently; runs in points() order. Each run is the same as
// run_once of its point: bitwise on the CPU. A run whose training stops on a non-finite value is
// reported as failed (RunResult::failure); the others finish.
ExperimentResult run_experiment(const ExperimentConfig& config,
                                const ExperimentCallbacks& callbacks = {});

// The runs of `indices` (into config.points()), in their order, trained in waves of at most `wave`
// models each (0: every model in one wave; a wave's models share their data where they can), a
// wave after another, each wave's runs given to on_wave as it ends: what a sweep that must survive
// a kill keeps. A wave that does not fit the engine's memory (std::bad_alloc, which the CUDA engine
// throws when the device is full) is halved and trained again. Each run is the same as run_once of
// its point, whatever the waves.
std::vector<RunResult> run_waves(const ExperimentConfig& config,
                                 std::span<const std::size_t> indices, std::size_t wave,
                                 const ExperimentCallbacks& callbacks = {});

// How many models the engine trains at once: on the CPU, --concurrency (0: one per core, or per
// thread of config.engine.threads); on the GPU, as many as its free memory holds
// (models_that_fit). run_experiment trains a GPU sweep in waves of this size.
std::size_t models_at_once(const ExperimentConfig& config);

// The model file of one run (the validation rows play the held-out rows).
ModelFile model_of_run(const ExperimentConfig& config, const RunResult& run);

}  // namespace vaead
