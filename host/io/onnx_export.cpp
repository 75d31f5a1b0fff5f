#include "vaead/io/onnx_export.hpp"

#include <bit>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "util/text.hpp"
#include "vaead/io/output_file.hpp"
#include "vaead/model/model.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/version.hpp"

namespace vaead {
namespace {

static_assert(std::endian::native == std::endian::little,
              "ONNX's raw_data is little-endian: the writer copies the values' bytes as they lie");

// One protobuf message being written: fields appended in order, in protobuf's wire format
// (https://protobuf.dev/programming-guides/encoding/). Only what ONNX's messages below use.
class Proto {
 public:
  Proto& integer(int field, std::uint64_t value) {
    key(field, 0);
    varint(value);
    return *this;
  }
  Proto& text(int field, std::string_view value) {
    key(field, 2);
    varint(value.size());
    bytes_.append(value);
    return *this;
  }
  Proto& message(int field, const Proto& value) { return text(field, value.bytes_); }
  const std::string& bytes() const { return bytes_; }

 private:
  void key(int field, int wire_type) {
    varint((static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint64_t>(wire_type));
  }
  void varint(std::uint64_t value) {
    for (; value >= 0x80; value >>= 7)
      bytes_.push_back(static_cast<char>((value & 0x7F) | 0x80));
    bytes_.push_back(static_cast<char>(value));
  }
  std::string bytes_;
};

// onnx.proto's field numbers and enumerations.
namespace field {
constexpr int kModelIrVersion = 1, kModelProducerName = 2, kModelProducerVersion = 3,
              kModelDocString = 6, kModelGraph = 7, kModelOpsetImport = 8, kModelMetadata = 14;
constexpr int kOpsetVersion = 2;
constexpr int kEntryKey = 1, kEntryValue = 2;
constexpr int kGraphNode = 1, kGraphName = 2, kGraphInitializer = 5, kGraphInput = 11,
              kGraphOutput = 12;
constexpr int kNodeInput = 1, kNodeOutput = 2, kNodeName = 3, kNodeOpType = 4, kNodeAttribute = 5;
constexpr int kAttributeName = 1, kAttributeInt = 3, kAttributeInts = 8, kAttributeType = 20;
constexpr int kTensorDims = 1, kTensorDataType = 2, kTensorName = 8, kTensorRawData = 9;
constexpr int kValueName = 1, kValueType = 2;
constexpr int kTypeTensor = 1, kTensorTypeElemType = 1, kTensorTypeShape = 2;
constexpr int kShapeDim = 1, kDimValue = 1, kDimParam = 2;
}  // namespace field
constexpr int kAttributeTypeInt = 2, kAttributeTypeInts = 7;
constexpr int kFloat = 1, kDouble = 11;

// An attribute of one integer (INT), or of a list of one integer (INTS).
Proto integer_attribute(std::string_view name, std::int64_t value, bool list = false) {
  Proto attribute;
  attribute.text(field::kAttributeName, name)
      .integer(list ? field::kAttributeInts : field::kAttributeInt,
               static_cast<std::uint64_t>(value))
      .integer(field::kAttributeType, list ? kAttributeTypeInts : kAttributeTypeInt);
  return attribute;
}

// A tensor input or output of the graph: element type and shape, "rows" for the batch dimension.
Proto value_info(std::string_view name, int element_type, std::size_t columns) {
  Proto shape;
  shape.message(field::kShapeDim, Proto().text(field::kDimParam, "rows"));
  if (columns > 0) shape.message(field::kShapeDim, Proto().integer(field::kDimValue, columns));
  Proto tensor_type;
  tensor_type.integer(field::kTensorTypeElemType, static_cast<std::uint64_t>(element_type))
      .message(field::kTensorTypeShape, shape);
  Proto info;
  info.text(field::kValueName, name)
      .message(field::kValueType, Proto().message(field::kTypeTensor, tensor_type));
  return info;
}

// The graph being built: nodes in execution order, the constants they read.
class Graph {
 public:
  // Adds a node; returns its (first) output's name.
  std::string node(std::string_view op, std::initializer_list<std::string> inputs,
                   std::string output, std::initializer_list<Proto> attributes = {}) {
    Proto node;
    for (const std::string& input : inputs)
      node.text(field::kNodeInput, input);
    node.text(field::kNodeOutput, output)
        .text(field::kNodeName, output)
        .text(field::kNodeOpType, op);
    for (const Proto& attribute : attributes)
      node.message(field::kNodeAttribute, attribute);
    graph_.message(field::kGraphNode, node);
    return output;
  }
  std::string cast(const std::string& input, int to, std::string output) {
    return node("Cast", {input}, std::move(output), {integer_attribute("to", to)});
  }
  template <class T>
  std::string constant(std::string name, std::initializer_list<std::size_t> dims, const T* values,
                       std::size_t count) {
    Proto tensor;
    for (std::size_t d : dims)
      tensor.integer(field::kTensorDims, d);
    tensor.integer(field::kTensorDataType, sizeof(T) == 4 ? kFloat : kDouble)
        .text(field::kTensorName, name)
        .text(field::kTensorRawData,
              std::string_view(reinterpret_cast<const char*>(values), count * sizeof(T)));
    graph_.message(field::kGraphInitializer, tensor);
    return name;
  }
  std::string scalar(std::string name, double value) {
    return constant(std::move(name), {}, &value, 1);
  }
  Proto& proto() { return graph_; }

