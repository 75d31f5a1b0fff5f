#include "cli/shared_options.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

#include "util/text.hpp"
#include "vaead/synthetic_rows.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/limits.hpp"

namespace vaead::cli {
namespace {

// A validator that parses the value as a finite number and checks `accept`; its message names
// the value (cut, as in every message).
CLI::Validator number_check(const std::string& description,
                            const std::function<bool(double)>& accept) {
  return CLI::Validator(
      [description, accept](std::string& text) -> std::string {
        double value = 0.0;
        if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value))
          return "must be a finite number, got " + text::quote(text);
        if (!accept(value)) return "must be " + description + ", got " + text::quote(text);
        return {};
      },
      description);
}

}  // namespace

// A validator for a whole-number flag: decimal digits (no sign, point or exponent), from `least`
// to `most` (at most the largest its variable holds), so that -1 never wraps to 2^64 - 1.
CLI::Validator a_whole_number(std::uint64_t least, std::uint64_t most) {
  const std::string description = least == 0 ? "a whole number, 0 or more"
                                             : "a whole number, at least " + std::to_string(least);
  return CLI::Validator(
      [description, least, most](std::string& text) -> std::string {
        std::uint64_t value = 0;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data(), end, value);
        const bool digits = !text.empty() && stop == end &&
                            text.find_first_not_of("0123456789") == std::string::npos;
        if (digits && (error == std::errc::result_out_of_range || value > most))
          return "must be at most " + std::to_string(most) + ", got " + text::quote(text);
        if (!digits || error != std::errc())
          return "must be " + description + ", got " + text::quote(text);
        if (value < least)
          return "must be at least " + std::to_string(least) + ", got " + text::quote(text);
        return {};
      },
      description);
}

namespace {

constexpr auto kMostInt = static_cast<std::uint64_t>(std::numeric_limits<int>::max());
constexpr auto kMostRows = static_cast<std::uint64_t>(limits::kSyntheticRows);
constexpr auto kMostEpochs = static_cast<std::uint64_t>(limits::kEpochs);
const CLI::Validator kWidth = a_whole_number(1, limits::kWidth);
const CLI::Validator kSeedCount = a_whole_number(1, limits::kSeeds);
const CLI::Validator kWholeNotNegative = a_whole_number(0, kMostInt);
const CLI::Validator kSeed = a_whole_number(0, std::numeric_limits<std::uint64_t>::max());
const CLI::Validator kSigmas =
    number_check("from 0 to 1e6", [](double v) { return v >= 0 && v <= limits::kSigmas; });
const CLI::Validator kPositive = number_check("positive", [](double v) { return v > 0; });
const CLI::Validator kNotNegative = number_check("0 or more", [](double v) { return v >= 0; });
const CLI::Validator kAnyNumber = number_check("a number", [](double) { return true; });
const CLI::Validator kUnitInterval =
    number_check("between 0 and 1", [](double v) { return v >= 0 && v <= 1; });
const CLI::Validator kOpenUnitInterval =
    number_check("strictly between 0 and 1", [](double v) { return v > 0 && v < 1; });
const CLI::Validator kBelowOne =
    number_check("in [0, 1)", [](double v) { return v >= 0 && v < 1; });

}  // namespace

const CLI::Validator& a_width() {
  return kWidth;
}
const CLI::Validator& a_seed_count() {
  return kSeedCount;
}
const CLI::Validator& open_unit_interval() {
  return kOpenUnitInterval;
}
const CLI::Validator& not_negative() {
  return kNotNegative;
}
const CLI::Validator& a_count() {
  return kWholeNotNegative;
}
const CLI::Validator& a_seed() {
  return kSeed;
}

