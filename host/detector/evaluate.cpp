#include "vaead/detector/evaluate.hpp"

#include <algorithm>
#include <numeric>

#include "vaead/util/error.hpp"

namespace vaead {

Evaluation evaluate_scores(const ScoredRows& scored, const Table& table,
                           const std::vector<std::string>& feature_names, std::size_t top) {
  const std::vector<std::uint8_t>& labels = table.data.labels;
  require(labels.size() == scored.scores.size(),
          table.source + ": evaluation needs labels: name their column with --label-column");
  Evaluation e;
  e.roc_auc = roc_auc(scored.scores, labels);
  e.pr_auc = average_precision(scored.scores, labels);
  e.at_threshold = confusion_at(scored.scores, labels, scored.threshold);
  e.threshold = scored.threshold;
  e.rule = scored.rule;
  e.rows = labels.size();
  e.anomalies = table.data.count_label(1);
  e.roc = thin(roc_curve(scored.scores, labels), 1000);
  e.pr = thin(pr_curve(scored.scores, labels), 1000);
  e.histogram_edges = log_bin_edges(scored.scores, 60);
  std::vector<float> normal, anomalous;
  for (std::size_t i = 0; i < labels.size(); ++i)
    (labels[i] ? anomalous : normal).push_back(scored.scores[i]);
  e.normal_counts = histogram(normal, e.histogram_edges).counts;
  e.anomaly_counts = histogram(anomalous, e.histogram_edges).counts;
  if (scored.per_feature.rows == scored.scores.size() && top > 0) {
    e.feature_names = feature_names;
    std::vector<std::size_t> order(scored.scores.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    top = std::min(top, order.size());
    std::partial_sort(
        order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
        [&](std::size_t a, std::size_t b) { return scored.scores[a] > scored.scores[b]; });
    for (std::size_t i = 0; i < top; ++i) {
      const std::size_t r = order[i];
      const float* errors = scored.per_feature.row(r);
      e.top.push_back({r, scored.scores[r], labels[r] != 0,
                       std::vector<float>(errors, errors + scored.per_feature.cols)});
    }
  }
  return e;
}

}  // namespace vaead
