#include <algorithm>
#include <cmath>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/config_json.hpp"
#include "vaead/detector/evaluate.hpp"
#include "vaead/io/sweep_part.hpp"
#include "vaead/report/results_json.hpp"
#include "vaead/util/version.hpp"

namespace vaead {
namespace {

using nlohmann::json;

// The JSON text of a results file. A path that is not UTF-8 (a Latin-1 file name) cannot be held
// by JSON: its bad bytes are written as U+FFFD instead of failing after the whole run.
std::string document(const json& value) {
  return value.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

json number_or_null(double value) {
  return std::isfinite(value) ? json(value) : json(nullptr);
}

json curve_json(const Curve& curve, const char* x, const char* y) {
  return {{x, curve.x}, {y, curve.y}};
}

json data_json(const ExperimentConfig& c) {
  if (c.table)
    return {{"source", c.table->source},
            {"features", c.table->feature_names.size()},
            {"feature_names", c.table->feature_names},
            {"train_rows", c.table->train.rows},
            {"validation_rows", c.table->validation.rows},
            {"test_rows", c.table->test.rows},
            {"test_anomalies", std::count(c.table->test_labels.begin(), c.table->test_labels.end(),
                                          std::uint8_t{1})}};
  const SyntheticConfig& d = c.data;
  return {{"features", d.features},
          {"latent_factors", d.latent_factors},
          {"noise_std", d.noise_std},
          {"train_rows", d.train_rows},
          {"validation_rows", d.validation_rows},
          {"test_rows", d.test_rows},
          {"anomaly_fraction", d.anomaly_fraction},
          {"mean_shift_features", d.mean_shift_features},
          {"mean_shift_sigmas", d.mean_shift_sigmas},
          {"variance_explosion_sigmas", d.variance_explosion_sigmas},
          {"data_seed", c.data_seed ? json(*c.data_seed) : json("same as the run seed")}};
}

json config_json(const ExperimentConfig& c) {
  const EngineConfig& e = c.engine;
  return {
      {"data", data_json(c)},
      {"model",
       {{"encoder_hidden", e.architecture.encoder_hidden},
        {"decoder_hidden", e.architecture.decoder_hidden}}},
      {"training",
       [&] {
         json training = training_config_json(e, c.train);
         training["threads"] = e.threads;
         training["gpu_math"] = gpu_math_name(e.gpu_math);
         if (c.device == EngineKind::cuda) training["cuda_training_path"] = cuda_training_path(e);
         return training;
       }()},
      {"threshold", {{"rule", c.threshold.to_string()}, {"description", c.threshold.describe()}}},
      {"device", engine_kind_name(c.device)},
      {"latent_dims", c.latent_dims},
      {"betas", c.beta_values()},
      {"seeds", c.seeds()},
      {"vaead_version", std::string(version())},
  };
}

json run_json(const RunResult& run, bool from_table) {
  json per_kind = json::object();
  for (std::size_t k = 0; k < run.per_kind_roc_auc.size(); ++k)
    per_kind[std::string(anomaly_kind_name(kAnomalyKinds[k]))] =
        number_or_null(run.per_kind_roc_auc[k]);
  json epochs = json::array();
  for (const EpochRecord& e : run.training.epochs)
    epochs.push_back({{"epoch", e.epoch + 1},
                      {"kl_weight", e.kl_weight},
                      {"loss", e.mean.loss},
                      {"reconstruction", e.mean.reconstruction},
                      {"kl", e.mean.kl},
                      {"seconds", e.seconds}});
  const Confusion& c = run.at_threshold;
  json histogram = {{"edges", run.histogram_edges}, {"normal", run.histogram_counts[0]}};
  if (from_table) {
    histogram["anomaly"] = run.histogram_counts[1];
  } else {
    histogram["mean_shift"] = run.histogram_counts[1];
    histogram["correlation_break"] = run.histogram_counts[2];
    histogram["variance_explosion"] = run.histogram_counts[3];
  }
  return {{"latent_dim", run.latent_dim},
          {"beta", run.beta},
          {"seed", run.seed},
          {"failure", run.failure.empty() ? json(nullptr) : json(run.failure)},
          {"roc_auc", number_or_null(run.roc_auc)},
          {"pr_auc", number_or_null(run.pr_auc)},
          {"precision", run.labelled ? number_or_null(c.precision()) : json(nullptr)},
          {"recall", run.labelled ? number_or_null(c.recall()) : json(nullptr)},
          {"f1", run.labelled ? number_or_null(c.f1()) : json(nullptr)},
          {"validation_error", number_or_null(run.validation_error)},
          {"threshold", number_or_null(run.threshold)},
          {"confusion", run.labelled ? json{{"true_positives", c.true_positives},
                                            {"false_positives", c.false_positives},
                                            {"true_negatives", c.true_negatives},
                                            {"false_negatives", c.false_negatives}}
                                     : json(nullptr)},
          {"per_kind_roc_auc", per_kind},
          {"train_seconds", run.training.seconds},
          {"samples_per_second", run.training.samples_per_second()},
          {"epochs", epochs},
          {"roc_curve", curve_json(run.roc, "fpr", "tpr")},
          {"pr_curve", curve_json(run.pr, "recall", "precision")},
          {"score_histogram", histogram}};
}

json runs_json(const ExperimentResult& result) {
  json runs = json::array();
  for (const RunResult& run : result.runs)
    runs.push_back(run_json(run, result.config.table != nullptr));
  return runs;
}

json spread_json(const Spread& s) {
  return {{"mean", number_or_null(s.mean)}, {"std", number_or_null(s.std)}};
}

json cell_json(const SweepCell& cell) {
  return {{"latent_dim", cell.latent_dim},
          {"beta", cell.beta},
          {"runs", cell.runs},
          {"failed", cell.failed},
          {"roc_auc", spread_json(cell.roc_auc)},
          {"pr_auc", spread_json(cell.pr_auc)},
          {"precision", spread_json(cell.precision)},
          {"recall", spread_json(cell.recall)},
          {"f1", spread_json(cell.f1)},
          {"validation_error", spread_json(cell.validation_error)}};
}

}  // namespace

std::string evaluation_json(const Evaluation& e, const std::string& model,
                            const std::string& data) {
  const Confusion& c = e.at_threshold;
  json out = {
      {"model", model},
      {"data", data},
      {"rows", e.rows},
      {"anomalies", e.anomalies},
      {"roc_auc", e.roc_auc},
      {"pr_auc", e.pr_auc},
      {"threshold", {{"rule", e.rule.to_string()}, {"value", e.threshold}}},
      {"precision", c.precision()},
      {"recall", c.recall()},
      {"f1", c.f1()},
      {"confusion",
       {{"true_positives", c.true_positives},
        {"false_positives", c.false_positives},
        {"true_negatives", c.true_negatives},
        {"false_negatives", c.false_negatives}}},
      {"roc_curve", curve_json(e.roc, "fpr", "tpr")},
      {"pr_curve", curve_json(e.pr, "recall", "precision")},
      {"score_histogram",
       {{"edges", e.histogram_edges}, {"normal", e.normal_counts}, {"anomaly", e.anomaly_counts}}},
      {"feature_names", e.feature_names},
      {"top_rows", json::array()}};
  for (const RankedRow& row : e.top)
    out["top_rows"].push_back({{"row", row.row},
                               {"score", row.score},
                               {"anomaly", row.anomaly},
                               {"feature_errors", row.feature_errors}});
  out["kind"] = "evaluation";
  return document(out);
}

std::string experiment_json(const ExperimentResult& result) {
  return document(json{
      {"kind", "experiment"}, {"config", config_json(result.config)}, {"runs", runs_json(result)}});
}

std::string sweep_json(const ExperimentResult& result, std::span<const SweepCell> cells,
                       const SweepChoice& choice) {
  const std::vector<int>& latents = result.config.latent_dims;
  const std::vector<double> betas = result.config.beta_values();
  json grid = {{"latent_dims", latents}, {"betas", betas}};
  for (const char* metric : {"roc_auc", "pr_auc", "validation_error"}) {
    json means = json::array(), stds = json::array();
    for (std::size_t l = 0; l < latents.size(); ++l) {
      json mean_row = json::array(), std_row = json::array();
      for (std::size_t b = 0; b < betas.size(); ++b) {
        const json cell = cell_json(cells[l * betas.size() + b]);
        mean_row.push_back(cell[metric]["mean"]);
        std_row.push_back(cell[metric]["std"]);
      }
      means.push_back(mean_row);
      stds.push_back(std_row);
    }
    grid[std::string(metric) + "_mean"] = means;
    grid[std::string(metric) + "_std"] = stds;
  }
  json cells_out = json::array();
  for (const SweepCell& cell : cells)
    cells_out.push_back(cell_json(cell));
  json chosen = {{"label_free", cell_json(cells[choice.label_free])},
                 {"label_free_rule", "lowest mean validation error (normal rows)"},
                 {"best_roc_auc",
                  choice.best_roc_auc ? cell_json(cells[*choice.best_roc_auc]) : json(nullptr)}};
  return document(json{{"kind", "sweep"},
                       {"config", config_json(result.config)},
                       {"grid", grid},
                       {"cells", cells_out},
                       {"choice", chosen},
                       {"runs", runs_json(result)}});
}

std::string grid_description(const ExperimentConfig& config) {
  json description = config_json(config);
  description["training"].erase("threads");  // each process has its own share of the cores
  return description.dump();
}

std::string sweep_csv(std::span<const SweepCell> cells) {
  std::ostringstream out;
  out << std::setprecision(9);
  out << "latent_dim,beta,runs";
  for (const char* metric : {"roc_auc", "pr_auc", "precision", "recall", "f1", "validation_error"})
    out << ',' << metric << "_mean," << metric << "_std";
  out << '\n';
  for (const SweepCell& c : cells) {
    out << c.latent_dim << ',' << c.beta << ',' << c.runs;
    for (const Spread& s : {c.roc_auc, c.pr_auc, c.precision, c.recall, c.f1, c.validation_error}) {
      for (double v : {s.mean, s.std}) {
        out << ',';
        if (std::isfinite(v)) out << v;
      }
    }
    out << '\n';
  }
  return out.str();
}

}  // namespace vaead