void add_data_options(CLI::App& command, SyntheticConfig& data, const std::string& features_flag) {
  const char* group = "Synthetic data";
  command.add_option(features_flag, data.features, "Features d")
      ->check(kWidth)
      ->capture_default_str()
      ->group(group);
  command.add_option("--factors", data.latent_factors, "True latent factors k (x = zW + e)")
      ->check(kWidth)
      ->capture_default_str()
      ->group(group);
  command.add_option("--noise-std", data.noise_std, "Noise e ~ N(0, s^2) per feature")
      ->check(kSigmas)
      ->capture_default_str()
      ->group(group);
  command.add_option("--train-rows", data.train_rows, "Normal training rows")
      ->check(a_whole_number(2, kMostRows))
      ->capture_default_str()
      ->group(group);
  command.add_option("--val-rows", data.validation_rows, "Normal validation rows (threshold)")
      ->check(a_whole_number(2, kMostRows))
      ->capture_default_str()
      ->group(group);
  command.add_option("--test-rows", data.test_rows, "Test rows, normal and anomalous")
      ->check(a_whole_number(1, kMostRows))
      ->capture_default_str()
      ->group(group);
  command.add_option("--anomaly-fraction", data.anomaly_fraction, "Anomalous share of test rows")
      ->check(kUnitInterval)
      ->capture_default_str()
      ->group(group);
  command
      .add_option("--shift-features", data.mean_shift_features,
                  "Features moved by a mean-shift anomaly")
      ->check(a_whole_number(1, synthetic::kMaxShiftFeatures))
      ->capture_default_str()
      ->group(group);
  command.add_option("--shift-sigmas", data.mean_shift_sigmas, "Mean shift, in sigma_j")
      ->check(kSigmas)
      ->capture_default_str()
      ->group(group);
  command
      .add_option("--explosion-sigmas", data.variance_explosion_sigmas,
                  "Extra noise of a variance explosion, in sigma_j")
      ->check(kSigmas)
      ->capture_default_str()
      ->group(group);
}

namespace {

// --gpu-math: fp32, tf32 or 3xtf32.
void add_gpu_math_option(CLI::App& command, EngineConfig& engine, const char* group) {
  // The option keeps the name it was given (a sweep's part records it for merge to parse again).
  const CLI::Validator math_names(
      [](std::string& text) -> std::string {
        return gpu_math_named(text) ? "" : "must be fp32, tf32 or 3xtf32, got " + text::quote(text);
      },
      "fp32|tf32|3xtf32");
  command
      .add_option_function<std::string>(
          "--gpu-math",
          [&engine](const std::string& text) { engine.gpu_math = *gpu_math_named(text); },
          "CUDA training: fp32 (tiled FP32 kernels), or the fused tensor-core step with "
          "tf32 or 3xtf32 (FP32-accurate) products where the network fits it")
      ->check(math_names)
      ->default_str("fp32")
      ->group(group);
}

// Adam's learning rate, betas and epsilon.
void add_optimizer_options(CLI::App& command, AdamConfig& adam, const char* group) {
  command.add_option("--lr", adam.learning_rate, "Adam learning rate")
      ->check(kPositive)
      ->capture_default_str()
      ->group(group);
  command.add_option("--adam-beta1", adam.beta1, "Adam beta1")
      ->check(kBelowOne)
      ->capture_default_str()
      ->group(group);
  command.add_option("--adam-beta2", adam.beta2, "Adam beta2")
      ->check(kBelowOne)
      ->capture_default_str()
      ->group(group);
  command.add_option("--adam-eps", adam.epsilon, "Adam epsilon")
      ->check(kPositive)
      ->capture_default_str()
      ->group(group);
}

}  // namespace

void add_model_options(CLI::App& command, EngineConfig& engine, DetectorOptions* detector) {
  const char* group = "Model and optimizer";
  command
      .add_option("--encoder-hidden", engine.architecture.encoder_hidden, "Encoder hidden widths")
      ->delimiter(',')
      ->check(kWidth)
      ->capture_default_str()
      ->group(group);
  command
      .add_option("--decoder-hidden", engine.architecture.decoder_hidden, "Decoder hidden widths")
      ->delimiter(',')
      ->check(kWidth)
      ->capture_default_str()
      ->group(group);
  command.add_option("--logvar-min", engine.logvar_min, "logvar clamp, lower end")
      ->check(kAnyNumber)
      ->capture_default_str()
      ->group(group);
  command.add_option("--logvar-max", engine.logvar_max, "logvar clamp, upper end")
      ->check(kAnyNumber)
      ->capture_default_str()
      ->group(group);
  if (detector)
    command
        .add_option("--batch-size", detector->batch_size,
                    "Rows per training step (default: from the number of rows, 16 to 256)")
        ->check(a_whole_number(1, limits::kBatchSize))
        ->group(group);
  else
    command.add_option("--batch-size", engine.batch_size, "Rows per training step")
        ->check(a_whole_number(1, limits::kBatchSize))
        ->capture_default_str()
        ->group(group);
  add_gpu_math_option(command, engine, group);
  add_optimizer_options(command, engine.adam, group);
}

