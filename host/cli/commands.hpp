// The subcommands of `vaead`. Each adds itself to the app and returns what runs it once the
// command line (and any --config file) has been parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace vaead::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<void()> run;
  std::shared_ptr<std::string> config_path;  // --config FILE, applied before run
};

Command add_experiment_command(CLI::App& app);
Command add_generate_command(CLI::App& app);
Command add_info_command(CLI::App& app);
Command add_train_command(CLI::App& app);
Command add_score_command(CLI::App& app);
Command add_evaluate_command(CLI::App& app);
Command add_sweep_command(CLI::App& app);
Command add_export_command(CLI::App& app);

}  // namespace vaead::cli
