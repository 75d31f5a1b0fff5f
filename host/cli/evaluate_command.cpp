// `vaead evaluate`: a model's detection quality on a labelled table.
#include <cstdio>
#include <iostream>
#include <optional>

#include "cli/commands.hpp"
#include "cli/report.hpp"
#include "cli/shared_options.hpp"
#include "cli/table_input.hpp"
#include "vaead/detector/evaluate.hpp"
#include "vaead/detector/score.hpp"
#include "vaead/io/output_file.hpp"
#include "vaead/report/results_json.hpp"

namespace vaead::cli {
namespace {

struct EvaluateOptions {
  std::string model;
  std::shared_ptr<std::string> config;
  DataOptions data;
  std::string json_path;
  std::string report_dir;
  std::optional<ThresholdRule> threshold;
  DeviceChoice device = DeviceChoice::automatic;
  int threads = 0;
};

void run(const EvaluateOptions& options) {
  if (!options.json_path.empty()) {
    std::vector<NamedPath> named = inputs(options.data, *options.config);
    named.emplace_back("--model", options.model);
    check_output("--json", options.json_path, named);
  }
  const ModelFile model = read_model(options.model);
  const Table table = load_table(options.data);
  const ThresholdRule rule = options.threshold.value_or(model.threshold_rule);
  const std::string json_path =
      result_json_path(options.json_path, options.report_dir, "evaluation.json");
  const ScoredRows scored = score_table(model, table, resolve_device(options.device), rule,
                                        !json_path.empty(), options.threads);
  const Evaluation e = evaluate_scores(scored, table, model.feature_names);
  const Confusion& c = e.at_threshold;
  std::printf("evaluated %s on %s: %zu rows, %zu anomalies\n", options.model.c_str(),
              table.source.c_str(), e.rows, e.anomalies);
  std::printf(
      "ROC-AUC    %.4f\nPR-AUC     %.4f   (average precision; a random ranking scores "
      "%.4f)\n",
      e.roc_auc, e.pr_auc, static_cast<double>(e.anomalies) / static_cast<double>(e.rows));
  std::printf("threshold  %.6g   (%s)\n", e.threshold, rule.describe().c_str());
  std::printf("precision  %.4f   recall %.4f   F1 %.4f\n", c.precision(), c.recall(), c.f1());
  std::printf(
      "confusion  %zu true positives, %zu false positives, %zu false negatives, %zu true "
      "negatives\n",
      c.true_positives, c.false_positives, c.false_negatives, c.true_negatives);
  if (!json_path.empty())
    write_file_atomically(json_path, [&](std::ostream& out) {
      out << evaluation_json(e, options.model, table.source);
    });
  if (!options.report_dir.empty()) make_report(json_path, options.report_dir);
}

}  // namespace

Command add_evaluate_command(CLI::App& app) {
  auto options = std::make_shared<EvaluateOptions>();
  CLI::App* command =
      app.add_subcommand("evaluate", "Measure a model on a labelled table (ROC-AUC, PR-AUC, ...)");
  command->add_option("--model", options->model, "Model file written by vaead train")
      ->required()
      ->check(CLI::ExistingFile);
  add_data_file_options(*command, options->data, true);
  command->add_option("--json", options->json_path, "Write the metrics here")->check(a_path());
  add_report_option(*command, options->report_dir);
  add_threshold_override_option(*command, options->threshold);
  add_threads_option(*command, options->threads);
  add_device_option(*command, options->device);
  options->config = add_config_option(*command);
  return {command, [options] { run(*options); }, options->config};
}

}  // namespace vaead::cli
