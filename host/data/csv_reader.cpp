// The CSV reader: the file is read in a stream through one fixed buffer and parsed straight into
// float32, so memory is the floats plus the buffer (not the file's text). Records split at the
// delimiter, "quoted" fields (with "" for a quote, and delimiters or newlines inside), \n or \r\n
// line ends, blank lines skipped, a UTF-8 byte-order mark ignored. Every error names the file, the
// line, the column and the text.
//
// Numbers: std::from_chars to double (libstdc++ parses with fast_float's method), then float, as
// before; a value beyond the float range (1e39 as 1e400) is refused, one below it (1e-50 as
// 1e-400) reads as 0 or a subnormal; NaN and infinity are refused.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include <sys/stat.h>

#include "data/decimal.hpp"
#include "data/table_columns.hpp"
#include "util/text.hpp"
#include "vaead/data/table.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

using table_columns::Selection;
using text::plural;
using text::quote;

// ---- bytes: from memory, or a file through one buffer ------------------------------------------
class CsvInput {
 public:
  explicit CsvInput(std::string_view text) : view_(text), size_hint_(text.size()) {}
  CsvInput(std::FILE* file, std::size_t size_hint, std::size_t buffer_bytes,
           const std::string& source)
      : file_(file), size_hint_(size_hint), source_(&source) {
    buffer_.resize(buffer_bytes);
  }

  // The bytes from the current position on that are in memory now.
  std::string_view available() const { return view_.substr(position_); }
  void advance(std::size_t bytes) {
    position_ += bytes;
    consumed_ += bytes;
  }
  std::size_t consumed() const { return consumed_; }    // bytes read past, from the start
  std::size_t size_hint() const { return size_hint_; }  // of the whole input (0: unknown)

  // Brings more bytes in, keeping those from the current position; false when there are no more.
  bool refill() {
    if (exhausted()) return false;
    const std::size_t kept = view_.size() - position_;
    if (kept > 0) std::memmove(buffer_.data(), buffer_.data() + position_, kept);
    if (kept == buffer_.size()) buffer_.resize(buffer_.size() * 2);  // one record longer than it
    const std::size_t read = std::fread(buffer_.data() + kept, 1, buffer_.size() - kept, file_);
    if (read == 0) {
      if (std::ferror(file_))
        throw InputError("cannot read " + *source_ + ": " + std::strerror(errno));
      end_of_file_ = true;
    }
    view_ = std::string_view(buffer_.data(), kept + read);
    position_ = 0;
    return read > 0;
  }

 private:
  bool exhausted() const { return file_ == nullptr || end_of_file_; }

  std::FILE* file_ = nullptr;
  std::vector<char> buffer_;
  std::string_view view_;
  std::size_t position_ = 0, consumed_ = 0;
  std::size_t size_hint_ = 0;
  const std::string* source_ = nullptr;
  bool end_of_file_ = false;
};

// ---- records ---------------------------------------------------------------------------------
// One record's fields: views into the input (valid until the next record), or into `unquoted_`
// for quoted fields.
class CsvRecords {
 public:
  CsvRecords(CsvInput& input, char delimiter, const std::string& source)
      : input_(input), delimiter_(delimiter), source_(source) {}

  // The next record that is not blank; false at the end. line() is where it starts (from 1).
  bool next() {
    for (;;) {
      if (!read_record()) return false;
      if (!blank()) return true;
    }
  }
  std::size_t line() const { return record_line_; }
  // A record without quotes is one line of text, split into fields only when asked (the table
  // parses such lines in one pass); a quoted one comes as fields.
  bool plain() const { return plain_; }
  std::string_view text() const { return text_; }
  const std::vector<std::string_view>& fields() {
    if (plain_ && fields_.empty()) split_plain();
    return fields_;
  }
  // Names the field in messages (set once the header is read).
  void name_columns(const std::vector<std::string>* names) { names_ = names; }

