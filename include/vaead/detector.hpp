// A detector's life on a user's table: train on the normal rows (holding some out for the
// threshold), keep it as a model file, score new rows, evaluate against labels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vaead/curves.hpp"
#include "vaead/engine.hpp"
#include "vaead/metrics.hpp"
#include "vaead/model_file.hpp"
#include "vaead/table.hpp"
#include "vaead/trainer.hpp"

namespace vaead {

struct DetectorOptions {
  EngineConfig engine;  // architecture.input_dim is taken from the data
  TrainConfig train;
  ThresholdRule threshold;
  double holdout_fraction = 0.2;  // of the normal rows, held out to set the threshold
  EngineKind device = EngineKind::cpu;
};

struct TrainedDetector {
  ModelFile model;
  TrainingReport report;
  std::vector<std::string> notes;         // warnings for the user (constant columns, ...)
  std::vector<std::size_t> holdout_rows;  // the table rows held out for the threshold, ascending
};

// Trains on the rows labelled 0 (every row without labels). InputError when too few rows remain.
TrainedDetector train_detector(const Table& table, const DetectorOptions& options,
                               const EpochCallback& on_epoch = {});

struct ScoredRows {
  std::vector<float> scores;  // mean squared error of the standardized reconstruction
  Matrix per_feature;         // rows x features, squared errors (standardized units), on request
  ThresholdRule rule;
  double threshold = 0.0;
  std::vector<std::uint8_t> flagged;  // score > threshold
};

// Scores the table's rows `chunk_rows` at a time (0: about 4 MB of them), so that memory is the
// table plus one standardized chunk. InputError naming the first row whose score is not finite.
ScoredRows score_table(const ModelFile& model, const Table& table, EngineKind device,
                       const ThresholdRule& rule, bool per_feature, int threads = 0,
                       std::size_t chunk_rows = 0);

// One of the most anomalous rows, with each feature's squared error.
struct RankedRow {
  std::size_t row = 0;
  float score = 0.0f;
  bool anomaly = false;  // the label
  std::vector<float> feature_errors;
};

struct Evaluation {
  double roc_auc = 0.0;
  double pr_auc = 0.0;
  Confusion at_threshold;
  double threshold = 0.0;
  ThresholdRule rule;
  std::size_t rows = 0;
  std::size_t anomalies = 0;
  Curve roc, pr;  // thinned to at most 1000 points
  std::vector<double> histogram_edges;
  std::vector<std::size_t> normal_counts, anomaly_counts;
  std::vector<std::string> feature_names;
  std::vector<RankedRow> top;  // the highest scores, when per-feature errors were scored
};

// Needs the table's labels (InputError otherwise); `top` rows when scored.per_feature is set.
Evaluation evaluate_scores(const ScoredRows& scored, const Table& table,
                           const std::vector<std::string>& feature_names = {},
                           std::size_t top = 10);

}  // namespace vaead
