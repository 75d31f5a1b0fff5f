// Training a detector on a table, keeping it, scoring and evaluating with it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "test_support.hpp"
#include "vaead/data/synthetic.hpp"
#include "vaead/detector/evaluate.hpp"
#include "vaead/detector/score.hpp"
#include "vaead/detector/train.hpp"
#include "vaead/io/model_file.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

// 1200 normal rows and 60 labelled anomalies from the seed study's generator.
Table labelled_table() {
  return testing::labelled_synthetic_table(1200, 600, 4);
}

// Member 0 of an ensemble as a model file of its own.
ModelFile member_of(const ModelFile& m) {
  ModelFile one = m;
  one.more_members.clear();
  one.member_scales.clear();
  one.member_seeds.clear();
  one.member_betas.clear();
  return one;
}

DetectorOptions quick_options() {
  DetectorOptions options;
  options.engine.architecture.latent_dim = 6;
  options.batch_size = 64;
  options.engine.threads = 2;
  options.epochs = 4;
  options.kl_warmup_epochs = 2;
  options.members = 1;
  return options;
}

TEST(Detector, TrainsOnNormalRowsAndSetsTheThresholdOnTheHeldOutShare) {
  const Table table = labelled_table();
  ASSERT_EQ(table.data.count_label(1), 60u);
  const TrainedDetector trained = train_detector(table, quick_options());
  const ModelFile& m = trained.model;
  EXPECT_EQ(m.dropped_anomalies, 60u);
  EXPECT_EQ(m.holdout_rows, 240u);  // 20% of 1200
  EXPECT_EQ(m.training_rows, 960u);
  EXPECT_EQ(trained.report.samples, 4u * 960u);
  EXPECT_TRUE(std::is_sorted(m.holdout_scores.begin(), m.holdout_scores.end()));
  EXPECT_EQ(m.holdout_scores.size(), 240u);
  EXPECT_DOUBLE_EQ(m.threshold, fit_threshold(m.threshold_rule, m.holdout_scores));
  EXPECT_EQ(m.feature_names, table.data.column_names);
  EXPECT_EQ(m.parameters.size(), make_layout(m.engine.architecture).size);
  EXPECT_EQ(m.engine.architecture.input_dim, 30);
}

TEST(Detector, TooFewRowsForABatchIsAnInputErrorThatSaysWhatToChange) {
  Table table = labelled_table();
  DetectorOptions options = quick_options();
  options.batch_size = 1000;
  try {
    train_detector(table, options);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("1200 normal rows; training needs 1240 (240 held out for the threshold and "
                        "one batch of 1000)"),
              std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find("--batch-size"), std::string::npos);
  }
}

TEST(Detector, ConstantColumnIsANoteAndScoresStayFinite) {
  Table table = labelled_table();
  for (std::size_t r = 0; r < table.data.rows(); ++r)
    table.data.features(r, 7) = 2.5f;
  const TrainedDetector trained = train_detector(table, quick_options());
  ASSERT_EQ(trained.notes.size(), 1u);
  EXPECT_NE(trained.notes[0].find("column 'x7' is constant"), std::string::npos);
  EXPECT_EQ(trained.model.standardizer.scale[7], 1.0);
  const ScoredRows scored =
      score_table(trained.model, table, EngineKind::cpu, trained.model.threshold_rule, false);
  for (float s : scored.scores)
    ASSERT_TRUE(std::isfinite(s));
}

TEST(Detector, ColumnsAreMatchedByNameAndDifferencesListed) {
  const Table table = labelled_table();
  const TrainedDetector trained = train_detector(table, quick_options());
  const ScoredRows straight =
      score_table(trained.model, table, EngineKind::cpu, trained.model.threshold_rule, false);
  // The same columns in reverse order score the same.
  Table reversed = table;
  std::reverse(reversed.data.column_names.begin(), reversed.data.column_names.end());
  for (std::size_t r = 0; r < table.data.rows(); ++r)
    std::reverse(reversed.data.features.row(r), reversed.data.features.row(r) + 30);
  EXPECT_EQ(
      score_table(trained.model, reversed, EngineKind::cpu, trained.model.threshold_rule, false)
          .scores,
      straight.scores);
  Table renamed = table;
  renamed.data.column_names[3] = "zz";
  try {
    score_table(trained.model, renamed, EngineKind::cpu, trained.model.threshold_rule, false);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("missing: x3; not in the model: zz"),
              std::string::npos)
        << error.what();
  }
}