 private:
  bool blank() const {
    if (plain_)  // one field (no delimiter) of spaces and tabs
      return std::all_of(text_.begin(), text_.end(),
                         [&](char c) { return c == ' ' || (c == '\t' && delimiter_ != '\t'); });
    return fields_.size() == 1 && !last_quoted_ &&
           fields_[0].find_first_not_of(" \t") == std::string_view::npos;
  }

  void split_plain() {
    std::string_view text = text_;
    for (;;) {
      const std::size_t at = text.find(delimiter_);
      if (at == std::string_view::npos) {
        fields_.push_back(text);
        break;
      }
      fields_.push_back(text.substr(0, at));
      text.remove_prefix(at + 1);
    }
  }

  // The line of the record at the input's position, ensured whole in memory: its length up to
  // (not including) the '\n', or the rest of the input at its end; npos when nothing is left.
  std::size_t whole_line(bool& has_quote) {
    for (;;) {
      const std::string_view text = input_.available();
      const std::size_t end = text.find('\n');
      if (end != std::string_view::npos || !input_.refill()) {
        const std::size_t length = end == std::string_view::npos ? input_.available().size() : end;
        if (end == std::string_view::npos && length == 0) return std::string_view::npos;
        has_quote = std::memchr(input_.available().data(), '"', length) != nullptr;
        return length;
      }
    }
  }

  bool read_record() {
    fields_.clear();
    last_quoted_ = false;
    bool has_quote = false;
    const std::size_t length = whole_line(has_quote);
    if (length == std::string_view::npos) return false;
    record_line_ = line_;
    plain_ = !has_quote;
    if (has_quote) {
      read_quoted_record();
      return true;
    }
    // No quote on the line: its fields are the text between delimiters. The view stays valid
    // until the next record is read (only then may the buffer be refilled).
    text_ = input_.available().substr(0, length);
    const bool newline = length < input_.available().size();
    if (!text_.empty() && text_.back() == '\r' && newline) text_.remove_suffix(1);
    input_.advance(length + (newline ? 1 : 0));
    ++line_;
    return true;
  }

  // A record with quotes: character by character, into unquoted_ (a quoted field may hold
  // delimiters and newlines, so the record may run over several lines).
  void read_quoted_record() {
    unquoted_.clear();
    std::vector<std::pair<std::size_t, std::size_t>> spans;  // into unquoted_
    std::size_t start = 0;
    bool quoted_field = false;
    const auto end_field = [&] {
      spans.emplace_back(start, unquoted_.size() - start);
      start = unquoted_.size();
      last_quoted_ = quoted_field;
      quoted_field = false;
    };
    for (;;) {
      std::string_view text = input_.available();
      if (text.empty() && !input_.refill()) break;  // the input ends the record
      text = input_.available();
      const char c = text[0];
      const bool field_blank_so_far = std::string_view(unquoted_).substr(start).find_first_not_of(
                                          " \t") == std::string_view::npos;
      if (c == '"' && field_blank_so_far && !quoted_field) {
        unquoted_.resize(start);
        input_.advance(1);
        read_quoted_field(spans.size());
        quoted_field = true;
        continue;
      }
      input_.advance(1);
      if (c == delimiter_) {
        end_field();
      } else if (c == '\n') {
        ++line_;
        if (unquoted_.size() > start && unquoted_.back() == '\r' && !quoted_field)
          unquoted_.pop_back();  // (a '\r' of this field's, never of the one before)
        break;
      } else if (quoted_field) {
        if (c != ' ' && c != '\t' && c != '\r')
          throw InputError(source_ + ": line " + std::to_string(line_) + ", " +
                           field_name(spans.size()) + ": text after a closing quote");
      } else {
        unquoted_ += c;
      }
    }
    end_field();
    for (const auto& [offset, size] : spans)
      fields_.push_back(std::string_view(unquoted_).substr(offset, size));
  }

