// Detection metrics. Higher score = more anomalous; label 1 = anomaly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace vaead {

// ROC-AUC: the probability that a random anomaly scores above a random normal row, ties counting
// one half (the Mann-Whitney U statistic over its maximum). Throws InputError when either class is
// absent or sizes differ.
double roc_auc(std::span<const float> scores, std::span<const std::uint8_t> labels);

// Average precision exactly as scikit-learn's average_precision_score: sum over distinct score
// thresholds (descending) of (R_n - R_{n-1}) * P_n, tied scores forming one threshold.
double average_precision(std::span<const float> scores, std::span<const std::uint8_t> labels);

// The confusion counts when a row is called anomalous iff score > threshold.
struct Confusion {
  std::size_t true_positives = 0;
  std::size_t false_positives = 0;
  std::size_t true_negatives = 0;
  std::size_t false_negatives = 0;

  double precision() const;  // 0 when nothing is called anomalous
  double recall() const;     // 0 when there are no anomalies
  double f1() const;         // 0 when precision + recall is 0
};

Confusion confusion_at(std::span<const float> scores, std::span<const std::uint8_t> labels,
                       double threshold);

}  // namespace vaead
