#include "vaead/detector/train.hpp"
#include "vaead/detector/score.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>

#include "detector/row_blame.hpp"
#include "io/fault_injection.hpp"
#include "io/sha256.hpp"
#include "io/training_checkpoint.hpp"
#include "util/text.hpp"
#include "vaead/data/table.hpp"
#include "vaead/io/output_file.hpp"
#include "vaead/io/sweep_part.hpp"
#include "vaead/study/experiment.hpp"
#include "vaead/study/table_splits.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

// A note for each column whose variance one training row holds almost alone (a sentinel such as
// 1e30, or a unit error): the column's scale then comes from that one value.
void note_dominated_columns(const Matrix& rows, const std::vector<std::size_t>& table_rows,
                            const Standardizer& standardizer, const Table& table,
                            std::vector<std::string>& notes) {
  if (rows.rows < 10) return;
  for (std::size_t j = 0; j < rows.cols; ++j) {
    double total = 0.0, largest = 0.0;
    std::size_t at = 0;
    for (std::size_t r = 0; r < rows.rows; ++r) {
      const double d = rows(r, j) - standardizer.mean[j];
      total += d * d;
      if (d * d > largest) {
        largest = d * d;
        at = r;
      }
    }
    if (total > 0 && largest > 0.9 * total)
      notes.push_back(table.source + ": column " + text::quote(table.data.column_names[j]) +
                      ": row " + std::to_string(table_rows[at]) + " (" + text::number(rows(at, j)) +
                      ") holds " + text::number(100.0 * largest / total) +
                      "% of the column's variance in the training rows, so the column's scale "
                      "comes from that one value (a sentinel or a unit error?)");
  }
}

// The ensemble as a study of its members on one split: the training rows, the held-out rows as
// its validation rows (the sweep scores them: each member's scale), no test rows. Member k: seed
// + k, beta betas[k % betas].
ExperimentConfig ensemble_study(const ModelFile& model, int members, std::span<const double> betas,
                                const Matrix& rows, const Matrix& holdout, EngineKind device) {
  ExperimentConfig study;
  study.engine = model.engine;
  study.train = model.train;
  study.device = device;
  study.latent_dims = {model.engine.architecture.latent_dim};
  for (int k = 0; k < members; ++k)
    study.models.push_back({.latent_dim = model.engine.architecture.latent_dim,
                            .beta = betas[static_cast<std::size_t>(k) % betas.size()],
                            .seed = model.engine.seed + static_cast<std::uint64_t>(k)});
  auto splits = std::make_shared<TableSplits>();
  splits->train = rows;
  splits->validation = holdout;
  splits->test = Matrix(0, rows.cols);
  study.table = splits;
  return study;
}

// Checkpoints: `resume` from options.checkpoint when it holds this training's state (refused when
// it holds another's), and callbacks that write it every options.checkpoint_every epochs. The
// training's fingerprint is everything it was given, and its data.
void use_checkpoint(const ExperimentConfig& study, const DetectorOptions& options,
                    std::optional<TrainingCheckpoint>& resume, ExperimentCallbacks& callbacks) {
  // The members' points exactly (a beta as its shortest round-trip decimal, not to_string's 6).
  nlohmann::json points = nlohmann::json::array();
  for (const SweepPoint& point : study.models)
    points.push_back({point.latent_dim, point.beta, point.seed});
  const std::string fingerprint =
      sha256_hex(grid_description(study) + points.dump() + data_fingerprint(study));
  remove_interrupted_writes(options.checkpoint);
  if (std::filesystem::exists(options.checkpoint)) {
    const std::vector<std::uint8_t> bytes = read_file_bytes(options.checkpoint);
    try {
      resume = parse_training_checkpoint(
          std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
          options.checkpoint, fingerprint);
    } catch (const InputError& error) {
      throw InputError(std::string(error.what()) +
                       "; remove it to train from the first epoch, or give another file");
    }
    callbacks.resume = &*resume;
  }
  const int every = std::max(1, options.checkpoint_every);
  const int epochs = study.train.epochs;
  callbacks.after_epoch = [&options, fingerprint, every, epochs](
                              const TrainingProgress& progress,
                              const std::function<std::vector<OptimizerState>()>& states) {
    if (progress.epochs_done % every != 0 || progress.epochs_done == epochs) return;
    const std::string text =
        serialize_training_checkpoint(TrainingCheckpoint{progress, states()}, fingerprint);
    write_file_atomically(options.checkpoint, [&](std::ostream& file) {
      file << text;
      fault_point("train-in-write", progress.epochs_done, file);
    });
    fault_point("train-after-write", progress.epochs_done, std::cout);
  };
}

