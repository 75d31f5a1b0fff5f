// What the CSV and .npy readers share: opening the file, and which columns are features and which
// is the label.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vaead/data/table.hpp"

namespace vaead::table_columns {

using InputFile = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

// `path` opened to read; InputError "cannot read PATH: it is a directory", "cannot open PATH: no
// such file", "... permission denied" or the system's reason.
InputFile open_input(const std::filesystem::path& path);

// The rest of `file`, as bytes (`source` names it in messages).
std::vector<std::uint8_t> read_rest(std::FILE* file, const std::string& source);

// The feature columns (in order) and the label column, by index into the file's columns.
struct Selection {
  std::vector<std::size_t> features;
  std::optional<std::size_t> label;
};

// Picks the columns named by `options` (features, label), or every column for which `is_numeric`
// holds but the label. Notes what was left out; InputError naming the file and the column.
Selection select_columns(const std::vector<std::string>& names, const TableOptions& options,
                         const std::function<bool(std::size_t)>& is_numeric,
                         const std::string& source, std::vector<std::string>& notes);

}  // namespace vaead::table_columns
