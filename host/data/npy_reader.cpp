// The .npy reader (NumPy's format, versions 1 to 3: a 2-D array in C order; float32, float64,
// integers or bool, either byte order): the header is validated, then the array is read a block of
// rows at a time into float32 (memory: the floats plus one block).
#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>

#include <sys/stat.h>

#include "data/table_columns.hpp"
#include "util/text.hpp"
#include "vaead/data/table.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

constexpr std::size_t kMaxNpyHeader = 1 << 20;

// The header dictionary of a .npy file: {'descr': '<f4', 'fortran_order': False, 'shape': (r, c), }
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};

class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, std::string source)
      : text_(text), source_(std::move(source)) {}

  NpyHeader parse() {
    NpyHeader header;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (!peek('}')) {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        header.descr = string_literal();
        has_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
        has_order = true;
      } else if (key == "shape") {
        header.shape = shape();
        has_shape = true;
      } else {
        fail("unknown key " + text::quote(key));
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    if (!has_descr || !has_order || !has_shape)
      fail("the header lacks descr, fortran_order or shape");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(source_ + ": not a valid .npy header: " + what);
  }
  void skip_space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\n'))
      ++at_;
  }
  bool peek(char c) {
    skip_space();
    return at_ < text_.size() && text_[at_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("expected '") + c + "'");
    ++at_;
  }
  std::string string_literal() {
    skip_space();
    if (at_ >= text_.size() || (text_[at_] != '\'' && text_[at_] != '"')) fail("expected a string");
    const char quote = text_[at_++];
    const std::size_t end = text_.find(quote, at_);
    if (end == std::string_view::npos) fail("a string is never closed");
    std::string value(text_.substr(at_, end - at_));
    at_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const std::string_view w(word);
      if (text_.substr(at_, w.size()) == w) {
        at_ += w.size();
        return value;
      }
    }
    fail("expected True or False");
  }
  std::vector<std::uint64_t> shape() {
    std::vector<std::uint64_t> dims;
    expect('(');
    while (!peek(')')) {
      skip_space();
      std::uint64_t value = 0;
      const auto result = std::from_chars(text_.data() + at_, text_.data() + text_.size(), value);
      if (result.ec != std::errc() || dims.size() >= 8) fail("a bad shape");
      at_ = static_cast<std::size_t>(result.ptr - text_.data());
      dims.push_back(value);
      if (!peek(')')) expect(',');
    }
    expect(')');
    return dims;
  }

  std::string_view text_;
  std::string source_;
  std::size_t at_ = 0;
};

// `size` bytes at `p` as an unsigned integer, in the given byte order.
std::uint64_t read_unsigned(const std::uint8_t* p, int size, bool big_endian = false) {
  std::uint64_t value = 0;
  for (int i = 0; i < size; ++i)
    value = (value << 8) | p[big_endian ? i : size - 1 - i];
  return value;
}

// The element at `p` as a double: kind 'f', 'i', 'u' or 'b', `size` bytes.
double element(const std::uint8_t* p, char kind, int size, bool big_endian) {
  const std::uint64_t raw = read_unsigned(p, size, big_endian);
  if (kind == 'f') {
    if (size == 4)
      return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(raw)));
    return std::bit_cast<double>(raw);
  }
  if (kind == 'i') {  // sign-extend
    const std::uint64_t sign = std::uint64_t{1} << (8 * size - 1);
    return size == 8 ? static_cast<double>(static_cast<std::int64_t>(raw))
                     : static_cast<double>(static_cast<std::int64_t>((raw ^ sign)) -
                                           static_cast<std::int64_t>(sign));
  }
  return static_cast<double>(raw);  // 'u' and 'b'
}

bool supported_type(char kind, int size) {
  return (kind == 'f' && (size == 4 || size == 8)) ||
         ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
         (kind == 'b' && size == 1);
}

