// `vaead score`: scores for every row of a table with a trained model, the anomalous ones
// flagged, and the features that make the worst rows anomalous.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <optional>

#include "cli/commands.hpp"
#include "cli/console.hpp"
#include "cli/shared_options.hpp"
#include "cli/table_input.hpp"
#include "vaead/detector/score.hpp"
#include "vaead/io/output_file.hpp"

namespace vaead::cli {
namespace {

struct ScoreOptions {
  std::string model;
  std::shared_ptr<std::string> config;
  DataOptions data;
  std::string out;
  bool per_feature = false;
  int top = 0;
  std::optional<ThresholdRule> threshold;
  DeviceChoice device = DeviceChoice::automatic;
  int threads = 0;
};

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r;\t") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text)
    quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

void write_float(std::ostream& out, float value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.write(buffer, result.ptr - buffer);
}

void write_scores(const std::string& path, const ScoredRows& scored,
                  const std::vector<std::string>& features, bool per_feature) {
  write_file_atomically(path, [&](std::ostream& out) {
    out << "row,score,is_anomaly";
    if (per_feature)
      for (const std::string& name : features)
        out << ',' << csv_field("error_" + name);
    out << '\n';
    for (std::size_t r = 0; r < scored.scores.size(); ++r) {
      out << r << ',';
      write_float(out, scored.scores[r]);
      out << ',' << static_cast<int>(scored.flagged[r]);
      if (per_feature)
        for (std::size_t j = 0; j < features.size(); ++j) {
          out << ',';
          write_float(out, scored.per_feature(r, j));
        }
      out << '\n';
    }
  });
}

// The `count` highest-scoring rows, each with the three features that contribute most.
void print_top(const ScoredRows& scored, const std::vector<std::string>& features, int count) {
  std::vector<std::size_t> order(scored.scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  const auto shown = std::min(order.size(), static_cast<std::size_t>(count));
  std::partial_sort(
      order.begin(), order.begin() + static_cast<std::ptrdiff_t>(shown), order.end(),
      [&](std::size_t a, std::size_t b) { return scored.scores[a] > scored.scores[b]; });
  std::cout << "\nmost anomalous rows (row counted from 0; share of the row's squared error):\n";
  std::cout << pad("rank", 6) << pad("row", 10) << pad("score", 12) << pad("anomaly", 9)
            << "top features\n";
  for (std::size_t i = 0; i < shown; ++i) {
    const std::size_t r = order[i];
    std::vector<std::size_t> by_error(features.size());
    std::iota(by_error.begin(), by_error.end(), std::size_t{0});
    const auto top = std::min<std::size_t>(3, by_error.size());
    std::partial_sort(by_error.begin(), by_error.begin() + static_cast<std::ptrdiff_t>(top),
                      by_error.end(), [&](std::size_t a, std::size_t b) {
                        return scored.per_feature(r, a) > scored.per_feature(r, b);
                      });
    double total = 0.0;
    for (std::size_t j = 0; j < features.size(); ++j)
      total += scored.per_feature(r, j);
    char score[32];
    std::snprintf(score, sizeof score, "%.5g", static_cast<double>(scored.scores[r]));
    std::cout << pad(std::to_string(i + 1), 6) << pad(std::to_string(r), 10) << pad(score, 12)
              << pad(scored.flagged[r] ? "yes" : "no", 9);
    for (std::size_t k = 0; k < top; ++k) {
      const std::size_t j = by_error[k];
      char share[16];
      std::snprintf(share, sizeof share, "%.0f%%",
                    total > 0 ? 100.0 * scored.per_feature(r, j) / total : 0.0);
      std::cout << (k ? ", " : "") << features[j] << " (" << share << ")";
    }
    std::cout << '\n';
  }
}

void run(const ScoreOptions& options) {
  if (!options.out.empty()) {
    std::vector<NamedPath> named = inputs(options.data, *options.config);
    named.emplace_back("--model", options.model);
    check_output("--out", options.out, named);
  }
  const ModelFile model = read_model(options.model);
  const Table table = load_table(options.data);
  const ThresholdRule rule = options.threshold.value_or(model.threshold_rule);
  const ScoredRows scored = score_table(model, table, resolve_device(options.device), rule,
                                        options.per_feature || options.top > 0, options.threads);
  if (!options.out.empty())
    write_scores(options.out, scored, model.feature_names, options.per_feature);
  // With the scores on stdout (--out /dev/stdout), the summary goes to stderr.
  std::ostream& summary = is_standard_output(options.out) ? std::cerr : std::cout;
  const auto flagged = std::count(scored.flagged.begin(), scored.flagged.end(), 1);
  char line[256];
  std::snprintf(line, sizeof line, "%td flagged (%.2f%%) at threshold %.6g", flagged,
                100.0 * static_cast<double>(flagged) / static_cast<double>(scored.scores.size()),
                scored.threshold);
  summary << "scored " << scored.scores.size() << " rows of " << table.source << ": " << line
          << " (" << rule.describe() << ")\n";
  if (!options.out.empty()) summary << "scores: " << options.out << '\n';
  if (options.top > 0) print_top(scored, model.feature_names, options.top);
}

}  // namespace

Command add_score_command(CLI::App& app) {
  auto options = std::make_shared<ScoreOptions>();
  CLI::App* command = app.add_subcommand("score", "Score every row of a table with a model");
  command->add_option("--model", options->model, "Model file written by vaead train")
      ->required()
      ->check(CLI::ExistingFile);
  add_data_file_options(*command, options->data, false);
  command
      ->add_option("--out", options->out,
                   "CSV to write: row, score, is_anomaly (and errors with --per-feature)")
      ->check(a_path());
  command->add_flag("--per-feature", options->per_feature,
                    "Also each feature's squared error (standardized units)");
  command->add_option("--top", options->top, "Print the N most anomalous rows and why")
      ->check(a_count());
  add_threshold_override_option(*command, options->threshold);
  add_threads_option(*command, options->threads);
  add_device_option(*command, options->device);
  options->config = add_config_option(*command);
  return {command, [options] { run(*options); }, options->config};
}

}  // namespace vaead::cli
