#include "vaead/eval/curves.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "vaead/portable_math.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

// Counts of (anomalies, rows) called at each distinct score, from the highest score down.
struct Step {
  std::size_t anomalies = 0, rows = 0;
};

std::vector<Step> cumulative_steps(std::span<const float> scores,
                                   std::span<const std::uint8_t> labels, std::size_t& positives) {
  require(scores.size() == labels.size() && !scores.empty(), "curves need one label per score");
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::vector<Step> steps;
  Step running;
  for (std::size_t i = 0; i < order.size(); ++i) {
    running.anomalies += labels[order[i]] != 0 ? 1 : 0;
    running.rows += 1;
    if (i + 1 == order.size() || scores[order[i + 1]] != scores[order[i]]) steps.push_back(running);
  }
  positives = running.anomalies;
  require(positives > 0 && positives < scores.size(), "curves need both classes");
  return steps;
}

}  // namespace

Curve roc_curve(std::span<const float> scores, std::span<const std::uint8_t> labels) {
  std::size_t positives = 0;
  const std::vector<Step> steps = cumulative_steps(scores, labels, positives);
  const auto p = static_cast<double>(positives);
  const auto n = static_cast<double>(scores.size() - positives);
  Curve roc{{0.0}, {0.0}};
  for (const Step& s : steps) {
    roc.x.push_back(static_cast<double>(s.rows - s.anomalies) / n);
    roc.y.push_back(static_cast<double>(s.anomalies) / p);
  }
  return roc;
}

Curve pr_curve(std::span<const float> scores, std::span<const std::uint8_t> labels) {
  std::size_t positives = 0;
  const std::vector<Step> steps = cumulative_steps(scores, labels, positives);
  Curve pr{{0.0}, {1.0}};
  for (const Step& s : steps) {
    pr.x.push_back(static_cast<double>(s.anomalies) / static_cast<double>(positives));
    pr.y.push_back(static_cast<double>(s.anomalies) / static_cast<double>(s.rows));
  }
  return pr;
}

Curve thin(const Curve& curve, std::size_t max_points) {
  const std::size_t n = curve.x.size();
  if (n <= max_points || max_points < 2) return curve;
  std::vector<double> path(n, 0.0);  // cumulative |dx| + |dy|
  for (std::size_t i = 1; i < n; ++i)
    path[i] =
        path[i - 1] + std::abs(curve.x[i] - curve.x[i - 1]) + std::abs(curve.y[i] - curve.y[i - 1]);
  const double spacing = path.back() / static_cast<double>(max_points - 1);
  Curve out{{curve.x.front()}, {curve.y.front()}};
  double next = spacing;
  for (std::size_t i = 1; i + 1 < n; ++i) {
    if (path[i] + 1e-15 < next || out.x.size() + 1 >= max_points) continue;
    out.x.push_back(curve.x[i]);
    out.y.push_back(curve.y[i]);
    next = path[i] + spacing;
  }
  out.x.push_back(curve.x.back());
  out.y.push_back(curve.y.back());
  return out;
}

std::vector<double> log_bin_edges(std::span<const float> scores, std::size_t bins) {
  require(bins >= 1, "a histogram needs at least one bin");
  double low = INFINITY, high = 0.0;
  for (float s : scores)
    if (s > 0) {
      low = std::min(low, static_cast<double>(s));
      high = std::max(high, static_cast<double>(s));
    }
  if (!std::isfinite(low)) low = high = 1.0;  // no positive score
  if (high <= low) high = low * 10.0;
  // low (high / low)^(i / bins) as exp(i / bins log(high / low)), with the project's own exp and
  // log (the same bits on every machine, where libm's pow differs between CPUs).
  const double log_ratio = portable::log(high / low);
  std::vector<double> edges(bins + 1);
  for (std::size_t i = 0; i <= bins; ++i)
    edges[i] = low * portable::exp(static_cast<double>(i) / static_cast<double>(bins) * log_ratio);
  edges.back() = high;  // exactly, so the largest score falls in the last bin
  return edges;
}

Histogram histogram(std::span<const float> scores, const std::vector<double>& edges) {
  Histogram h{edges, std::vector<std::size_t>(edges.size() - 1, 0)};
  for (float s : scores) {
    // Scores below the first edge (zero) count in the first bin, above the last in the last.
    const auto upper = std::upper_bound(edges.begin(), edges.end(), static_cast<double>(s));
    const auto bin = std::clamp<std::ptrdiff_t>(upper - edges.begin() - 1, 0,
                                                static_cast<std::ptrdiff_t>(h.counts.size()) - 1);
    ++h.counts[static_cast<std::size_t>(bin)];
  }
  return h;
}

}  // namespace vaead