// The header of a .npy file, validated; `bytes` holds at least its first kMaxNpyHeader + 12 bytes
// (or the whole file when shorter). data_offset is where the array's bytes begin.
struct NpyLayout {
  char kind = '?';  // 'f', 'i', 'u' or 'b'
  int size = 0;     // bytes per element
  bool big_endian = false;
  std::uint64_t rows = 0, cols = 0;
  std::size_t data_offset = 0;
};

NpyLayout npy_layout(std::span<const std::uint8_t> bytes, std::uint64_t file_size,
                     const std::string& source) {
  static constexpr std::uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (bytes.size() < 10 || !std::equal(kMagic, kMagic + 6, bytes.begin()))
    throw InputError(source + ": not a .npy file (no \\x93NUMPY magic)");
  const int major = bytes[6];
  std::size_t header_length = 0, header_start = 0;
  if (major == 1) {
    header_length = read_unsigned(bytes.data() + 8, 2);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw InputError(source + ": truncated .npy header");
    header_length = read_unsigned(bytes.data() + 8, 4);
    header_start = 12;
  } else {
    throw InputError(source + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_length > kMaxNpyHeader || header_length > bytes.size() - header_start)
    throw InputError(source + ": the .npy header length " + std::to_string(header_length) +
                     " runs past the file (" + std::to_string(file_size) + " bytes)");
  const std::string_view header_text(reinterpret_cast<const char*>(bytes.data()) + header_start,
                                     header_length);
  const NpyHeader header = NpyHeaderParser(header_text, source).parse();

  NpyLayout layout;
  const std::string& d = header.descr;
  layout.big_endian = !d.empty() && d[0] == '>';
  const bool order_ok =
      !d.empty() && (d[0] == '<' || d[0] == '|' || d[0] == '=' || layout.big_endian);
  layout.kind = d.size() == 3 ? d[1] : '?';
  layout.size = d.size() == 3 ? d[2] - '0' : 0;
  const char kind = layout.kind;
  const int size = layout.size;
  const bool type_ok = order_ok && supported_type(kind, size);
  require(type_ok, source + ": unsupported dtype " + text::quote(d) +
                       " (float32, float64, integers and bool are read)");
  require(!header.fortran_order, source +
                                     ": a Fortran-ordered array; save it in C order "
                                     "(np.save(path, np.ascontiguousarray(a)))");
  require(header.shape.size() == 2, source + ": needs a 2-D array (rows, features), got " +
                                        std::to_string(header.shape.size()) + " dimension(s)");
  layout.rows = header.shape[0];
  layout.cols = header.shape[1];
  require(layout.rows > 0 && layout.cols > 0, source + ": the array is empty (shape (" +
                                                  std::to_string(layout.rows) + ", " +
                                                  std::to_string(layout.cols) + "))");
  layout.data_offset = header_start + header_length;
  const std::uint64_t data_bytes = file_size - layout.data_offset;
  const std::uint64_t max_elements = std::numeric_limits<std::uint64_t>::max() / 8;
  require(layout.cols <= max_elements / layout.rows, source + ": the shape is too large");
  const std::uint64_t expected = layout.rows * layout.cols * static_cast<std::uint64_t>(size);
  require(expected == data_bytes,
          source + ": expected " + std::to_string(expected) + " bytes of data for shape (" +
              std::to_string(layout.rows) + ", " + std::to_string(layout.cols) + "), found " +
              std::to_string(data_bytes) + (data_bytes < expected ? " (truncated)" : ""));
  return layout;
}

InputError cell_error(const std::string& source, std::uint64_t row,
                      const std::vector<std::string>& names, std::size_t c,
                      const std::string& what) {
  return InputError(source + ": row " + std::to_string(row) + " (from 0), column " +
                    text::quote(names[c]) + ": " + what);
}

// Element (i, c) of an array as a double.
double value_at(const ArrayView& array, std::size_t i, std::size_t c) {
  return element(array.data + static_cast<std::ptrdiff_t>(i) * array.row_stride +
                     static_cast<std::ptrdiff_t>(c) * array.col_stride,
                 array.kind, array.size, array.big_endian);
}

// Element (i, c) as a feature: finite and within the float range; row i is row `first + i`.
float feature_at(const ArrayView& array, std::size_t i, std::size_t c, std::uint64_t first,
                 const std::vector<std::string>& names, const std::string& source) {
  const double value = value_at(array, i, c);
  if (!std::isfinite(value))
    throw cell_error(source, first + i, names, c,
                     std::string("the value is not finite (") +
                         (std::isnan(value) ? "NaN"
                          : value > 0       ? "inf"
                                            : "-inf") +
                         ")");
  if (std::abs(value) > std::numeric_limits<float>::max())
    throw cell_error(source, first + i, names, c,
                     text::number(value) + " is beyond the float range");
  return static_cast<float>(value);
}

// Rows [first, first + block.rows) of an array: the selected columns as floats and the label as
// 0/1 into `out`, every cell checked.
void append_rows(const ArrayView& block, std::uint64_t first,
                 const table_columns::Selection& selection, const std::vector<std::string>& names,
                 const std::string& source, Dataset& out) {
  for (std::size_t i = 0; i < block.rows; ++i) {
    const std::uint64_t r = first + i;
    for (std::size_t f = 0; f < selection.features.size(); ++f)
      out.features(r, f) = feature_at(block, i, selection.features[f], first, names, source);
    if (selection.label) {
      const double label = value_at(block, i, *selection.label);
      if (label != 0.0 && label != 1.0)
        throw cell_error(source, r, names, *selection.label,
                         text::number(label) + " is not a label (0 = normal, 1 = anomaly)");
      out.labels.push_back(label == 1.0 ? 1 : 0);
    }
  }
}

// An empty table of `rows` rows whose columns `names` are selected by `options`.
table_columns::Selection start_table(Table& table, std::uint64_t rows,
                                     const std::vector<std::string>& names,
                                     const TableOptions& options, const std::string& source) {
  table.source = source;
  const table_columns::Selection selection = table_columns::select_columns(
      names, options, [](std::size_t) { return true; }, source, table.notes);
  for (std::size_t c : selection.features)
    table.data.column_names.push_back(names[c]);
  table.data.features = Matrix(rows, selection.features.size());
  return selection;
}

// The array's rows, a block at a time from `read` (which fills `bytes` with the next bytes of
// the data).
Table npy_table(const NpyLayout& layout, const TableOptions& options, const std::string& source,
                const std::function<void(std::uint8_t*, std::size_t)>& read) {
  std::vector<std::string> names;
  for (std::uint64_t c = 0; c < layout.cols; ++c)
    names.push_back("x" + std::to_string(c));
  Table table;
  const table_columns::Selection selection =
      start_table(table, layout.rows, names, options, source);
  const std::size_t row_bytes = layout.cols * static_cast<std::size_t>(layout.size);
  const std::size_t block_rows = std::max<std::size_t>(1, (std::size_t{1} << 20) / row_bytes);
  std::vector<std::uint8_t> block;
  for (std::uint64_t first = 0; first < layout.rows; first += block_rows) {
    const std::size_t count = std::min<std::uint64_t>(block_rows, layout.rows - first);
    block.resize(count * row_bytes);
    read(block.data(), block.size());
    const ArrayView view{
        block.data(), count,       layout.cols, static_cast<std::ptrdiff_t>(row_bytes),
        layout.size,  layout.kind, layout.size, layout.big_endian};
    append_rows(view, first, selection, names, source, table.data);
  }
  return table;
}

}  // namespace