TEST(Detector, ThresholdRulesAndEvaluation) {
  const Table table = labelled_table();
  const TrainedDetector trained = train_detector(table, quick_options());
  const ModelFile& m = trained.model;
  const ScoredRows contamination =
      score_table(m, table, EngineKind::cpu, {ThresholdRule::Kind::contamination, 0.1}, false);
  const auto flagged = std::count(contamination.flagged.begin(), contamination.flagged.end(), 1);
  EXPECT_EQ(flagged, 126);  // 10% of 1260 distinct scores
  const ScoredRows fpr = score_table(m, table, EngineKind::cpu,
                                     {ThresholdRule::Kind::false_positive_rate, 0.05}, true);
  EXPECT_DOUBLE_EQ(fpr.threshold, quantile(m.holdout_scores, 0.95));
  ASSERT_EQ(fpr.per_feature.rows, table.data.rows());
  const Evaluation e = evaluate_scores(fpr, table);
  EXPECT_DOUBLE_EQ(e.roc_auc, roc_auc(fpr.scores, table.data.labels));
  EXPECT_EQ(e.anomalies, 60u);
  EXPECT_GT(e.roc_auc, 0.8);  // 4 epochs on 960 rows already separate these anomalies
  Table unlabelled = table;
  unlabelled.data.labels.clear();
  EXPECT_THROW(evaluate_scores(fpr, unlabelled), InputError);
}

// Scoring goes a chunk of rows at a time (memory: the table and one chunk); the chunks' scores,
// per-feature errors, threshold and the first non-finite row's name are those of one pass.
TEST(Detector, ScoringInChunksGivesTheScoresOfOnePass) {
  Table table = labelled_table();
  const TrainedDetector trained = train_detector(table, quick_options());
  const ModelFile& m = trained.model;
  const ScoredRows whole = score_table(m, table, EngineKind::cpu, m.threshold_rule, true);
  for (std::size_t chunk : {1u, 7u, 1000u}) {
    const ScoredRows parts =
        score_table(m, table, EngineKind::cpu, m.threshold_rule, true, 0, chunk);
    EXPECT_EQ(parts.scores, whole.scores) << chunk;
    EXPECT_EQ(parts.per_feature.values, whole.per_feature.values) << chunk;
    EXPECT_EQ(parts.flagged, whole.flagged) << chunk;
  }
  table.data.features(1201, 2) = 3e38f;
  for (std::size_t chunk : {7u, 0u}) {
    try {
      score_table(m, table, EngineKind::cpu, m.threshold_rule, false, 0, chunk);
      ADD_FAILURE() << "expected InputError";
    } catch (const InputError& error) {
      EXPECT_NE(std::string(error.what()).find("row 1201 scores"), std::string::npos)
          << error.what();
    }
  }
}

TEST(Detector, ModelFileRoundTripScoresIdentically) {
  const Table table = labelled_table();
  const TrainedDetector trained = train_detector(table, quick_options());
  const auto path = std::filesystem::temp_directory_path() / "vaead_detector_test.safetensors";
  write_model(path, trained.model);
  const ModelFile back = read_model(path);
  std::filesystem::remove(path);
  EXPECT_EQ(score_table(back, table, EngineKind::cpu, back.threshold_rule, false).scores,
            score_table(trained.model, table, EngineKind::cpu, back.threshold_rule, false).scores);
}

