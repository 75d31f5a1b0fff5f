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

#include "vaead/curves.hpp"
#include "vaead/engine.hpp"
#include "vaead/metrics.hpp"
#include "vaead/model_file.hpp"
#include "vaead/synthetic.hpp"
#include "vaead/table.hpp"
#include "vaead/threshold.hpp"
#include "vaead/trainer.hpp"

namespace vaead {

// A user's table split for a study: the normal rows shuffled with a seed and cut into training,
// validation (threshold, label-free model choice) and test rows; every labelled anomaly is a test
// row. Without labels every row is normal and there are no test rows. Standardized with the
// training rows' moments.
struct TableSplits {
  std::string source;
  std::vector<std::string> feature_names;
  Standardizer standardizer;
  Matrix train, validation, test;
  std::vector<std::uint8_t> test_labels;  // empty without labels
  std::vector<std::string> notes;         // constant columns, ...
};

// How split_table divides `normal_rows` normal rows (test rows only with labels).
struct SplitSizes {
  std::size_t validation = 0;
  std::size_t test = 0;
  std::size_t train = 0;  // what is left, 0 when nothing is
};
SplitSizes split_sizes(std::size_t normal_rows, bool labelled, double validation_fraction,
                       double test_fraction);

// Shares of the normal rows; InputError when a split would be empty or smaller than a batch.
TableSplits split_table(const Table& table, double validation_fraction, double test_fraction,
                        std::uint64_t seed, int batch_size);

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

// Mean and sample standard deviation (0 for one value, NaN for none).
struct Spread {
  double mean = 0.0;
  double std = 0.0;
};
Spread spread(std::span<const double> values);

// A metric of every run with `latent_dim` (and `beta` when given) that finished training, in seed
// order.
std::vector<double> collect(const ExperimentResult& result, int latent_dim,
                            const std::function<double(const RunResult&)>& metric,
                            std::optional<double> beta = std::nullopt);

// One configuration of a sweep: mean and spread over its seeds.
struct SweepCell {
  int latent_dim = 0;
  double beta = 0.0;
  std::size_t runs = 0;    // that finished training (the spreads are over these)
  std::size_t failed = 0;  // that stopped on a non-finite value
  Spread roc_auc, pr_auc, precision, recall, f1, validation_error;
};

// Latent-major, then beta.
std::vector<SweepCell> summarize(const ExperimentResult& result);

// The configuration a label-free rule picks (lowest mean validation error; ties: the first) and,
// when labels gave AUCs, the one with the highest mean ROC-AUC, among those with a run that
// finished; TrainingError when no run finished. Indices into the cells.
struct SweepChoice {
  std::size_t label_free = 0;
  std::optional<std::size_t> best_roc_auc;
};
SweepChoice choose(std::span<const SweepCell> cells);

}  // namespace vaead
