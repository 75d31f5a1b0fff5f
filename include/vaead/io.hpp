// Files: every output is checked before the work and written to a temporary name beside the target,
// then renamed, so a failure never leaves a half-written file or destroys an earlier one.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <span>
#include <string>
#include <utility>

#include "vaead/dataset.hpp"
#include "vaead/experiment.hpp"

namespace vaead {

// Checks an output path before any work, naming `flag`: InputError when it is empty, a directory,
// in a directory that does not exist, or the same file (by any path, symbolic or hard link) as one
// of the named inputs (flag, path).
void check_output(const std::string& flag, const std::filesystem::path& path,
                  std::span<const std::pair<std::string, std::filesystem::path>> inputs = {});

// Removes the temporaries that writes of `path` left where a kill (SIGKILL, a lost node) stopped
// them: ".<name>.tmp<digits>" beside it. For a file that no other process is writing.
void remove_interrupted_writes(const std::filesystem::path& path);

// Calls `write` with a stream on a temporary file in the target's directory, then renames it to
// `path` (following a symbolic link: the file it names is replaced, the link stays). A FIFO, a
// device, /dev/stdout or /dev/stderr is written through instead. SIGINT, SIGTERM or SIGHUP during
// the write removes the temporary. Throws InputError naming the path when it cannot be written.
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write);

// Several files, all or none: each is written to a temporary first, then all are renamed; a
// failure leaves every target as it was.
struct FileToWrite {
  std::filesystem::path path;
  std::function<void(std::ostream&)> write;
};
void write_files_atomically(std::span<const FileToWrite> files);

// Whether `path` names this process's standard output (/dev/stdout and its aliases).
bool is_standard_output(const std::filesystem::path& path);

// CSV: a header of the column names (x0.. when unnamed), then `label` and `kind` when known.
void write_dataset_csv(std::ostream& out, const Dataset& dataset);
void write_dataset_csv(const std::filesystem::path& path, const Dataset& dataset);

struct Evaluation;

// An evaluation as JSON: model, data, rows, anomalies, roc_auc, pr_auc, threshold, precision,
// recall, f1, confusion.
std::string evaluation_json(const Evaluation& evaluation, const std::string& model,
                            const std::string& data);

// The experiment as JSON: {"config": {...}, "runs": [...]}, indented.
std::string experiment_json(const ExperimentResult& result);

// A sweep as JSON: config, "grid" (mean and std of roc_auc, pr_auc and validation_error per
// latent size x beta, latent-major), "cells", "choice" (label-free and best by ROC-AUC), "runs".
std::string sweep_json(const ExperimentResult& result, std::span<const SweepCell> cells,
                       const SweepChoice& choice);
// A sweep's cells as CSV: latent_dim, beta, runs, then mean and std of each metric (empty: none).
std::string sweep_csv(std::span<const SweepCell> cells);

}  // namespace vaead
