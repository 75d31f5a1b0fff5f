#include "cli/table_input.hpp"

#include <iostream>
#include <string_view>

#include "cli/ranks.hpp"

namespace vaead::cli {

namespace {

TableOptions table_options(const DataOptions& data) {
  TableOptions options = data.table;
  options.header = !data.no_header;
  if (data.delimiter == "tab" || data.delimiter == "\\t")
    options.delimiter = '\t';
  else if (!data.delimiter.empty())
    options.delimiter = data.delimiter[0];
  return options;
}

Table with_notes_shown(Table table) {
  if (reports_errors())
    for (const std::string& note : table.notes)
      std::cerr << "vaead: note: " << note << '\n';
  return table;
}

}  // namespace

Table load_table(const DataOptions& data) {
  return with_notes_shown(read_table(data.path, table_options(data)));
}

Table load_table_on_every_rank(const DataOptions& data) {
  if (ranks().size == 1) return load_table(data);
  const std::vector<std::uint8_t> bytes =
      broadcast_from_root([&] { return read_file_bytes(data.path); });
  const TableOptions options = table_options(data);
  if (std::filesystem::path(data.path).extension() == ".npy")
    return with_notes_shown(parse_npy(bytes, options, data.path));
  return with_notes_shown(
      parse_csv(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                options, data.path));
}

std::vector<NamedPath> inputs(const DataOptions& data, const std::string& config_file) {
  std::vector<NamedPath> named;
  if (!data.path.empty()) named.emplace_back("--data", data.path);
  if (!config_file.empty()) named.emplace_back("--config", config_file);
  return named;
}

}  // namespace vaead::cli