// Every option a model file records, written by train and read back: the same model, and the
// same scores. Names with quotes, commas, spaces and non-ASCII letters; every threshold rule; deep
// and shallow networks; a feature subset in another order.
TEST(Detector, EveryOptionRoundTripsThroughTheModelFile) {
  Table table = labelled_table();
  const std::vector<std::string> names = {"a \"quoted\" name", "comma,name", "  spaced  ",
                                          "température", "日本語"};
  for (std::size_t j = 0; j < names.size(); ++j)
    table.data.column_names[j] = names[j];
  std::vector<DetectorOptions> variants;
  for (const char* rule :
       {"mean-std:2.5", "iqr:3", "percentile:99", "fpr:0.05", "contamination:0.1"}) {
    DetectorOptions options = quick_options();
    options.threshold = ThresholdRule::parse(rule);
    variants.push_back(options);
  }
  DetectorOptions deep = quick_options();
  deep.engine.architecture.encoder_hidden = {40, 30, 20};
  deep.engine.architecture.decoder_hidden = {7};
  deep.engine.architecture.latent_dim = 1;
  deep.engine.logvar_min = -3.5;
  deep.engine.logvar_max = 2.25;
  deep.engine.adam.learning_rate = 3e-4;
  deep.holdout_fraction = 0.35;
  deep.betas = {0.01};
  variants.push_back(deep);
  for (const DetectorOptions& options : variants) {
    SCOPED_TRACE(options.threshold.to_string());
    const TrainedDetector trained = train_detector(table, options);
    const ModelFile back = parse_model(serialize_model(trained.model), "memory");
    EXPECT_EQ(back.feature_names, trained.model.feature_names);
    EXPECT_EQ(back.parameters, trained.model.parameters);
    EXPECT_EQ(back.threshold_rule.to_string(), options.threshold.to_string());
    EXPECT_EQ(back.threshold, trained.model.threshold);
    EXPECT_EQ(back.engine.architecture.encoder_hidden, options.engine.architecture.encoder_hidden);
    EXPECT_EQ(back.engine.logvar_min, options.engine.logvar_min);
    EXPECT_EQ(back.train.beta, options.betas[0]);
    EXPECT_EQ(back.holdout_fraction, options.holdout_fraction.value_or(0.2));
    EXPECT_EQ(
        score_table(back, table, EngineKind::cpu, back.threshold_rule, false).scores,
        score_table(trained.model, table, EngineKind::cpu, back.threshold_rule, false).scores);
  }
}

// What the model file cannot hold is refused before training, naming what and the limit.
TEST(Detector, WhatAModelCannotHoldIsRefusedBeforeTraining) {
  const Table table = labelled_table();
  DetectorOptions options = quick_options();
  options.engine.architecture.encoder_hidden = std::vector<int>(17, 8);  // 17 layers
  EXPECT_THROW(train_detector(table, options), InputError);
  options = quick_options();
  options.engine.architecture.decoder_hidden = {70000};
  try {
    train_detector(table, options);
    ADD_FAILURE() << "a layer of 70000 was trained";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("70000"), std::string::npos) << error.what();
  }
  Table twice = table;  // the same name for two columns (--features a,a)
  twice.data.column_names[3] = twice.data.column_names[2];
  try {
    train_detector(twice, quick_options());
    ADD_FAILURE() << "two columns named alike were trained";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("'" + twice.data.column_names[2] + "'"),
              std::string::npos)
        << error.what();
  }
}

// One extreme cell in a held-out row (a sentinel such as 1e30) would make a non-finite threshold
// and an unreadable model: training is refused, naming the row and the column.
TEST(Detector, AHeldOutRowThatScoresNonFiniteIsRefusedNamingRowAndColumn) {
  Table table = labelled_table();
  const std::size_t row = train_detector(table, quick_options()).holdout_rows.at(3);
  table.data.features(row, 7) = 1e30f;
  try {
    const TrainedDetector trained = train_detector(table, quick_options());
    ADD_FAILURE() << "trained; threshold " << trained.model.threshold;
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("synthetic.csv: row " + std::to_string(row)), std::string::npos)
        << message;
    EXPECT_NE(message.find("column 'x7'"), std::string::npos) << message;
    EXPECT_NE(message.find("1e+30"), std::string::npos) << message;
  }
}

// The same cell in a training row makes that one value the column's whole scale: a note says so.
TEST(Detector, OneTrainingValueThatHoldsAColumnsVarianceIsANote) {
  Table table = labelled_table();
  const TrainedDetector clean = train_detector(table, quick_options());
  std::size_t row = 0;
  while (std::count(clean.holdout_rows.begin(), clean.holdout_rows.end(), row) > 0 ||
         table.data.labels[row] != 0)
    ++row;
  table.data.features(row, 5) = 1e30f;
  const TrainedDetector trained = train_detector(table, quick_options());
  ASSERT_FALSE(trained.notes.empty());
  EXPECT_NE(trained.notes.back().find("column 'x5'"), std::string::npos) << trained.notes.back();
  EXPECT_NE(trained.notes.back().find("row " + std::to_string(row)), std::string::npos)
      << trained.notes.back();
}

