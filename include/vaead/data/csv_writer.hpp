// Writing a dataset as CSV (what `vaead generate` writes and every reader reads back).
#pragma once

#include <filesystem>
#include <ostream>

#include "vaead/data/dataset.hpp"

namespace vaead {

// CSV: a header of the column names (x0.. when unnamed), then `label` and `kind` when known.
void write_dataset_csv(std::ostream& out, const Dataset& dataset);
void write_dataset_csv(const std::filesystem::path& path, const Dataset& dataset);

}  // namespace vaead
