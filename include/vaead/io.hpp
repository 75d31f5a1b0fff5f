// Files: every output is written to a temporary name beside the target, then renamed, so a failure
// never leaves a half-written file or destroys an earlier one.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <span>
#include <string>

#include "vaead/dataset.hpp"
#include "vaead/experiment.hpp"

namespace vaead {

// Calls `write` with a stream on a temporary file in the target's directory, then renames it to
// `path`. Throws InputError naming the path when it cannot be written; the temporary is removed.
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write);

// CSV: a header of the column names (x0.. when unnamed), then `label` and `kind` when known.
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