// The members' parameters into the model file, with their seeds, betas and scales (an ensemble's
// member scale: its mean score of the held-out rows); TrainingError naming a member that failed.
void keep_members(ModelFile& model, ExperimentResult& result, TrainingReport& report) {
  const std::size_t members = result.runs.size();
  for (std::size_t k = 0; k < members; ++k) {
    RunResult& run = result.runs[k];
    if (!run.failure.empty())
      throw TrainingError(members == 1 ? run.failure
                                       : "ensemble member " + std::to_string(k) + " (seed " +
                                             std::to_string(run.seed) + "): " + run.failure);
    if (k == 0)
      model.parameters = std::move(run.parameters);
    else
      model.more_members.push_back(std::move(run.parameters));
    if (members > 1) {
      model.member_seeds.push_back(run.seed);
      model.member_betas.push_back(run.beta);
      double sum = 0.0;
      for (float s : run.validation_scores)
        sum += s;
      const double mean = sum / static_cast<double>(run.validation_scores.size());
      model.member_scales.push_back(mean > 0 ? mean : 1.0);
    }
    report.samples += run.training.samples;
  }
  report.epochs = result.runs[0].training.epochs;
}

// Trains the members of `model` (member k: KL weight betas[k % betas], seed engine.seed + k) on
// `rows` at once, as a sweep trains its models: spread over the CPU's threads, or together on the
// GPU. One member trains exactly as train() would. Sets the parameters and, for an ensemble, the
// members' seeds, betas and score scales; TrainingError when a member fails.
void train_members(ModelFile& model, int members, std::span<const double> betas, const Matrix& rows,
                   const Matrix& holdout, const DetectorOptions& options, TrainingReport& report,
                   const EpochCallback& on_epoch) {
  const ExperimentConfig study =
      ensemble_study(model, members, betas, rows, holdout, options.device);
  model.train.beta = study.models[0].beta;
  // The progress of the whole: an epoch is reported when every member has trained it.
  std::size_t finished = 0;
  ExperimentCallbacks callbacks;
  if (on_epoch)
    callbacks.on_epoch = [&](const SweepPoint&, const EpochRecord& record) {
      if (++finished % static_cast<std::size_t>(members) != 0) return;
      EpochRecord whole = record;
      whole.epoch = static_cast<int>(finished / static_cast<std::size_t>(members)) - 1;
      on_epoch(whole);
    };
  std::optional<TrainingCheckpoint> resume;
  if (!options.checkpoint.empty()) use_checkpoint(study, options, resume, callbacks);
  const auto start = std::chrono::steady_clock::now();
  ExperimentResult result = run_experiment(study, callbacks);
  keep_members(model, result, report);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::int64_t Schedule::steps() const {
  const auto per_epoch =
      static_cast<std::int64_t>((training_rows + static_cast<std::size_t>(batch_size) - 1) /
                                static_cast<std::size_t>(batch_size));
  return per_epoch * epochs;
}

int automatic_batch(std::size_t training_rows) {
  const std::size_t eighth = std::max<std::size_t>(training_rows / 8, 1);
  const auto batch = std::clamp<std::size_t>(std::bit_floor(eighth), kMinAutoBatch, kMaxAutoBatch);
  return static_cast<int>(std::min(batch, std::max<std::size_t>(training_rows, 1)));
}

int automatic_epochs(std::size_t training_rows, int batch_size, int step_budget) {
  const auto batch = static_cast<std::size_t>(std::max(batch_size, 1));
  const std::size_t per_epoch = std::max<std::size_t>((training_rows + batch - 1) / batch, 1);
  const std::size_t for_budget =
      (static_cast<std::size_t>(std::max(step_budget, 0)) + per_epoch - 1) / per_epoch;
  return static_cast<int>(std::max<std::size_t>(kMinEpochs, for_budget));
}

void use_table(ExperimentConfig& config, const Table& table, double validation_fraction,
               double test_fraction, std::uint64_t split_seed, std::optional<int> batch_size,
               std::optional<int> epochs, std::optional<int> kl_warmup_epochs) {
  const std::size_t training = split_sizes(table.data.normal_rows(), !table.data.labels.empty(),
                                           validation_fraction, test_fraction)
                                   .train;
  config.engine.batch_size = batch_size.value_or(automatic_batch(training));
  config.train.epochs =
      epochs.value_or(automatic_epochs(training, config.engine.batch_size, kDefaultStepBudget));
  config.train.kl_warmup_epochs = kl_warmup_epochs.value_or(config.train.epochs / 3);
  config.validate();
  config.table = std::make_shared<TableSplits>(
      split_table(table, validation_fraction, test_fraction, split_seed, config.engine.batch_size));
}

Schedule plan_schedule(std::size_t normal_rows, const DetectorOptions& options,
                       const std::string& source) {
  Schedule plan;
  if (options.holdout_fraction) {
    const double share = *options.holdout_fraction;
    require(share > 0 && share < 1,
            "the held-out share must lie strictly between 0 and 1, got " + std::to_string(share));
    plan.holdout_rows = std::max<std::size_t>(
        2, static_cast<std::size_t>(std::llround(share * static_cast<double>(normal_rows))));
  } else {
    // A threshold set on a handful of scores is a guess: tiny tables hold out a larger share.
    plan.holdout_rows =
        std::max<std::size_t>({2,
                               static_cast<std::size_t>(std::llround(
                                   kDefaultHoldoutFraction * static_cast<double>(normal_rows))),
                               std::min(kMinHoldoutRows, normal_rows / 3)});
  }
  plan.training_rows = normal_rows > plan.holdout_rows ? normal_rows - plan.holdout_rows : 0;
  plan.batch_size = options.batch_size ? *options.batch_size : automatic_batch(plan.training_rows);
  const auto batch = static_cast<std::size_t>(plan.batch_size);
  const bool automatic = !options.batch_size && !options.holdout_fraction;
  require(plan.training_rows >= batch && plan.training_rows > 0,
          source + ": " + text::plural(normal_rows, "normal row") + "; training needs " +
              std::to_string(plan.holdout_rows + std::max<std::size_t>(batch, 1)) + " (" +
              std::to_string(plan.holdout_rows) + " held out for the threshold and one batch of " +
              std::to_string(batch) + ")" + (automatic ? "" : ": lower --batch-size or --holdout"));
  plan.epochs = options.epochs
                    ? *options.epochs
                    : automatic_epochs(plan.training_rows, plan.batch_size, options.step_budget);
  plan.kl_warmup_epochs = options.kl_warmup_epochs ? *options.kl_warmup_epochs : plan.epochs / 3;
  if (options.members) {
    plan.members = *options.members;
    require(plan.members >= 1 && static_cast<std::size_t>(plan.members) <= kMaxMembers,
            "an ensemble has 1 to " + std::to_string(kMaxMembers) + " members, got " +
                std::to_string(plan.members));
  } else {
    // As many members as fit in kEnsembleSamples training samples, at most kDefaultMembers: a
    // large table trains one model, as long as it always did.
    const double member_samples = static_cast<double>(plan.epochs) *
                                  static_cast<double>(std::max<std::size_t>(plan.training_rows, 1));
    plan.members = static_cast<int>(std::clamp(std::floor(kEnsembleSamples / member_samples), 1.0,
                                               static_cast<double>(kDefaultMembers)));
  }
  return plan;
}

namespace {

// InputError naming the table when the model file could not hold its columns.
void check_model_fits(const Table& table, const DetectorOptions& options) {
  Architecture architecture = options.engine.architecture;
  architecture.input_dim = static_cast<int>(table.data.features.cols);
  try {
    check_model_limits(architecture, table.data.column_names);
  } catch (const InputError& error) {
    throw InputError(table.source + ": " + error.what());
  }
}

// The normal rows cut into held-out and training rows (a seeded random share held out), both
// standardized with the training rows' moments.
struct HeldOut {
  std::vector<std::size_t> holdout_rows, train_rows;  // table rows, ascending
  Matrix holdout, train;
};

HeldOut hold_out(const Table& table, std::span<const std::size_t> normal, std::size_t holdout,
                 std::uint64_t seed, ModelFile& model, std::vector<std::string>& notes) {
  std::vector<std::vector<std::size_t>> parts =
      shuffled_parts(normal, std::span<const std::size_t>(&holdout, 1), seed);
  HeldOut held{std::move(parts[0]), std::move(parts[1]), {}, {}};
  held.holdout = gather_rows(table.data.features, held.holdout_rows);
  held.train = gather_rows(table.data.features, held.train_rows);
  model.standardizer = fit_training_standardizer(held.train, table, notes);
  note_dominated_columns(held.train, held.train_rows, model.standardizer, table, notes);
  model.standardizer.apply(held.train);
  model.standardizer.apply(held.holdout);
  return held;
}

// The held-out rows as the model file will score them (an ensemble: with its members' scales),
// ascending in the model file; a score that is not finite would make the threshold NaN: refused,
// naming the row.
std::vector<float> score_holdout(ModelFile& model, const HeldOut& held, const Table& table,
                                 EngineKind device) {
  std::vector<float> scores(held.holdout.rows);
  MemberScorer(model, device, model.engine).score(held.holdout, scores, nullptr);
  const Dataset& data = table.data;
  for (std::size_t i = 0; i < scores.size(); ++i)
    if (!std::isfinite(scores[i])) {
      const std::size_t row = held.holdout_rows[i];
      throw InputError(table.source + ": row " + std::to_string(row) +
                       ", held out for the threshold, scores " + text::number(scores[i]) + ": " +
                       farthest_cell([&](std::size_t j) { return data.features(row, j); },
                                     model.standardizer, data.column_names) +
                       " (a sentinel or a unit error?); fix or remove the row");
    }
  model.holdout_scores = scores;
  std::sort(model.holdout_scores.begin(), model.holdout_scores.end());
  return scores;
}

}  // namespace

TrainedDetector train_detector(const Table& table, const DetectorOptions& options,
                               const EpochCallback& on_epoch) {
  const Dataset& data = table.data;
  check_model_fits(table, options);  // what the model file could not hold, before any work
  const std::vector<std::size_t> normal = rows_by_label(data).normal;
  TrainedDetector trained;
  ModelFile& model = trained.model;
  model.dropped_anomalies = data.rows() - normal.size();
  const Schedule plan = plan_schedule(normal.size(), options, table.source);
  // The members' seeds are seed, seed + 1, ...: none may pass 2^64 - 1.
  require(options.engine.seed <= std::numeric_limits<std::uint64_t>::max() -
                                     static_cast<std::uint64_t>(plan.members - 1),
          "seed " + std::to_string(options.engine.seed) + ": the ensemble's " +
              std::to_string(plan.members) + " members take seeds up to seed + " +
              std::to_string(plan.members - 1) + ", past 2^64 - 1; give a smaller seed");
  trained.schedule = plan;
  HeldOut held =
      hold_out(table, normal, plan.holdout_rows, options.engine.seed, model, trained.notes);

  model.engine = options.engine;
  model.engine.architecture.input_dim = static_cast<int>(data.features.cols);
  model.engine.batch_size = plan.batch_size;
  model.train = options.train;
  model.train.epochs = plan.epochs;
  model.train.kl_warmup_epochs = plan.kl_warmup_epochs;
  require(!options.betas.empty(), "an ensemble needs at least one beta");
  for (double beta : options.betas)
    require(std::isfinite(beta) && beta >= 0,
            "betas must be finite and not negative, got " + std::to_string(beta));
  train_members(model, plan.members, options.betas, held.train, held.holdout, options,
                trained.report, on_epoch);

  trained.holdout_scores = score_holdout(model, held, table, options.device);
  model.threshold_rule = options.threshold;
  model.threshold = options.threshold.kind == ThresholdRule::Kind::contamination
                        ? 0.0
                        : fit_threshold(options.threshold, model.holdout_scores);
  model.feature_names = data.column_names;
  model.holdout_fraction = options.holdout_fraction.value_or(
      static_cast<double>(held.holdout_rows.size()) / static_cast<double>(normal.size()));
  model.training_rows = held.train_rows.size();
  model.holdout_rows = held.holdout_rows.size();
  trained.holdout_rows = std::move(held.holdout_rows);
  return trained;
}

}  // namespace vaead
