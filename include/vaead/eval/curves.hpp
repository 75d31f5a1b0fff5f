// The data behind the pictures: ROC and precision-recall curves, and score histograms.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vaead {

// A curve through points (x[i], y[i]).
struct Curve {
  std::vector<double> x, y;
};

// ROC: (false-positive rate, true-positive rate) at every distinct score threshold, from (0, 0)
// to (1, 1); its trapezoid area is roc_auc().
Curve roc_curve(std::span<const float> scores, std::span<const std::uint8_t> labels);

// Precision-recall: (recall, precision) at every distinct threshold, descending, starting at
// (0, 1) as scikit-learn's precision_recall_curve ends; sum over points of
// (recall[i] - recall[i-1]) * precision[i] is average_precision().
Curve pr_curve(std::span<const float> scores, std::span<const std::uint8_t> labels);

// At most `max_points` points of a monotone curve, spread evenly along its path, first and last
// kept exactly.
Curve thin(const Curve& curve, std::size_t max_points);

// Log-spaced bins from the smallest positive to the largest score: `edges` has bins + 1 values.
struct Histogram {
  std::vector<double> edges;
  std::vector<std::size_t> counts;
};
std::vector<double> log_bin_edges(std::span<const float> scores, std::size_t bins);
Histogram histogram(std::span<const float> scores, const std::vector<double>& edges);

}  // namespace vaead