  void read_quoted_field(std::size_t field) {
    const std::size_t start_line = line_;
    for (;;) {
      std::string_view text = input_.available();
      if (text.empty() && !input_.refill())
        throw InputError(source_ + ": line " + std::to_string(start_line) + ", " +
                         field_name(field) + ": a quoted field is never closed");
      text = input_.available();
      const char c = text[0];
      input_.advance(1);
      if (c == '"') {
        if (input_.available().empty()) input_.refill();
        if (!input_.available().empty() && input_.available()[0] == '"') {
          unquoted_ += '"';
          input_.advance(1);
          continue;
        }
        return;
      }
      if (c == '\n') ++line_;
      unquoted_ += c;
    }
  }

  std::string field_name(std::size_t field) const {
    if (names_ != nullptr && field < names_->size()) return "column " + quote((*names_)[field]);
    return "field " + std::to_string(field + 1);
  }

  CsvInput& input_;
  char delimiter_;
  const std::string& source_;
  const std::vector<std::string>* names_ = nullptr;
  std::vector<std::string_view> fields_;
  std::string_view text_;
  std::string unquoted_;
  std::size_t line_ = 1, record_line_ = 1;
  bool plain_ = false, last_quoted_ = false;
};

// The candidate that occurs most often outside quotes on the first record (',' on ties or none).
// Reads on until that record ends, consuming nothing.
char detect_delimiter(CsvInput& input) {
  std::size_t counts[3] = {0, 0, 0};
  const char candidates[3] = {',', ';', '\t'};
  bool in_quotes = false;
  std::size_t at = 0;  // into input.available(), which a refill keeps
  for (bool more = true; more; more = input.refill()) {
    const std::string_view text = input.available();
    for (; at < text.size(); ++at) {
      const char c = text[at];
      if (c == '"') in_quotes = !in_quotes;
      if (in_quotes) continue;
      if (c == '\n') {
        more = false;
        break;
      }
      for (int i = 0; i < 3; ++i)
        counts[i] += c == candidates[i] ? 1 : 0;
    }
    if (!more) break;
  }
  const auto best = std::max_element(counts, counts + 3) - counts;
  return counts[best] > 0 ? candidates[best] : ',';
}

// ---- numbers ---------------------------------------------------------------------------------
enum class Number { ok, not_a_number, not_finite, beyond_float };

Number parse_number(std::string_view text, double& value) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return Number::not_a_number;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ptr != text.data() + text.size()) return Number::not_a_number;
  if (result.ec == std::errc::result_out_of_range) {
    // Overflow or underflow: strtod says which (a rare path: the text is copied).
    const std::string copy(text);
    value = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(value)) return Number::beyond_float;
    return Number::ok;  // below the smallest double: 0 (with its sign)
  }
  if (result.ec != std::errc()) return Number::not_a_number;
  if (!std::isfinite(value)) return Number::not_finite;  // "inf", "nan"
  if (std::abs(value) > std::numeric_limits<float>::max()) return Number::beyond_float;
  return Number::ok;
}

// Every selected cell of every record into floats, the label column into 0/1.
class CsvTable {
 public:
  CsvTable(CsvInput& input, const TableOptions& options, const std::string& source)
      : input_(input), options_(options), source_(source) {}