 private:
  Proto graph_;
};

struct MemberOutputs {
  std::string score;           // float [rows]
  std::string squared_errors;  // double [rows, d]
};

// Member k's network on the standardized rows `x` (float) and its score, as the library's
// reconstruction_score: the squared differences and their mean in double. Its tensors have the
// model file's names (member 0's are PyTorch's, member K's start "members.K."); its values are
// named "member<k>/...".
MemberOutputs add_member(Graph& graph, const ParameterLayout& layout,
                         const std::vector<float>& parameters, std::size_t k, const std::string& x,
                         const std::string& x_double) {
  const std::string tensors = k == 0 ? "" : "members." + std::to_string(k) + ".";
  const std::string prefix = "member" + std::to_string(k) + "/";
  const auto linear = [&](const LinearLayout& layer, const std::string& input, bool relu) {
    const std::string name = prefix + layer.name;
    const std::string weight = graph.constant(
        tensors + layer.name + ".weight", {std::size_t(layer.out), std::size_t(layer.in)},
        parameters.data() + layer.weight_offset, layer.weight_count());
    const std::string bias =
        graph.constant(tensors + layer.name + ".bias", {std::size_t(layer.out)},
                       parameters.data() + layer.bias_offset, std::size_t(layer.out));
    const std::string product =
        graph.node("Gemm", {input, weight, bias}, name + ".out", {integer_attribute("transB", 1)});
    return relu ? graph.node("Relu", {product}, name + ".relu") : product;
  };
  std::string h = x;
  for (const LinearLayout& layer : layout.encoder)
    h = linear(layer, h, true);
  h = linear(layout.mu, h, false);  // z = mu: scoring draws no noise
  for (std::size_t i = 0; i < layout.decoder.size(); ++i)
    h = linear(layout.decoder[i], h, i + 1 < layout.decoder.size());
  const std::string x_hat = graph.cast(h, kDouble, prefix + "x_hat.double");
  const std::string diff = graph.node("Sub", {x_double, x_hat}, prefix + "difference");
  const std::string squared = graph.node("Mul", {diff, diff}, prefix + "squared_errors");
  const std::string mean =
      graph.node("ReduceMean", {squared}, prefix + "mean_squared_error",
                 {integer_attribute("axes", 1, true), integer_attribute("keepdims", 0)});
  return {graph.cast(mean, kFloat, prefix + "score"), squared};
}

// The ensemble's mean over members of `terms[k]` (float, or double when `is_double`) times
// inverse[k], summed in double in member order, as MemberScorer does; cast to float as `output`.
std::string ensemble_mean(Graph& graph, const std::vector<std::string>& terms,
                          const std::vector<std::string>& inverses, bool is_double,
                          const std::string& output) {
  std::string sum;
  for (std::size_t k = 0; k < terms.size(); ++k) {
    const std::string name = output + ".member" + std::to_string(k);
    // The library rounds each member's value to float before it scales it.
    std::string term = terms[k];
    if (is_double)
      term = graph.cast(graph.cast(term, kFloat, name + ".float"), kDouble, name);
    else
      term = graph.cast(term, kDouble, name);
    const std::string scaled = graph.node("Mul", {term, inverses[k]}, name + ".scaled");
    sum = k == 0 ? scaled : graph.node("Add", {sum, scaled}, output + ".sum" + std::to_string(k));
  }
  const std::string members = graph.scalar(output + ".members", static_cast<double>(terms.size()));
  return graph.cast(graph.node("Div", {sum, members}, output + ".mean"), kFloat, output);
}

void add_metadata(Proto& model, std::string_view key, std::string_view value) {
  model.message(field::kModelMetadata,
                Proto().text(field::kEntryKey, key).text(field::kEntryValue, value));
}

}  // namespace

std::vector<std::uint8_t> onnx_model(const ModelFile& model) {
  const ParameterLayout layout = make_layout(model.engine.architecture);
  const std::size_t d = model.feature_names.size();
  const double weight_bytes = 4.0 * static_cast<double>(layout.size * model.members());
  if (weight_bytes > kOnnxMaxWeightBytes)
    throw InputError("the model's weights take " + text::number(weight_bytes / (1 << 30)) +
                     " GiB; an ONNX file holds at most 2 GiB (protobuf's limit), and larger "
                     "weights in external files are not written");
  Graph graph;
  // Standardized as Standardizer::apply: (value - mean) / scale in double, rounded to float.
  const std::string raw = graph.cast("X", kDouble, "X.double");
  const std::string mean =
      graph.constant("standardizer.mean", {d}, model.standardizer.mean.data(), d);
  const std::string scale =
      graph.constant("standardizer.scale", {d}, model.standardizer.scale.data(), d);
  const std::string centred = graph.node("Sub", {raw, mean}, "centred");
  const std::string x = graph.cast(graph.node("Div", {centred, scale}, "scaled"), kFloat, "x");
  const std::string x_double = graph.cast(x, kDouble, "x.double");

  std::vector<MemberOutputs> members;
  for (std::size_t k = 0; k < model.members(); ++k)
    members.push_back(add_member(graph, layout, model.member_parameters(k), k, x, x_double));
  if (members.size() == 1) {
    graph.node("Identity", {members[0].score}, "score");
    graph.cast(members[0].squared_errors, kFloat, "feature_errors");
  } else {
    std::vector<std::string> scores, errors, inverses;
    for (std::size_t k = 0; k < members.size(); ++k) {
      scores.push_back(members[k].score);
      errors.push_back(members[k].squared_errors);
      inverses.push_back(
          graph.scalar("member_scales.inverse." + std::to_string(k), 1.0 / model.member_scales[k]));
    }
    ensemble_mean(graph, scores, inverses, false, "score");
    ensemble_mean(graph, errors, inverses, true, "feature_errors");
  }
  graph.proto()
      .text(field::kGraphName, "vaead_score")
      .message(field::kGraphInput, value_info("X", kFloat, d))
      .message(field::kGraphOutput, value_info("score", kFloat, 0))
      .message(field::kGraphOutput, value_info("feature_errors", kFloat, d));

  Proto onnx;
  onnx.integer(field::kModelIrVersion, kOnnxIrVersion)
      .text(field::kModelProducerName, "vaead")
      .text(field::kModelProducerVersion, version())
      .text(field::kModelDocString,
            "vaead's anomaly score. Input X: float32 [rows, " + std::to_string(d) +
                "], raw values in the order of metadata feature_names. Outputs: score [rows] "
                "(higher = more anomalous; above metadata threshold: anomalous), "
                "feature_errors [rows, " +
                std::to_string(d) + "] (squared errors in standardized units).")
      .message(field::kModelGraph, graph.proto())
      .message(field::kModelOpsetImport, Proto().integer(field::kOpsetVersion, kOnnxOpset));
  add_metadata(onnx, "vaead_version", version());
  add_metadata(onnx, "feature_names", nlohmann::json(model.feature_names).dump());
  // A contamination rule has no threshold of its own: it is a share of the rows being scored.
  if (model.threshold_rule.kind != ThresholdRule::Kind::contamination)
    add_metadata(onnx, "threshold", nlohmann::json(model.threshold).dump());
  add_metadata(onnx, "threshold_rule", model.threshold_rule.to_string());
  const std::string& bytes = onnx.bytes();
  return {bytes.begin(), bytes.end()};
}

void write_onnx(const std::filesystem::path& path, const ModelFile& model) {
  write_onnx(path, onnx_model(model));
}

void write_onnx(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  });
}

}  // namespace vaead
