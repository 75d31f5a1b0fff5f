// What the sweep's files share: its options, how it is set up from them, and how a finished
// sweep is written (by one process, by rank 0, or by merge).
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cli/shared_options.hpp"
#include "cli/table_input.hpp"
#include "vaead/io/sweep_part.hpp"
#include "vaead/study/experiment.hpp"

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
  std::string checkpoint;        // --checkpoint DIR
  bool progress = false;

  SweepOptions() { config.betas = {1.0, 0.1, 0.01}; }
};

// A sweep's --checkpoint folder: a file per finished model (run-<index>.json: a part holding
// that one run, with its checksum), each written atomically when its wave of models ends.
class Checkpoint {
 public:
  // `header`: the version, flags, grid, data and device every file must share with this sweep.
  Checkpoint(std::string folder, const ExperimentConfig& config, SweepPart header);
  // The finished runs the folder holds (created when missing), by index into config.points().
  // A file that is damaged (unreadable, its checksum wrong) is said on stderr and left out: its
  // model trains again. InputError when a file belongs to another sweep.
  std::map<std::size_t, RunResult> read() const;
  // Writes each run (of the point indices[k]) as its file.
  void write(std::span<const std::size_t> indices, std::span<const RunResult> runs);

 private:
  std::string folder_;
  const ExperimentConfig& config_;
  SweepPart header_;
  std::size_t written_ = 0;
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
