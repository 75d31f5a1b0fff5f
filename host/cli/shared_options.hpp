// Flags shared by several commands, bound straight to the library's configuration structs.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vaead/data/synthetic.hpp"
#include "vaead/data/table.hpp"
#include "vaead/detector/train.hpp"
#include "vaead/eval/threshold.hpp"
#include "vaead/study/experiment.hpp"
#include "vaead/train/engine.hpp"
#include "vaead/train/trainer.hpp"

namespace vaead::cli {

// Validators whose messages name the value ("must be at least 1, got '0'"); whole-number ones
// take digits only, within the bounds of vaead/util/limits.hpp or their variable's range.
CLI::Validator a_whole_number(std::uint64_t least, std::uint64_t most);
const CLI::Validator& a_width();             // a latent size or hidden width: 1 to limits::kWidth
const CLI::Validator& a_seed_count();        // seeds per configuration: 1 to limits::kSeeds
const CLI::Validator& open_unit_interval();  // strictly between 0 and 1
const CLI::Validator& not_negative();        // a finite number, 0 or more
const CLI::Validator& a_count();             // a whole number, 0 or more (an int)
const CLI::Validator& a_seed();              // a whole number, 0 to 2^64 - 1

// The generator's flags; the feature count is `features_flag` (where --features names columns).
void add_data_options(CLI::App& command, SyntheticConfig& data,
                      const std::string& features_flag = "--features");
// With `detector` (train), the batch size, epochs and KL warm-up are optional: unset, the
// detector's schedule chooses them from the table.
void add_model_options(CLI::App& command, EngineConfig& engine,
                       DetectorOptions* detector = nullptr);
void add_training_options(CLI::App& command, TrainConfig& train,
                          DetectorOptions* detector = nullptr);
void add_threads_option(CLI::App& command, int& threads);
// --threshold RULE: mean-std:K | percentile:P | fpr:F | contamination:C
void add_threshold_option(CLI::App& command, ThresholdRule& rule, const std::string& help = "");
// --threshold RULE replacing a model's rule (unset: the model's).
void add_threshold_override_option(CLI::App& command, std::optional<ThresholdRule>& rule);

// --device auto|cpu|cuda
void add_device_option(CLI::App& command, DeviceChoice& device);

// `--config FILE`: a TOML/INI file whose keys are this command's flags without the dashes
// ("batch-size = 512", "latents = [2, 8]"), optionally under a [command] section. Flags given on
// the command line win over the file.
std::shared_ptr<std::string> add_config_option(CLI::App& command);
void apply_config_file(CLI::App& command, const std::string& path);

// --data FILE and how to read it: --label-column, --features, --no-header, --delimiter.
struct DataOptions {
  std::string path;
  TableOptions table;
  std::string delimiter;
  bool no_header = false;
};
void add_data_file_options(CLI::App& command, DataOptions& data, bool label_required,
                           bool data_required = true);
// A path flag's value may not be empty (exit 2, as for any bad flag value).
const CLI::Validator& a_path();
// Nor may a column name.
const CLI::Validator& a_name();

}  // namespace vaead::cli
