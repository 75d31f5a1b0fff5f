// The threshold rule: where scores of held-out normal rows say "anomalous" begins.
#pragma once

#include <span>
#include <string>

namespace vaead {

struct ThresholdRule {
  double k = 3.0;  // threshold = mean + k * std of the validation-normal scores

  std::string describe() const;  // "mean + 3 std of validation scores"
};

struct ScoreMoments {
  double mean = 0.0;
  double std = 0.0;  // sample standard deviation (n - 1)
};

ScoreMoments score_moments(std::span<const float> scores);

// Applies `rule` to the scores of normal validation rows; throws InputError when fewer than two.
double fit_threshold(const ThresholdRule& rule, std::span<const float> validation_scores);

}  // namespace vaead
