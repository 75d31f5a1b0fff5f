// CSV and .npy readers. Both end in the same place: the selected columns as floats, the label
// column as 0/1, and messages that point at the file, the line (or row), the column and the text.
#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>

#include "vaead/error.hpp"
#include "vaead/table.hpp"

namespace vaead {
namespace {

constexpr std::size_t kMaxNpyHeader = 1 << 20;

std::string shown_text(std::string_view text) {
  constexpr std::size_t kShown = 40;
  std::string shown(text.substr(0, kShown));
  if (text.size() > kShown) shown += "...";
  return "'" + shown + "'";
}

// A column name users give their labels (compared without case).
bool looks_like_labels(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* usual : {"label", "labels", "class", "target", "y", "anomaly", "is_anomaly",
                            "outlier", "is_outlier"})
    if (name == usual) return true;
  return false;
}

// Which columns hold the features and the label, by name.
struct Selection {
  std::vector<std::size_t> features;
  std::optional<std::size_t> label;
};

Selection select_columns(const std::vector<std::string>& names, const TableOptions& options,
                         const std::function<bool(std::size_t)>& is_numeric,
                         const std::string& source, std::vector<std::string>& notes) {
  std::map<std::string, std::size_t> index;
  for (std::size_t c = 0; c < names.size(); ++c) {
    if (!index.emplace(names[c], c).second)
      throw InputError(source + ": column name '" + names[c] + "' appears twice in the header");
  }
  auto find = [&](const std::string& name, const char* what) {
    const auto found = index.find(name);
    if (found == index.end()) {
      std::string known;
      for (std::size_t c = 0; c < names.size() && c < 12; ++c)
        known += (c ? ", " : "") + names[c];
      if (names.size() > 12) known += ", ...";
      throw InputError(source + ": no " + what + " column '" + name + "' (columns: " + known + ")");
    }
    return found->second;
  };
  Selection selection;
  if (!options.label_column.empty()) selection.label = find(options.label_column, "label");
  if (!options.features.empty()) {
    for (const std::string& name : options.features) {
      const std::size_t c = find(name, "feature");
      require(!selection.label || c != *selection.label,
              source + ": '" + name + "' is both the label and a feature");
      selection.features.push_back(c);
    }
    return selection;
  }
  for (std::size_t c = 0; c < names.size(); ++c) {
    if (selection.label && c == *selection.label) continue;
    if (!selection.label && looks_like_labels(names[c]))
      notes.push_back(source + ": column '" + names[c] + "' is used as a feature; if it holds " +
                      "labels, name it with --label-column " + names[c]);
    if (is_numeric(c))
      selection.features.push_back(c);
    else
      notes.push_back(source + ": ignoring column '" + names[c] + "' (not numeric)");
  }
  require(!selection.features.empty(), source + ": no numeric feature columns");
  return selection;
}

// ---- CSV -------------------------------------------------------------------------------------

bool parse_number(std::string_view text, double& value) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return false;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

// Reads one record at a time: fields split at the delimiter, "quoted" fields (with "" for a
// quote, and delimiters or newlines inside), \n or \r\n line ends.
class CsvRecords {
 public:
  CsvRecords(std::string_view text, char delimiter, std::string source)
      : text_(text), delimiter_(delimiter), source_(std::move(source)) {}

  // The next record that is not blank; false at the end. `line` is where it starts (from 1).
  bool next(std::vector<std::string>& fields, std::size_t& line) {
    while (position_ < text_.size()) {
      line = line_;
      read_record(fields);
      const bool blank = fields.size() == 1 && !last_quoted_ &&
                         fields[0].find_first_not_of(" \t") == std::string::npos;
      if (!blank) return true;
    }
    return false;
  }

 private:
  void read_record(std::vector<std::string>& fields) {
    fields.clear();
    fields.emplace_back();
    last_quoted_ = false;
    while (position_ < text_.size()) {
      const char c = text_[position_];
      if (c == '"' && fields.back().find_first_not_of(" \t") == std::string::npos) {
        fields.back().clear();
        read_quoted(fields.back());
        last_quoted_ = true;
        continue;
      }
      ++position_;
      if (c == delimiter_) {
        fields.emplace_back();
        last_quoted_ = false;
      } else if (c == '\n') {
        ++line_;
        return;
      } else if (c == '\r' && position_ < text_.size() && text_[position_] == '\n') {
        continue;  // the \n ends the record
      } else {
        if (last_quoted_ && c != ' ' && c != '\t')
          throw InputError(source_ + ": line " + std::to_string(line_) +
                           ": text after a closing quote");
        if (!last_quoted_) fields.back() += c;
      }
    }
  }

