// Training a detector on a table, keeping it, scoring and evaluating with it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "vaead/detector.hpp"
#include "vaead/error.hpp"
#include "vaead/model_file.hpp"
#include "vaead/synthetic.hpp"

namespace vaead {
namespace {

// 1200 normal rows and 60 labelled anomalies from the seed study's generator.
Table labelled_table() {
  SyntheticConfig config;
  config.train_rows = 1200;
  config.validation_rows = 2;
  config.test_rows = 600;
  config.seed = 4;
  const SyntheticData data = generate_synthetic(config);
  Table table;
  table.source = "synthetic.csv";
  table.data = data.train;
  for (std::size_t r = 0; r < data.test.rows(); ++r) {
    if (!data.test.labels[r]) continue;
    table.data.features.values.insert(table.data.features.values.end(), data.test.features.row(r),
                                      data.test.features.row(r) + data.test.features.cols);
    table.data.labels.push_back(1);
  }
  table.data.features.rows = table.data.labels.size();
  table.data.kinds.clear();
  return table;
}

DetectorOptions quick_options() {
  DetectorOptions options;
  options.engine.architecture.latent_dim = 6;
  options.engine.batch_size = 64;
  options.engine.threads = 2;
  options.train.epochs = 4;
  options.train.kl_warmup_epochs = 2;
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
  options.engine.batch_size = 1000;
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
  for (const char* rule : {"mean-std:2.5", "percentile:99", "fpr:0.05", "contamination:0.1"}) {
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
  deep.train.beta = 0.01;
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
    EXPECT_EQ(back.train.beta, options.train.beta);
    EXPECT_EQ(back.holdout_fraction, options.holdout_fraction);
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