// A row whose score is not finite is never silently "not anomalous": scoring names the first one.
TEST(Detector, ARowThatScoresNonFiniteIsAnErrorNamingIt) {
  const Table table = labelled_table();
  const TrainedDetector trained = train_detector(table, quick_options());
  Table scored = table;
  scored.data.features(17, 2) = 3e38f;
  scored.data.features(30, 4) = -3e38f;
  try {
    score_table(trained.model, scored, EngineKind::cpu, trained.model.threshold_rule, false);
    ADD_FAILURE() << "scored";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("row 17"), std::string::npos) << message;
    EXPECT_NE(message.find("column 'x2'"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace vaead

namespace vaead {
namespace {

// The schedule: small tables get small batches and enough epochs for the step budget; large ones
// keep 30 epochs of batch 256; what the user gives is kept.
TEST(Schedule, SmallTablesTrainForTheStepBudgetLargeOnesKeepThirtyEpochs) {
  const DetectorOptions automatic;
  const Schedule tiny = plan_schedule(20, automatic, "t.csv");
  EXPECT_EQ(tiny.holdout_rows, 6u);  // a third: 20% would be 4 scores for the threshold
  EXPECT_EQ(tiny.training_rows, 14u);
  EXPECT_EQ(tiny.batch_size, 14);  // never above the training rows
  EXPECT_EQ(tiny.epochs, kDefaultStepBudget);
  EXPECT_EQ(tiny.steps(), kDefaultStepBudget);

  const Schedule small = plan_schedule(266, automatic, "t.csv");  // the table refused before
  EXPECT_EQ(small.holdout_rows, 53u);
  EXPECT_EQ(small.batch_size, 16);
  EXPECT_GE(small.steps(), kDefaultStepBudget);
  EXPECT_LT(small.steps(), kDefaultStepBudget + 14);
  EXPECT_EQ(small.kl_warmup_epochs, small.epochs / 3);

  const Schedule mid = plan_schedule(5000, automatic, "t.csv");
  EXPECT_EQ(mid.holdout_rows, 1000u);
  EXPECT_EQ(mid.batch_size, 256);
  EXPECT_EQ(mid.epochs, 188);  // 16 steps an epoch

  const Schedule large = plan_schedule(100000, automatic, "t.csv");
  EXPECT_EQ(large.batch_size, 256);
  EXPECT_EQ(large.epochs, kMinEpochs);
  EXPECT_EQ(large.kl_warmup_epochs, 10);

  DetectorOptions given;
  given.batch_size = 64;
  given.epochs = 4;
  given.kl_warmup_epochs = 0;
  given.holdout_fraction = 0.5;
  const Schedule kept = plan_schedule(1000, given, "t.csv");
  EXPECT_EQ(kept.holdout_rows, 500u);
  EXPECT_EQ(kept.batch_size, 64);
  EXPECT_EQ(kept.epochs, 4);
  EXPECT_EQ(kept.kl_warmup_epochs, 0);

  EXPECT_THROW(plan_schedule(2, automatic, "t.csv"), InputError);

  // An ensemble of five where the training samples allow; one model for a large table.
  EXPECT_EQ(small.members, kDefaultMembers);
  EXPECT_EQ(mid.members, kDefaultMembers);
  EXPECT_EQ(large.members, 1);
  EXPECT_EQ(plan_schedule(60000, automatic, "t.csv").members, 2);  // 48000 rows x 30 epochs
  given.members = 3;
  EXPECT_EQ(plan_schedule(1000, given, "t.csv").members, 3);
}

// Member k of an ensemble is exactly the model that seed + k trains alone; the ensemble's score is
// the mean over members of score / scale; the file keeps every member.
TEST(Ensemble, MembersAreTheSeedsOwnModelsAndTheScoreTheirScaledMean) {
  const Table table = labelled_table();
  DetectorOptions options = quick_options();
  options.members = 3;
  options.engine.seed = 10;
  const TrainedDetector trained = train_detector(table, options);
  const ModelFile& m = trained.model;
  ASSERT_EQ(m.members(), 3u);
  ASSERT_EQ(m.member_scales.size(), 3u);
  // Member 0 is the model seed 10 trains alone (same hold-out, same rows, same seed).
  DetectorOptions single = quick_options();
  single.engine.seed = 10;
  const TrainedDetector one = train_detector(table, single);
  EXPECT_EQ(one.holdout_rows, trained.holdout_rows);
  EXPECT_EQ(one.model.parameters, m.parameters);
  std::vector<ScoredRows> alone;
  for (std::size_t k = 0; k < 3; ++k) {
    ModelFile member = member_of(m);
    member.parameters = m.member_parameters(k);
    member.engine.seed = 10 + k;
    alone.push_back(score_table(member, table, EngineKind::cpu, m.threshold_rule, true));
  }
  for (std::size_t k = 1; k < 3; ++k)
    EXPECT_NE(m.member_parameters(k), m.parameters);
  const ScoredRows scored = score_table(m, table, EngineKind::cpu, m.threshold_rule, true);
  for (std::size_t r = 0; r < table.data.rows(); ++r) {
    double sum = 0.0;
    for (std::size_t k = 0; k < 3; ++k)
      sum += alone[k].scores[r] * (1.0 / m.member_scales[k]);
    ASSERT_EQ(scored.scores[r], static_cast<float>(sum / 3.0)) << "row " << r;
    double features = 0.0;
    for (std::size_t j = 0; j < scored.per_feature.cols; ++j)
      features += scored.per_feature(r, j);
    ASSERT_NEAR(features / static_cast<double>(scored.per_feature.cols), scored.scores[r],
                1e-4 * scored.scores[r]);
  }
  // A member's scale is its mean held-out score, so the ensemble's held-out scores average ~1.
  double held = 0.0;
  for (float s : m.holdout_scores)
    held += s;
  EXPECT_NEAR(held / static_cast<double>(m.holdout_scores.size()), 1.0, 1e-3);
  EXPECT_GT(evaluate_scores(scored, table).roc_auc, 0.8);

  // The file: version 2, every member and scale back; scores identical.
  const std::vector<std::uint8_t> bytes = serialize_model(m);
  const ModelFile back = parse_model(bytes, "memory");
  EXPECT_EQ(back.more_members, m.more_members);
  EXPECT_EQ(back.member_scales, m.member_scales);
  EXPECT_EQ(back.member_seeds, (std::vector<std::uint64_t>{10, 11, 12}));
  EXPECT_EQ(back.member_betas, (std::vector<double>{1.0, 0.1, 1.0}));  // kEnsembleBetas in turn
  EXPECT_EQ(score_table(back, table, EngineKind::cpu, back.threshold_rule, false).scores,
            scored.scores);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + bytes[0] + 256 * bytes[1]);
  EXPECT_NE(header.find("\"format_version\":\"2\""), std::string::npos);
  EXPECT_NE(header.find("members.2.decoder.4.bias"), std::string::npos);
  // One model keeps format version 1.
  const std::vector<std::uint8_t> lone = serialize_model(member_of(m));
  EXPECT_NE(std::string(lone.begin(), lone.begin() + 600).find("\"format_version\":\"1\""),
            std::string::npos);
  // A scale that is not positive is a damaged file.
  std::string text(bytes.begin(), bytes.end());
  const std::size_t at = text.find("score_scales\\\":[");
  ASSERT_NE(at, std::string::npos);
  text[at + 17] = '-';
  EXPECT_THROW(parse_model(std::vector<std::uint8_t>(text.begin(), text.end()), "bad"), InputError);
}

TEST(Schedule, ATwentyRowTableTrainsWithTheDefaults) {
  Table table;
  table.source = "tiny.csv";
  table.data.column_names = {"a", "b", "c"};
  table.data.features = Matrix(20, 3);
  for (std::size_t r = 0; r < 20; ++r)
    for (std::size_t j = 0; j < 3; ++j)
      table.data.features(r, j) = static_cast<float>((r * 7 + j * 3) % 11);
  DetectorOptions options;
  options.engine.threads = 1;
  options.step_budget = 200;  // the rule, at a test's cost
  const TrainedDetector trained = train_detector(table, options);
  EXPECT_EQ(trained.model.training_rows, 14u);
  EXPECT_EQ(trained.model.engine.batch_size, 14);
  EXPECT_EQ(trained.model.train.epochs, 200);
  EXPECT_EQ(trained.report.epochs.size(), 200u);
  EXPECT_TRUE(std::isfinite(trained.model.threshold));
}

}  // namespace
}  // namespace vaead