void add_training_options(CLI::App& command, TrainConfig& train, DetectorOptions* detector) {
  const char* group = "Training";
  if (detector) {
    command
        .add_option("--epochs", detector->epochs,
                    "Passes over the training rows (default: at least 30, enough for --steps)")
        ->check(a_whole_number(1, kMostEpochs))
        ->group(group);
    command
        .add_option("--steps", detector->step_budget,
                    "Optimizer steps the automatic epochs reach at least")
        ->check(a_whole_number(0, limits::kSteps))
        ->capture_default_str()
        ->group(group);
  } else {
    command.add_option("--epochs", train.epochs, "Passes over the training rows")
        ->check(a_whole_number(1, kMostEpochs))
        ->capture_default_str()
        ->group(group);
  }
  command.add_option("--beta", train.beta, "KL weight after the warm-up")
      ->check(kNotNegative)
      ->capture_default_str()
      ->group(group);
  if (detector)
    command
        .add_option("--kl-warmup", detector->kl_warmup_epochs,
                    "Epochs over which the KL weight rises linearly from 0 to beta (default: a "
                    "third of the epochs)")
        ->check(a_whole_number(0, kMostEpochs))
        ->group(group);
  else
    command
        .add_option("--kl-warmup", train.kl_warmup_epochs,
                    "Epochs over which the KL weight rises linearly from 0 to beta")
        ->check(a_whole_number(0, kMostEpochs))
        ->capture_default_str()
        ->group(group);
}

void add_threads_option(CLI::App& command, int& threads) {
  command.add_option("--threads", threads, "CPU threads (0 = every core)")
      ->check(a_whole_number(0, limits::kThreads))
      ->capture_default_str();
}

std::shared_ptr<std::string> add_config_option(CLI::App& command) {
  auto path = std::make_shared<std::string>();
  command.add_option("--config", *path, "Read flags from this TOML/INI file")
      ->check(CLI::ExistingFile)
      ->configurable(false);
  return path;
}

namespace {

constexpr std::uintmax_t kMostConfigBytes = 1 << 20;
constexpr std::size_t kMostConfigDepth =
    4;  // vaead reads [command] tables; deeper ones are refused

// The file's items, after checks that keep CLI11's reader to what a flags file needs: at most
// 1 MiB, and no table or key nested more than kMostConfigDepth deep (the reader's memory grows
// with the square of the depth).
std::vector<CLI::ConfigItem> read_config_items(const std::string& path) {
  std::error_code error;
  const std::uintmax_t bytes = std::filesystem::file_size(path, error);
  if (error) throw CLI::ConfigError("config file " + path + ": " + error.message());
  if (bytes > kMostConfigBytes)
    throw CLI::ConfigError("config file " + path + ": " + std::to_string(bytes) +
                           " bytes; a flags file may hold at most 1 MiB");
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  if (!file) throw CLI::ConfigError("config file " + path + ": cannot be read");
  std::string line;
  for (std::size_t number = 1; std::getline(text, line); ++number) {
    const std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#' || line[start] == ';') continue;
    // The name: a [table] header's, or a key's (before '='); its dotted parts are the depth.
    const std::size_t end = line[start] == '[' ? line.find(']', start) : line.find('=', start);
    const std::string name = line.substr(start, end == std::string::npos ? end : end - start);
    const auto depth = static_cast<std::size_t>(std::count(name.begin(), name.end(), '.')) + 1;
    if (depth > kMostConfigDepth)
      throw CLI::ConfigError(
          "config file " + path + ", line " + std::to_string(number) + ": a name nested " +
          std::to_string(depth) + " levels deep; vaead reads flags at the top or in a [" +
          "command] table (at most " + std::to_string(kMostConfigDepth) + " levels)");
  }
  text.clear();
  text.seekg(0);
  return CLI::ConfigTOML().from_config(text);
}

}  // namespace