  Table read() {
    delimiter_ = options_.delimiter.value_or(detect_delimiter(input_));
    CsvRecords records(input_, delimiter_, source_);
    table_.source = source_;
    if (!records.next()) throw InputError(source_ + " is empty");
    read_names(records);
    records.name_columns(&names_);
    if (options_.header && !records.next())
      throw InputError(source_ + ": a header but no data rows");
    const std::size_t first_line = records.line();
    const std::vector<std::string_view>& first = records.fields();
    check_width(first, first_line);
    double ignored = 0.0;
    selection_ = table_columns::select_columns(
        names_, options_,
        [&](std::size_t c) { return parse_number(first[c], ignored) != Number::not_a_number; },
        source_, table_.notes);
    for (std::size_t c : selection_.features)
      table_.data.column_names.push_back(names_[c]);
    plan_plain_rows();
    const std::size_t header_bytes = input_.consumed();
    std::size_t rows = 0;
    do {
      if (rows == kSampleRows) reserve_from_sample(header_bytes, rows);
      if (!records.plain() || !append_plain(records.text())) {
        check_width(records.fields(), records.line());
        append(records.fields(), records.line());
      }
      ++rows;
    } while (records.next());
    Matrix& features = table_.data.features;
    features.rows = rows;
    features.cols = selection_.features.size();
    features.values = std::move(values_);  // (no shrink_to_fit: it would copy them all again)
    return std::move(table_);
  }

 private:
  static constexpr std::size_t kSampleRows = 1000;

  void read_names(CsvRecords& records) {
    const std::vector<std::string_view>& fields = records.fields();
    if (!options_.header) {
      for (std::size_t c = 0; c < fields.size(); ++c)
        names_.push_back("x" + std::to_string(c));
      return;
    }
    for (std::size_t c = 0; c < fields.size(); ++c) {
      std::string_view name = fields[c];
      const std::size_t begin = name.find_first_not_of(" \t");
      name = begin == std::string_view::npos
                 ? std::string_view()
                 : name.substr(begin, name.find_last_not_of(" \t") - begin + 1);
      if (!text::valid_utf8(name))
        throw InputError(source_ + ": line " + std::to_string(records.line()) + ", column " +
                         std::to_string(c + 1) + ": the name " + quote(name) +
                         " is not valid UTF-8");
      names_.push_back(name.empty() ? "x" + std::to_string(c) : std::string(name));
    }
  }

  void check_width(const std::vector<std::string_view>& fields, std::size_t line) const {
    if (fields.size() != names_.size())
      throw InputError(source_ + ": line " + std::to_string(line) + " has " +
                       plural(fields.size(), "field") + ", expected " +
                       std::to_string(names_.size()) +
                       (options_.header ? " (as in the header)" : " (as in the first line)"));
  }

  // After the first rows, room for all of them at their size so far (the file's size is known):
  // the floats are then allocated about once, not doubled and copied as a vector grows.
  void reserve_from_sample(std::size_t header_bytes, std::size_t rows) {
    const std::size_t consumed = input_.consumed() - header_bytes;
    if (consumed == 0 || input_.size_hint() <= header_bytes) return;
    const double bytes_per_row = static_cast<double>(consumed) / static_cast<double>(rows);
    const auto expected = static_cast<std::size_t>(
        1.05 * static_cast<double>(input_.size_hint() - header_bytes) / bytes_per_row);
    values_.reserve(expected * selection_.features.size());
    if (selection_.label) table_.data.labels.reserve(expected);
  }

  // What each column of a row is to append_plain: a feature (its place in the row), the label,
  // or neither.
  static constexpr std::ptrdiff_t kLabel = -1, kUnused = -2;
  void plan_plain_rows() {
    roles_.assign(names_.size(), kUnused);
    for (std::size_t f = 0; f < selection_.features.size(); ++f)
      roles_[selection_.features[f]] = static_cast<std::ptrdiff_t>(f);
    if (selection_.label) roles_[*selection_.label] = kLabel;
    row_.resize(selection_.features.size());
  }