Table parse_npy(std::span<const std::uint8_t> bytes, const TableOptions& options,
                const std::string& source) {
  const NpyLayout layout = npy_layout(bytes, bytes.size(), source);
  std::size_t at = layout.data_offset;
  return npy_table(layout, options, source, [&](std::uint8_t* out, std::size_t count) {
    std::memcpy(out, bytes.data() + at, count);
    at += count;
  });
}

Table read_npy(const std::filesystem::path& path, const TableOptions& options) {
  const std::string source = path.string();
  const table_columns::InputFile file = table_columns::open_input(path);
  struct stat status {};
  if (fstat(fileno(file.get()), &status) != 0 || !S_ISREG(status.st_mode))
    return parse_npy(table_columns::read_rest(file.get(), source), options, source);  // a pipe
  const auto size = static_cast<std::uint64_t>(status.st_size);
  if (size == 0) throw InputError(source + " is empty");
  std::vector<std::uint8_t> head(std::min<std::uint64_t>(size, kMaxNpyHeader + 12));
  if (std::fread(head.data(), 1, head.size(), file.get()) != head.size())
    throw InputError("cannot read " + source + ": the file ended early");
  const NpyLayout layout = npy_layout(head, size, source);
  std::fseek(file.get(), static_cast<long>(layout.data_offset), SEEK_SET);
  return npy_table(layout, options, source, [&](std::uint8_t* out, std::size_t count) {
    if (std::fread(out, 1, count, file.get()) != count)
      throw InputError("cannot read " + source + ": the file ended early");
  });
}

