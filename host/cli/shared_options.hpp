// Flags shared by several commands, bound straight to the library's configuration structs.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "vaead/engine.hpp"
#include "vaead/synthetic.hpp"
#include "vaead/threshold.hpp"
#include "vaead/trainer.hpp"

namespace vaead::cli {

// Validators whose messages name the value ("must be at least 1, got '0'").
const CLI::Validator& at_least_one();

void add_data_options(CLI::App& command, SyntheticConfig& data);
void add_model_options(CLI::App& command, EngineConfig& engine);
void add_training_options(CLI::App& command, TrainConfig& train);
void add_threads_option(CLI::App& command, int& threads);
// --threshold RULE: mean-std:K | percentile:P | fpr:F | contamination:C
void add_threshold_option(CLI::App& command, ThresholdRule& rule, const std::string& help = "");

// --device auto|cpu|cuda
void add_device_option(CLI::App& command, DeviceChoice& device);

// `--config FILE`: a TOML/INI file whose keys are this command's flags without the dashes
// ("batch-size = 512", "latents = [2, 8]"), optionally under a [command] section. Flags given on
// the command line win over the file.
std::shared_ptr<std::string> add_config_option(CLI::App& command);
void apply_config_file(CLI::App& command, const std::string& path);

// Progress goes to stderr when it is a terminal, or when asked for.
bool progress_enabled(bool requested);

// Pads `text` with spaces to `width` terminal columns (UTF-8 aware: "±" is one column).
std::string pad(const std::string& text, std::size_t width, bool right_align = false);

}  // namespace vaead::cli