  // A line without quotes, parsed in one pass as it is split: true when every cell it uses is a
  // number of decimal::parse_fast's kind and it has as many fields as the header. Otherwise
  // nothing is appended, and the line goes the general way (which also names what is wrong).
  bool append_plain(std::string_view text) {
    const char* p = text.data();
    const char* const end = p + text.size();
    const char delimiter = delimiter_;
    bool label = false;
    for (std::size_t c = 0;; ++c) {
      if (c == roles_.size()) return false;  // more fields than names
      const std::ptrdiff_t role = roles_[c];
      const char* stop;
      if (role == kUnused) {
        stop =
            static_cast<const char*>(std::memchr(p, delimiter, static_cast<std::size_t>(end - p)));
        if (stop == nullptr) stop = end;
      } else {
        double value = 0.0;
        stop = decimal::parse_fast(p, end, value);
        if (stop == nullptr || (stop != end && *stop != delimiter)) return false;
        if (role == kLabel) {
          if (value != 0.0 && value != 1.0) return false;
          label = value == 1.0;
        } else {
          row_[static_cast<std::size_t>(role)] = static_cast<float>(value);
        }
      }
      if (stop == end) {
        if (c + 1 != roles_.size()) return false;  // fewer fields than names
        break;
      }
      p = stop + 1;
    }
    values_.insert(values_.end(), row_.begin(), row_.end());
    if (selection_.label) table_.data.labels.push_back(label ? 1 : 0);
    return true;
  }

  void append(const std::vector<std::string_view>& fields, std::size_t line) {
    for (std::size_t c : selection_.features) {
      double value = 0.0;
      const Number kind = parse_number(fields[c], value);
      if (kind != Number::ok) throw cell_error(fields[c], line, c, kind);
      values_.push_back(static_cast<float>(value));
    }
    if (selection_.label) {
      const std::size_t c = *selection_.label;
      double label = 0.0;
      const Number kind = parse_number(fields[c], label);
      if (kind != Number::ok) throw cell_error(fields[c], line, c, kind);
      if (label != 0.0 && label != 1.0)
        throw InputError(where(line, c) + quote(fields[c]) +
                         " is not a label (0 = normal, 1 = anomaly)");
      table_.data.labels.push_back(label == 1.0 ? 1 : 0);
    }
  }

  std::string where(std::size_t line, std::size_t c) const {
    return source_ + ": line " + std::to_string(line) + ", column " + quote(names_[c]) + ": ";
  }

  InputError cell_error(std::string_view cell, std::size_t line, std::size_t c, Number kind) const {
    if (cell.find_first_not_of(" \t") == std::string_view::npos)
      return InputError(where(line, c) + "empty cell (a missing value)");
    if (kind == Number::beyond_float)
      return InputError(where(line, c) + quote(cell) + " is beyond the float range");
    if (kind == Number::not_finite)
      return InputError(where(line, c) + quote(cell) + " is not finite");
    return InputError(where(line, c) + quote(cell) + " is not a number");
  }

  CsvInput& input_;
  const TableOptions& options_;
  const std::string& source_;
  Table table_;
  std::vector<std::string> names_;
  char delimiter_ = ',';
  Selection selection_;
  std::vector<float> values_;
  std::vector<std::ptrdiff_t> roles_;  // by column, for append_plain
  std::vector<float> row_;             // one row's features, in their order
};

}  // namespace

Table parse_csv(std::string_view text, const TableOptions& options, const std::string& source) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte-order mark
  CsvInput input(text);
  return CsvTable(input, options, source).read();
}

Table read_csv(std::FILE* stream, const TableOptions& options, const std::string& source,
               std::size_t buffer_bytes) {
  struct stat status {};
  const bool regular = fstat(fileno(stream), &status) == 0 && S_ISREG(status.st_mode);
  CsvInput input(stream, regular ? static_cast<std::size_t>(status.st_size) : 0,
                 std::max<std::size_t>(buffer_bytes, 1), source);
  input.refill();
  while (input.available().size() < 3 && input.refill()) {
  }
  if (input.available().substr(0, 3) == "\xEF\xBB\xBF") input.advance(3);  // a byte-order mark
  return CsvTable(input, options, source).read();
}

Table read_csv(const std::filesystem::path& path, const TableOptions& options) {
  return read_csv(table_columns::open_input(path).get(), options, path.string());
}

}  // namespace vaead
