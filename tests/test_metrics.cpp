// Metrics against brute-force definitions and hand-computed cases (checked with scikit-learn 1.x).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "vaead/eval/metrics.hpp"
#include "vaead/eval/threshold.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

// P(anomaly scores above normal) + 1/2 P(tie), over every (anomaly, normal) pair.
double pairwise_auc(const std::vector<float>& scores, const std::vector<std::uint8_t>& labels) {
  double wins = 0.0, pairs = 0.0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!labels[i]) continue;
    for (std::size_t j = 0; j < scores.size(); ++j) {
      if (labels[j]) continue;
      pairs += 1.0;
      wins += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
    }
  }
  return wins / pairs;
}

// Average precision as the mean, over anomalies, of the precision among rows scoring at least as
// high as that anomaly: the same quantity as scikit-learn's step-wise sum, computed another way.
double brute_force_ap(const std::vector<float>& scores, const std::vector<std::uint8_t>& labels) {
  double sum = 0.0;
  std::size_t positives = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!labels[i]) continue;
    ++positives;
    double called = 0.0, hits = 0.0;
    for (std::size_t j = 0; j < scores.size(); ++j)
      if (scores[j] >= scores[i]) {
        called += 1.0;
        hits += labels[j] ? 1.0 : 0.0;
      }
    sum += hits / called;
  }
  return sum / static_cast<double>(positives);
}

struct Case {
  std::vector<std::uint8_t> labels;
  std::vector<float> scores;
  double roc_auc, average_precision;
};

TEST(Metrics, HandComputedCasesWithTies) {
  const std::vector<Case> cases = {
      {{0, 0, 1, 1}, {0.1f, 0.4f, 0.35f, 0.8f}, 0.75, 0.8333333333333333},
      {{1, 1, 0, 0, 1}, {0.9f, 0.8f, 0.8f, 0.3f, 0.1f}, 0.5833333333333333, 34.0 / 45.0},
      {{1, 0, 1, 0}, {0.5f, 0.5f, 0.5f, 0.5f}, 0.5, 0.5},
      {{0, 1, 0, 0, 1, 1}, {2, 2, 1, 1, 1, 0}, 3.5 / 9.0, 14.0 / 30.0},
      {{0, 1}, {0.0f, 1.0f}, 1.0, 1.0},
      {{1, 0}, {0.0f, 1.0f}, 0.0, 0.5},
  };
  for (const Case& c : cases) {
    EXPECT_NEAR(roc_auc(c.scores, c.labels), c.roc_auc, 1e-12);
    EXPECT_NEAR(average_precision(c.scores, c.labels), c.average_precision, 1e-12);
  }
}

TEST(Metrics, RocAucMatchesPairwiseCountOnRandomAndTieHeavyInputs) {
  std::mt19937 generator(7);
  for (int levels : {0, 3, 20}) {  // 0: continuous scores; otherwise only `levels` distinct values
    for (int trial = 0; trial < 5; ++trial) {
      std::vector<float> scores(400);
      std::vector<std::uint8_t> labels(400);
      std::bernoulli_distribution is_anomaly(0.2);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::uniform_int_distribution<int> level(0, std::max(levels - 1, 0));
      for (std::size_t i = 0; i < scores.size(); ++i) {
        labels[i] = is_anomaly(generator) ? 1 : 0;
        scores[i] = levels == 0 ? normal(generator) + (labels[i] ? 0.8f : 0.0f)
                                : static_cast<float>(level(generator) + (labels[i] ? 1 : 0));
      }
      EXPECT_NEAR(roc_auc(scores, labels), pairwise_auc(scores, labels), 1e-12)
          << "levels " << levels << " trial " << trial;
      EXPECT_NEAR(average_precision(scores, labels), brute_force_ap(scores, labels), 1e-12)
          << "levels " << levels << " trial " << trial;
    }
  }
}

TEST(Metrics, RefusesInputsWithoutBothClassesOrWithNaN) {
  const std::vector<float> scores{0.1f, 0.2f};
  EXPECT_THROW(roc_auc(scores, std::vector<std::uint8_t>{0, 0}), InputError);
  EXPECT_THROW(average_precision(scores, std::vector<std::uint8_t>{1, 1}), InputError);
  EXPECT_THROW(roc_auc(scores, std::vector<std::uint8_t>{0, 1, 1}), InputError);
  const std::vector<float> with_nan{0.1f, std::nanf("")};
  EXPECT_THROW(roc_auc(with_nan, std::vector<std::uint8_t>{0, 1}), InputError);
}

