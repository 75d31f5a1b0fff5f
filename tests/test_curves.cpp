// The pictures' data: the curves integrate to the metrics the tables report, before and after
// thinning, and so do the curves in the experiment's JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "test_support.hpp"
#include "vaead/eval/curves.hpp"
#include "vaead/eval/metrics.hpp"
#include "vaead/report/results_json.hpp"
#include "vaead/study/experiment.hpp"

namespace vaead {
namespace {

double trapezoid(const std::vector<double>& x, const std::vector<double>& y) {
  double area = 0.0;
  for (std::size_t i = 1; i < x.size(); ++i)
    area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
  return area;
}

double step_sum(const std::vector<double>& recall, const std::vector<double>& precision) {
  double area = 0.0;
  for (std::size_t i = 1; i < recall.size(); ++i)
    area += (recall[i] - recall[i - 1]) * precision[i];
  return area;
}

struct Sample {
  std::vector<float> scores;
  std::vector<std::uint8_t> labels;
};

Sample sample(std::size_t n, int levels, std::uint32_t seed) {
  std::mt19937 generator(seed);
  std::bernoulli_distribution anomaly(0.1);
  std::lognormal_distribution<float> score(0.0f, 1.0f);
  Sample s;
  for (std::size_t i = 0; i < n; ++i) {
    const bool a = anomaly(generator);
    float value = score(generator) * (a ? 3.0f : 1.0f);
    if (levels > 0)
      value = std::round(value * static_cast<float>(levels)) / static_cast<float>(levels);
    s.scores.push_back(value);
    s.labels.push_back(a ? 1 : 0);
  }
  return s;
}

TEST(Curves, RocAndPrIntegrateExactlyToTheMetrics) {
  for (int levels : {0, 4, 50}) {
    const Sample s = sample(3000, levels, 5 + levels);
    const Curve roc = roc_curve(s.scores, s.labels), pr = pr_curve(s.scores, s.labels);
    EXPECT_NEAR(trapezoid(roc.x, roc.y), roc_auc(s.scores, s.labels), 1e-12) << levels;
    EXPECT_NEAR(step_sum(pr.x, pr.y), average_precision(s.scores, s.labels), 1e-12) << levels;
    EXPECT_EQ(roc.x.front(), 0.0);
    EXPECT_EQ(roc.y.front(), 0.0);
    EXPECT_EQ(roc.x.back(), 1.0);
    EXPECT_EQ(roc.y.back(), 1.0);
    EXPECT_EQ(pr.x.back(), 1.0);
    EXPECT_TRUE(std::is_sorted(roc.x.begin(), roc.x.end()));
    EXPECT_TRUE(std::is_sorted(pr.x.begin(), pr.x.end()));
  }
}

TEST(Curves, ThinningKeepsEndsAndAreaWithinAThousandth) {
  const Sample s = sample(20000, 0, 9);
  const Curve roc = roc_curve(s.scores, s.labels), pr = pr_curve(s.scores, s.labels);
  for (std::size_t points : {100, 1000}) {
    const Curve thin_roc = thin(roc, points), thin_pr = thin(pr, points);
    EXPECT_LE(thin_roc.x.size(), points);
    EXPECT_LE(thin_pr.x.size(), points);
    EXPECT_GT(thin_roc.x.size(), points / 2);
    EXPECT_EQ(thin_roc.x.front(), roc.x.front());
    EXPECT_EQ(thin_roc.y.back(), roc.y.back());
    EXPECT_EQ(thin_pr.x.back(), pr.x.back());
    EXPECT_TRUE(std::is_sorted(thin_roc.x.begin(), thin_roc.x.end()));
    const double tolerance = points >= 1000 ? 1e-3 : 1e-2;
    EXPECT_NEAR(trapezoid(thin_roc.x, thin_roc.y), trapezoid(roc.x, roc.y), tolerance) << points;
    EXPECT_NEAR(step_sum(thin_pr.x, thin_pr.y), step_sum(pr.x, pr.y), tolerance) << points;
  }
}

TEST(Curves, LogHistogramCountsEveryScore) {
  const std::vector<float> scores{0.0f, 0.01f, 0.1f, 1.0f, 10.0f, 10.0f};
  const std::vector<double> edges = log_bin_edges(scores, 4);
  ASSERT_EQ(edges.size(), 5u);
  EXPECT_DOUBLE_EQ(edges.front(), static_cast<double>(0.01f));
  EXPECT_DOUBLE_EQ(edges.back(), 10.0);
  EXPECT_NEAR(edges[2] * edges[2], edges[1] * edges[3], 1e-9);  // evenly spaced in log
  const Histogram h = histogram(scores, edges);
  EXPECT_EQ(h.counts, (std::vector<std::size_t>{2, 1, 1, 2}));  // the zero joins the first bin
}

TEST(Curves, ExperimentJsonCurvesIntegrateToTheTablesAucs) {
  ExperimentConfig config = testing::short_study(3000, 1000, 3000, 3);
  config.latent_dims = {4};
  const nlohmann::json json = nlohmann::json::parse(experiment_json(run_experiment(config)));
  const nlohmann::json& run = json["runs"][0];
  const auto fpr = run["roc_curve"]["fpr"].get<std::vector<double>>();
  const auto tpr = run["roc_curve"]["tpr"].get<std::vector<double>>();
  const auto recall = run["pr_curve"]["recall"].get<std::vector<double>>();
  const auto precision = run["pr_curve"]["precision"].get<std::vector<double>>();
  EXPECT_LE(fpr.size(), kCurvePoints);
  EXPECT_NEAR(trapezoid(fpr, tpr), run["roc_auc"].get<double>(), 1e-3);
  EXPECT_NEAR(step_sum(recall, precision), run["pr_auc"].get<double>(), 1e-3);
  std::size_t counted = 0;
  for (const char* group : {"normal", "mean_shift", "correlation_break", "variance_explosion"})
    for (std::size_t c : run["score_histogram"][group].get<std::vector<std::size_t>>())
      counted += c;
  EXPECT_EQ(counted, 3000u);
  EXPECT_EQ(run["score_histogram"]["edges"].size(), kHistogramBins + 1);
}

}  // namespace
}  // namespace vaead
