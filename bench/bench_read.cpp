// bench_read: how fast vaead reads a table (CSV or .npy) into float32, as `train`, `score` and
// `evaluate` do: MB/s of the file and rows/s, the median of several reads after one warm-up read
// (the file in the page cache: parsing, not the disk, is measured). Beside it, for a CSV, the
// floor of a reader built on the standard library's fastest conversion: the same file, already in
// memory, split at commas and converted with std::from_chars, without a single check. Peak memory
// is measured outside, with /usr/bin/time -v around `vaead score` (bench/read_side_by_side.sh).
//   bench_read FILE [--label-column NAME] [--repeats 5] [--json OUT]
#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "vaead/data/table.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Every cell after the header line of `text` through std::from_chars into `out`; the cell count.
std::size_t from_chars_pass(const std::string& text, std::vector<float>& out) {
  const char* p = text.data();
  const char* const end = p + text.size();
  p = static_cast<const char*>(std::memchr(p, '\n', text.size()));
  p = p == nullptr ? end : p + 1;
  std::size_t count = 0;
  while (p < end) {
    const char* cell_end = p;
    while (cell_end < end && *cell_end != ',' && *cell_end != '\n')
      ++cell_end;
    double value = 0.0;
    std::from_chars(p, cell_end, value);
    if (count < out.size()) out[count] = static_cast<float>(value);
    ++count;
    p = cell_end + 1;
  }
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Table reading throughput"};
  std::string path, json_path;
  vaead::TableOptions options;
  int repeats = 5;
  app.add_option("file", path, "CSV or .npy file")->required()->check(CLI::ExistingFile);
  app.add_option("--label-column", options.label_column, "Label column");
  app.add_option("--repeats", repeats, "Timed reads")->check(CLI::PositiveNumber);
  app.add_option("--json", json_path, "Write the figures here");
  CLI11_PARSE(app, argc, argv);
  const double megabytes = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
  std::size_t rows = 0, cols = 0;
  std::vector<double> seconds;
  for (int i = 0; i <= repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const vaead::Table table = vaead::read_table(path, options);
    const double elapsed = seconds_since(start);
    rows = table.data.features.rows;
    cols = table.data.features.cols;
    if (i > 0) seconds.push_back(elapsed);  // the first read warms the page cache
  }
  const double median = vaead::bench::median(seconds);
  std::printf(
      "vaead read_table: %s, %.1f MB, %zu rows x %zu features: %.3f s (median of %d): "
      "%.1f MB/s, %.0f rows/s\n",
      path.c_str(), megabytes, rows, cols, median, repeats, megabytes / median,
      static_cast<double>(rows) / median);
  nlohmann::json figures = {{"file", path},
                            {"megabytes", megabytes},
                            {"rows", rows},
                            {"features", cols},
                            {"seconds", median},
                            {"megabytes_per_second", megabytes / median},
                            {"rows_per_second", static_cast<double>(rows) / median}};
  if (std::filesystem::path(path).extension() != ".npy") {
    std::string text(std::filesystem::file_size(path), '\0');
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr || std::fread(text.data(), 1, text.size(), file) != text.size()) return 1;
    std::fclose(file);
    std::vector<float> out(rows * (cols + (options.label_column.empty() ? 0 : 1)));
    std::vector<double> floor_seconds;
    for (int i = 0; i <= repeats; ++i) {
      const auto start = std::chrono::steady_clock::now();
      from_chars_pass(text, out);
      if (i > 0) floor_seconds.push_back(seconds_since(start));
    }
    const double floor = vaead::bench::median(floor_seconds);
    std::printf(
        "split + std::from_chars, in memory, no checks: %.3f s: %.1f MB/s (vaead takes "
        "%.2fx its time)\n",
        floor, megabytes / floor, median / floor);
    figures["from_chars_floor_seconds"] = floor;
    figures["from_chars_floor_megabytes_per_second"] = megabytes / floor;
  }
  if (!json_path.empty()) std::ofstream(json_path) << figures.dump(2) << '\n';
}