  void read_quoted(std::string& field) {
    const std::size_t start_line = line_;
    ++position_;  // the opening quote
    while (position_ < text_.size()) {
      const char c = text_[position_++];
      if (c == '"') {
        if (position_ < text_.size() && text_[position_] == '"') {
          field += '"';
          ++position_;
          continue;
        }
        return;
      }
      if (c == '\n') ++line_;
      field += c;
    }
    throw InputError(source_ + ": line " + std::to_string(start_line) +
                     ": a quoted field is never closed");
  }

  std::string_view text_;
  char delimiter_;
  std::string source_;
  std::size_t position_ = 0, line_ = 1;
  bool last_quoted_ = false;
};

// The candidate that occurs most often outside quotes on the first line (',' on ties or none).
char detect_delimiter(std::string_view text) {
  std::size_t counts[3] = {0, 0, 0};
  const char candidates[3] = {',', ';', '\t'};
  bool in_quotes = false;
  for (char c : text) {
    if (c == '"') in_quotes = !in_quotes;
    if (!in_quotes && c == '\n') break;
    for (int i = 0; i < 3 && !in_quotes; ++i)
      counts[i] += c == candidates[i] ? 1 : 0;
  }
  const auto best = std::max_element(counts, counts + 3) - counts;
  return counts[best] > 0 ? candidates[best] : ',';
}

}  // namespace

Table parse_csv(std::string_view text, const TableOptions& options, const std::string& source) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte-order mark
  Table table;
  table.source = source;
  const char delimiter = options.delimiter.value_or(detect_delimiter(text));
  CsvRecords records(text, delimiter, source);
  std::vector<std::string> fields, names;
  std::size_t line = 0;
  if (!records.next(fields, line)) throw InputError(source + " is empty");
  if (options.header) {
    names = fields;
    for (std::size_t c = 0; c < names.size(); ++c) {
      const auto begin = names[c].find_first_not_of(" \t");
      names[c] = begin == std::string::npos
                     ? "x" + std::to_string(c)
                     : names[c].substr(begin, names[c].find_last_not_of(" \t") - begin + 1);
    }
    if (!records.next(fields, line)) throw InputError(source + ": a header but no data rows");
  } else {
    for (std::size_t c = 0; c < fields.size(); ++c)
      names.push_back("x" + std::to_string(c));
  }
  const std::vector<std::string> first_row = fields;
  auto check_width = [&](const std::vector<std::string>& row, std::size_t at) {
    if (row.size() != names.size())
      throw InputError(source + ": line " + std::to_string(at) + " has " +
                       std::to_string(row.size()) + " fields, expected " +
                       std::to_string(names.size()) +
                       (options.header ? " (as in the header)" : " (as in the first line)"));
  };
  check_width(first_row, line);
  double ignored = 0.0;
  const Selection selection = select_columns(
      names, options, [&](std::size_t c) { return parse_number(first_row[c], ignored); }, source,
      table.notes);

  Dataset& data = table.data;
  for (std::size_t c : selection.features)
    data.column_names.push_back(names[c]);
  const std::size_t width = selection.features.size();
  std::vector<float> values;
  std::size_t rows = 0;
  auto cell_error = [&](std::size_t at, std::size_t c, const std::string& what) {
    return InputError(source + ": line " + std::to_string(at) + ", column '" + names[c] +
                      "': " + what);
  };
  auto number = [&](const std::string& cell, std::size_t at, std::size_t c) {
    double value = 0.0;
    if (cell.find_first_not_of(" \t") == std::string::npos)
      throw cell_error(at, c, "empty cell (a missing value)");
    if (!parse_number(cell, value)) throw cell_error(at, c, shown_text(cell) + " is not a number");
    if (!std::isfinite(value)) throw cell_error(at, c, shown_text(cell) + " is not finite");
    return value;
  };
  do {
    check_width(fields, line);
    for (std::size_t c : selection.features) {
      const double value = number(fields[c], line, c);
      if (std::abs(value) > std::numeric_limits<float>::max())
        throw cell_error(line, c, shown_text(fields[c]) + " is beyond the float range");
      values.push_back(static_cast<float>(value));
    }
    if (selection.label) {
      const double label = number(fields[*selection.label], line, *selection.label);
      if (label != 0.0 && label != 1.0)
        throw cell_error(
            line, *selection.label,
            shown_text(fields[*selection.label]) + " is not a label (0 = normal, 1 = anomaly)");
      data.labels.push_back(label == 1.0 ? 1 : 0);
    }
    ++rows;
  } while (records.next(fields, line));
  data.features.rows = rows;
  data.features.cols = width;
  data.features.values = std::move(values);
  return table;
}

// ---- .npy ------------------------------------------------------------------------------------

