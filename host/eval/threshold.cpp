#include "vaead/threshold.hpp"

#include <cmath>
#include <sstream>

#include "vaead/error.hpp"

namespace vaead {

std::string ThresholdRule::describe() const {
  std::ostringstream text;
  text << "mean + " << k << " std of validation-normal scores";
  return text.str();
}

ScoreMoments score_moments(std::span<const float> scores) {
  require(scores.size() >= 2,
          "a threshold needs at least two validation scores, got " + std::to_string(scores.size()));
  double sum = 0.0;
  for (float s : scores)
    sum += s;
  const double mean = sum / static_cast<double>(scores.size());
  double sum_sq = 0.0;
  for (float s : scores)
    sum_sq += (s - mean) * (s - mean);
  return {mean, std::sqrt(sum_sq / static_cast<double>(scores.size() - 1))};
}

double fit_threshold(const ThresholdRule& rule, std::span<const float> validation_scores) {
  const ScoreMoments moments = score_moments(validation_scores);
  return moments.mean + rule.k * moments.std;
}

}  // namespace vaead
