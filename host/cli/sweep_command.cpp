// `vaead sweep`: every latent size x beta x seed, trained concurrently; a table per configuration,
// the label-free choice beside the best by ROC-AUC, JSON / CSV, and the chosen models as files.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/commands.hpp"
#include "cli/report.hpp"
#include "cli/shared_options.hpp"
#include "vaead/detector.hpp"
#include "vaead/error.hpp"
#include "vaead/experiment.hpp"
#include "vaead/io.hpp"

namespace vaead::cli {
namespace {

struct SweepOptions {
  ExperimentConfig config;
  std::shared_ptr<std::string> config_file;
  DataOptions data;
  double validation_fraction = 0.2;
  double test_fraction = 0.2;
  DeviceChoice device = DeviceChoice::automatic;
  std::optional<std::uint64_t> data_seed;
  std::string json_path, csv_path, save_best_dir, report_dir;
  bool progress = false;

  SweepOptions() { config.betas = {1.0, 0.1, 0.01}; }
};

std::string configuration(const SweepCell& cell) {
  std::ostringstream text;
  text << "latent " << cell.latent_dim << ", beta " << cell.beta;
  return text.str();
}

void print_table(std::ostream& out, const ExperimentResult& result,
                 std::span<const SweepCell> cells, const SweepChoice& choice, double seconds) {
  const ExperimentConfig& c = result.config;
  out << "vaead sweep: " << result.runs.size() << " models (" << c.latent_dims.size()
      << " latent sizes x " << c.beta_values().size() << " betas x " << c.seed_count
      << " seeds) on the " << engine_kind_name(c.device) << " engine; ";
  if (c.table)
    out << c.table->source << ": " << c.table->train.rows << " train / " << c.table->validation.rows
        << " validation / " << c.table->test.rows << " test rows";
  else
    out << "synthetic data: " << c.data.train_rows << " train / " << c.data.validation_rows
        << " validation / " << c.data.test_rows << " test rows";
  out << "; " << c.train.epochs << " epochs, batch " << c.engine.batch_size << "\n";
  out << "threshold: " << c.threshold.describe()
      << " (validation rows); values are mean ± std over seeds; validation error is the mean "
         "score of the validation rows (all normal)\n\n";
  constexpr std::size_t kWidth = 16;
  out << pad("latent", 7) << pad("beta", 7);
  for (const char* name : {"ROC-AUC", "PR-AUC", "precision", "recall", "val. error"})
    out << pad(name, kWidth);
  out << '\n';
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const SweepCell& cell = cells[i];
    std::ostringstream beta;
    beta << cell.beta;
    out << pad(std::to_string(cell.latent_dim), 7) << pad(beta.str(), 7);
    for (const Spread* s : {&cell.roc_auc, &cell.pr_auc, &cell.precision, &cell.recall})
      out << pad(cell.runs == 0 ? "failed" : mean_std(*s, 3), kWidth);
    out << pad(cell.runs == 0 ? "failed" : mean_std(cell.validation_error, 4), kWidth);
    if (cell.failed > 0)
      out << " (" << cell.failed << " of " << cell.failed + cell.runs << " failed)";
    if (i == choice.label_free) out << " <- label-free choice";
    if (choice.best_roc_auc && i == *choice.best_roc_auc) out << " <- best ROC-AUC";
    out << '\n';
  }
  const SweepCell& picked = cells[choice.label_free];
  out << "\nlabel-free choice (lowest validation error): " << configuration(picked);
  if (std::isfinite(picked.roc_auc.mean)) out << ", ROC-AUC " << mean_std(picked.roc_auc, 3);
  out << '\n';
  if (choice.best_roc_auc) {
    const SweepCell& best = cells[*choice.best_roc_auc];
    out << "best by ROC-AUC (needs labels): " << configuration(best) << ", ROC-AUC "
        << mean_std(best.roc_auc, 3) << '\n';
  } else {
    out << "no labelled test rows: no ROC-AUC (give --label-column)\n";
  }
  double samples = 0.0;
  for (const RunResult& run : result.runs)
    samples += static_cast<double>(run.training.samples);
  out << "trained " << result.runs.size() << " models in " << fixed(seconds, 1)
      << " s: " << fixed(samples / seconds, 0) << " model-samples/s\n";
}

// The chosen configurations' models, one file per seed: L<latent>_beta<beta>_seed<seed>.
void save_best(const ExperimentResult& result, std::span<const SweepCell> cells,
               const SweepChoice& choice, const std::string& directory) {
  std::vector<std::size_t> chosen{choice.label_free};
  if (choice.best_roc_auc && *choice.best_roc_auc != choice.label_free)
    chosen.push_back(*choice.best_roc_auc);
  for (std::size_t index : chosen) {
    const SweepCell& cell = cells[index];
    for (const RunResult& run : result.runs) {
      if (run.latent_dim != cell.latent_dim || run.beta != cell.beta || !run.failure.empty())
        continue;
      std::ostringstream name;
      name << "L" << run.latent_dim << "_beta" << run.beta << "_seed" << run.seed << ".safetensors";
      const std::filesystem::path path = std::filesystem::path(directory) / name.str();
      write_model(path, model_of_run(result.config, run));
      std::cout << "model: " << path.string()
                << (index == choice.label_free ? " (label-free choice)" : " (best ROC-AUC)")
                << '\n';
    }
  }
}

// The value of `flag` when the command line or the configuration file gave it.
template <class T>
std::optional<T> given(const CLI::App& command, const char* flag, T value) {
  return command.count(flag) > 0 ? std::optional<T>(value) : std::nullopt;
}

void run(SweepOptions& options, const CLI::App& command) {
  std::vector<NamedPath> named = inputs(options.data, *options.config_file);
  if (!options.json_path.empty()) {
    check_output("--json", options.json_path, named);
    named.emplace_back("--json", options.json_path);  // --csv may not overwrite it either
  }
  if (!options.csv_path.empty()) check_output("--csv", options.csv_path, named);
  if (!options.save_best_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(options.save_best_dir, error);
    if (error)
      throw InputError("--save-best: cannot create " + options.save_best_dir + ": " +
                       error.message());
  }
  ExperimentConfig& config = options.config;
  config.device = resolve_device(options.device);
  config.data_seed = options.data_seed;
  config.validate();
  if (!options.data.path.empty()) {
    const Table table = load_table(options.data);
    fit_sweep_schedule(config, table, options.validation_fraction, options.test_fraction,
                       given(command, "--batch-size", config.engine.batch_size),
                       given(command, "--epochs", config.train.epochs),
                       given(command, "--kl-warmup", config.train.kl_warmup_epochs));
    config.validate();
    auto splits = std::make_shared<TableSplits>(
        split_table(table, options.validation_fraction, options.test_fraction,
                    options.data_seed.value_or(config.first_seed), config.engine.batch_size));
    for (const std::string& note : splits->notes)
      std::cerr << "vaead: note: " << note << '\n';
    config.table = std::move(splits);
  }
  ExperimentCallbacks callbacks;
  if (progress_enabled(options.progress)) {
    callbacks.on_epoch = [&config, &options](const SweepPoint& point, const EpochRecord& e) {
      std::ostringstream prefix;
      prefix << "latent " << point.latent_dim << " beta " << point.beta << " seed " << point.seed;
      epoch_progress(options.progress, prefix.str(), config.train.epochs)(e);
    };
  }
  const auto start = std::chrono::steady_clock::now();
  const ExperimentResult result = run_experiment(config, callbacks);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report_failed_runs(result);
  const std::vector<SweepCell> cells = summarize(result);
  const SweepChoice choice = choose(cells);
  print_table(std::cout, result, cells, choice, seconds);
  const std::string json_path =
      result_json_path(options.json_path, options.report_dir, "sweep.json");
  if (!json_path.empty())
    write_file_atomically(json_path,
                          [&](std::ostream& out) { out << sweep_json(result, cells, choice); });
  if (!options.csv_path.empty())
    write_file_atomically(options.csv_path, [&](std::ostream& out) { out << sweep_csv(cells); });
  if (!options.save_best_dir.empty()) save_best(result, cells, choice, options.save_best_dir);
  if (!options.report_dir.empty()) make_report(json_path, options.report_dir);
}

}  // namespace

