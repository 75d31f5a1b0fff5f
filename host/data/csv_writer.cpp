#include <charconv>
#include <string>

#include "vaead/data/csv_writer.hpp"
#include "vaead/io/output_file.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

// Shortest text that reads back to the same float.
void write_float(std::ostream& out, float value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.write(buffer, result.ptr - buffer);
}

}  // namespace

void write_dataset_csv(const std::filesystem::path& path, const Dataset& dataset) {
  write_file_atomically(path, [&](std::ostream& out) { write_dataset_csv(out, dataset); });
}

void write_dataset_csv(std::ostream& out, const Dataset& dataset) {
  const Matrix& x = dataset.features;
  require(dataset.column_names.empty() || dataset.column_names.size() == x.cols,
          "dataset has " + std::to_string(x.cols) + " columns but " +
              std::to_string(dataset.column_names.size()) + " names");
  const bool has_labels = dataset.labels.size() == x.rows;
  const bool has_kinds = dataset.kinds.size() == x.rows;
  for (std::size_t c = 0; c < x.cols; ++c) {
    if (c > 0) out << ',';
    out << (dataset.column_names.empty() ? "x" + std::to_string(c) : dataset.column_names[c]);
  }
  if (has_labels) out << ",label";
  if (has_kinds) out << ",kind";
  out << '\n';
  for (std::size_t r = 0; r < x.rows; ++r) {
    for (std::size_t c = 0; c < x.cols; ++c) {
      if (c > 0) out << ',';
      write_float(out, x(r, c));
    }
    if (has_labels) out << ',' << static_cast<int>(dataset.labels[r]);
    if (has_kinds) out << ',' << anomaly_kind_name(dataset.kinds[r]);
    out << '\n';
  }
}

}  // namespace vaead
