// The sweep's flags and its configuration made from them.
#include <iostream>

#include "cli/ranks.hpp"
#include "cli/report.hpp"
#include "cli/sweep.hpp"
#include "vaead/detector/train.hpp"
#include "vaead/util/limits.hpp"

namespace vaead::cli {
namespace {

// The value of `flag` when the command line or the configuration file gave it.
template <class T>
std::optional<T> given(const CLI::App& command, const char* flag, T value) {
  return command.count(flag) > 0 ? std::optional<T>(value) : std::nullopt;
}

}  // namespace

// The flags that say what a sweep trains (not where its results go).
void add_sweep_options(CLI::App& command, SweepOptions& options) {
  ExperimentConfig& config = options.config;
  add_data_file_options(command, options.data, false, false);
  command
      .add_option("--val-share", options.validation_fraction,
                  "--data: share of the normal rows for validation (threshold, choice)")
      ->check(open_unit_interval())
      ->capture_default_str();
  command
      .add_option("--test-share", options.test_fraction,
                  "--data with labels: share of the normal rows tested beside every anomaly")
      ->check(open_unit_interval())
      ->capture_default_str();
  command.add_option("--latents", config.latent_dims, "Latent sizes")
      ->delimiter(',')
      ->check(a_width())
      ->capture_default_str();
  command.add_option("--betas", config.betas, "KL weights after the warm-up")
      ->delimiter(',')
      ->check(not_negative())
      ->capture_default_str();
  command.add_option("--seeds", config.seed_count, "Seeds per configuration")
      ->check(a_seed_count())
      ->capture_default_str();
  command.add_option("--seed", config.first_seed, "First seed")
      ->check(a_seed())
      ->capture_default_str();
  command
      .add_option("--data-seed", options.data_seed,
                  "Synthetic: draw every run's data with this seed (default: the run's "
                  "seed); --data: the seed of the split (default: --seed)")
      ->check(a_seed());
  command
      .add_option("--concurrency", config.concurrency,
                  "CPU: models trained at once (0 = one per core)")
      ->check(a_whole_number(0, limits::kThreads))
      ->capture_default_str();
  add_threshold_option(command, config.threshold,
                       "Threshold rule on the validation rows (contamination: on the test rows)");
  add_data_options(command, config.data, "--synthetic-features");
  add_model_options(command, config.engine);
  add_training_options(command, config.train);
  add_threads_option(command, config.engine.threads);
  add_device_option(command, options.device);
}

void add_output_options(CLI::App& command, Outputs& out) {
  command.add_option("--json", out.json_path, "Write the configuration, table and runs")
      ->check(a_path());
  command.add_option("--csv", out.csv_path, "Write the table (one row per configuration)")
      ->check(a_path());
  command
      .add_option("--save-best", out.save_best_dir,
                  "Write the chosen configurations' models here, one per seed")
      ->check(a_path());
  add_report_option(command, out.report_dir);
}

// The sweep's configuration: the device resolved (or, for merge, the parts'), the table read
// (once, at rank 0, for every rank), split and its schedule fitted.
ExperimentConfig prepare(SweepOptions& options, const CLI::App& command,
                         std::optional<EngineKind> device) {
  ExperimentConfig config = options.config;
  config.device = device ? *device : resolve_device(options.device);
  config.data_seed = options.data_seed;
  config.validate();
  if (!options.data.path.empty()) {
    const Table table = load_table_on_every_rank(options.data);
    use_table(config, table, options.validation_fraction, options.test_fraction,
              options.data_seed.value_or(config.first_seed),
              given(command, "--batch-size", config.engine.batch_size),
              given(command, "--epochs", config.train.epochs),
              given(command, "--kl-warmup", config.train.kl_warmup_epochs));
    if (reports_errors())
      for (const std::string& note : config.table->notes)
        std::cerr << "vaead: note: " << note << '\n';
  }
  return config;
}

}  // namespace vaead::cli
