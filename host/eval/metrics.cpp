#include "vaead/eval/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "vaead/util/error.hpp"

namespace vaead {
namespace {

struct ClassCounts {
  std::size_t positives = 0;
  std::size_t negatives = 0;
};

ClassCounts check_inputs(std::span<const float> scores, std::span<const std::uint8_t> labels,
                         const char* metric) {
  require(scores.size() == labels.size(), std::string(metric) + ": " +
                                              std::to_string(scores.size()) + " scores but " +
                                              std::to_string(labels.size()) + " labels");
  ClassCounts counts;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    require(!std::isnan(scores[i]),
            std::string(metric) + ": the score of row " + std::to_string(i) + " is NaN");
    (labels[i] != 0 ? counts.positives : counts.negatives) += 1;
  }
  require(counts.positives > 0 && counts.negatives > 0,
          std::string(metric) + " needs both classes; found " + std::to_string(counts.positives) +
              " anomalies and " + std::to_string(counts.negatives) + " normal rows");
  return counts;
}

// Row indices ordered by score, ascending.
std::vector<std::size_t> ascending_order(std::span<const float> scores) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  return order;
}

}  // namespace

// Mann-Whitney: AUC = (sum of the anomalies' ranks - P (P + 1) / 2) / (P N), where tied scores
// share the mean of the ranks they span, which counts each tied (anomaly, normal) pair as one half.
double roc_auc(std::span<const float> scores, std::span<const std::uint8_t> labels) {
  const ClassCounts counts = check_inputs(scores, labels, "ROC-AUC");
  const std::vector<std::size_t> order = ascending_order(scores);
  double positive_rank_sum = 0.0;
  for (std::size_t begin = 0; begin < order.size();) {
    std::size_t end = begin;
    std::size_t positives_in_group = 0;
    while (end < order.size() && scores[order[end]] == scores[order[begin]])
      positives_in_group += labels[order[end++]] != 0 ? 1 : 0;
    const double mean_rank = 0.5 * static_cast<double>(begin + 1 + end);  // ranks begin+1 .. end
    positive_rank_sum += mean_rank * static_cast<double>(positives_in_group);
    begin = end;
  }
  const auto p = static_cast<double>(counts.positives), n = static_cast<double>(counts.negatives);
  return (positive_rank_sum - p * (p + 1.0) / 2.0) / (p * n);
}

double average_precision(std::span<const float> scores, std::span<const std::uint8_t> labels) {
  const ClassCounts counts = check_inputs(scores, labels, "average precision");
  const std::vector<std::size_t> order = ascending_order(scores);
  double ap = 0.0, previous_recall = 0.0;
  std::size_t true_positives = 0, called = 0;
  for (std::size_t end = order.size(); end > 0;) {  // descending, one step per distinct score
    std::size_t begin = end;
    while (begin > 0 && scores[order[begin - 1]] == scores[order[end - 1]]) {
      --begin;
      true_positives += labels[order[begin]] != 0 ? 1 : 0;
    }
    called += end - begin;
    const double recall =
        static_cast<double>(true_positives) / static_cast<double>(counts.positives);
    const double precision = static_cast<double>(true_positives) / static_cast<double>(called);
    ap += (recall - previous_recall) * precision;
    previous_recall = recall;
    end = begin;
  }
  return ap;
}

Confusion confusion_at(std::span<const float> scores, std::span<const std::uint8_t> labels,
                       double threshold) {
  require(scores.size() == labels.size(), "confusion counts need one label per score");
  Confusion c;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const bool called = static_cast<double>(scores[i]) > threshold;
    const bool anomaly = labels[i] != 0;
    (called ? (anomaly ? c.true_positives : c.false_positives)
            : (anomaly ? c.false_negatives : c.true_negatives)) += 1;
  }
  return c;
}

double Confusion::precision() const {
  const std::size_t called = true_positives + false_positives;
  return called == 0 ? 0.0 : static_cast<double>(true_positives) / static_cast<double>(called);
}

double Confusion::recall() const {
  const std::size_t anomalies = true_positives + false_negatives;
  return anomalies == 0 ? 0.0
                        : static_cast<double>(true_positives) / static_cast<double>(anomalies);
}

double Confusion::f1() const {
  const double p = precision(), r = recall();
  return p + r == 0.0 ? 0.0 : 2.0 * p * r / (p + r);
}

}  // namespace vaead
