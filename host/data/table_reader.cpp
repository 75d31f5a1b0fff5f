// Reading a table: the file's kind by its name (csv_reader.cpp, npy_reader.cpp), and what both
// readers share: which columns are features and which is the label.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "data/table_columns.hpp"
#include "util/text.hpp"
#include "vaead/data/table.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace table_columns {
namespace {

using text::quote;

// A column name users give their labels (compared without case).
bool looks_like_labels(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* usual : {"label", "labels", "class", "target", "y", "anomaly", "is_anomaly",
                            "outlier", "is_outlier"})
    if (name == usual) return true;
  return false;
}

}  // namespace

Selection select_columns(const std::vector<std::string>& names, const TableOptions& options,
                         const std::function<bool(std::size_t)>& is_numeric,
                         const std::string& source, std::vector<std::string>& notes) {
  std::map<std::string, std::size_t> index;
  for (std::size_t c = 0; c < names.size(); ++c) {
    if (!index.emplace(names[c], c).second)
      throw InputError(source + ": column name " + quote(names[c]) +
                       " appears twice in the header");
  }
  auto find = [&](const std::string& name, const char* what) {
    const auto found = index.find(name);
    if (found == index.end()) {
      std::string known;
      for (std::size_t c = 0; c < names.size() && c < 12; ++c)
        known += (c ? ", " : "") + quote(names[c]);
      if (names.size() > 12) known += ", ...";
      throw InputError(source + ": no " + what + " column " + quote(name) + " (columns: " + known +
                       ")");
    }
    return found->second;
  };
  Selection selection;
  if (!options.label_column.empty()) selection.label = find(options.label_column, "label");
  if (!options.features.empty()) {
    std::set<std::size_t> chosen;
    for (const std::string& name : options.features) {
      const std::size_t c = find(name, "feature");
      require(!selection.label || c != *selection.label,
              source + ": " + quote(name) + " is both the label and a feature");
      require(chosen.insert(c).second,
              source + ": feature column " + quote(name) + " is named twice in --features");
      selection.features.push_back(c);
    }
    return selection;
  }
  for (std::size_t c = 0; c < names.size(); ++c) {
    if (selection.label && c == *selection.label) continue;
    if (!selection.label && looks_like_labels(names[c]))
      notes.push_back(source + ": column " + quote(names[c]) +
                      " is used as a feature; if it holds labels, name it with --label-column " +
                      names[c]);
    if (is_numeric(c))
      selection.features.push_back(c);
    else
      notes.push_back(source + ": ignoring column " + quote(names[c]) + " (not numeric)");
  }
  require(!selection.features.empty(), source + ": no numeric feature columns");
  return selection;
}

InputFile open_input(const std::filesystem::path& path) {
  const std::string source = path.string();
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    throw InputError("cannot read " + source + ": it is a directory");
  InputFile file(std::fopen(source.c_str(), "rb"), &std::fclose);
  if (!file) {
    const int reason = errno;
    throw InputError("cannot open " + source + ": " +
                     (reason == ENOENT   ? std::string("no such file")
                      : reason == EACCES ? std::string("permission denied")
                                         : std::string(std::strerror(reason))));
  }
  return file;
}

std::vector<std::uint8_t> read_rest(std::FILE* file, const std::string& source) {
  std::vector<std::uint8_t> bytes;
  std::uint8_t block[1 << 16];
  for (std::size_t read; (read = std::fread(block, 1, sizeof block, file)) > 0;)
    bytes.insert(bytes.end(), block, block + read);
  if (std::ferror(file)) throw InputError("cannot read " + source + ": " + std::strerror(errno));
  return bytes;
}

}  // namespace table_columns

std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path) {
  return table_columns::read_rest(table_columns::open_input(path).get(), path.string());
}

Table read_table(const std::filesystem::path& path, const TableOptions& options) {
  if (path.extension() == ".npy") return read_npy(path, options);
  return read_csv(path, options);
}

}  // namespace vaead
