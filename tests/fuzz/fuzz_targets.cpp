#include "fuzz_targets.hpp"

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "vaead/data/table.hpp"
#include "vaead/io/model_file.hpp"
#include "vaead/util/error.hpp"

namespace vaead::fuzz {
namespace {

// Runs `parse` and lets only InputError through (as the CLI would turn it into one line).
template <class Parse>
void accept_or_refuse(Parse&& parse) {
  try {
    parse();
  } catch (const InputError&) {
  }
}

// What reading gave: the table, or the one-line error.
struct Outcome {
  Table table;
  std::string error;
};

template <class Parse>
Outcome outcome_of(Parse&& parse) {
  try {
    return {parse(), {}};
  } catch (const InputError& error) {
    return {{}, error.what()};
  }
}

bool same(const Outcome& a, const Outcome& b) {
  const Dataset &x = a.table.data, &y = b.table.data;
  return a.error == b.error && x.column_names == y.column_names && x.labels == y.labels &&
         x.features.rows == y.features.rows && x.features.cols == y.features.cols &&
         x.features.values == y.features.values && a.table.notes == b.table.notes;
}

// The CSV read from memory and read as a stream through a small buffer (every record crosses a
// refill) give the same table or the same error.
void csv_stream_agrees(std::string_view text, const TableOptions& options) {
  if (text.empty()) return;  // fmemopen refuses an empty buffer
  const Outcome in_memory = outcome_of([&] { return parse_csv(text, options, "fuzz.csv"); });
  std::FILE* stream = fmemopen(const_cast<char*>(text.data()), text.size(), "rb");
  if (stream == nullptr) std::abort();
  const Outcome streamed =
      outcome_of([&] { return read_csv(stream, options, "fuzz.csv", /*buffer_bytes=*/7); });
  std::fclose(stream);
  if (!same(in_memory, streamed)) {
    std::fprintf(stderr, "the CSV read from memory and from a stream differ: '%s' vs '%s'\n",
                 in_memory.error.c_str(), streamed.error.c_str());
    std::abort();
  }
}

}  // namespace

int csv_reader(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  TableOptions options;
  accept_or_refuse([&] { parse_csv(text, options, "fuzz.csv"); });
  options.header = false;
  accept_or_refuse([&] { parse_csv(text, options, "fuzz.csv"); });
  TableOptions labelled;
  labelled.label_column = "label";
  labelled.delimiter = ';';
  accept_or_refuse([&] { parse_csv(text, labelled, "fuzz.csv"); });
  csv_stream_agrees(text, {});
  csv_stream_agrees(text, labelled);
  return 0;
}

int npy_reader(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  accept_or_refuse([&] { parse_npy(bytes, {}, "fuzz.npy"); });
  TableOptions labelled;
  labelled.label_column = "x0";
  accept_or_refuse([&] { parse_npy(bytes, labelled, "fuzz.npy"); });
  return 0;
}

int model_reader(const std::uint8_t* data, std::size_t size) {
  accept_or_refuse([&] { parse_model(std::span<const std::uint8_t>(data, size), "fuzz.model"); });
  return 0;
}

}  // namespace vaead::fuzz
