// A model file's scoring graph as an ONNX model (https://onnx.ai), for serving with ONNX Runtime or
// any runtime that reads ONNX, without vaead.
//
// Input "X": float32 [rows, d], the raw feature values in the order of the model's feature names
// (metadata "feature_names"). Outputs "score": float32 [rows], the score `vaead score` gives, and
// "feature_errors": float32 [rows, d], each feature's squared error in standardized units (an
// ensemble's: the mean over members of error / the member's scale, as `--per-feature`). The graph
// does what the library does, in the same precision: the standardizer in double, each member's
// network in float32 (Gemm, Relu; z = mu), the error summed in double, the ensemble's mean in
// double in member order; only the order of each matrix product's sums is the runtime's own.
// Operator set 17 of the default domain, IR version 8. Metadata: "vaead_version", "feature_names"
// (JSON), "threshold" (the model's own, from its held-out rows; none for a contamination rule,
// which is a share of the rows being scored), "threshold_rule".
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "vaead/io/model_file.hpp"

namespace vaead {

inline constexpr int kOnnxOpset = 17;
inline constexpr int kOnnxIrVersion = 8;

// Protobuf refuses a message of 2 GiB or more: the weights may take this much, the graph the rest.
inline constexpr double kOnnxMaxWeightBytes = 2.0 * (1 << 30) - (1 << 24);

// The ONNX model's bytes (a serialized onnx.ModelProto). InputError when the weights exceed
// kOnnxMaxWeightBytes.
std::vector<std::uint8_t> onnx_model(const ModelFile& model);

// Written to a temporary name, then renamed: a failure leaves no half-written file. The second
// form writes bytes onnx_model made.
void write_onnx(const std::filesystem::path& path, const ModelFile& model);
void write_onnx(const std::filesystem::path& path, std::span<const std::uint8_t> bytes);

}  // namespace vaead
