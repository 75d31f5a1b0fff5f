// Reading the table a command's --data names, and the files a command reads.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "cli/shared_options.hpp"
#include "vaead/data/table.hpp"

namespace vaead::cli {

// Reads the table; its notes go to stderr.
Table load_table(const DataOptions& data);
// The table for every MPI rank: read once at rank 0 and sent to the others, which parse the same
// bytes (load_table when the process is alone); rank 0 prints the notes.
Table load_table_on_every_rank(const DataOptions& data);

// The files a command reads, by flag (--data, --config), for check_output: an output may not be
// one of them.
using NamedPath = std::pair<std::string, std::filesystem::path>;
std::vector<NamedPath> inputs(const DataOptions& data, const std::string& config_file);

}  // namespace vaead::cli
