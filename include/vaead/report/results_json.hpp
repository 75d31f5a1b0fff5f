// The reports as files: an evaluation, a study and a sweep as JSON, a sweep's cells as CSV.
#pragma once

#include <span>
#include <string>

#include "vaead/study/experiment.hpp"
#include "vaead/study/sweep_summary.hpp"

namespace vaead {

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