namespace {

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
        fail("unknown key '" + key + "'");
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

// Element `i` of a typed array as a double: kind 'f', 'i', 'u' or 'b', `size` bytes.
double element(const std::uint8_t* data, std::size_t i, char kind, int size, bool big_endian) {
  const std::uint64_t raw =
      read_unsigned(data + i * static_cast<std::size_t>(size), size, big_endian);
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

}  // namespace

Table parse_npy(std::span<const std::uint8_t> bytes, const TableOptions& options,
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
                     " runs past the file (" + std::to_string(bytes.size()) + " bytes)");
  const std::string_view header_text(reinterpret_cast<const char*>(bytes.data()) + header_start,
                                     header_length);
  const NpyHeader header = NpyHeaderParser(header_text, source).parse();

  const std::string& d = header.descr;
  const bool big_endian = !d.empty() && d[0] == '>';
  const bool order_ok = !d.empty() && (d[0] == '<' || d[0] == '|' || d[0] == '=' || big_endian);
  const char kind = d.size() == 3 ? d[1] : '?';
  const int size = d.size() == 3 ? d[2] - '0' : 0;
  const bool type_ok =
      order_ok &&
      ((kind == 'f' && (size == 4 || size == 8)) ||
       ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
       (kind == 'b' && size == 1));
  require(type_ok, source + ": unsupported dtype '" + d +
                       "' (float32, float64, integers and bool are read)");
  require(!header.fortran_order, source +
                                     ": a Fortran-ordered array; save it in C order "
                                     "(np.save(path, np.ascontiguousarray(a)))");
  require(header.shape.size() == 2, source + ": needs a 2-D array (rows, features), got " +
                                        std::to_string(header.shape.size()) + " dimension(s)");
  const std::uint64_t rows = header.shape[0], cols = header.shape[1];
  require(rows > 0 && cols > 0, source + ": the array is empty (shape (" + std::to_string(rows) +
                                    ", " + std::to_string(cols) + "))");
  const std::size_t data_bytes = bytes.size() - header_start - header_length;
  const std::uint64_t max_elements = std::numeric_limits<std::uint64_t>::max() / 8;
  require(cols <= max_elements / rows, source + ": the shape is too large");
  const std::uint64_t expected = rows * cols * static_cast<std::uint64_t>(size);
  require(expected == data_bytes,
          source + ": expected " + std::to_string(expected) + " bytes of data for shape (" +
              std::to_string(rows) + ", " + std::to_string(cols) + "), found " +
              std::to_string(data_bytes) + (data_bytes < expected ? " (truncated)" : ""));
  const std::uint8_t* data = bytes.data() + header_start + header_length;

  Table table;
  table.source = source;
  std::vector<std::string> names;
  for (std::uint64_t c = 0; c < cols; ++c)
    names.push_back("x" + std::to_string(c));
  const Selection selection = select_columns(
      names, options, [](std::size_t) { return true; }, source, table.notes);
  Dataset& out = table.data;
  for (std::size_t c : selection.features)
    out.column_names.push_back(names[c]);
  out.features = Matrix(rows, selection.features.size());
  auto cell_error = [&](std::uint64_t r, std::size_t c, const std::string& what) {
    return InputError(source + ": row " + std::to_string(r) + " (from 0), column '" + names[c] +
                      "': " + what);
  };
  for (std::uint64_t r = 0; r < rows; ++r) {
    for (std::size_t f = 0; f < selection.features.size(); ++f) {
      const std::size_t c = selection.features[f];
      const double value = element(data, r * cols + c, kind, size, big_endian);
      if (!std::isfinite(value)) throw cell_error(r, c, "the value is not finite");
      if (std::abs(value) > std::numeric_limits<float>::max())
        throw cell_error(r, c, std::to_string(value) + " is beyond the float range");
      out.features(r, f) = static_cast<float>(value);
    }
    if (selection.label) {
      const double label = element(data, r * cols + *selection.label, kind, size, big_endian);
      if (label != 0.0 && label != 1.0)
        throw cell_error(r, *selection.label,
                         std::to_string(label) + " is not a label (0 = normal, 1 = anomaly)");
      out.labels.push_back(label == 1.0 ? 1 : 0);
    }
  }
  return table;
}

std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    throw InputError("cannot read " + path.string() + ": it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw InputError("cannot open " + path.string() + ": " +
                     (std::filesystem::exists(path, error) ? "permission denied" : "no such file"));
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError("cannot read " + path.string());
  return bytes;
}

Table read_table(const std::filesystem::path& path, const TableOptions& options) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path);
  const std::string source = path.string();
  if (bytes.empty()) throw InputError(source + " is empty");
  if (path.extension() == ".npy") return parse_npy(bytes, options, source);
  return parse_csv(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                   options, source);
}

}  // namespace vaead
