#include "vaead/eval/threshold.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>
#include <vector>

#include "util/text.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

struct RuleName {
  ThresholdRule::Kind kind;
  const char* name;
};
constexpr RuleName kNames[] = {{ThresholdRule::Kind::mean_std, "mean-std"},
                               {ThresholdRule::Kind::percentile, "percentile"},
                               {ThresholdRule::Kind::false_positive_rate, "fpr"},
                               {ThresholdRule::Kind::interquartile, "iqr"},
                               {ThresholdRule::Kind::contamination, "contamination"}};

std::string shortest(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

}  // namespace

ThresholdRule ThresholdRule::parse(std::string_view text) {
  const std::string usage =
      "a threshold rule is mean-std:K, iqr:K (K >= 0), percentile:P (0-100), fpr:F (0-1) "
      "or contamination:C (0-1), got " +
      text::quote(text);
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) throw InputError(usage);
  const std::string_view name = text.substr(0, colon), number = text.substr(colon + 1);
  double value = 0.0;
  const auto parsed = std::from_chars(number.data(), number.data() + number.size(), value);
  if (parsed.ec != std::errc() || parsed.ptr != number.data() + number.size() ||
      !std::isfinite(value))
    throw InputError(usage);
  for (const RuleName& rule : kNames) {
    if (name != rule.name) continue;
    const bool valid = rule.kind == Kind::mean_std        ? true
                       : rule.kind == Kind::interquartile ? value >= 0
                       : rule.kind == Kind::percentile    ? value >= 0 && value <= 100
                                                          : value > 0 && value < 1;
    if (!valid) throw InputError(usage);
    return {rule.kind, value};
  }
  throw InputError(usage);
}

std::string ThresholdRule::to_string() const {
  for (const RuleName& rule : kNames)
    if (rule.kind == kind) return std::string(rule.name) + ":" + shortest(parameter);
  return "unknown";
}

std::string ThresholdRule::describe() const {
  const std::string p = shortest(parameter);
  switch (kind) {
    case Kind::mean_std:
      return "mean + " + p + " std of held-out normal scores";
    case Kind::interquartile:
      return "upper quartile + " + p + " interquartile ranges of held-out normal scores";
    case Kind::percentile:
      return "percentile " + p + " of held-out normal scores";
    case Kind::false_positive_rate:
      return "false-positive rate " + p + " on held-out normal scores";
    case Kind::contamination:
      return "the top " + p + " share of the scored rows";
  }
  return "unknown";
}

ScoreMoments score_moments(std::span<const float> scores) {
  require(scores.size() >= 2,
          "a threshold needs at least two held-out scores, got " + std::to_string(scores.size()));
  // Summed in ascending order: the moments of the scores, whatever order they come in (a run's
  // held-out scores are sorted before its model file keeps them; the threshold must not move).
  std::vector<float> sorted(scores.begin(), scores.end());
  std::sort(sorted.begin(), sorted.end());
  double sum = 0.0;
  for (float s : sorted)
    sum += s;
  const double mean = sum / static_cast<double>(sorted.size());
  double sum_sq = 0.0;
  for (float s : sorted)
    sum_sq += (s - mean) * (s - mean);
  return {mean, std::sqrt(sum_sq / static_cast<double>(scores.size() - 1))};
}

double quantile(std::span<const float> values, double q) {
  require(!values.empty(), "a quantile of no values");
  std::vector<float> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  const double position = std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + fraction * (static_cast<double>(sorted[above]) - sorted[below]);
}

double fit_threshold(const ThresholdRule& rule, std::span<const float> reference_scores,
                     std::span<const float> scored) {
  switch (rule.kind) {
    case ThresholdRule::Kind::mean_std: {
      const ScoreMoments moments = score_moments(reference_scores);
      return moments.mean + rule.parameter * moments.std;
    }
    case ThresholdRule::Kind::interquartile: {
      require(reference_scores.size() >= 2, "an interquartile threshold needs held-out scores");
      const double upper = quantile(reference_scores, 0.75);
      return upper + rule.parameter * (upper - quantile(reference_scores, 0.25));
    }
    case ThresholdRule::Kind::percentile:
      require(reference_scores.size() >= 2, "a percentile threshold needs held-out scores");
      return quantile(reference_scores, rule.parameter / 100.0);
    case ThresholdRule::Kind::false_positive_rate:
      require(reference_scores.size() >= 2,
              "a false-positive-rate threshold needs held-out scores");
      return quantile(reference_scores, 1.0 - rule.parameter);
    case ThresholdRule::Kind::contamination:
      require(!scored.empty(), "a contamination threshold needs the scores of the scored rows");
      return quantile(scored, 1.0 - rule.parameter);
  }
  throw InputError("unknown threshold rule");
}

}  // namespace vaead
