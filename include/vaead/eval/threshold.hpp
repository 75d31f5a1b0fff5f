// Threshold rules: where "anomalous" begins, set from the scores of held-out normal rows (or, for
// contamination, from the scores of the rows being scored). A row is anomalous iff score >
// threshold.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace vaead {

struct ThresholdRule {
  enum class Kind {
    mean_std,             // mean + k * std of held-out normal scores           (parameter k)
    interquartile,        // Q3 + k * (Q3 - Q1) of held-out normal scores (Tukey's fence, k)
    percentile,           // the p-th percentile of held-out normal scores       (parameter p)
    false_positive_rate,  // the (1 - f) quantile of held-out normal scores: FPR f on them
    contamination,        // the (1 - c) quantile of the scored rows: a share c is flagged
  };
  Kind kind = Kind::mean_std;
  double parameter = 3.0;

  // "mean-std:3", "iqr:1.5", "percentile:99.5", "fpr:0.01", "contamination:0.05"; InputError
  // otherwise.
  static ThresholdRule parse(std::string_view text);
  std::string to_string() const;  // the form parse reads
  std::string describe() const;   // "mean + 3 std of held-out normal scores"
};

struct ScoreMoments {
  double mean = 0.0;
  double std = 0.0;  // sample standard deviation (n - 1)
};

ScoreMoments score_moments(std::span<const float> scores);

// The q-quantile (0 <= q <= 1) with linear interpolation between order statistics (numpy's
// default); `values` in any order.
double quantile(std::span<const float> values, double q);

// Applies `rule`: to `reference_scores` (held-out normal rows), or for contamination to
// `scored` (the rows being scored). InputError when there are too few scores.
double fit_threshold(const ThresholdRule& rule, std::span<const float> reference_scores,
                     std::span<const float> scored = {});

}  // namespace vaead