namespace {

// table_from_array's and array_rows' checks; the column names (x0, x1, ... when none are given).
std::vector<std::string> checked_names(const ArrayView& array, std::vector<std::string> names,
                                       const std::string& source) {
  require(supported_type(array.kind, array.size),
          source + ": unsupported dtype (float32, float64, integers and bool are read)");
  require(array.rows > 0 && array.cols > 0, source + ": the array is empty (shape (" +
                                                std::to_string(array.rows) + ", " +
                                                std::to_string(array.cols) + "))");
  if (names.empty())
    for (std::size_t c = 0; c < array.cols; ++c)
      names.push_back("x" + std::to_string(c));
  require(names.size() == array.cols, source + ": " + std::to_string(names.size()) +
                                          " column names for " + std::to_string(array.cols) +
                                          " columns");
  return names;
}

}  // namespace

Table table_from_array(const ArrayView& array, std::vector<std::string> names,
                       const std::string& source) {
  names = checked_names(array, std::move(names), source);
  Table table;
  const table_columns::Selection selection =
      start_table(table, array.rows, names, TableOptions{}, source);
  append_rows(array, 0, selection, names, source, table.data);
  return table;
}

RowSource array_rows(const ArrayView& array, std::vector<std::string> names,
                     const std::string& source) {
  names = checked_names(array, std::move(names), source);
  std::vector<std::string> notes;
  table_columns::select_columns(  // the same name checks as a table's
      names, TableOptions{}, [](std::size_t) { return true; }, source, notes);
  RowSource rows{source, array.rows, names, {}};
  rows.read = [array, names, source](std::size_t first, std::size_t count,
                                     std::span<const std::size_t> columns, float* out) {
    ArrayView block = array;
    block.data += static_cast<std::ptrdiff_t>(first) * array.row_stride;
    for (std::size_t i = 0; i < count; ++i)
      for (std::size_t j = 0; j < columns.size(); ++j)
        out[i * columns.size() + j] = feature_at(block, i, columns[j], first, names, source);
  };
  return rows;
}

RowSource table_rows(const Table& table) {
  RowSource rows{table.source, table.data.rows(), table.data.column_names, {}};
  rows.read = [&table](std::size_t first, std::size_t count, std::span<const std::size_t> columns,
                       float* out) {
    for (std::size_t i = 0; i < count; ++i) {
      const float* row = table.data.features.row(first + i);
      for (std::size_t j = 0; j < columns.size(); ++j)
        out[i * columns.size() + j] = row[columns[j]];
    }
  };
  return rows;
}

}  // namespace vaead
