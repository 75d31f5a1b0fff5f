#include "fuzz_targets.hpp"

#include <string_view>

#include "vaead/error.hpp"
#include "vaead/model_file.hpp"
#include "vaead/table.hpp"

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
