// Scores measured against a table's labels: the AUCs, the confusion at the threshold, the curves,
// the histograms and the most anomalous rows with their feature errors.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "vaead/data/table.hpp"
#include "vaead/detector/score.hpp"
#include "vaead/eval/curves.hpp"
#include "vaead/eval/metrics.hpp"

namespace vaead {

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
