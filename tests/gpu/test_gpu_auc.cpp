// Device ROC-AUC and average precision equal the CPU metrics on a million scores with ties.
#include <gtest/gtest.h>

#include <random>

#include "auc.cuh"
#include "gpu_support.hpp"
#include "vaead/eval/metrics.hpp"

namespace vaead {
namespace {

using testing::to_device;

struct Data {
  std::vector<float> scores;
  std::vector<std::uint8_t> labels;
};

// `levels` distinct scores (0 = continuous), anomalies shifted up.
Data make_data(std::size_t n, int levels, std::uint32_t seed) {
  std::mt19937 generator(seed);
  std::bernoulli_distribution anomaly(0.1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Data d;
  for (std::size_t i = 0; i < n; ++i) {
    const bool is_anomaly = anomaly(generator);
    float score = normal(generator) + (is_anomaly ? 1.0f : 0.0f);
    if (levels > 0) score = std::round(score * static_cast<float>(levels) / 8.0f);
    d.scores.push_back(score);
    d.labels.push_back(is_anomaly ? 1 : 0);
  }
  return d;
}

TEST(GpuAuc, MillionScoresWithTiesEqualCpuMetrics) {
  VAEAD_REQUIRE_GPU();
  for (int levels : {0, 1000, 7}) {
    const Data d = make_data(1'000'000, levels, 3 + levels);
    auto scores = to_device(d.scores);
    auto labels = to_device(d.labels);
    const cuda::RankingMetrics got =
        cuda::device_ranking_metrics(scores.data(), labels.data(), d.scores.size(), nullptr);
    EXPECT_NEAR(got.roc_auc, roc_auc(d.scores, d.labels), 1e-12) << "levels " << levels;
    EXPECT_NEAR(got.average_precision, average_precision(d.scores, d.labels), 1e-10)
        << "levels " << levels;
    EXPECT_EQ(got.positives + got.negatives, d.scores.size());
  }
}

TEST(GpuAuc, HandCasesZerosAndErrors) {
  VAEAD_REQUIRE_GPU();
  const std::vector<float> scores{0.9f, 0.8f, 0.8f, 0.3f, 0.1f};
  const std::vector<std::uint8_t> labels{1, 1, 0, 0, 1};
  auto ds = to_device(scores);
  auto dl = to_device(labels);
  const cuda::RankingMetrics got = cuda::device_ranking_metrics(ds.data(), dl.data(), 5, nullptr);
  EXPECT_NEAR(got.roc_auc, 0.5833333333333333, 1e-15);
  EXPECT_NEAR(got.average_precision, 34.0 / 45.0, 1e-15);
  // -0 and +0 are one score: a tie, counted one half.
  auto zeros = to_device(std::vector<float>{-0.0f, 0.0f});
  auto one_each = to_device(std::vector<std::uint8_t>{1, 0});
  EXPECT_DOUBLE_EQ(cuda::device_ranking_metrics(zeros.data(), one_each.data(), 2, nullptr).roc_auc,
                   0.5);
  auto nan_scores = to_device(std::vector<float>{0.1f, std::nanf("")});
  EXPECT_THROW(cuda::device_ranking_metrics(nan_scores.data(), one_each.data(), 2, nullptr),
               std::invalid_argument);
  auto no_anomaly = to_device(std::vector<std::uint8_t>{0, 0});
  EXPECT_THROW(cuda::device_ranking_metrics(zeros.data(), no_anomaly.data(), 2, nullptr),
               std::invalid_argument);
}

}  // namespace
}  // namespace vaead
