// What commands print on the terminal: progress, numbers, aligned columns, failed runs.
#pragma once

#include <cstddef>
#include <string>

#include "vaead/study/experiment.hpp"
#include "vaead/study/sweep_summary.hpp"
#include "vaead/train/trainer.hpp"

namespace vaead::cli {

// Progress goes to stderr when it is a terminal, or when asked for.
bool progress_enabled(bool requested);
// An epoch callback printing "<prefix>  epoch e/n  loss ..." on stderr (null when not enabled);
// on a terminal the line is rewritten in place.
EpochCallback epoch_progress(bool requested, const std::string& prefix, int epochs);

// `value` with `digits` decimals; "mean ± std" of a spread ("n/a" when the mean is not finite).
std::string fixed(double value, int digits);
std::string mean_std(const Spread& spread, int digits);

// One warning line on stderr per run of `result` whose training stopped; TrainingError (the first
// run's reason) when every run stopped.
void report_failed_runs(const ExperimentResult& result);

// Pads `text` with spaces to `width` terminal columns (UTF-8 aware: "±" is one column).
std::string pad(const std::string& text, std::size_t width, bool right_align = false);

}  // namespace vaead::cli