TEST(Metrics, ConfusionAtThresholdIsStrict) {
  const std::vector<float> scores{0.1f, 0.5f, 0.9f, 0.5f, 0.7f};
  const std::vector<std::uint8_t> labels{0, 1, 1, 0, 0};
  const Confusion c = confusion_at(scores, labels, 0.5);  // called: 0.9 and 0.7
  EXPECT_EQ(c.true_positives, 1u);
  EXPECT_EQ(c.false_positives, 1u);
  EXPECT_EQ(c.false_negatives, 1u);
  EXPECT_EQ(c.true_negatives, 2u);
  EXPECT_DOUBLE_EQ(c.precision(), 0.5);
  EXPECT_DOUBLE_EQ(c.recall(), 0.5);
  EXPECT_DOUBLE_EQ(c.f1(), 0.5);
  const Confusion none_called = confusion_at(scores, labels, 10.0);
  EXPECT_EQ(none_called.precision(), 0.0);
  EXPECT_EQ(none_called.f1(), 0.0);
}

TEST(Threshold, MeanPlusKSampleStd) {
  const std::vector<float> scores{1, 2, 3, 4};  // mean 2.5, sample std sqrt(5/3)
  using Kind = ThresholdRule::Kind;
  EXPECT_NEAR(fit_threshold({Kind::mean_std, 3.0}, scores), 2.5 + 3.0 * std::sqrt(5.0 / 3.0),
              1e-12);
  EXPECT_NEAR(fit_threshold({Kind::mean_std, 0.0}, scores), 2.5, 1e-12);
  EXPECT_THROW(fit_threshold(ThresholdRule{}, std::vector<float>{1.0f}), InputError);
}

TEST(Threshold, QuantileRulesInterpolateLikeNumpy) {
  using Kind = ThresholdRule::Kind;
  const std::vector<float> held_out{5, 1, 4, 2, 3};  // sorted 1..5: q at position q * 4
  EXPECT_DOUBLE_EQ(quantile(held_out, 0.5), 3.0);
  EXPECT_DOUBLE_EQ(quantile(held_out, 0.9), 4.6);  // np.quantile([1,2,3,4,5], 0.9)
  EXPECT_DOUBLE_EQ(fit_threshold({Kind::percentile, 90.0}, held_out), 4.6);
  EXPECT_DOUBLE_EQ(fit_threshold({Kind::false_positive_rate, 0.1}, held_out), 4.6);
  // Tukey's fence: Q3 = 4, Q1 = 2, so 4 + 1.5 * 2; a heavy tail moves it little.
  EXPECT_DOUBLE_EQ(fit_threshold({Kind::interquartile, 1.5}, held_out), 7.0);
  const std::vector<float> tailed{5, 1, 4, 2, 3, 1000};  // Q1 2.25, Q3 4.75
  EXPECT_DOUBLE_EQ(fit_threshold({Kind::interquartile, 1.5}, tailed), 4.75 + 1.5 * 2.5);
  EXPECT_GT(fit_threshold({Kind::mean_std, 3.0}, tailed), 1000.0);
  // Contamination looks at the scored rows, not at the held-out ones.
  const std::vector<float> scored{10, 20, 30, 40, 50};
  EXPECT_DOUBLE_EQ(fit_threshold({Kind::contamination, 0.25}, held_out, scored), 40.0);
}

TEST(Threshold, RulesParseAndPrintAndRefuseNonsense) {
  for (const char* text :
       {"mean-std:3", "iqr:1.5", "percentile:99.5", "fpr:0.01", "contamination:0.05"})
    EXPECT_EQ(ThresholdRule::parse(text).to_string(), text);
  EXPECT_EQ(ThresholdRule::parse("fpr:0.01").kind, ThresholdRule::Kind::false_positive_rate);
  for (const char* text : {"", "mean-std", "mean-std:x", "percentile:101", "fpr:1", "fpr:0",
                           "contamination:-0.1", "median:3", "mean-std:nan", "iqr:-1"})
    EXPECT_THROW(ThresholdRule::parse(text), InputError) << text;
}

}  // namespace
}  // namespace vaead
