// JSON that keeps every number exactly: doubles in their shortest round-trip form (NaN and the
// infinities spelled out), float arrays as the base64 of their little-endian bytes. What sweep
// parts and training checkpoints are written in.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vaead/train/trainer.hpp"

namespace vaead {

nlohmann::json exact(double value);
// InputError for a string that is not nan, inf or -inf.
double exact_double(const nlohmann::json& value);
nlohmann::json exact_array(const std::vector<double>& values);
std::vector<double> exact_doubles(const nlohmann::json& values);
std::string float_bytes(const std::vector<float>& values);
// InputError when the text is not the base64 of whole floats.
std::vector<float> floats_from(const std::string& text);

// A training's epochs: [epoch, kl weight, loss, reconstruction, kl, seconds] each, exactly.
nlohmann::json epochs_json(const std::vector<EpochRecord>& epochs);
// InputError when an epoch is not six values.
std::vector<EpochRecord> epochs_from(const nlohmann::json& epochs);

}  // namespace vaead
