// A detector trained on a user's table: the schedule chosen from its size, the normal rows split
// into training and held-out rows, an ensemble of members trained, and the model file that keeps
// it with the held-out rows' scores (the threshold's evidence).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vaead/data/table.hpp"
#include "vaead/eval/threshold.hpp"
#include "vaead/io/model_file.hpp"
#include "vaead/study/experiment.hpp"
#include "vaead/train/engine.hpp"
#include "vaead/train/trainer.hpp"

namespace vaead {

// The training schedule of a table, chosen from its number of normal rows unless given: small
// tables get a smaller batch and more epochs, so that every table trains for at least
// `step_budget` optimizer steps (and at least kMinEpochs epochs); large tables keep 30 epochs of
// batch 256.
inline constexpr int kDefaultStepBudget = 3000;
inline constexpr int kMinEpochs = 30;
inline constexpr int kMaxAutoBatch = 256;
inline constexpr int kMinAutoBatch = 16;
inline constexpr double kDefaultHoldoutFraction = 0.2;
inline constexpr std::size_t kMinHoldoutRows = 10;
// Small and middle-sized tables train an ensemble of kDefaultMembers models, as many as fit in
// kEnsembleSamples training samples (a table of more than ~67,000 training rows trains one).
inline constexpr int kDefaultMembers = 4;
// Member k: seed + k, KL weight betas[k % betas] (kEnsembleBetas unless given). Members that weigh
// the KL term differently err differently: on the ADBench tables a pair of beta 1 and 0.1 scored
// better than five seeds of beta 1 (bench/RESULTS.md, the real-table benchmark).
inline constexpr std::array<double, 2> kEnsembleBetas{1.0, 0.1};
inline constexpr double kEnsembleSamples = 4e6;

struct DetectorOptions {
  // architecture.input_dim is taken from the data; batch_size is replaced by the schedule's.
  EngineConfig engine;
  // epochs and kl_warmup_epochs are replaced by the schedule's, beta by the members' betas
  TrainConfig train;
  // Tukey's fence, upper quartile + 1.5 interquartile ranges of the held-out scores: on the ADBench
  // tables the best mean F1 of the rules measured (bench/RESULTS.md, the real-table benchmark);
  // mean + 3 std fell apart on heavy tails.
  ThresholdRule threshold{ThresholdRule::Kind::interquartile, 1.5};
  // Unset: chosen by plan_schedule.
  std::optional<int> batch_size;
  std::optional<int> epochs;
  std::optional<int> kl_warmup_epochs;
  std::optional<double> holdout_fraction;  // of the normal rows, held out to set the threshold
  std::optional<int> members;              // of the ensemble (seeds engine.seed, + 1, ...)
  // The members' KL weights in turn (train.beta is not used).
  std::vector<double> betas{kEnsembleBetas.begin(), kEnsembleBetas.end()};
  int step_budget = kDefaultStepBudget;
  EngineKind device = EngineKind::cpu;
  // A checkpoint file (empty: none): training resumes from it when it holds this training's
  // state, and writes it (atomically) every checkpoint_every epochs; the caller removes it once
  // the model is written.
  std::string checkpoint;
  int checkpoint_every = 10;
};

struct Schedule {
  std::size_t holdout_rows = 0;
  std::size_t training_rows = 0;
  int batch_size = 0;
  int epochs = 0;
  int kl_warmup_epochs = 0;
  int members = 1;
  std::int64_t steps() const;  // optimizer steps of the whole training
};

// The automatic batch for `training_rows` rows: the largest power of two <= rows / 8, clamped to
// 16..256 and to the rows. The automatic epochs: at least 30, and enough for `step_budget` steps.
int automatic_batch(std::size_t training_rows);
int automatic_epochs(std::size_t training_rows, int batch_size, int step_budget);

// What `options` make of `normal_rows` rows: held out max(2, share x rows) (automatic: 20%, but
// at least min(10, a third)); batch min(256, max(16, the largest power of two <= training rows /
// 8)), never above the training rows; epochs max(30, enough for step_budget steps); KL warm-up a
// third of the epochs. InputError, saying what to change, when the rows cannot hold the held-out
// share and one batch.
Schedule plan_schedule(std::size_t normal_rows, const DetectorOptions& options,
                       const std::string& source);

// A sweep over `table`: its schedule as train_detector's unless told (the batch and epochs chosen
// for the training rows of the split, the KL warm-up a third of the epochs; the given values are
// kept), the configuration checked, and the table split with `split_seed` into config.table (its
// notes: config.table->notes).
void use_table(ExperimentConfig& config, const Table& table, double validation_fraction,
               double test_fraction, std::uint64_t split_seed, std::optional<int> batch_size,
               std::optional<int> epochs, std::optional<int> kl_warmup_epochs);

struct TrainedDetector {
  ModelFile model;
  TrainingReport report;
  std::vector<std::string> notes;         // warnings for the user (constant columns, ...)
  std::vector<std::size_t> holdout_rows;  // the table rows held out for the threshold, ascending
  std::vector<float> holdout_scores;      // their scores, in the same order (the model's, sorted)
  Schedule schedule;
};

// Trains on the rows labelled 0 (every row without labels). InputError when too few rows remain.
TrainedDetector train_detector(const Table& table, const DetectorOptions& options,
                               const EpochCallback& on_epoch = {});

}  // namespace vaead