// CLI11 2.1 reads a config file only for the top-level app, so a subcommand's file is applied
// here, the way CLI11 applies its own: an option not given on the command line takes the file's
// value, then runs its validators and stores the result.
void apply_config_file(CLI::App& command, const std::string& path) {
  const std::vector<CLI::ConfigItem> items = read_config_items(path);
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // section markers
    const bool ours =
        item.parents.empty() || (item.parents.size() == 1 && item.parents[0] == command.get_name());
    if (!ours) continue;
    CLI::Option* option = command.get_option_no_throw("--" + item.name);
    if (option == nullptr || !option->get_configurable())
      throw CLI::ConfigError("config file " + path + ": unknown key '" + item.fullname() +
                             "' for vaead " + command.get_name());
    if (option->count() > 0) continue;  // the command line wins
    option->add_result(item.inputs);
    try {
      option->run_callback();
    } catch (const CLI::ParseError& error) {
      throw CLI::ConfigError("config file " + path + ", key '" + item.name + "': " + error.what());
    }
  }
}

namespace {

const CLI::Validator kThresholdRule(
    [](std::string& text) -> std::string {
      try {
        ThresholdRule::parse(text);
      } catch (const std::exception& error) {
        return error.what();
      }
      return {};
    },
    "RULE");

}  // namespace

void add_threshold_option(CLI::App& command, ThresholdRule& rule, const std::string& help) {
  command
      .add_option_function<std::string>(
          "--threshold", [&rule](const std::string& text) { rule = ThresholdRule::parse(text); },
          help.empty() ? "Threshold rule: iqr:K, mean-std:K, percentile:P, fpr:F or contamination:C"
                       : help)
      ->check(kThresholdRule)
      ->default_str(rule.to_string());
}

void add_threshold_override_option(CLI::App& command, std::optional<ThresholdRule>& rule) {
  command
      .add_option_function<std::string>(
          "--threshold", [&rule](const std::string& text) { rule = ThresholdRule::parse(text); },
          "Another threshold rule than the model's: iqr:K, mean-std:K, percentile:P, fpr:F or "
          "contamination:C")
      ->check(kThresholdRule);
}

void add_device_option(CLI::App& command, DeviceChoice& device) {
  static const std::map<std::string, DeviceChoice> choices{
      {"auto", DeviceChoice::automatic}, {"cpu", DeviceChoice::cpu}, {"cuda", DeviceChoice::cuda}};
  // The option keeps the name it was given (a sweep's part records it for merge to parse again).
  const CLI::Validator names(
      [](std::string& text) -> std::string {
        return choices.count(text) > 0 ? "" : "must be auto, cpu or cuda, got " + text::quote(text);
      },
      "auto|cpu|cuda");
  command
      .add_option_function<std::string>(
          "--device", [&device](const std::string& text) { device = choices.at(text); },
          "Engine: auto (CUDA when a GPU answers), cpu or cuda")
      ->check(names)
      ->default_str("auto");
}

void add_data_file_options(CLI::App& command, DataOptions& data, bool label_required,
                           bool data_required) {
  const char* group = "Data";
  auto* path = command.add_option("--data", data.path, "The table: CSV (header row) or .npy (2-D)")
                   ->group(group);
  if (data_required) path->required();
  auto* label = command
                    .add_option("--label-column", data.table.label_column,
                                "Column of labels: 1 = anomaly, 0 = normal")
                    ->check(a_name())
                    ->group(group);
  if (label_required) label->required();
  command
      .add_option("--features", data.table.features,
                  "Feature columns (default: every numeric column but the label)")
      ->delimiter(',')
      ->check(a_name())
      ->group(group);
  command
      .add_flag("--no-header", data.no_header, "The CSV has no header row (columns x0, x1, ...)")
      ->group(group);
  command.add_option("--delimiter", data.delimiter, "CSV delimiter: , ; tab (default: detected)")
      ->check(CLI::IsMember({",", ";", "tab", "\\t", "|"}))
      ->group(group);
}

const CLI::Validator& a_path() {
  static const CLI::Validator validator(
      [](std::string& text) -> std::string { return text.empty() ? "must not be empty" : ""; },
      "PATH");
  return validator;
}

const CLI::Validator& a_name() {
  static const CLI::Validator validator(
      [](std::string& text) -> std::string {
        return text.empty() ? "must name a column, got ''" : "";
      },
      "NAME");
  return validator;
}

}  // namespace vaead::cli
