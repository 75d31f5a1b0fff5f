// The model file: safetensors (https://github.com/huggingface/safetensors). Tensors are named and
// laid out as the equivalent PyTorch module's state_dict (encoder.0.weight [out][in] float32, ...),
// so safetensors.torch.load_file() feeds load_state_dict() directly. __metadata__ holds, as JSON
// strings: the format version, the architecture, the standardizer, the threshold rule and value
// with the held-out scores it came from, the training configuration, the feature names and the
// row counts. The reader validates every offset, size, dtype, shape and name before use.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "vaead/data/standardizer.hpp"
#include "vaead/eval/threshold.hpp"
#include "vaead/train/engine.hpp"
#include "vaead/train/trainer.hpp"

namespace vaead {

// Version 1: one model. Version 2: an ensemble (written only for more than one member, so that a
// single model's file is what it always was).
inline constexpr int kModelFormatVersion = 1;
inline constexpr int kEnsembleFormatVersion = 2;
inline constexpr std::size_t kMaxMembers = 64;

// What a model file holds, and the reader accepts: layer widths (input and latent included) of 1
// to kMaxModelWidth, 1 to kMaxHiddenLayers hidden layers on each side, distinct feature names;
// parameters of magnitude at most kMaxParameter (beyond it every score overflows: a damaged
// file); standardizer scales whose inverse a float holds.
inline constexpr int kMaxModelWidth = 1 << 16;
inline constexpr std::size_t kMaxHiddenLayers = 16;
inline constexpr double kMaxParameter = 1e18;

// InputError naming the value when `architecture` or `feature_names` exceed what a model file
// holds (train checks before any work; the reader refuses such a file).
void check_model_limits(const Architecture& architecture,
                        std::span<const std::string> feature_names);

struct ModelFile {
  EngineConfig engine;  // architecture, optimizer, logvar clamp, batch size, seed
  TrainConfig train;
  Standardizer standardizer;
  std::vector<std::string> feature_names;
  ThresholdRule threshold_rule;
  double threshold = 0.0;             // the rule on the held-out scores (0 for contamination)
  std::vector<float> holdout_scores;  // scores of the held-out normal rows, ascending
  double holdout_fraction = 0.2;
  std::size_t training_rows = 0;      // normal rows trained on
  std::size_t holdout_rows = 0;       // normal rows held out for the threshold
  std::size_t dropped_anomalies = 0;  // labelled anomalies left out of training
  std::vector<float> parameters;      // the flat buffer, layout order (an ensemble's member 0)
  // An ensemble's further members: the same architecture, trained with member_seeds and
  // member_betas.
  // Their tensors are named members.K.encoder.0.weight, ...; member 0's keep the plain names.
  std::vector<std::vector<float>> more_members;
  // Each member's mean held-out score, member 0 first. An ensemble scores a row with the mean over
  // members of score / member_scale (1 = as a typical held-out row); empty for one model, whose
  // score is its own reconstruction error.
  std::vector<double> member_scales;
  // An ensemble's members' seeds and KL weights, member 0 first (empty for one model: engine.seed
  // and train.beta).
  std::vector<std::uint64_t> member_seeds;
  std::vector<double> member_betas;

  std::size_t members() const { return 1 + more_members.size(); }
  const std::vector<float>& member_parameters(std::size_t k) const {
    return k == 0 ? parameters : more_members[k - 1];
  }
};

std::vector<std::uint8_t> serialize_model(const ModelFile& model);
// Written to a temporary name, then renamed; refused (InputError, nothing written) when the
// reader would not accept the bytes.
void write_model(const std::filesystem::path& path, const ModelFile& model);

// InputError naming the file and what is wrong, for anything short of a valid model.
ModelFile parse_model(std::span<const std::uint8_t> bytes, const std::string& source);
ModelFile read_model(const std::filesystem::path& path);

}  // namespace vaead
