// A sweep's statistics: each configuration's mean and spread over seeds, and the choices.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>

#include "vaead/study/experiment.hpp"
#include "vaead/study/sweep_summary.hpp"
#include "vaead/util/error.hpp"

namespace vaead {

Spread spread_of(std::span<const double> values) {
  Spread s;
  if (values.empty()) return {std::nan(""), std::nan("")};
  for (double v : values)
    s.mean += v;
  s.mean /= static_cast<double>(values.size());
  if (values.size() < 2) return s;
  double sum_sq = 0.0;
  for (double v : values)
    sum_sq += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(sum_sq / static_cast<double>(values.size() - 1));
  return s;
}

std::vector<double> metric_over_seeds(const ExperimentResult& result, int latent_dim,
                                      const std::function<double(const RunResult&)>& metric,
                                      std::optional<double> beta) {
  std::vector<double> values;
  for (const RunResult& run : result.runs)
    if (run.failure.empty() && run.latent_dim == latent_dim && (!beta || run.beta == *beta))
      values.push_back(metric(run));
  return values;
}

std::vector<SweepCell> summarize_sweep(const ExperimentResult& result) {
  std::vector<SweepCell> cells;
  for (int latent : result.config.latent_dims)
    for (double beta : result.config.beta_values()) {
      const auto over_seeds = [&](const std::function<double(const RunResult&)>& metric) {
        return spread_of(metric_over_seeds(result, latent, metric, beta));
      };
      SweepCell cell;
      cell.latent_dim = latent;
      cell.beta = beta;
      const std::vector<double> roc_aucs = metric_over_seeds(
          result, latent, [](const RunResult& r) { return r.roc_auc; }, beta);
      cell.runs = roc_aucs.size();
      cell.failed = static_cast<std::size_t>(
          std::count_if(result.runs.begin(), result.runs.end(), [&](const RunResult& run) {
            return !run.failure.empty() && run.latent_dim == latent && run.beta == beta;
          }));
      cell.roc_auc = spread_of(roc_aucs);
      cell.pr_auc = over_seeds([](const RunResult& r) { return r.pr_auc; });
      // Without labels there is no confusion matrix: n/a (NaN), not 0.
      const double nan = std::numeric_limits<double>::quiet_NaN();
      cell.precision = over_seeds(
          [&](const RunResult& r) { return r.labelled ? r.at_threshold.precision() : nan; });
      cell.recall = over_seeds(
          [&](const RunResult& r) { return r.labelled ? r.at_threshold.recall() : nan; });
      cell.f1 =
          over_seeds([&](const RunResult& r) { return r.labelled ? r.at_threshold.f1() : nan; });
      cell.validation_error = over_seeds([](const RunResult& r) { return r.validation_error; });
      cells.push_back(cell);
    }
  return cells;
}

SweepChoice choose_configuration(std::span<const SweepCell> cells) {
  require(!cells.empty(), "a sweep without configurations has nothing to choose");
  SweepChoice choice;
  std::optional<std::size_t> label_free;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (cells[i].runs == 0) continue;  // every run of it failed
    if (!label_free || cells[i].validation_error.mean < cells[*label_free].validation_error.mean)
      label_free = i;
  }
  if (!label_free) throw TrainingError("no configuration finished training: every model failed");
  choice.label_free = *label_free;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (!std::isfinite(cells[i].roc_auc.mean)) continue;
    if (!choice.best_roc_auc || cells[i].roc_auc.mean > cells[*choice.best_roc_auc].roc_auc.mean)
      choice.best_roc_auc = i;
  }
  return choice;
}

}  // namespace vaead
