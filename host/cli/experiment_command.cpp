// `vaead experiment`: the seed study, and the table it prints.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/console.hpp"
#include "cli/report.hpp"
#include "cli/shared_options.hpp"
#include "cli/table_input.hpp"
#include "vaead/io/output_file.hpp"
#include "vaead/report/results_json.hpp"
#include "vaead/study/experiment.hpp"
#include "vaead/study/sweep_summary.hpp"
#include "vaead/util/error.hpp"

namespace vaead::cli {
namespace {

struct ExperimentOptions {
  ExperimentConfig config;
  std::shared_ptr<std::string> config_file;
  DeviceChoice device = DeviceChoice::automatic;
  std::optional<std::uint64_t> data_seed;
  std::string json_path;
  std::string report_dir;
  bool progress = false;
};

void print_table(std::ostream& out, const ExperimentResult& result) {
  const ExperimentConfig& c = result.config;
  const std::array<int, 3> kinds = anomaly_counts(c.data);
  out << "vaead experiment: " << engine_kind_name(c.device) << " engine, " << c.seed_count
      << " seed(s) from " << c.first_seed << "; " << c.data.train_rows << " train / "
      << c.data.validation_rows << " validation / " << c.data.test_rows << " test rows ("
      << kinds[0] << " mean shift, " << kinds[1] << " correlation break, " << kinds[2]
      << " variance explosion); " << c.train.epochs << " epochs, batch " << c.engine.batch_size
      << ", beta " << c.train.beta << "\n";
  out << "threshold: " << c.threshold.describe()
      << " (validation rows); values are mean ± std "
         "over seeds\n\n";

  const std::vector<std::pair<std::string, std::function<double(const RunResult&)>>> columns = {
      {"ROC-AUC", [](const RunResult& r) { return r.roc_auc; }},
      {"PR-AUC", [](const RunResult& r) { return r.pr_auc; }},
      {"precision", [](const RunResult& r) { return r.at_threshold.precision(); }},
      {"recall", [](const RunResult& r) { return r.at_threshold.recall(); }},
      {"F1", [](const RunResult& r) { return r.at_threshold.f1(); }},
      {"mean_shift", [](const RunResult& r) { return r.per_kind_roc_auc[0]; }},
      {"corr_break", [](const RunResult& r) { return r.per_kind_roc_auc[1]; }},
      {"var_explosion", [](const RunResult& r) { return r.per_kind_roc_auc[2]; }},
  };
  constexpr std::size_t kWidth = 15;
  out << pad("latent", 7);
  for (const auto& column : columns)
    out << pad(column.first, kWidth);
  out << pad("train s", 9, true) << pad("samples/s", 12, true) << '\n';
  for (int latent : c.latent_dims) {
    out << pad(std::to_string(latent), 7);
    for (const auto& column : columns)
      out << pad(mean_std(spread_of(metric_over_seeds(result, latent, column.second)), 3), kWidth);
    const Spread seconds = spread_of(
        metric_over_seeds(result, latent, [](const RunResult& r) { return r.training.seconds; }));
    const Spread rate = spread_of(metric_over_seeds(
        result, latent, [](const RunResult& r) { return r.training.samples_per_second(); }));
    out << pad(fixed(seconds.mean, 1), 9, true) << pad(fixed(rate.mean, 0), 12, true);
    const auto failed = std::count_if(result.runs.begin(), result.runs.end(), [&](const auto& r) {
      return r.latent_dim == latent && !r.failure.empty();
    });
    if (failed > 0) out << "  (" << failed << " of " << c.seed_count << " failed)";
    out << '\n';
  }
}

void run(ExperimentOptions& options) {
  if (!options.json_path.empty())
    check_output("--json", options.json_path, inputs(DataOptions{}, *options.config_file));
  ExperimentConfig& config = options.config;
  config.device = resolve_device(options.device);
  config.data_seed = options.data_seed;
  ExperimentCallbacks callbacks;
  if (progress_enabled(options.progress)) {
    callbacks.on_epoch = [&config, &options](const SweepPoint& point, const EpochRecord& e) {
      epoch_progress(
          options.progress,
          "latent " + std::to_string(point.latent_dim) + " seed " + std::to_string(point.seed),
          config.train.epochs)(e);
    };
  }
  const ExperimentResult result = run_experiment(config, callbacks);
  report_failed_runs(result);
  print_table(std::cout, result);
  const std::string json_path =
      result_json_path(options.json_path, options.report_dir, "experiment.json");
  if (!json_path.empty())
    write_file_atomically(json_path, [&](std::ostream& out) { out << experiment_json(result); });
  if (!options.report_dir.empty()) make_report(json_path, options.report_dir);
}

}  // namespace

Command add_experiment_command(CLI::App& app) {
  auto options = std::make_shared<ExperimentOptions>();
  CLI::App* command = app.add_subcommand(
      "experiment", "The seed study: detection quality against latent size, over several seeds");
  command->add_option("--latents", options->config.latent_dims, "Latent sizes to compare")
      ->delimiter(',')
      ->check(a_width())
      ->capture_default_str();
  command->add_option("--seeds", options->config.seed_count, "Seeds per latent size")
      ->check(a_seed_count())
      ->capture_default_str();
  command->add_option("--seed", options->config.first_seed, "First seed")
      ->check(a_seed())
      ->capture_default_str();
  command
      ->add_option("--data-seed", options->data_seed,
                   "Draw every run's data with this seed (default: the run's own seed)")
      ->check(a_seed());
  add_threshold_option(*command, options->config.threshold,
                       "Threshold rule on the validation rows (contamination: on the test rows)");
  add_data_options(*command, options->config.data);
  add_model_options(*command, options->config.engine);
  add_training_options(*command, options->config.train);
  add_threads_option(*command, options->config.engine.threads);
  add_device_option(*command, options->device);
  command->add_option("--json", options->json_path, "Write the configuration and every run here")
      ->check(a_path());
  add_report_option(*command, options->report_dir);
  command->add_flag("--progress", options->progress, "Report each epoch on stderr");
  options->config_file = add_config_option(*command);
  return {command, [options] { run(*options); }, options->config_file};
}

}  // namespace vaead::cli
