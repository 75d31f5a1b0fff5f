// Reading users' tables: CSV (header row; comma, semicolon or tab, detected or given; quoted
// fields; CRLF; blank lines) and NumPy .npy (2-D, C order; float32, float64 or integer).
// Every error names the file, and where it applies the line, the column and the text.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vaead/data/dataset.hpp"

namespace vaead {

struct TableOptions {
  std::optional<char> delimiter;  // CSV: detected from the first lines when unset
  bool header = true;             // CSV: false names the columns x0, x1, ...
  std::string label_column;       // 1 = anomaly, 0 = normal; empty: no labels
  // The feature columns, in this order; empty: every numeric column but the label (a column is
  // numeric when its first data cell is a number; a later non-number in it is an error).
  std::vector<std::string> features;
};

struct Table {
  Dataset data;                    // features (float), labels when label_column is set
  std::string source;              // the file name, for messages
  std::vector<std::string> notes;  // what the user should know: ignored columns, ...
};

// Reads `path` as .npy when its name ends in .npy, as CSV otherwise. The file is read in a stream:
// memory is the table's floats and one buffer, not the file.
Table read_table(const std::filesystem::path& path, const TableOptions& options);
Table read_csv(const std::filesystem::path& path, const TableOptions& options);
// CSV from an open stream (standard input, a pipe, a file), read through a buffer of
// `buffer_bytes` (it grows to hold one record longer than it).
Table read_csv(std::FILE* stream, const TableOptions& options, const std::string& source,
               std::size_t buffer_bytes = std::size_t{4} << 20);
Table read_npy(const std::filesystem::path& path, const TableOptions& options);

// The same parsers on bytes in memory (`source` names them in messages).
Table parse_csv(std::string_view text, const TableOptions& options, const std::string& source);
Table parse_npy(std::span<const std::uint8_t> bytes, const TableOptions& options,
                const std::string& source);

// A 2-D array in memory, as NumPy describes one: the element's kind ('f' float, 'i' signed or
// 'u' unsigned integer, 'b' bool) and size in bytes, the shape, the strides in bytes (of either
// sign) and the byte order.
struct ArrayView {
  const std::uint8_t* data = nullptr;
  std::size_t rows = 0, cols = 0;
  std::ptrdiff_t row_stride = 0, col_stride = 0;
  char kind = 'f';
  int size = 4;
  bool big_endian = false;
};

// The array as a table of features (no labels), read in place and checked cell by cell as a .npy
// file's cells are, with the same messages ("SOURCE: row R (from 0), column "x3": the value is
// not finite"). `names` name the columns (x0, x1, ... when empty); a name given twice is an error.
Table table_from_array(const ArrayView& array, std::vector<std::string> names,
                       const std::string& source);

// A table's rows read a chunk at a time where they live (a Table, or an array in place): what
// scoring needs, so that memory is the source plus one chunk.
struct RowSource {
  std::string source;  // for messages
  std::size_t rows = 0;
  std::vector<std::string> column_names;  // the source's columns
  // Rows [first, first + count) of the columns `columns` (indices into column_names), in that
  // order, into `out` (count x columns.size(), row-major); InputError naming a bad cell.
  std::function<void(std::size_t first, std::size_t count, std::span<const std::size_t> columns,
                     float* out)>
      read;
};

RowSource table_rows(const Table& table);
// The array's rows, converted and checked as table_from_array converts and checks them (the same
// messages, rows counted from the array's first), the array read in place: `array` must outlive
// the source. The same checks of dtype, shape and names as table_from_array.
RowSource array_rows(const ArrayView& array, std::vector<std::string> names,
                     const std::string& source);

// Reads a whole file; InputError naming it when it cannot be read.
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path);

}  // namespace vaead
