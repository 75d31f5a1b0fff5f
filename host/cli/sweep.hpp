// What the sweep's files share: its options, how it is set up from them, and how a finished
// sweep is written (by one process, by rank 0, or by merge).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/shared_options.hpp"
#include "cli/table_input.hpp"
#include "vaead/experiment.hpp"

namespace vaead::cli {

// Where a sweep's results go (rank 0 alone writes them).
struct Outputs {
  std::string json_path, csv_path, save_best_dir, report_dir;
};

struct SweepOptions {
  ExperimentConfig config;
  std::shared_ptr<std::string> config_file;
  DataOptions data;
  double validation_fraction = 0.2;
  double test_fraction = 0.2;
  DeviceChoice device = DeviceChoice::automatic;
  std::optional<std::uint64_t> data_seed;
  Outputs out;
  std::string shard, part_path;  // --shard I/N, --part FILE
  bool progress = false;

  SweepOptions() { config.betas = {1.0, 0.1, 0.01}; }
};

struct MergeOptions {
  std::vector<std::string> parts;
  Outputs out;
};

// The flags that say what a sweep trains, and those that say where its results go.
void add_sweep_options(CLI::App& command, SweepOptions& options);
void add_output_options(CLI::App& command, Outputs& out);

// The sweep's configuration: the device resolved (or, for merge, the parts'), the table read
// (once, at rank 0, for every rank), split and its schedule fitted.
ExperimentConfig prepare(SweepOptions& options, const CLI::App& command,
                         std::optional<EngineKind> device = std::nullopt);

// Checks the output paths before any work (rank 0 alone writes); creates --save-best's folder.
void check_outputs(const Outputs& out, std::vector<NamedPath> named);
// The table, the JSON and CSV, the chosen models and the report of a finished sweep.
void write_sweep(const ExperimentResult& result, double seconds, const Outputs& out);

// `vaead sweep merge PART...`.
void merge(const MergeOptions& options);

}  // namespace vaead::cli