Command add_sweep_command(CLI::App& app) {
  auto options = std::make_shared<SweepOptions>();
  ExperimentConfig& config = options->config;
  CLI::App* command = app.add_subcommand(
      "sweep",
      "Train every latent size x beta x seed at once; compare configurations, pick one without "
      "labels");
  add_data_file_options(*command, options->data, false, false);
  command
      ->add_option("--val-share", options->validation_fraction,
                   "--data: share of the normal rows for validation (threshold, choice)")
      ->check(open_unit_interval())
      ->capture_default_str();
  command
      ->add_option("--test-share", options->test_fraction,
                   "--data with labels: share of the normal rows tested beside every anomaly")
      ->check(open_unit_interval())
      ->capture_default_str();
  command->add_option("--latents", config.latent_dims, "Latent sizes")
      ->delimiter(',')
      ->check(at_least_one())
      ->capture_default_str();
  command->add_option("--betas", config.betas, "KL weights after the warm-up")
      ->delimiter(',')
      ->check(not_negative())
      ->capture_default_str();
  command->add_option("--seeds", config.seed_count, "Seeds per configuration")
      ->check(at_least_one())
      ->capture_default_str();
  command->add_option("--seed", config.first_seed, "First seed")
      ->check(a_seed())
      ->capture_default_str();
  command
      ->add_option("--data-seed", options->data_seed,
                   "Synthetic: draw every run's data with this seed (default: the run's "
                   "seed); --data: the seed of the split (default: --seed)")
      ->check(a_seed());
  command
      ->add_option("--concurrency", config.concurrency,
                   "CPU: models trained at once (0 = one per core)")
      ->check(a_count())
      ->capture_default_str();
  add_threshold_option(*command, config.threshold,
                       "Threshold rule on the validation rows (contamination: on the test rows)");
  add_data_options(*command, config.data, "--synthetic-features");
  add_model_options(*command, config.engine);
  add_training_options(*command, config.train);
  add_threads_option(*command, config.engine.threads);
  add_device_option(*command, options->device);
  command->add_option("--json", options->json_path, "Write the configuration, table and runs")
      ->check(a_path());
  command->add_option("--csv", options->csv_path, "Write the table (one row per configuration)")
      ->check(a_path());
  command
      ->add_option("--save-best", options->save_best_dir,
                   "Write the chosen configurations' models here, one per seed")
      ->check(a_path());
  add_report_option(*command, options->report_dir);
  command->add_flag("--progress", options->progress, "Report each epoch on stderr");
  options->config_file = add_config_option(*command);
  return {command, [options, command] { run(*options, *command); }, options->config_file};
}

}  // namespace vaead::cli
